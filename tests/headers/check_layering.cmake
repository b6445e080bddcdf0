# check_layering.cmake — fails when a public header includes a header of a layer it may not
# depend on (the layer diagram of docs/ARCHITECTURE), or a heavy dependency outside its layer.
#
#   cmake -DINCLUDE_DIR=<dir containing tdbg/> -P check_layering.cmake
#
# A header's layer is the first folder under tdbg/ (tdbg/io/detail/x.hpp is in `io`); headers
# directly in tdbg/ (the umbrella tdbg.hpp) sit above every layer and may include anything.
# A layer may include its own headers and those of every layer it reaches by following the
# arrows below (arrows point only down, so reaching a layer through another one is allowed).
cmake_minimum_required(VERSION 3.20)

if(NOT DEFINED INCLUDE_DIR OR NOT IS_DIRECTORY "${INCLUDE_DIR}/tdbg")
  message(FATAL_ERROR "check_layering: pass -DINCLUDE_DIR=<dir containing tdbg/>")
endif()

# Direct dependencies of each layer.
set(deps_core "")
set(deps_io core)
set(deps_storage io core)
set(deps_collect core)
set(deps_hook collect io core storage)  # the hook writes through storage backends
set(deps_trial storage io collect core)
set(deps_rules trial core)
set(deps_lang rules core)
set(deps_catch2 lang rules trial io core)
set(deps_report lang rules trial io core)
set(deps_integrations hook core)
set(known_layers core io storage collect hook trial rules lang catch2 report integrations)

# Accepted exceptions, each with its reason: "<header under tdbg/>" "<included header>" "<why>".
# An exception is a decision about the architecture: record it in docs/ARCHITECTURE too.
set(exceptions
  # "collect/example.hpp" "io/example.hpp" "why this edge is right"
  "rules/attach.hpp" "hook/hook.hpp" "in-process rules implement the hook's generic tensor_observer; the hook layer stays free of rules"
)

# Heavy third-party headers allowed only in one place: <include regex> <where (regex on the
# header's path relative to tdbg/)> <human-readable rule>.
set(confined_regexes
  "^boost/spirit/(home/)?x3"   "^lang/"                           "Boost.Spirit X3 only in tdbg/lang/"
  "^curl/"                     "^storage/s3"                      "libcurl only in the S3 backend (tdbg/storage/s3*)"
  "^(torch|ATen|c10)/"         "^integrations/"                   "LibTorch only in tdbg/integrations/")

# Transitive closure: allowed_<layer> = the layer itself + everything reachable from it.
foreach(layer IN LISTS known_layers)
  set(reach ${layer})
  set(frontier ${deps_${layer}})
  while(frontier)
    list(POP_FRONT frontier next)
    if(NOT next IN_LIST reach)
      list(APPEND reach ${next})
      list(APPEND frontier ${deps_${next}})
    endif()
  endwhile()
  set(allowed_${layer} ${reach})
endforeach()

set(exception_pairs "")
set(rest ${exceptions})
while(rest)
  list(POP_FRONT rest from to why)
  list(APPEND exception_pairs "${from}|${to}")
endwhile()

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}/tdbg" "${INCLUDE_DIR}/tdbg/*.hpp"
     "${INCLUDE_DIR}/tdbg/*.h" "${INCLUDE_DIR}/tdbg/*.ipp" "${INCLUDE_DIR}/tdbg/*.inl")
list(SORT headers)
if(NOT headers)
  message(FATAL_ERROR "check_layering: no headers under ${INCLUDE_DIR}/tdbg")
endif()

# The layer of a path relative to tdbg/ ("" for files directly in tdbg/).
function(layer_of rel out)
  if(rel MATCHES "^([^/]+)/")
    set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

set(violations "")
set(checked 0)
foreach(rel IN LISTS headers)
  math(EXPR checked "${checked} + 1")
  layer_of("${rel}" layer)
  if(layer STREQUAL "")
    continue()  # the umbrella header: above every layer
  endif()
  if(NOT layer IN_LIST known_layers)
    list(APPEND violations
         "tdbg/${rel}: unknown layer '${layer}' (add it to the table in tests/headers/check_layering.cmake and to the architecture diagram)")
    continue()
  endif()
  get_filename_component(dir "${INCLUDE_DIR}/tdbg/${rel}" DIRECTORY)
  file(STRINGS "${INCLUDE_DIR}/tdbg/${rel}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")
      continue()
    endif()
    set(delim "${CMAKE_MATCH_1}")
    set(inc "${CMAKE_MATCH_2}")
    # Which tdbg header is it? "tdbg/x/y.hpp", or a quoted path relative to this header.
    set(target_rel "")
    if(inc MATCHES "^tdbg/(.*)$")
      set(target_rel "${CMAKE_MATCH_1}")
    elseif(delim STREQUAL "\"")
      get_filename_component(abs "${dir}/${inc}" ABSOLUTE)
      file(RELATIVE_PATH r "${INCLUDE_DIR}/tdbg" "${abs}")
      if(EXISTS "${abs}" AND NOT r MATCHES "^\\.\\./")
        set(target_rel "${r}")
      endif()
    endif()
    if(NOT target_rel STREQUAL "")
      layer_of("${target_rel}" to)
      if(to STREQUAL "")
        list(APPEND violations
             "tdbg/${rel} (layer ${layer}) includes the umbrella header tdbg/${target_rel}")
      elseif(NOT to IN_LIST allowed_${layer} AND NOT "${rel}|${target_rel}" IN_LIST exception_pairs)
        string(REPLACE ";" ", " may "${allowed_${layer}}")
        list(APPEND violations
             "tdbg/${rel} (layer ${layer}) includes tdbg/${target_rel} (layer ${to}), but ${layer} may include only: ${may}")
      endif()
      continue()
    endif()
    # A third-party header: is it confined to some layer?
    set(rest ${confined_regexes})
    while(rest)
      list(POP_FRONT rest inc_re where_re why)
      if(inc MATCHES "${inc_re}" AND NOT rel MATCHES "${where_re}")
        list(APPEND violations "tdbg/${rel} includes <${inc}>: ${why}")
      endif()
    endwhile()
  endforeach()
endforeach()

if(violations)
  list(LENGTH violations n)
  string(REPLACE ";" "\n  " text "${violations}")
  message(FATAL_ERROR "layering: ${n} violation(s) in ${checked} headers:\n  ${text}\n")
endif()
message(STATUS "layering: ${checked} headers checked, no violation")
