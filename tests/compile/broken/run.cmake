# run.cmake — configures and builds tests/compile/broken; passes iff the build FAILS and its output
# holds the diagnostic of broken.rule (file:line:col: error, and the caret line).
#   cmake -DTDBG_SOURCE_DIR=... -DTDBG_EXECUTABLE=... -DWORK_DIR=... -DGENERATOR=... [-DMAKE_PROGRAM=...]
#         -DCXX_COMPILER=... -P run.cmake
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE "${WORK_DIR}")
set(args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DTDBG_SOURCE_DIR=${TDBG_SOURCE_DIR}"
         "-DTDBG_EXECUTABLE=${TDBG_EXECUTABLE}")
if(MAKE_PROGRAM)
  list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}" -B "${WORK_DIR}" ${args}
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "configuring the broken-rule project failed (it must only fail to build):\n${out}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}"
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
if(result EQUAL 0)
  message(FATAL_ERROR "the build of a project with a broken .rule file succeeded")
endif()
set(rule "${CMAKE_CURRENT_LIST_DIR}/broken.rule")
foreach(expected "${rule}:4:17: error: unknown function 'meen'; did you mean 'mean'?"
                 "  fire when any(meen(abs(g)) < threshold)\n                ^")
  string(FIND "${out}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the build output lacks the diagnostic:\n${expected}")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
