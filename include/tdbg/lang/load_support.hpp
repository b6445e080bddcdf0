// tdbg/lang/load_support.hpp — what the loader's parts share (load.hpp, load_operators.hpp): the
// built value of a (sub)expression (a constant, a typed selection, or an erased node), how a typed
// node becomes one (wrap), how one is visited as a node (visit_node), and the declarations of the
// functions that load_operators.hpp defines.
// Layer: lang (model.hpp, function_table.hpp, ast.hpp, entry.hpp, rules/rules.hpp).
//
// The loader is two parts so that it compiles as two translation units (cmake/TdbgLang.cmake):
// the binary operators alone instantiate every operator over every pair of operand kinds, about
// two thirds of the loader's compile time (198 s of 303 s at -O2 -g1) and 4.8 of its 8.3 GB.
// Under TDBG_LANG_SEPARATE the functions declared here are ordinary functions defined once
// (load_operators.hpp in its own unit); header-only, they are inline and load.hpp includes their
// definitions.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/entry.hpp"
#include "tdbg/lang/function_table.hpp"
#include "tdbg/lang/model.hpp"
#include "tdbg/rules/rules.hpp"

namespace tdbg::lang::detail {

namespace r = tdbg::rules;

/// A built (sub)expression: a constant known at load time, a typed selection, or an erased node.
struct built {
  lang::type t;
  std::optional<value> constant;  ///< for constants
  std::string param;              ///< the parameter a number constant came from ("" for a literal)
  std::optional<r::selection> sel;
  /// prev/at_steps_back/in_trial of a plain selection, kept typed beside its erased `node` so that
  /// a binary operator with the selection fuses them (apply_binary)
  std::optional<std::variant<r::shift_node<r::selection>, r::in_trial_node<r::selection>>> leaf;
  std::variant<std::monostate, r::any_number, r::any_boolean, r::any_per_tensor_number, r::any_per_tensor_boolean,
               r::any_elements, r::any_element_mask>
      node;
  bool stateful = false;  ///< contains a window, running value, patience or then
};

/// A failure while building, positioned by the caller.
struct build_failure {
  std::string message;
};

template <class N>
built make_built(N n, lang::type t, bool stateful) {
  built b;
  b.t = t;
  b.stateful = stateful;
  if constexpr (std::is_same_v<N, r::selection>) {
    b.sel = std::move(n);
  } else {
    using E = r::erased<N::kind, N::value>;
    if constexpr (std::is_same_v<N, E>)
      b.node = std::move(n);
    else
      b.node = E(std::move(n));
  }
  return b;
}

inline lang::type type_of_kind(r::expr_kind k, r::value_type v) {
  const value_kind vk = v == r::value_type::number ? value_kind::number : value_kind::boolean;
  switch (k) {
    case r::expr_kind::elements: return type{shape::elements, vk};
    case r::expr_kind::per_tensor: return type{shape::per_tensor, vk};
    case r::expr_kind::scalar: break;
  }
  return type{shape::scalar, vk};
}

/// Wraps a typed node into a built value with the type its kind says.
template <class N>
built wrap(N n, bool stateful) {
  const lang::type t = type_of_kind(N::kind, N::value);
  return make_built(std::move(n), t, stateful);
}

/// A time shift or other-trial view of a plain selection: erased like any node, and kept typed in
/// built::leaf (non-stateful).
template <class N>
built wrap_leaf(N n) {
  built out = wrap(n, false);
  out.leaf.emplace(std::move(n));
  return out;
}

/// Calls f with the node of `b` as an erased (or typed selection) node; constants become
/// param/constant/bool nodes. Without KeepSelection, selections are erased too.
template <bool KeepSelection, class F>
auto visit_node(const built& b, F&& f) -> decltype(f(std::declval<const r::any_number&>())) {
  using R = decltype(f(std::declval<const r::any_number&>()));
  if (b.constant) {
    if (const double* d = std::get_if<double>(&*b.constant)) {
      if (!b.param.empty()) return f(r::any_number(r::param_(b.param, *d)));
      return f(r::any_number(r::constant{*d}));
    }
    if (const bool* v = std::get_if<bool>(&*b.constant)) return f(r::any_boolean(r::truth(*v)));
    throw build_failure{"a " + std::string(value_kind_name(kind_of(*b.constant))) + " is not an expression here"};
  }
  if (b.sel) {
    if constexpr (KeepSelection)
      return f(*b.sel);
    else
      return f(r::any_elements(*b.sel));
  }
  return std::visit(
      [&](const auto& n) -> R {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (std::is_same_v<N, std::monostate>)
          throw build_failure{"internal: an expression was not built"};
        else
          return f(n);
      },
      b.node);
}

inline double constant_number(const built& b) { return std::get<double>(*b.constant); }

/// `a op b` for a binary operator of the language other than `in` (arithmetic, ordering,
/// equality, logic), constants not folded: the engine's binary_node over the operands' nodes,
/// selections kept typed where that fuses loops (load_operators.hpp).
TDBG_LANG_ENTRY built apply_operator(ast::optoken op, const built& a, const built& b);

/// isclose(a, b) with checked tolerances (load_operators.hpp).
TDBG_LANG_ENTRY built apply_isclose(const built& a, const built& b, r::ops::isclose_fn f);

}  // namespace tdbg::lang::detail
