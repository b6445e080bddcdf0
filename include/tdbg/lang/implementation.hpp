// tdbg/lang/implementation.hpp — the definitions of the `.rule` language's entry points, for
// separate compilation (see entry.hpp): compile this header in exactly ONE translation unit of a
// program whose translation units all define TDBG_LANG_SEPARATE, e.g.
//
//   // tdbg_lang.cpp, compiled with -DTDBG_LANG_SEPARATE like the rest of the program
//   #include <tdbg/lang/implementation.hpp>
//
// or let CMake do it: tdbg_add_lang_library(my_lang) then target_link_libraries(app PRIVATE my_lang)
// (which compiles the four headers below as four translation units instead, side by side, and
// the loader's two with line tables only: cmake/TdbgLang.cmake).
// Layer: lang (parse.hpp, load.hpp, load_operators.hpp, codegen.hpp — the X3 grammar and the rule
// builder).
#pragma once

#if !defined(TDBG_LANG_SEPARATE)
#error "tdbg/lang/implementation.hpp: define TDBG_LANG_SEPARATE for every translation unit of the program (without it, tdbg/lang/lang.hpp already defines the entry points inline)"
#endif

#include "tdbg/lang/codegen.hpp"
#include "tdbg/lang/load.hpp"
#include "tdbg/lang/load_operators.hpp"
#include "tdbg/lang/parse.hpp"
