# install_tree.cmake — installs tdbg's build tree into a fresh prefix and checks what landed.
#
#   cmake -DBUILD_DIR=<tdbg's build> -DPREFIX=<prefix> -DCONFIG=<config> -DVERSION=<x.y.z>
#         -DSOURCE_DIR=<tdbg's source tree> -DEXPECT_CLI=<ON|OFF> -P install_tree.cmake
#
# Fixture setup of the consumer tests that use the installed package (find_package, pkg-config).
cmake_minimum_required(VERSION 3.20)

file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                        --config "${CONFIG}"
                RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${result}):\n${out}${err}")
endif()

set(problems "")
set(cmakedir "${PREFIX}/share/cmake/tdbg")
foreach(file
    include/tdbg/tdbg.hpp
    share/cmake/tdbg/tdbg-config.cmake
    share/cmake/tdbg/tdbg-config-version.cmake
    share/cmake/tdbg/tdbg-targets.cmake
    share/cmake/tdbg/TdbgRuleTests.cmake
    share/cmake/tdbg/TdbgLang.cmake
    share/pkgconfig/tdbg.pc)
  if(NOT EXISTS "${PREFIX}/${file}")
    list(APPEND problems "missing ${file}")
  endif()
endforeach()
if(EXPECT_CLI AND NOT EXISTS "${PREFIX}/bin/tdbg")
  list(APPEND problems "missing bin/tdbg (the CLI is built but not installed)")
endif()

# Exactly the public headers are installed: every one of them, nothing else under include/.
file(GLOB_RECURSE source_headers RELATIVE "${SOURCE_DIR}/include" "${SOURCE_DIR}/include/tdbg/*.hpp")
file(GLOB_RECURSE installed RELATIVE "${PREFIX}/include" "${PREFIX}/include/*")
list(SORT source_headers)
list(SORT installed)
if(NOT source_headers STREQUAL installed)
  list(APPEND problems "installed include/ differs from the public headers:\n"
       "    source:    ${source_headers}\n    installed: ${installed}")
endif()

# The version file: same major.minor is compatible, another minor is not, and (header-only)
# a consumer with another pointer size than this build's is accepted too.
function(ask_version_file find_version sizeof_void_p out)
  set(PACKAGE_FIND_VERSION "${find_version}")
  string(REPLACE "." ";" parts "${find_version}")
  list(GET parts 0 PACKAGE_FIND_VERSION_MAJOR)
  list(GET parts 1 PACKAGE_FIND_VERSION_MINOR)
  set(CMAKE_SIZEOF_VOID_P ${sizeof_void_p})
  include("${cmakedir}/tdbg-config-version.cmake")
  if(PACKAGE_VERSION_COMPATIBLE AND NOT PACKAGE_VERSION_UNSUITABLE)
    set(${out} accepted PARENT_SCOPE)
  else()
    set(${out} rejected PARENT_SCOPE)
  endif()
endfunction()
if(EXISTS "${cmakedir}/tdbg-config-version.cmake")
  string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" same "${VERSION}")
  math(EXPR next_minor "${CMAKE_MATCH_2} + 1")
  set(other "${CMAKE_MATCH_1}.${next_minor}")
  ask_version_file("${same}" 8 answer_64)
  ask_version_file("${same}" 4 answer_32)
  ask_version_file("${other}" 8 answer_other)
  if(NOT answer_64 STREQUAL "accepted" OR NOT answer_32 STREQUAL "accepted")
    list(APPEND problems "tdbg-config-version.cmake, asked for ${same}: 64-bit consumer ${answer_64}, 32-bit consumer ${answer_32} (both must be accepted)")
  endif()
  if(NOT answer_other STREQUAL "rejected")
    list(APPEND problems "tdbg-config-version.cmake accepts version ${other} for ${VERSION}")
  endif()
endif()

# Relocatable and flag-free: no path into the build or source tree, no warning flags for users.
foreach(file share/cmake/tdbg/tdbg-config.cmake share/cmake/tdbg/tdbg-targets.cmake
             share/pkgconfig/tdbg.pc)
  if(EXISTS "${PREFIX}/${file}")
    file(READ "${PREFIX}/${file}" text)
    foreach(tree "${BUILD_DIR}" "${SOURCE_DIR}")
      string(FIND "${text}" "${tree}" at)
      if(NOT at EQUAL -1)
        list(APPEND problems "${file} refers to ${tree}")
      endif()
    endforeach()
    if(text MATCHES "-Werror|-Wall|tdbg_project_options")
      list(APPEND problems "${file} passes tdbg's own warning flags on to users")
    endif()
  endif()
endforeach()

if(problems)
  string(REPLACE ";" "\n  " text "${problems}")
  message(FATAL_ERROR "install check failed:\n  ${text}")
endif()
message(STATUS "tdbg installed into ${PREFIX}")
