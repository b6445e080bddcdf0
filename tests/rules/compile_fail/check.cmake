# Like tests/collect/compile_fail/check.cmake, plus the Eigen include directory the rules
# headers need: runs the compiler with -fsyntax-only on SOURCE. With EXPECT empty, compilation
# must succeed; otherwise it must fail and its output must contain EXPECT (a static_assert).
execute_process(
  COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE_DIR} -isystem ${EIGEN_DIR} ${SOURCE}
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
