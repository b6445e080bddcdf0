// tdbg/lang/grammar.hpp — the parser's entry points, declared: a rule head and a statement.
// Layer: lang (Spirit X3, ast.hpp). Definitions: grammar_def.hpp. The driver that strings them
// together and recovers from errors: parse.hpp.
//
// The grammar is parsed in units — `rule name(params) {`, then one statement at a time, then `}` —
// so that a syntax error is reported and the parser resumes at the next statement or rule
// (docs/rule-language.md, "Errors").
#pragma once

#include <boost/spirit/home/x3.hpp>

#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/ast_adapted.hpp"

namespace tdbg::lang::parser {

namespace x3 = boost::spirit::x3;

struct rule_head_class;
struct statement_class;

using rule_head_type = x3::rule<rule_head_class, ast::rule_head>;
using statement_type = x3::rule<statement_class, ast::statement>;

BOOST_SPIRIT_DECLARE(rule_head_type, statement_type)

/// Whitespace and `#` comments (to the end of the line).
inline auto const skipper = x3::char_(" \t\r\n\f\v") | x3::lexeme['#' >> *(x3::char_ - '\n')];

}  // namespace tdbg::lang::parser

namespace tdbg::lang {

/// `rule name(parameters) {` (the outermost rule of a head: reports syntax errors).
inline const parser::rule_head_type& rule_head_parser();
/// One statement of a rule body, with an optional `;` (the outermost rule of a statement).
inline const parser::statement_type& statement_parser();

}  // namespace tdbg::lang
