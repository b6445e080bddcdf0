// tdbg/lang/error_handler.hpp — the state one parse shares with the grammar: the position cache
// that AST nodes are tagged into, the syntax errors found so far, and the nesting depth.
// Layer: lang (Spirit X3 support, diagnostics.hpp).
//
// As in X3's calc9/rexpr examples the grammar reaches this state through the context
// (`x3::with<x3::error_handler_tag>(std::ref(state))`), and `error_handler_base::on_error` sits on
// the outermost rules only (a rule head and a statement: the units the parser resynchronises on).
#pragma once

#include <cctype>
#include <functional>
#include <string>
#include <vector>

#include <boost/spirit/home/x3.hpp>
#include <boost/spirit/home/x3/support/ast/position_tagged.hpp>
#include <boost/spirit/home/x3/support/utility/error_reporting.hpp>

#include "tdbg/lang/diagnostics.hpp"

namespace tdbg::lang {

namespace x3 = boost::spirit::x3;

/// The parser's iterator: a pointer into the (immovable) text of a source_file.
using iterator_type = const char*;

/// AST node → source range (x3::position_tagged ids index into it).
using position_cache = x3::position_cache<std::vector<iterator_type>>;

/// Deepest nesting of unary operators, parentheses and calls the parser accepts. The parser is
/// recursive descent: without a limit, "((((..." would exhaust the stack.
inline constexpr int max_nesting_depth = 64;

/// State of one parse (see the header comment). Not copyable: the grammar holds a reference.
class parse_state {
 public:
  parse_state(const source_file& src, position_cache& positions, std::vector<diagnostic>& out)
      : src_(&src), positions_(&positions), out_(&out) {}
  parse_state(const parse_state&) = delete;
  parse_state& operator=(const parse_state&) = delete;

  /// Called by x3::annotate_on_success: records where an AST node came from.
  template <class Ast>
  void tag(Ast& ast, iterator_type first, iterator_type last) {
    positions_->annotate(ast, first, last);
  }

  /// Records "expected <what>, found <token>" at `where`.
  void expected(iterator_type where, const std::string& what) {
    if (suppress_next_) {
      suppress_next_ = false;
      return;
    }
    // Expectation failures point before the whitespace the parser would skip: point at the next
    // token instead — except inside a string or regex literal, where whitespace is content.
    const iterator_type end = src_->end();
    const bool in_literal = what.find("to close the") != std::string::npos || what.rfind("an escape", 0) == 0;
    while (!in_literal && where != end && (*where == ' ' || *where == '\t' || *where == '\r' || *where == '\n' ||
                            *where == '\f' || *where == '\v' || *where == '#')) {
      if (*where == '#')
        while (where != end && *where != '\n') ++where;
      else
        ++where;
    }
    error(where, "expected " + what + ", found " + describe_token(where));
  }

  /// Records an error at `where`, and remembers it as the latest error position.
  void error(iterator_type where, std::string message) {
    last_error_ = where;
    out_->push_back(src_->at(where, std::move(message)));
  }

  /// Records an error whose expectation_failure is thrown next (so `expected` stays silent).
  void error_then_throw(iterator_type where, std::string message) {
    error(where, std::move(message));
    suppress_next_ = true;
  }

  /// Where the latest error was (nullptr: none yet).
  [[nodiscard]] iterator_type last_error() const noexcept { return last_error_; }
  void clear_last_error() noexcept { last_error_ = nullptr; }

  /// Current nesting depth (the grammar's depth guard maintains it).
  int depth = 0;

  /// "end of input", "'}'", "'meen'": the token at `where`, for "found ..." in messages.
  [[nodiscard]] std::string describe_token(iterator_type where) const {
    const iterator_type end = src_->end();
    if (where == end) return "end of input";
    auto word = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    };
    iterator_type e = where;
    if (word(*e)) {
      while (e != end && word(*e) && e - where < 32) ++e;
    } else if (*e == '\n' || *e == '\r') {
      return "end of line";
    } else {
      ++e;
      // keep a whole UTF-8 character together
      while (e != end && (static_cast<unsigned char>(*e) & 0xC0U) == 0x80U && e - where < 4) ++e;
    }
    return "'" + std::string(where, e) + "'";
  }

 private:
  const source_file* src_;
  position_cache* positions_;
  std::vector<diagnostic>* out_;
  iterator_type last_error_ = nullptr;
  bool suppress_next_ = false;
};

/// Base of the IDs of the outermost rules: turns an expectation failure into a diagnostic.
struct error_handler_base {
  template <class Iterator, class Exception, class Context>
  x3::error_handler_result on_error(Iterator& /*first*/, const Iterator& /*last*/, const Exception& x,
                                    const Context& context) {
    parse_state& state = x3::get<x3::error_handler_tag>(context).get();
    state.expected(x.where(), x.which());
    return x3::error_handler_result::fail;
  }
};

}  // namespace tdbg::lang
