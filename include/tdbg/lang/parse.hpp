// tdbg/lang/parse.hpp — parse and check a `.rule` text: the entry point of the front end.
// Layer: lang (grammar_def.hpp — so include this header in one translation unit per program if
// compile time matters — check.hpp, core).
//
//   auto prog = tdbg::lang::parse(text, "rules/vanishing.rule");
//   if (!prog.ok()) std::cerr << tdbg::lang::format_diagnostics(prog.diagnostics);
//
// Error recovery: the text is parsed in units (a rule head, then statement after statement, then
// the closing brace). After a syntax error the parser resynchronises — at the error position if
// a statement, `}` or `rule` starts there, else at the next `;` or line that starts one — so every
// syntax error of a file is reported, not just the first. A top-level error resumes at the next
// line that starts with `rule`.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/check.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/entry.hpp"
#include "tdbg/lang/error_handler.hpp"
#include "tdbg/lang/function_table.hpp"
#include "tdbg/lang/grammar_def.hpp"
#include "tdbg/lang/model.hpp"

namespace tdbg::lang {

namespace detail {

inline bool is_ident_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// Whether the whole word `w` starts at p.
inline bool at_word(const char* p, const char* end, std::string_view w) noexcept {
  if (static_cast<std::size_t>(end - p) < w.size() || std::string_view(p, w.size()) != w) return false;
  return p + w.size() == end || !is_ident_char(p[w.size()]);
}

inline void skip_space(const char*& p, const char* end) {
  (void)x3::parse(p, end, *parser::skipper);
}

/// Whether a statement, `}` or `rule` starts at p (p at a token).
inline bool at_resync_point(const char* p, const char* end) noexcept {
  if (p == end || *p == '}') return true;
  for (std::string_view w : {"rule", "fire", "every", "warmup", "from", "until", "message", "evaluate", "findings"})
    if (at_word(p, end, w)) return true;
  // `name =` (but not `name ==`): a binding
  if (!is_ident_char(*p) || (*p >= '0' && *p <= '9')) return false;
  const char* q = p;
  while (q != end && is_ident_char(*q)) ++q;
  while (q != end && (*q == ' ' || *q == '\t')) ++q;
  return q != end && *q == '=' && (q + 1 == end || q[1] != '=');
}

/// Past the end of the line (or the next `;`, or at the next `}`) that contains p, skipping
/// "strings" and comments.
inline const char* past_line(const char* p, const char* end) noexcept {
  while (p != end && *p != '\n') {
    if (*p == ';') return p + 1;
    if (*p == '}') return p;
    if (*p == '#') {
      while (p != end && *p != '\n') ++p;
      break;
    }
    if (*p == '"') {
      ++p;
      while (p != end && *p != '"' && *p != '\n') p += (*p == '\\' && p + 1 != end && p[1] != '\n') ? 2 : 1;
      if (p != end && *p == '"') ++p;
      continue;
    }
    ++p;
  }
  return p == end ? p : p + 1;
}

/// Where statement parsing resumes after an error at `error` in a statement starting at `start`.
inline const char* resync_statement(const char* start, const char* error, const char* end) {
  const char* p = error < start ? start : error;
  if (p != start) {
    const char* q = p;
    skip_space(q, end);
    if (q != start && at_resync_point(q, end)) return q;
  }
  for (;;) {
    p = past_line(p, end);
    skip_space(p, end);
    if (at_resync_point(p, end)) return p;
  }
}

/// The next line that starts with `rule` after p (or the end).
inline const char* resync_rule(const char* p, const char* end) {
  for (;;) {
    while (p != end && *p != '\n') ++p;
    if (p == end) return end;
    ++p;
    const char* q = p;
    while (q != end && (*q == ' ' || *q == '\t' || *q == '\r')) ++q;
    if (at_word(q, end, "rule")) return q;
  }
}

template <class Unit, class Attribute>
bool parse_unit(const char*& p, const char* end, parse_state& state, const Unit& unit, Attribute& attr) {
  return x3::phrase_parse(p, end, x3::with<x3::error_handler_tag>(std::ref(state))[unit],
                          parser::skipper, attr);
}

/// Parses every rule declaration of `src`, recovering from syntax errors (see the header).
inline std::vector<ast::rule_decl> parse_declarations(const source_file& src, position_cache& positions,
                                                      std::vector<diagnostic>& out) {
  parse_state state(src, positions, out);
  const char* p = src.begin();
  const char* const end = src.end();
  std::vector<ast::rule_decl> rules;
  skip_space(p, end);
  while (p != end) {
    if (!at_word(p, end, "rule")) {
      state.error(p, "expected 'rule', found " + state.describe_token(p));
      p = resync_rule(p, end);
      continue;
    }
    ast::rule_decl decl;
    const char* head_start = p;
    state.clear_last_error();
    state.depth = 0;
    if (!parse_unit(p, end, state, rule_head_parser(), decl.head)) {
      if (!state.last_error()) state.error(head_start, "expected a rule declaration");
      p = resync_rule(head_start, end);
      continue;
    }
    const std::string& name = decl.head.name.name;
    for (;;) {
      skip_space(p, end);
      if (p == end) {
        state.error(p, "expected '}' to close rule '" + name + "', found end of input");
        decl.complete = false;
        break;
      }
      if (*p == '}') {
        ++p;
        break;
      }
      if (at_word(p, end, "rule")) {
        state.error(p, "expected '}' to close rule '" + name + "' before the next rule");
        decl.complete = false;
        break;
      }
      const char* start = p;
      ast::statement st;
      state.clear_last_error();
      state.depth = 0;
      if (parse_unit(p, end, state, statement_parser(), st)) {
        decl.body.push_back(std::move(st));
        continue;
      }
      decl.complete = false;
      if (!state.last_error())
        state.error(start, "expected a statement ('name = ...', 'fire when', 'every', 'warmup', 'from', "
                           "'until', 'evaluate in', 'findings per' or 'message'), found " +
                               state.describe_token(start));
      p = resync_statement(start, state.last_error(), end);
    }
    rules.push_back(std::move(decl));
    skip_space(p, end);
  }
  return rules;
}

}  // namespace detail

/// Parses and checks `text` (named `file_name` in diagnostics) against `functions`.
/// Never throws for bad input: errors are in the result's diagnostics.
TDBG_LANG_ENTRY program parse(std::string text, std::string file_name, const function_table& functions) {
  program prog{source_file(std::move(file_name), std::move(text)), nullptr, {}, {}, {}};
  prog.positions = std::make_shared<position_cache>(prog.source.begin(), prog.source.end());
  prog.rules = detail::parse_declarations(prog.source, *prog.positions, prog.diagnostics);
  checker c(prog.source, *prog.positions, functions, prog.diagnostics);
  prog.checked = c.check(prog.rules);
  return prog;
}

/// Reads and parses a `.rule` file (its path is the name in diagnostics).
/// Throws io_error if the file cannot be read.
TDBG_LANG_ENTRY program parse_file(const std::filesystem::path& path, const function_table& functions) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error("cannot read rule file '" + path.string() + "'");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw io_error("error reading rule file '" + path.string() + "'");
  return parse(std::move(text), path.string(), functions);
}

}  // namespace tdbg::lang
