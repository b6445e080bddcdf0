// tdbg/rules/choose.hpp — a choice between two expressions made when the rule is built.
// Layer: rules (rules/{expr,erased}.hpp).
//
//   choose(a, b, flag)   a if flag, else b — flag is a plain bool (in a .rule file: a boolean
//                        literal or parameter, e.g. ClassImbalance's `argmax`), so the choice
//                        costs nothing at evaluation and the rule describes as the chosen branch.
//                        (flag comes last so that the result's type is that of the first
//                        argument, as for every other function of the language.)
// a and b must have the same kind and value type (static_assert); when their C++ types differ
// the result is the erased node of that kind (erased.hpp), otherwise their own type.
#pragma once

#include <type_traits>
#include <utility>

#include "tdbg/rules/erased.hpp"
#include "tdbg/rules/expr.hpp"

namespace tdbg::rules {

/// `a` if `flag`, else `b` (see the header comment).
template <node A, node B>
[[nodiscard]] auto choose(A a, B b, bool flag) {
  static_assert(A::kind == B::kind && A::value == B::value,
                "tdbg::rules: choose(a, b, flag) needs two expressions of the same kind and value type");
  if constexpr (std::is_same_v<A, B>) {
    return flag ? std::move(a) : std::move(b);
  } else {
    using E = erased<A::kind, A::value>;
    return flag ? E(std::move(a)) : E(std::move(b));
  }
}

}  // namespace tdbg::rules
