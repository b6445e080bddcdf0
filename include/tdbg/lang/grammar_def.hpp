// tdbg/lang/grammar_def.hpp — the `.rule` grammar, defined (EBNF: docs/rule-language.md).
// Layer: lang (Spirit X3, grammar.hpp, error_handler.hpp).
//
// Include this in exactly the translation units that parse (parse.hpp does): X3 grammars are
// expensive to instantiate, so a program should instantiate them once.
//
// Precedence (lowest first), each level left-associative:
//   ||   &&   == != < <= > >=   + -   * /   unary - !   postfix `in MODE`   primary
// `/` after an operand divides; `/` where an operand is expected opens a regex literal.
#pragma once

#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/spirit/home/x3.hpp>
#include <boost/spirit/home/x3/support/utility/annotate_on_success.hpp>

#include "tdbg/core/mode.hpp"
#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/ast_adapted.hpp"
#include "tdbg/lang/error_handler.hpp"
#include "tdbg/lang/grammar.hpp"

namespace tdbg::lang::parser {

using x3::lexeme;
using x3::lit;
using x3::raw;

/// Words that are never identifiers.
inline bool is_reserved(std::string_view w) noexcept {
  static constexpr std::string_view words[] = {
      "rule", "fire", "when", "every", "warmup", "from", "until", "step", "steps", "message",
      "in", "true", "false", "TRAIN", "EVAL", "PREDICT", "GLOBAL"};
  for (auto r : words)
    if (r == w) return true;
  return false;
}

/// `\/` in a regex literal is a slash; every other escape is kept for the regex engine.
inline std::string unescape_regex(const char* first, const char* last) {
  std::string out;
  out.reserve(static_cast<std::size_t>(last - first));
  for (const char* p = first; p != last; ++p) {
    if (*p == '\\' && p + 1 != last && p[1] == '/') {
      out += '/';
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

// --- depth guard ------------------------------------------------------------------------------

/// Fails the parse (with a diagnostic) when nesting exceeds max_nesting_depth.
template <class Subject>
struct depth_guard_directive : x3::unary_parser<Subject, depth_guard_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, depth_guard_directive<Subject>>;
  static constexpr bool is_pass_through_unary = true;
  constexpr explicit depth_guard_directive(const Subject& s) : base_type(s) {}

  template <class Iterator, class Context, class RContext, class Attribute>
  bool parse(Iterator& first, const Iterator& last, const Context& ctx, RContext& rctx,
             Attribute& attr) const {
    parse_state& state = x3::get<x3::error_handler_tag>(ctx).get();
    if (state.depth >= max_nesting_depth) {
      x3::skip_over(first, last, ctx);
      state.error_then_throw(first, "expression nested too deeply (more than " +
                                        std::to_string(max_nesting_depth) + " levels)");
      throw x3::expectation_failure<Iterator>(first, "a less deeply nested expression");
    }
    struct level {
      int& d;
      explicit level(int& x) : d(x) { ++d; }
      ~level() { --d; }
      level(const level&) = delete;
      level& operator=(const level&) = delete;
    } guard(state.depth);
    return this->subject.parse(first, last, ctx, rctx, attr);
  }
};

struct depth_guard_gen {
  template <class Subject>
  constexpr auto operator[](const Subject& s) const {
    return depth_guard_directive<typename x3::extension::as_parser<Subject>::value_type>(x3::as_parser(s));
  }
};
inline constexpr depth_guard_gen depth_guard{};

// --- tokens -----------------------------------------------------------------------------------

inline auto const ident_first = x3::char_("a-zA-Z_");
inline auto const ident_char = x3::char_("a-zA-Z0-9_");

/// A whole word: `in` does not match the start of `index`.
inline auto keyword(const char* word) { return lexeme[lit(word) >> !ident_char]; }

/// The value of a number's text; +infinity when it is out of range (the checker reports that).
inline double number_value(const char* first, const char* last) {
  if (first != last && *first == '+') ++first;
  double v = 0;
  if (std::from_chars(first, last, v).ec == std::errc::result_out_of_range) {
    const std::string_view text(first, static_cast<std::size_t>(last - first));
    const bool underflow = text.find("e-") != std::string_view::npos || text.find("E-") != std::string_view::npos;
    return underflow ? 0.0 : std::numeric_limits<double>::infinity();
  }
  return v;
}

struct mode_symbols : x3::symbols<tdbg::mode> {
  mode_symbols() {
    add("TRAIN", tdbg::mode::train)("EVAL", tdbg::mode::eval)("PREDICT", tdbg::mode::predict)(
        "GLOBAL", tdbg::mode::global);
  }
};
struct escape_symbols : x3::symbols<char> {
  escape_symbols() { add("\"", '"')("\\", '\\')("n", '\n')("t", '\t'); }
};

struct or_symbols : x3::symbols<ast::optoken> {
  or_symbols() { add("||", ast::optoken::logical_or); }
};
struct and_symbols : x3::symbols<ast::optoken> {
  and_symbols() { add("&&", ast::optoken::logical_and); }
};
struct comparison_symbols : x3::symbols<ast::optoken> {
  comparison_symbols() {
    add("==", ast::optoken::equal)("!=", ast::optoken::not_equal)("<", ast::optoken::less)(
        "<=", ast::optoken::less_equal)(">", ast::optoken::greater)(">=", ast::optoken::greater_equal);
  }
};
struct additive_symbols : x3::symbols<ast::optoken> {
  additive_symbols() { add("+", ast::optoken::plus)("-", ast::optoken::minus); }
};
struct multiplicative_symbols : x3::symbols<ast::optoken> {
  multiplicative_symbols() { add("*", ast::optoken::times)("/", ast::optoken::divide); }
};
struct unary_symbols : x3::symbols<ast::optoken> {
  unary_symbols() { add("-", ast::optoken::negate)("!", ast::optoken::logical_not); }
};

inline const mode_symbols mode_names;
inline const escape_symbols escapes;
inline const or_symbols or_op;
inline const and_symbols and_op;
inline const comparison_symbols comparison_op;
inline const additive_symbols additive_op;
inline const multiplicative_symbols multiplicative_op;
inline const unary_symbols unary_op;

// --- rule IDs: annotated (position-tagged) nodes; the outermost two also report errors ----------

struct rule_head_class : error_handler_base, x3::annotate_on_success {};
struct statement_class : error_handler_base, x3::annotate_on_success {};
struct identifier_class : x3::annotate_on_success {};
struct number_class : x3::annotate_on_success {};
struct signed_number_class : x3::annotate_on_success {};
struct string_class : x3::annotate_on_success {};
struct regex_class : x3::annotate_on_success {};
struct bool_class : x3::annotate_on_success {};
struct mode_class : x3::annotate_on_success {};
struct call_class : x3::annotate_on_success {};
struct unary_class : x3::annotate_on_success {};
struct expression_class : x3::annotate_on_success {};
struct and_class : x3::annotate_on_success {};
struct comparison_class : x3::annotate_on_success {};
struct additive_class : x3::annotate_on_success {};
struct multiplicative_class : x3::annotate_on_success {};
struct postfix_class : x3::annotate_on_success {};
struct in_operation_class : x3::annotate_on_success {};
struct multiplicative_operation_class : x3::annotate_on_success {};
struct additive_operation_class : x3::annotate_on_success {};
struct comparison_operation_class : x3::annotate_on_success {};
struct and_operation_class : x3::annotate_on_success {};
struct or_operation_class : x3::annotate_on_success {};
struct parameter_class : x3::annotate_on_success {};
struct binding_class : x3::annotate_on_success {};
struct fire_class : x3::annotate_on_success {};
struct schedule_class : x3::annotate_on_success {};
struct message_class : x3::annotate_on_success {};
struct evaluate_class : x3::annotate_on_success {};
struct findings_class : x3::annotate_on_success {};
struct primary_class {};
struct unary_expression_class {};
struct literal_class {};
struct value_ref_class {};
struct mode_ref_class {};
struct parameter_list_class {};

// Names are what "expected ..." diagnostics show.
x3::rule<identifier_class, ast::identifier> const identifier = "a name";
x3::rule<number_class, ast::number_literal> const number = "a number";
x3::rule<signed_number_class, ast::number_literal> const signed_number = "a number";
x3::rule<string_class, ast::string_literal> const string_literal = "a string";
x3::rule<regex_class, ast::regex_literal> const regex_literal = "a regex";
x3::rule<bool_class, ast::bool_literal> const bool_literal = "true or false";
x3::rule<mode_class, ast::mode_literal> const mode_literal = "a mode";
x3::rule<call_class, ast::call> const call = "a function call";
x3::rule<unary_class, ast::unary> const unary = "an operand";
x3::rule<primary_class, ast::operand> const primary = "an operand";
x3::rule<unary_expression_class, ast::operand> const unary_expression = "an operand";
x3::rule<postfix_class, ast::expression> const postfix_expression = "an operand";
x3::rule<multiplicative_class, ast::expression> const multiplicative_expression = "an expression";
x3::rule<additive_class, ast::expression> const additive_expression = "an expression";
x3::rule<comparison_class, ast::expression> const comparison_expression = "an expression";
x3::rule<and_class, ast::expression> const and_expression = "an expression";
x3::rule<expression_class, ast::expression> const expression = "an expression";
x3::rule<in_operation_class, ast::operation> const in_operation = "'in'";
x3::rule<multiplicative_operation_class, ast::operation> const multiplicative_operation = "'*' or '/'";
x3::rule<additive_operation_class, ast::operation> const additive_operation = "'+' or '-'";
x3::rule<comparison_operation_class, ast::operation> const comparison_operation = "a comparison";
x3::rule<and_operation_class, ast::operation> const and_operation = "'&&'";
x3::rule<or_operation_class, ast::operation> const or_operation = "'||'";
x3::rule<mode_ref_class, ast::operand> const mode_ref = "a mode (TRAIN, EVAL, PREDICT, GLOBAL or a mode parameter)";
x3::rule<literal_class, ast::literal> const literal = "a literal (number, \"string\", /regex/, true, false or a mode)";
x3::rule<value_ref_class, ast::value_ref> const value_ref = "a number or a parameter name";
x3::rule<parameter_class, ast::parameter> const parameter = "a parameter";
x3::rule<parameter_list_class, std::vector<ast::parameter>> const parameter_list = "a parameter list";
x3::rule<binding_class, ast::binding> const binding = "a binding";
x3::rule<fire_class, ast::fire_statement> const fire_statement = "'fire when'";
x3::rule<schedule_class, ast::schedule_statement> const schedule_statement = "a schedule clause";
x3::rule<message_class, ast::message_statement> const message_statement = "'message'";
x3::rule<evaluate_class, ast::evaluate_statement> const evaluate_statement = "'evaluate in'";
x3::rule<findings_class, ast::findings_statement> const findings_statement = "'findings per'";
rule_head_type const rule_head = "'rule'";
statement_type const statement = "a statement";

// Named terminals, so "expected ..." reads well.
auto const kw_rule = x3::rule<struct kw_rule_id>{"'rule'"} = keyword("rule");
auto const kw_when = x3::rule<struct kw_when_id>{"'when'"} = keyword("when");
auto const kw_steps = x3::rule<struct kw_steps_id>{"'steps'"} = keyword("steps") | keyword("step");
auto const kw_step = x3::rule<struct kw_step_id>{"'step'"} = keyword("step");
auto const kw_in = x3::rule<struct kw_in_id>{"'in'"} = keyword("in");
auto const kw_per = x3::rule<struct kw_per_id>{"'per'"} = keyword("per");
auto const findings_split = x3::rule<struct findings_split_id, bool>{"'tensor' or 'evaluation'"} =
    (keyword("tensor") >> x3::attr(true)) | (keyword("evaluation") >> x3::attr(false));
auto const open_paren = x3::rule<struct open_paren_id>{"'('"} = lit('(');
auto const close_paren = x3::rule<struct close_paren_id>{"')'"} = lit(')');
auto const open_brace = x3::rule<struct open_brace_id>{"'{'"} = lit('{');
auto const equals = x3::rule<struct equals_id>{"'='"} = lit('=');
auto const closing_quote = x3::rule<struct closing_quote_id>{"'\"' to close the string"} = lit('"');
auto const closing_slash = x3::rule<struct closing_slash_id>{"'/' to close the regex"} = lit('/');
auto const escape = x3::rule<struct escape_id, char>{"an escape (\\\" \\\\ \\n \\t)"} = escapes;

// --- definitions ------------------------------------------------------------------------------

// Semantic actions live in attribute-only sub-rules: a rule whose right-hand side has an action
// passes `unused` to on_success, and its node would not be position-tagged.
auto const identifier_text = x3::rule<struct identifier_text_id, std::string>{"a name"} =
    raw[lexeme[ident_first >> *ident_char]][([](auto& ctx) {
      const auto& r = x3::_attr(ctx);
      x3::_val(ctx).assign(r.begin(), r.end());
      x3::_pass(ctx) = !is_reserved(x3::_val(ctx));
    })];
auto const identifier_def = identifier_text;
// Numbers: digits with an optional fraction and exponent (`10`, `0.1`, `.5`, `1e-7`), never
// "nan"/"inf"; a name may not follow without a space (`10steps` is an error).
auto const digits = +x3::char_("0-9");
auto const mantissa = (digits >> -('.' >> *x3::char_("0-9"))) | ('.' >> digits);
auto const exponent = x3::char_("eE") >> -x3::char_("+-") >> digits;
auto const number_text = x3::rule<struct number_text_id, double>{"a number"} =
    raw[lexeme[mantissa >> -exponent >> !ident_char]][([](auto& ctx) {
      x3::_val(ctx) = number_value(x3::_attr(ctx).begin(), x3::_attr(ctx).end());
    })];
auto const signed_number_text = x3::rule<struct signed_number_text_id, double>{"a number"} =
    raw[lexeme[-x3::char_("+-") >> mantissa >> -exponent >> !ident_char]][([](auto& ctx) {
      x3::_val(ctx) = number_value(x3::_attr(ctx).begin(), x3::_attr(ctx).end());
    })];
auto const number_def = number_text;
auto const signed_number_def = signed_number_text;
auto const string_body = x3::rule<struct string_body_id, std::string>{"a string"} =
    lexeme['"' > *(('\\' > escape) | (x3::char_ - '"' - '\\' - '\n')) > closing_quote];
auto const string_literal_def = string_body;
auto const regex_body = x3::rule<struct regex_body_id, std::string>{"a regex"} =
    lexeme[('/' >> raw[*(('\\' >> (x3::char_ - '\n')) | (x3::char_ - '/' - '\\' - '\n'))]) > closing_slash]
          [([](auto& ctx) {
            const auto& r = x3::_attr(ctx);
            x3::_val(ctx) = unescape_regex(r.begin(), r.end());
          })];
auto const regex_literal_def = regex_body;
auto const bool_literal_def = (keyword("true") >> x3::attr(true)) | (keyword("false") >> x3::attr(false));
auto const mode_literal_def = lexeme[mode_names >> !ident_char];

auto const call_def = (identifier >> lit('(')) > -(expression % ',') > close_paren;
auto const primary_def = number | string_literal | regex_literal | bool_literal | mode_literal | call |
                         identifier | (lit('(') > expression > close_paren);
auto const mode_ref_def = mode_literal | identifier;
auto const in_operation_def = (kw_in >> x3::attr(ast::optoken::in)) > mode_ref;
auto const postfix_expression_def = primary >> *in_operation;
auto const unary_def = unary_op > unary_expression;
auto const unary_expression_def = depth_guard[postfix_expression | unary];
auto const multiplicative_operation_def = multiplicative_op > unary_expression;
auto const multiplicative_expression_def = unary_expression >> *multiplicative_operation;
auto const additive_operation_def = additive_op > multiplicative_expression;
auto const additive_expression_def = multiplicative_expression >> *additive_operation;
auto const comparison_operation_def = comparison_op > additive_expression;
auto const comparison_expression_def = additive_expression >> *comparison_operation;
auto const and_operation_def = and_op > comparison_expression;
auto const and_expression_def = comparison_expression >> *and_operation;
auto const or_operation_def = or_op > and_expression;
auto const expression_def = and_expression >> *or_operation;

auto const literal_def = signed_number | string_literal | regex_literal | bool_literal | mode_literal;
auto const value_ref_def = number | identifier;
auto const parameter_def = identifier >> -(lit(':') > identifier) >> -(equals > literal);
auto const parameter_list_def = lit('(') > -(parameter % ',') > close_paren;
auto const rule_head_def = kw_rule > identifier > -parameter_list > open_brace;

auto const binding_def = identifier >> (equals > expression);
auto const fire_statement_def = keyword("fire") > kw_when > expression;
auto const schedule_statement_def =
    ((keyword("every") >> x3::attr(ast::schedule_kind::every)) > value_ref > kw_steps) |
    ((keyword("warmup") >> x3::attr(ast::schedule_kind::warmup)) > value_ref > kw_steps) |
    ((keyword("from") >> x3::attr(ast::schedule_kind::from)) > kw_step > value_ref) |
    ((keyword("until") >> x3::attr(ast::schedule_kind::until)) > kw_step > value_ref);
auto const message_statement_def = keyword("message") > string_literal;
// `evaluate` and `findings` are not reserved: a binding of that name is tried first.
auto const evaluate_statement_def = keyword("evaluate") > kw_in > mode_ref;
auto const findings_statement_def = keyword("findings") > kw_per > findings_split;
auto const statement_def =
    (binding | fire_statement | schedule_statement | message_statement | evaluate_statement | findings_statement) >>
    -lit(';');

BOOST_SPIRIT_DEFINE(identifier, number, signed_number, string_literal, regex_literal, bool_literal,
                    mode_literal, call, primary, mode_ref, in_operation, postfix_expression, unary,
                    unary_expression, multiplicative_operation, multiplicative_expression,
                    additive_operation, additive_expression, comparison_operation,
                    comparison_expression, and_operation, and_expression, or_operation, expression,
                    literal, value_ref, parameter, parameter_list, rule_head, binding, fire_statement,
                    schedule_statement, message_statement, evaluate_statement, findings_statement,
                    statement)

}  // namespace tdbg::lang::parser

namespace tdbg::lang {

inline const parser::rule_head_type& rule_head_parser() { return parser::rule_head; }
inline const parser::statement_type& statement_parser() { return parser::statement; }

}  // namespace tdbg::lang
