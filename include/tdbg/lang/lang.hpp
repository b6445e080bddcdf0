// tdbg/lang/lang.hpp — the `.rule` language for programs: parse, load_rules, generate_header
// (declared in entry.hpp, which explains the two ways to build them).
// Layer: lang.
//
//   #include <tdbg/lang/lang.hpp>
//   auto rules = tdbg::lang::load_rules("rules/vanishing_gradient.rule", {"vanishing_gradient.threshold=1e-6"});
//
// Without TDBG_LANG_SEPARATE this header defines the entry points (inline; the X3 grammar is
// instantiated here — include it in one translation unit per program). With TDBG_LANG_SEPARATE
// it only declares them, and tdbg/lang/implementation.hpp (compiled once) defines them.
#pragma once

#include "tdbg/lang/entry.hpp"
#include "tdbg/lang/overrides.hpp"

#if !defined(TDBG_LANG_SEPARATE)
#include "tdbg/lang/codegen.hpp"
#include "tdbg/lang/load.hpp"
#include "tdbg/lang/parse.hpp"
#endif
