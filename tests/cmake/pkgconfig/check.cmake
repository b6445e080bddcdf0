# pkgconfig/check.cmake — compiles and runs the consumer program with only the flags
# `pkg-config --cflags --libs tdbg` gives, against an installed tdbg.
#
#   cmake -DPKG_CONFIG=<pkg-config> -DPREFIX=<install prefix> -DCXX_COMPILER=<c++>
#         -DTDBG_VERSION=<x.y.z> -DWORK_DIR=<scratch dir> -P check.cmake
cmake_minimum_required(VERSION 3.20)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/share/pkgconfig:$ENV{PKG_CONFIG_PATH}")
else()
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/share/pkgconfig")
endif()

function(pkg_config out)
  execute_process(COMMAND "${PKG_CONFIG}" ${ARGN} tdbg
                  RESULT_VARIABLE result OUTPUT_VARIABLE text ERROR_VARIABLE err
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "pkg-config ${ARGN} tdbg failed (${result}): ${err}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

pkg_config(version --modversion)
if(NOT version STREQUAL TDBG_VERSION)
  message(FATAL_ERROR "pkg-config reports tdbg ${version}, expected ${TDBG_VERSION}")
endif()
pkg_config(cflags --cflags)
pkg_config(libs --libs)
message(STATUS "pkg-config --cflags tdbg: ${cflags}")
message(STATUS "pkg-config --libs tdbg:   ${libs}")

# The include directory must be the installed one (found through the .pc file's own location).
if(NOT cflags MATCHES "-I([^ ]*)")
  message(FATAL_ERROR "pkg-config --cflags tdbg gives no include directory: ${cflags}")
endif()
file(REAL_PATH "${CMAKE_MATCH_1}" include_dir)
file(REAL_PATH "${PREFIX}/include" expected_include_dir)
if(NOT include_dir STREQUAL expected_include_dir)
  message(FATAL_ERROR "pkg-config's include directory is ${include_dir}, not ${expected_include_dir}")
endif()

separate_arguments(cflags_list UNIX_COMMAND "${cflags}")
separate_arguments(libs_list UNIX_COMMAND "${libs}")
set(exe "${WORK_DIR}/tdbg_consumer")
execute_process(COMMAND "${CXX_COMPILER}" -std=c++20 ${cflags_list}
                        "${CMAKE_CURRENT_LIST_DIR}/../common/main.cpp" -o "${exe}" ${libs_list}
                RESULT_VARIABLE result COMMAND_ECHO STDOUT)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "compiling with pkg-config's flags failed (${result})")
endif()
execute_process(COMMAND "${exe}" RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the pkg-config consumer failed (${result})")
endif()
