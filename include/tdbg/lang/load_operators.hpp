// tdbg/lang/load_operators.hpp — the loader's binary operators: `a op b` and isclose(a, b) built
// as the engine's binary_node over any two operand kinds (declared in load_support.hpp).
// Layer: lang (load_support.hpp). This header instantiates every operator over every pair of
// operand kinds: under TDBG_LANG_SEPARATE, compile it in one translation unit of its own
// (tdbg_add_lang_library does: cmake/TdbgLang.cmake); header-only, load.hpp includes it.
//
// Fusion (speed; docs/rules.md, "Cost model"): a plain selection stays typed against another
// selection or an operand that is not element-wise; prev/at/in_trial of a selection stay typed
// beside their erased node (built::leaf), so that `-` `/` `==` `!=` `isclose` of the selection
// with one of them is one typed loop.
#pragma once

#include "tdbg/lang/load_support.hpp"

#include <string>
#include <type_traits>
#include <variant>

#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/entry.hpp"
#include "tdbg/rules/rules.hpp"

namespace tdbg::lang::detail {

/// x F y for operands visited as nodes (typed selections included).
template <class F, class A, class B>
built combine(const A& x, const B& y, bool stateful, F f = {}) {
  constexpr bool nums = A::value == r::value_type::number && B::value == r::value_type::number;
  constexpr bool bools = A::value == r::value_type::boolean && B::value == r::value_type::boolean;
  constexpr bool ok = F::cls == r::op_class::arithmetic || F::cls == r::op_class::ordering ? nums
                      : F::cls == r::op_class::equality                                   ? (nums || bools)
                                                                                          : bools;
  if constexpr (ok)
    return wrap(r::binary_node<F, A, B>(x, y, f), stateful);
  else
    throw build_failure{"operator '" + std::string(F::symbol) + "' cannot combine these operands"};
}

template <class F>
built apply_binary(const built& a, const built& b, F f = {}) {
  const bool st = a.stateful || b.stateful;
  // Selections stay typed against another selection or a non-element operand: one fused loop
  // over the stored values, no erased conversion level (against an erased element operand the
  // selection is erased too, so that both are read per window).
  const bool a_elements = a.sel || a.t.shape == shape::elements;
  const bool b_elements = b.sel || b.t.shape == shape::elements;
  if (a.sel && b.sel) return combine<F>(*a.sel, *b.sel, st, f);
  // x - prev(x), x == in_trial(x, ...), isclose(x, prev(x)): the selection and its shifted or
  // other-trial self in one fused loop too (a few operators only: each pair is a template
  // instantiation in every program that loads rules).
  constexpr bool leaf_op = std::is_same_v<F, r::ops::minus> || std::is_same_v<F, r::ops::divides> ||
                           std::is_same_v<F, r::ops::equal_to> || std::is_same_v<F, r::ops::not_equal_to> ||
                           std::is_same_v<F, r::ops::isclose_fn>;
  if constexpr (leaf_op) {
    if (a.sel && b.leaf)
      return std::visit([&](const auto& y) { return combine<F>(*a.sel, y, st, f); }, *b.leaf);
    if (a.leaf && b.sel)
      return std::visit([&](const auto& x) { return combine<F>(x, *b.sel, st, f); }, *a.leaf);
  }
  if (a.sel && !b_elements)
    return visit_node<false>(b, [&](const auto& y) -> built {
      if constexpr (std::remove_cvref_t<decltype(y)>::kind == r::expr_kind::elements)
        throw build_failure{"internal: an element operand"};
      else
        return combine<F>(*a.sel, y, st, f);
    });
  if (b.sel && !a_elements)
    return visit_node<false>(a, [&](const auto& x) -> built {
      if constexpr (std::remove_cvref_t<decltype(x)>::kind == r::expr_kind::elements)
        throw build_failure{"internal: an element operand"};
      else
        return combine<F>(x, *b.sel, st, f);
    });
  return visit_node<false>(a, [&](const auto& x) -> built {
    return visit_node<false>(b, [&](const auto& y) -> built { return combine<F>(x, y, st, f); });
  });
}

TDBG_LANG_ENTRY built apply_operator(ast::optoken op, const built& a, const built& b) {
  namespace o = r::ops;
  switch (op) {
    case ast::optoken::plus: return apply_binary<o::plus>(a, b);
    case ast::optoken::minus: return apply_binary<o::minus>(a, b);
    case ast::optoken::times: return apply_binary<o::multiplies>(a, b);
    case ast::optoken::divide: return apply_binary<o::divides>(a, b);
    case ast::optoken::less: return apply_binary<o::less>(a, b);
    case ast::optoken::less_equal: return apply_binary<o::less_equal>(a, b);
    case ast::optoken::greater: return apply_binary<o::greater>(a, b);
    case ast::optoken::greater_equal: return apply_binary<o::greater_equal>(a, b);
    case ast::optoken::equal: return apply_binary<o::equal_to>(a, b);
    case ast::optoken::not_equal: return apply_binary<o::not_equal_to>(a, b);
    case ast::optoken::logical_and: return apply_binary<o::logical_and>(a, b);
    case ast::optoken::logical_or: return apply_binary<o::logical_or>(a, b);
    default: break;
  }
  throw build_failure{"internal: unexpected operator '" + std::string(ast::op_text(op)) + "'"};
}

TDBG_LANG_ENTRY built apply_isclose(const built& a, const built& b, r::ops::isclose_fn f) {
  return apply_binary<r::ops::isclose_fn>(a, b, f);
}

}  // namespace tdbg::lang::detail
