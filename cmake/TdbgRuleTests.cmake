# TdbgRuleTests.cmake — .rule files as a Catch2 test executable, built and registered with CTest.
#
#   tdbg_add_rule_tests(<target>
#                       RULES <file.rule>...          # relative paths: to the current source dir
#                       TRIAL <dir>                   # the trial the rules must not fire on
#                       [PARAMS <rule.name=value>...] # parameter overrides (as `tdbg --param`)
#                       [NAMESPACE <ns>])             # C++ namespace of the rules (default <target>_rules)
#
# At build time `tdbg compile` turns the .rule files into <binary dir>/<target>/<target>_rules.hpp
# (each rule a typed C++ expression of tdbg::rules) and a Catch2 source with one TEST_CASE per rule
# asserting `tdbg::catch2::satisfies(rule)` on the trial — a failure prints the findings. The
# executable <target> is added and registered as the CTest test <target>. Editing a .rule file (or
# rebuilding tdbg) regenerates both; a syntax or semantic error in a .rule file fails the build with
# the diagnostics (file:line:col: error: ..., the source line, a caret).
#
# Needs the targets tdbg::catch2 (find_package(tdbg COMPONENTS catch2), or tdbg's own tree) and the
# tdbg executable: the target tdbg_cli inside tdbg's build, tdbg::cli from an installed package,
# or the cache variable TDBG_EXECUTABLE (a path).
include_guard(GLOBAL)

function(tdbg_add_rule_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TRIAL;NAMESPACE" "RULES;PARAMS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "tdbg_add_rule_tests(${target}): unexpected arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_RULES)
    message(FATAL_ERROR "tdbg_add_rule_tests(${target}): RULES <file.rule>... is required")
  endif()
  if(NOT arg_TRIAL)
    message(FATAL_ERROR "tdbg_add_rule_tests(${target}): TRIAL <dir> is required")
  endif()
  if(NOT arg_NAMESPACE)
    string(MAKE_C_IDENTIFIER "${target}_rules" arg_NAMESPACE)
  endif()

  # The compiler of .rule files.
  if(TARGET tdbg_cli)
    set(tdbg_exe "$<TARGET_FILE:tdbg_cli>")
    set(tdbg_dep tdbg_cli)
  elseif(TARGET tdbg::cli)
    set(tdbg_exe "$<TARGET_FILE:tdbg::cli>")
    set(tdbg_dep tdbg::cli)
  elseif(TDBG_EXECUTABLE)
    set(tdbg_exe "${TDBG_EXECUTABLE}")
    set(tdbg_dep "${TDBG_EXECUTABLE}")
  else()
    message(FATAL_ERROR "tdbg_add_rule_tests(${target}): the tdbg executable is not known: build tdbg with "
                        "TDBG_BUILD_TOOLS=ON (target tdbg_cli / tdbg::cli) or set TDBG_EXECUTABLE")
  endif()
  if(NOT TARGET tdbg::catch2)
    message(FATAL_ERROR "tdbg_add_rule_tests(${target}): needs the target tdbg::catch2 "
                        "(find_package(tdbg COMPONENTS catch2), which needs Catch2 2.13)")
  endif()

  set(rules "")
  foreach(f IN LISTS arg_RULES)
    get_filename_component(abs "${f}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND rules "${abs}")
  endforeach()
  get_filename_component(trial "${arg_TRIAL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(params "")
  foreach(p IN LISTS arg_PARAMS)
    list(APPEND params --param "${p}")
  endforeach()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${target}_generated")  # not ${target}: the executable's own path
  set(header "${dir}/${target}_rules.hpp")
  set(tests "${dir}/${target}_tests.cpp")
  set(main "${dir}/${target}_main.cpp")
  file(MAKE_DIRECTORY "${dir}")
  add_custom_command(
    OUTPUT "${header}" "${tests}"
    COMMAND "${tdbg_exe}" compile ${rules} -o "${header}" --namespace "${arg_NAMESPACE}" ${params}
            --tests "${tests}" --trial "${trial}"
    DEPENDS ${rules} ${tdbg_dep}
    COMMENT "tdbg compile: ${target} (${arg_RULES})"
    VERBATIM)
  if(NOT EXISTS "${main}")
    file(WRITE "${main}" "// Catch2's main for ${target} (written by tdbg_add_rule_tests).\n"
                         "#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n")
  endif()
  add_executable(${target} "${main}" "${tests}" "${header}")
  target_include_directories(${target} PRIVATE "${dir}")
  target_link_libraries(${target} PRIVATE tdbg::catch2)
  target_compile_features(${target} PRIVATE cxx_std_20)
  add_test(NAME ${target} COMMAND ${target})
endfunction()
