// tdbg/lang/ast_adapted.hpp — Boost.Fusion adaptation of the AST structs the grammar fills
// member by member. Single-member nodes are not adapted: they convert from their one value.
// Layer: lang (Boost.Fusion, ast.hpp).
#pragma once

#include <boost/fusion/include/adapt_struct.hpp>

#include "tdbg/lang/ast.hpp"

BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::unary, op, operand_)
BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::operation, op, operand_)
BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::expression, first, rest)
BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::call, function, args)
BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::parameter, name, type_name, default_value)
BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::binding, name, value)
BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::schedule_statement, kind, value)
BOOST_FUSION_ADAPT_STRUCT(tdbg::lang::ast::rule_head, name, parameters)
