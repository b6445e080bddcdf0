// tdbg/lang/entry.hpp — the entry points of the `.rule` language, declared: parse, parse_file,
// load_rules, load_rules_text, generate_header, generate_header_text, compiled_rule_names.
// Layer: lang (ast.hpp, error_handler.hpp, model.hpp, function_table.hpp, rules/rule.hpp — the
// Spirit X3 headers are read here, but no grammar is instantiated).
//
// Include tdbg/lang/lang.hpp rather than this header. Their definitions (parse.hpp, load.hpp,
// codegen.hpp) instantiate the X3 grammar and the whole rule vocabulary over erased nodes: a
// translation unit that includes them takes minutes and gigabytes to compile. Two ways to pay
// that once per program:
//  * header-only (default): include tdbg/lang/lang.hpp in ONE translation unit of the program;
//    the entry points are inline functions defined there.
//  * separate compilation: define TDBG_LANG_SEPARATE for every translation unit of the program
//    (a compile definition) and compile tdbg/lang/implementation.hpp in exactly one of them, or
//    parse.hpp, load.hpp, load_operators.hpp and codegen.hpp in one each (under
//    TDBG_LANG_SEPARATE, each defines its own functions and calls the others' through their
//    declarations) — the CMake function
//    tdbg_add_lang_library(name) makes that library for you. Every other
//    translation unit includes tdbg/lang/lang.hpp and gets these declarations only: it compiles
//    in seconds. The entry points are then ordinary (non-inline) functions.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/error_handler.hpp"
#include "tdbg/lang/function_table.hpp"
#include "tdbg/lang/model.hpp"
#include "tdbg/rules/rule.hpp"

#if defined(TDBG_LANG_SEPARATE)
#define TDBG_LANG_ENTRY
#else
#define TDBG_LANG_ENTRY inline
#define TDBG_LANG_ENTRY_IS_INLINE 1
#endif

namespace tdbg::lang {

/// A parsed and checked `.rule` text.
struct program {
  source_file source;                        ///< the text (AST positions point into it)
  std::shared_ptr<position_cache> positions;  ///< AST node → source range
  std::vector<ast::rule_decl> rules;          ///< every declaration parsed (also erroneous ones)
  std::vector<rule_info> checked;             ///< the declarations without errors, in order
  std::vector<diagnostic> diagnostics;        ///< errors and notes, in source order per phase

  /// True if there is no error.
  [[nodiscard]] bool ok() const noexcept { return error_count(diagnostics) == 0; }
  /// The checked rule named `name`, or nullptr.
  [[nodiscard]] const rule_info* rule(std::string_view name) const noexcept {
    for (const auto& r : checked)
      if (r.name == name) return &r;
    return nullptr;
  }
  /// Throws parse_error with every diagnostic unless ok().
  void throw_if_errors() const {
    if (!ok()) throw parse_error(diagnostics);
  }
};

/// Options of generate_header.
struct codegen_options {
  std::string ns = "tdbg_rules";         ///< the namespace of the generated rules ("a::b" allowed)
  std::vector<std::string> overrides;    ///< "rule.parameter=value": the defaults of `params`
};

/// One `.rule` text to compile: its name in diagnostics and its content.
struct rule_text {
  std::string file;
  std::string text;
};

// --- parse.hpp ---

/// Parses and checks `text` (named `file_name` in diagnostics) against `functions`.
/// Never throws for bad input: errors are in the result's diagnostics.
[[nodiscard]] TDBG_LANG_ENTRY program parse(std::string text, std::string file_name = "<input>",
                                            const function_table& functions = builtin_functions());

/// Reads and parses a `.rule` file (its path is the name in diagnostics).
/// Throws io_error if the file cannot be read.
[[nodiscard]] TDBG_LANG_ENTRY program parse_file(const std::filesystem::path& path,
                                                 const function_table& functions = builtin_functions());

// --- load.hpp ---

/// Loads the rules of a `.rule` text. `file_name` names it in diagnostics; `overrides` are
/// "rule.parameter=value" strings (validated with validate_override).
/// Throws parse_error with every diagnostic (syntax, semantics, overrides, what the engine
/// refuses) when anything is wrong; returns the rules in declaration order otherwise.
[[nodiscard]] TDBG_LANG_ENTRY std::vector<rules::any_rule> load_rules_text(
    std::string text, std::string file_name, const std::vector<std::string>& overrides = {});

/// Loads the rules of a `.rule` file (io_error if it cannot be read); see load_rules_text.
[[nodiscard]] TDBG_LANG_ENTRY std::vector<rules::any_rule> load_rules(const std::filesystem::path& file,
                                                                      const std::vector<std::string>& overrides = {});

// --- codegen.hpp ---

/// Generates the header of the rules of `texts` (see codegen.hpp). Throws parse_error with every
/// diagnostic (syntax, semantics, a bad override, what the loader refuses, a rule name declared
/// in two files) when anything is wrong.
[[nodiscard]] TDBG_LANG_ENTRY std::string generate_header_text(const std::vector<rule_text>& texts,
                                                               const codegen_options& options = {});

/// Reads the `.rule` files (io_error if one cannot be read) and generates their header; see
/// generate_header_text.
[[nodiscard]] TDBG_LANG_ENTRY std::string generate_header(const std::vector<std::filesystem::path>& files,
                                                          const codegen_options& options = {});

/// Names of the rules generate_header_text would generate, in order, as C++ identifiers (for
/// generated test harnesses). Assumes the texts compile.
[[nodiscard]] TDBG_LANG_ENTRY std::vector<std::string> compiled_rule_names(const std::vector<rule_text>& texts);

}  // namespace tdbg::lang
