# The compile-fail harness of tests/collect and tests/rules: runs the compiler with -fsyntax-only
# on SOURCE, with tdbg's INCLUDE_DIR and, if given, Eigen's EIGEN_DIR. With EXPECT empty,
# compilation must succeed; otherwise it must fail and its output must contain EXPECT (a
# static_assert message).
set(extra_includes)
if(EIGEN_DIR)
  set(extra_includes -isystem ${EIGEN_DIR})
endif()
execute_process(
  COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE_DIR} ${extra_includes} ${SOURCE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(EXPECT STREQUAL "")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "compile-check: ${SOURCE} should compile but failed:\n${all}")
  endif()
  message("compile-check: compiled as expected")
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "compile-check: ${SOURCE} compiled but must not")
  endif()
  string(FIND "${all}" "${EXPECT}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "compile-check: ${SOURCE} failed without the message '${EXPECT}':\n${all}")
  endif()
  message("compile-check: failed as expected: ${EXPECT}")
endif()
