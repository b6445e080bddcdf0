# check_layering_selftest.cmake — proves check_layering.cmake catches what it must and accepts
# what is allowed, on two small header trees written here.
#
#   cmake -DCHECKER=<check_layering.cmake> -DWORK_DIR=<scratch dir> -P check_layering_selftest.cmake
cmake_minimum_required(VERSION 3.20)

file(REMOVE_RECURSE "${WORK_DIR}")

function(write_header root rel)
  file(WRITE "${WORK_DIR}/${root}/tdbg/${rel}" "#pragma once\n${ARGN}\n")
endfunction()

function(run_checker root out_result out_text)
  execute_process(COMMAND "${CMAKE_COMMAND}" "-DINCLUDE_DIR=${WORK_DIR}/${root}" -P "${CHECKER}"
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_result} "${result}" PARENT_SCOPE)
  set(${out_text} "${out}${err}" PARENT_SCOPE)
endfunction()

set(failures "")

# A tree that respects the layers, including dependencies reached through another layer.
write_header(good core/tensor.hpp "#include <vector>")
write_header(good io/record.hpp "#include \"tdbg/core/tensor.hpp\"")
write_header(good io/detail/crc.hpp "#include \"../record.hpp\"\n#include <cstdint>")
write_header(good storage/local.hpp "#include \"tdbg/io/record.hpp\"")
write_header(good hook/hook.hpp "#include \"tdbg/storage/local.hpp\"\n#include <tdbg/collect/config.hpp>")
write_header(good collect/config.hpp "#include \"tdbg/core/tensor.hpp\"\n#include <boost/regex.hpp>")
write_header(good rules/rule.hpp "#include \"tdbg/trial/trial.hpp\"\n#include \"tdbg/storage/local.hpp\"")
write_header(good trial/trial.hpp "#include \"tdbg/storage/local.hpp\"\n#include \"tdbg/collect/config.hpp\"")
write_header(good lang/grammar.hpp "#include <boost/spirit/home/x3.hpp>\n#include \"tdbg/rules/rule.hpp\"")
write_header(good tdbg.hpp "#include \"tdbg/lang/grammar.hpp\"\n#include \"tdbg/hook/hook.hpp\"")
run_checker(good result text)
if(NOT result EQUAL 0)
  list(APPEND failures "a valid tree was rejected:\n${text}")
endif()

# A tree with one violation of each kind.
write_header(bad core/tensor.hpp "#include \"tdbg/io/record.hpp\"")                  # upward
write_header(bad io/record.hpp "#include \"../storage/local.hpp\"")                     # upward, relative
write_header(bad storage/local.hpp "#include \"tdbg/io/record.hpp\"")
write_header(bad collect/config.hpp "  #  include <boost/spirit/home/x3.hpp>")          # X3 outside lang
write_header(bad hook/hook.hpp "#include \"tdbg/trial/trial.hpp\"")                      # sideways
write_header(bad trial/trial.hpp "#include \"tdbg/tdbg.hpp\"")                            # umbrella
write_header(bad magic/thing.hpp "#include <vector>")                                    # unknown layer
write_header(bad tdbg.hpp "#include \"tdbg/core/tensor.hpp\"")
run_checker(bad result text)
if(result EQUAL 0)
  list(APPEND failures "a tree with violations was accepted:\n${text}")
endif()
foreach(expected
    "tdbg/core/tensor.hpp \\(layer core\\) includes tdbg/io/record.hpp \\(layer io\\)"
    "tdbg/io/record.hpp \\(layer io\\) includes tdbg/storage/local.hpp \\(layer storage\\)"
    "tdbg/collect/config.hpp includes <boost/spirit/home/x3.hpp>: Boost.Spirit X3 only"
    "tdbg/hook/hook.hpp \\(layer hook\\) includes tdbg/trial/trial.hpp \\(layer trial\\)"
    "tdbg/trial/trial.hpp \\(layer trial\\) includes the umbrella header"
    "tdbg/magic/thing.hpp: unknown layer 'magic'"
    "6 violation\\(s\\)")
  if(NOT text MATCHES "${expected}")
    list(APPEND failures "expected a report matching '${expected}' in:\n${text}")
  endif()
endforeach()

if(failures)
  string(REPLACE ";" "\n" text "${failures}")
  message(FATAL_ERROR "check_layering self-test failed:\n${text}")
endif()
message(STATUS "check_layering self-test passed")
