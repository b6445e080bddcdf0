// tdbg/rules/time.hpp — looking back in time: previous saved steps and steps k steps ago.
// Layer: rules (rules/{expr,select,ops}.hpp).
//
//   prev(x)              x with every tensor read at its previous saved step (same mode)
//   at_steps_back(x, k)  x with every tensor read at its newest saved step at or before
//                        (step − k); steps are mode steps of the evaluated step's mode (global
//                        steps in mode GLOBAL)
//   delta(x)             x − prev(x)
//   ratio(x)             x / prev(x)
// x may be of any kind: prev(collection("weights")) is an elements expression, so
// `l2(w - prev(w)) / l2(prev(w))` is the weight update ratio per tensor. Each tensor moves back
// along its *own* saved steps; the evaluated step itself must be a saved step of the tensor
// (otherwise: unknown, like any read). When there is no such earlier step the value is unknown
// with a reason ("tensor 'w' has no TRAIN value 1 saved step(s) before step 0"). Shifts nest:
// prev(prev(x)) is two saved steps back. Windows/patience/then cannot be shifted (they keep
// their own past): a static_assert says so.
#pragma once

#include <string>
#include <utility>

#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

/// x evaluated with a time shift (keeps the kind and value type of x).
template <class X>
class shift_node {
 public:
  static constexpr expr_kind kind = X::kind;
  static constexpr value_type value = X::value;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  shift_node(X x, step_shift sh) : x_(std::move(x)), shift_(sh) {}
  [[nodiscard]] std::string describe() const {
    if (shift_.by == step_shift::unit::saved_steps && shift_.k == 1) return "prev(" + x_.describe() + ")";
    if (shift_.by == step_shift::unit::saved_steps)
      return "prev(" + x_.describe() + ", " + std::to_string(shift_.k) + ")";
    return "at_steps_back(" + x_.describe() + ", " + std::to_string(shift_.k) + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    if (shift_.by == step_shift::unit::saved_steps)
      inner.saved_steps_back += static_cast<std::size_t>(shift_.k);
    else
      inner.steps_back += shift_.k;
    x_.needs(r, inner);
  }

  class evaluator {
   public:
    explicit evaluator(const shift_node& n) : x_(n.x_), shift_(n.shift_) {}

    auto eval(const context& c) { return x_.eval(shifted(c)); }
    // elements protocol: the set is the current one; values are read back in time
    name_set names(const context& c) { return x_.names(c); }
    std::string bind(const context& c, const std::string& t) { return x_.bind(shifted(c), t); }
    [[nodiscard]] dtype type() const { return x_.type(); }
    [[nodiscard]] std::uint64_t size() const { return x_.size(); }
    [[nodiscard]] std::vector<std::uint64_t> dims() const { return dims_of(x_); }
    void materialize(dtype d) { x_.materialize(d); }
    void window(std::uint64_t off, std::uint64_t n)
      requires has_window<typename X::evaluator>
    {
      x_.window(off, n);
    }
    void release() { x_.release(); }
    template <class T>
    [[nodiscard]] auto expr() const {
      return x_.template expr<T>();
    }
    [[nodiscard]] std::optional<double> stored(const context& c, const std::string& t, reduction r) const
      requires detail::has_stored_fallback<typename X::evaluator>
    {
      return x_.stored(shifted(c), t, r);
    }
    [[nodiscard]] bool stored_capable() const
      requires detail::has_stored_fallback<typename X::evaluator>
    {
      return detail::stored_available(x_);
    }
    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return 0; }

   private:
    [[nodiscard]] context shifted(const context& c) const {
      context s = c;
      s.shifts.push_back(shift_);
      return s;
    }
    typename X::evaluator x_;
    step_shift shift_;
  };

 private:
  X x_;
  step_shift shift_;
};

namespace detail {
template <class X>
[[nodiscard]] auto make_shift(X x, step_shift sh) {
  static_assert(is_node_v<X>, "tdbg::rules: prev/at_steps_back/delta/ratio take a rule expression, not a plain number");
  static_assert(!stateful_of<X>,
                "tdbg::rules: prev/at_steps_back cannot look back into a window, patience or then: they keep their "
                "own past; shift the expression inside them instead");
  if (sh.k < 1) throw usage_error("prev/at_steps_back: the step distance must be >= 1");
  return shift_node<X>(std::move(x), sh);
}
}  // namespace detail

/// x at the previous saved step of each tensor (`k` saved steps back).
template <class X>
[[nodiscard]] auto prev(X x, step_t k = 1) {
  return detail::make_shift(std::move(x), step_shift{step_shift::unit::saved_steps, k});
}
/// x at the newest saved step at or before (step − k) of each tensor.
template <class X>
[[nodiscard]] auto at_steps_back(X x, step_t k) {
  return detail::make_shift(std::move(x), step_shift{step_shift::unit::steps, k});
}
/// x − prev(x).
template <class X>
[[nodiscard]] auto delta(X x) {
  auto p = prev(x);
  return std::move(x) - std::move(p);
}
/// x / prev(x).
template <class X>
[[nodiscard]] auto ratio(X x) {
  auto p = prev(x);
  return std::move(x) / std::move(p);
}

}  // namespace tdbg::rules
