// tdbg/lang/ast.hpp — the abstract syntax tree of a `.rule` file, as the parser builds it.
// Layer: lang (Spirit X3's AST support, core).
//
// Every node that a diagnostic may point at derives from x3::position_tagged: the parser records
// its first/last source position in the program's position cache (see error_handler.hpp), so
// semantic errors found later ("unknown function") point at a line and column too.
//
// Expressions keep the precedence levels of the grammar: an `expression` is an operand followed
// by operations that all belong to ONE precedence level (left-associative), and an operand may
// itself be a parenthesised or higher-precedence `expression`. So the tree already encodes
// precedence; `a + b * c` is expression{a, [+ expression{b, [* c]}]}.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include <boost/spirit/home/x3/support/ast/position_tagged.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>

#include "tdbg/core/mode.hpp"

namespace tdbg::lang::ast {

namespace x3 = boost::spirit::x3;

/// Operators, by precedence level (lowest first): || ; && ; comparisons ; + - ; * / ; unary ; in.
enum class optoken : std::uint8_t {
  logical_or, logical_and,
  equal, not_equal, less, less_equal, greater, greater_equal,
  plus, minus, times, divide,
  negate, logical_not,
  in,
};

/// The source spelling of an operator ("<=", "in", ...).
[[nodiscard]] constexpr const char* op_text(optoken op) noexcept {
  switch (op) {
    case optoken::logical_or: return "||";
    case optoken::logical_and: return "&&";
    case optoken::equal: return "==";
    case optoken::not_equal: return "!=";
    case optoken::less: return "<";
    case optoken::less_equal: return "<=";
    case optoken::greater: return ">";
    case optoken::greater_equal: return ">=";
    case optoken::plus: return "+";
    case optoken::minus: return "-";
    case optoken::times: return "*";
    case optoken::divide: return "/";
    case optoken::negate: return "-";
    case optoken::logical_not: return "!";
    case optoken::in: return "in";
  }
  return "?";
}

struct nil {};

/// A number: `10`, `0.1`, `1e-7`, `.5` (a leading `-` is the unary operator, except in defaults).
struct number_literal : x3::position_tagged {
  number_literal(double v = 0) : value(v) {}
  double value;
};
/// A string: "text" with escapes \" \\ \n \t.
struct string_literal : x3::position_tagged {
  string_literal(std::string v = {}) : value(std::move(v)) {}
  std::string value;
};
/// A regex: /pattern/ (Boost.Regex perl syntax, search semantics); `\/` is a slash.
struct regex_literal : x3::position_tagged {
  regex_literal(std::string p = {}) : pattern(std::move(p)) {}
  std::string pattern;
};
/// `true` or `false`.
struct bool_literal : x3::position_tagged {
  bool_literal(bool v = false) : value(v) {}
  bool value;
};
/// TRAIN, EVAL, PREDICT or GLOBAL.
struct mode_literal : x3::position_tagged {
  mode_literal(tdbg::mode v = tdbg::mode::global) : value(v) {}
  tdbg::mode value;
};
/// A name: a parameter, a binding, or (before `(`) a function.
struct identifier : x3::position_tagged {
  identifier(std::string n = {}) : name(std::move(n)) {}
  std::string name;
};

struct call;
struct unary;
struct expression;

/// Anything an operator applies to.
struct operand
    : x3::variant<nil, number_literal, string_literal, regex_literal, bool_literal, mode_literal,
                  identifier, x3::forward_ast<call>, x3::forward_ast<unary>,
                  x3::forward_ast<expression>> {
  using base_type::base_type;
  using base_type::operator=;
};

/// `- x`, `! x`.
struct unary : x3::position_tagged {
  optoken op = optoken::negate;
  ast::operand operand_;
};

/// One `op rhs` of an expression.
struct operation : x3::position_tagged {
  optoken op = optoken::plus;
  ast::operand operand_;
};

/// `first op rhs op rhs ...`, every op of the same precedence level, left-associative.
struct expression : x3::position_tagged {
  ast::operand first;
  std::list<operation> rest;
};

/// `name(arg, ...)`.
struct call : x3::position_tagged {
  identifier function;
  std::list<expression> args;
};

/// A literal usable as a parameter default or a `--param` value.
struct literal : x3::variant<number_literal, string_literal, regex_literal, bool_literal, mode_literal> {
  using base_type::base_type;
  using base_type::operator=;
};

/// `name`, `name = default`, `name: type`, `name: type = default`.
struct parameter : x3::position_tagged {
  identifier name;
  std::optional<identifier> type_name;
  std::optional<ast::literal> default_value;
};

/// A number or a parameter name, where the grammar needs a value known at load time.
struct value_ref : x3::variant<number_literal, identifier> {
  using base_type::base_type;
  using base_type::operator=;
};

/// `name = expression` — names a sub-expression (usually a selection) for later statements.
struct binding : x3::position_tagged {
  identifier name;
  expression value;
};

/// `fire when expression`.
struct fire_statement : x3::position_tagged {
  fire_statement(expression c = {}) : condition(std::move(c)) {}
  expression condition;
};

/// Which schedule clause a `schedule_statement` is.
enum class schedule_kind : std::uint8_t { every, warmup, from, until };

/// `every k steps`, `warmup n steps`, `from step s`, `until step e`.
struct schedule_statement : x3::position_tagged {
  schedule_kind kind = schedule_kind::every;
  value_ref value;
};

/// `evaluate in MODE`: the mode whose steps the rule evaluates (a mode literal or a parameter).
struct evaluate_statement : x3::position_tagged {
  evaluate_statement(operand m = {}) : mode(std::move(m)) {}
  operand mode;
};

/// `findings per tensor` (one finding per piece of evidence) or `findings per evaluation`.
struct findings_statement : x3::position_tagged {
  findings_statement(bool t = false) : per_tensor(t) {}
  bool per_tensor = false;
};

/// `message "template with {placeholders}"`.
struct message_statement : x3::position_tagged {
  message_statement(string_literal t = {}) : text(std::move(t)) {}
  string_literal text;
};

/// One statement of a rule body.
struct statement
    : x3::variant<binding, fire_statement, schedule_statement, message_statement, evaluate_statement, findings_statement> {
  using base_type::base_type;
  using base_type::operator=;
};

/// `rule name(parameters) {` — what precedes the body.
struct rule_head : x3::position_tagged {
  identifier name;
  std::vector<parameter> parameters;
};

/// A whole rule declaration.
struct rule_decl : x3::position_tagged {
  rule_head head;
  std::vector<statement> body;
  bool complete = true;  ///< false when a syntax error was recovered from inside the rule
};

}  // namespace tdbg::lang::ast
