# run_consumer.cmake — configures, builds and runs one consumer project (tests/cmake/<kind>/).
#
#   cmake -DCONSUMER=<find_package|add_subdirectory|fetchcontent> -DWORK_DIR=<scratch dir>
#         -DGENERATOR=<gen> -DMAKE_PROGRAM=<path> -DCXX_COMPILER=<path>
#         -DTDBG_SOURCE_DIR=<tdbg's tree> -DTDBG_VERSION=<x.y.z> -DMAIN_BINARY_DIR=<tdbg's build>
#         [-DTDBG_PREFIX=<install prefix> -DEXPECT_CLI=ON|OFF] -P run_consumer.cmake
#
# The consumer is configured from scratch each time, without tdbg's compile flags: it sees tdbg
# only the way a user would.
cmake_minimum_required(VERSION 3.20)

foreach(var CONSUMER WORK_DIR GENERATOR CXX_COMPILER TDBG_SOURCE_DIR TDBG_VERSION MAIN_BINARY_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer: -D${var}=... is required")
  endif()
endforeach()

set(source_dir "${CMAKE_CURRENT_LIST_DIR}/${CONSUMER}")
set(binary_dir "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(args
  -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  "-DTDBG_EXPECTED_VERSION=${TDBG_VERSION}")
if(MAKE_PROGRAM)
  list(APPEND args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

if(CONSUMER STREQUAL "find_package")
  if(NOT DEFINED TDBG_PREFIX)
    message(FATAL_ERROR "run_consumer: find_package needs -DTDBG_PREFIX=<install prefix>")
  endif()
  list(APPEND args "-DCMAKE_PREFIX_PATH=${TDBG_PREFIX}" "-DTDBG_EXPECTED_PREFIX=${TDBG_PREFIX}"
       "-DTDBG_TRIAL_DIR=${TDBG_SOURCE_DIR}/tests/data/smdebug/mlp_train_eval" "-DTDBG_EXPECT_CLI=${EXPECT_CLI}")
elseif(CONSUMER STREQUAL "add_subdirectory")
  list(APPEND args "-DTDBG_SOURCE_DIR=${TDBG_SOURCE_DIR}")
elseif(CONSUMER STREQUAL "fetchcontent")
  # A source archive of tdbg's tree, as a release would ship it: everything but version-control
  # data, hidden folders and build trees.
  file(GLOB entries RELATIVE "${TDBG_SOURCE_DIR}" "${TDBG_SOURCE_DIR}/*")
  set(paths "")
  foreach(entry IN LISTS entries)
    get_filename_component(abs "${TDBG_SOURCE_DIR}/${entry}" REALPATH)
    get_filename_component(main_binary "${MAIN_BINARY_DIR}" REALPATH)
    string(FIND "${main_binary}/" "${abs}/" contains_build)
    if(entry MATCHES "^(\\.|build)" OR contains_build EQUAL 0)
      continue()
    endif()
    list(APPEND paths "tdbg/${entry}")
  endforeach()
  # Archive under a "tdbg/" top folder (FetchContent strips a single top folder).
  file(CREATE_LINK "${TDBG_SOURCE_DIR}" "${WORK_DIR}/tdbg" SYMBOLIC)
  set(archive "${WORK_DIR}/tdbg-src.tar.gz")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E tar czf "${archive}" -- ${paths}
                  WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "could not archive ${TDBG_SOURCE_DIR}: ${result}")
  endif()
  file(SHA256 "${archive}" digest)
  list(APPEND args "-DTDBG_ARCHIVE=${archive}" "-DTDBG_ARCHIVE_SHA256=${digest}")
else()
  message(FATAL_ERROR "run_consumer: unknown consumer '${CONSUMER}'")
endif()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result COMMAND_ECHO STDOUT)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${CONSUMER} consumer: ${what} failed (${result})")
  endif()
endfunction()

run(configure "${CMAKE_COMMAND}" -S "${source_dir}" -B "${binary_dir}" ${args})
run(build "${CMAKE_COMMAND}" --build "${binary_dir}")
run(run "${binary_dir}/tdbg_consumer")
if(CONSUMER STREQUAL "find_package")
  # The .rule language from the package: loaded at run time, and compiled into a Catch2 test.
  run("run the rule loader" "${binary_dir}/tdbg_consumer_rules")
  if(EXPECT_CLI)
    run("ctest of tdbg_add_rule_tests" "${CMAKE_CTEST_COMMAND}" --test-dir "${binary_dir}" --output-on-failure)
  endif()
endif()
