// tdbg/rules/history.hpp — looking back through the saved history of the data (not the rule's).
// Layer: rules (rules/{expr,select,ops,time}.hpp).
//
//   history_all(p, n)   p holds at the evaluated step and at each of the n − 1 saved steps
//   history_any(p, n)   before it / at one of them
//   history_min(x, n) history_max(x, n) history_mean(x, n)   of x over those n saved steps
// p / x is a per-tensor or scalar expression (a boolean for all/any, a number otherwise); the
// result has its kind. Each tensor moves back along its *own* saved steps, exactly as
// prev(x, k) does (time.hpp): the value at saved step k back is x with every read shifted k
// saved steps back, so `history_all(x == prev(x), n)` compares n consecutive pairs, i.e. n + 1
// saved values. Unlike windows (window.hpp), which keep the rule's own past evaluations, a
// history is read from the source each time: it gives the same answer whichever step the
// evaluation starts at (smdebug's UnchangedTensor test: it fires at step 2 even when rules are
// first invoked at step 2), and it keeps no state (memory: the look-back, declared through
// needs() as saved_steps_back, which the live source retains).
// Tri-state: all is false as soon as one known value is false, any true as soon as one is
// true; otherwise a value that is unknown (e.g. fewer than n saved steps so far) makes the
// result unknown with its reason. min/max/mean need all n values. Per tensor, evidence is the
// value at the evaluated step (for a false history_all: at the newest step where p was false).
// n must be a whole number >= 1 (usage_error otherwise); x may not be stateful (static_assert).
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/time.hpp"

namespace tdbg::rules {

namespace histories {
struct all { static constexpr std::string_view name = "history_all"; static constexpr bool boolean = true; };
struct any { static constexpr std::string_view name = "history_any"; static constexpr bool boolean = true; };
struct min { static constexpr std::string_view name = "history_min"; static constexpr bool boolean = false; };
struct max { static constexpr std::string_view name = "history_max"; static constexpr bool boolean = false; };
struct mean { static constexpr std::string_view name = "history_mean"; static constexpr bool boolean = false; };
}  // namespace histories

namespace detail {

/// One value of a history (a scalar, or one tensor's item): known, value, reason.
struct history_point {
  bool known = true;
  double v = 0;
  const std::string* reason = nullptr;
};

/// Combines the n values of a history; returns the index of the value whose evidence to keep
/// (or -1 when the result is unknown: `why` then points at the reason).
template <class H>
long combine_history(const std::vector<history_point>& pts, double& out, const std::string*& why) {
  constexpr bool is_all = std::is_same_v<H, histories::all>;
  constexpr bool is_any = std::is_same_v<H, histories::any>;
  if constexpr (is_all || is_any) {
    for (std::size_t k = 0; k < pts.size(); ++k)
      if (pts[k].known && ((pts[k].v != 0) == is_any)) {
        out = is_any ? 1.0 : 0.0;
        return static_cast<long>(k);
      }
  }
  for (const auto& p : pts)
    if (!p.known) {
      why = p.reason;
      return -1;
    }
  if constexpr (is_all || is_any) {
    out = is_all ? 1.0 : 0.0;
  } else {
    double acc = std::is_same_v<H, histories::mean> ? 0.0 : pts.front().v;
    for (const auto& p : pts) {
      if constexpr (std::is_same_v<H, histories::mean>) {
        acc += p.v;
      } else if (std::isnan(acc) || std::isnan(p.v)) {
        acc = std::nan("");
      } else {
        acc = std::is_same_v<H, histories::min> ? std::fmin(acc, p.v) : std::fmax(acc, p.v);
      }
    }
    if constexpr (std::is_same_v<H, histories::mean>) acc /= static_cast<double>(pts.size());
    out = acc;
  }
  return 0;
}

}  // namespace detail

/// A combination of x over the last n saved steps of its tensors (see the header comment).
template <class H, class X>
class history_node {
 public:
  static constexpr expr_kind kind = X::kind;
  static constexpr value_type value = X::value;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  history_node(X x, std::size_t n) : x_(std::move(x)), n_(n) {}
  [[nodiscard]] std::string describe() const {
    return std::string(H::name) + "(" + x_.describe() + ", " + std::to_string(n_) + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.saved_steps_back += n_ - 1;
    x_.needs(r, inner);
  }

  class evaluator {
   public:
    explicit evaluator(const history_node& n) : x_(n.x_), n_(n.n_) {}

    auto eval(const context& c) {
      if constexpr (kind == expr_kind::scalar) {
        std::vector<scalar_value> vs;
        vs.reserve(n_);
        for (std::size_t k = 0; k < n_; ++k) vs.push_back(x_.eval(shifted(c, k)));
        std::vector<detail::history_point> pts;
        for (const auto& v : vs) pts.push_back({v.known, v.v, &v.reason});
        double out = 0;
        const std::string* why = nullptr;
        const long keep = detail::combine_history<H>(pts, out, why);
        if (keep < 0) return scalar_value::missing(*why);
        return scalar_value::of(out, std::move(vs[static_cast<std::size_t>(keep)].evidence));
      } else {
        std::vector<tensor_values> vs;
        vs.reserve(n_);
        for (std::size_t k = 0; k < n_; ++k) vs.push_back(x_.eval(shifted(c, k)));
        tensor_values out;
        for (const auto& v : vs)
          if (!v.known) {
            out.known = false;
            out.reason = v.reason;
            return out;
          }
        const std::string missing_item = "a tensor is missing from a past value of " + std::string(H::name);
        for (std::size_t i = 0; i < vs.front().items.size(); ++i) {
          const tensor_value& now = vs.front().items[i];
          std::vector<const tensor_value*> its;
          std::vector<detail::history_point> pts;
          for (const auto& v : vs) {
            const tensor_value* it = i < v.items.size() && v.items[i].tensor == now.tensor ? &v.items[i] : nullptr;
            if (it == nullptr)
              for (const auto& o : v.items)
                if (o.tensor == now.tensor) it = &o;
            its.push_back(it);
            pts.push_back(it ? detail::history_point{it->known, it->v, &it->reason}
                             : detail::history_point{false, 0, &missing_item});
          }
          tensor_value r = now;
          double v = 0;
          const std::string* why = nullptr;
          const long keep = detail::combine_history<H>(pts, v, why);
          if (keep < 0) {
            r.known = false;
            r.reason = *why;
          } else {
            const tensor_value& ev = *its[static_cast<std::size_t>(keep)];
            r.known = true;
            r.reason.clear();
            r.v = v;
            r.observed = H::boolean ? ev.observed : v;
            r.threshold = H::boolean ? ev.threshold : no_threshold;
          }
          out.items.push_back(std::move(r));
        }
        return out;
      }
    }
    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return 0; }

   private:
    [[nodiscard]] static context shifted(const context& c, std::size_t k) {
      if (k == 0) return c;
      context s = c;
      s.shifts.push_back(step_shift{step_shift::unit::saved_steps, static_cast<step_t>(k)});
      return s;
    }
    typename X::evaluator x_;
    std::size_t n_;
  };

 private:
  X x_;
  std::size_t n_;
};

namespace detail {
template <class H, class X>
[[nodiscard]] auto make_history(X x, double n) {
  static_assert(is_node_v<X>, "tdbg::rules: history_all/any/min/max/mean take a rule expression, not a plain number");
  static_assert(kind_of<X> != expr_kind::elements,
                "tdbg::rules: history_all/any/min/max/mean take a per-tensor or scalar expression; reduce the "
                "elements first (e.g. history_all(max_abs(w - prev(w)) == 0, 3))");
  static_assert(!stateful_of<X>,
                "tdbg::rules: a history looks back through the saved data; it cannot contain a window, patience "
                "or then (they keep their own past)");
  if constexpr (H::boolean)
    static_assert(value_of<X> == value_type::boolean, "tdbg::rules: history_all/history_any take a boolean");
  else
    static_assert(value_of<X> == value_type::number, "tdbg::rules: history_min/max/mean take a number");
  if (!(n >= 1) || n != std::floor(n) || n > 1e6)
    throw usage_error(std::string(H::name) + ": the number of saved steps must be a whole number >= 1, got " +
                      format_number(n));
  return history_node<H, X>(std::move(x), static_cast<std::size_t>(n));
}
}  // namespace detail

/// p holds at the evaluated step and at each of the n − 1 saved steps before it.
template <class X> [[nodiscard]] auto history_all(X p, double n) { return detail::make_history<histories::all>(std::move(p), n); }
/// p holds at the evaluated step or at one of the n − 1 saved steps before it.
template <class X> [[nodiscard]] auto history_any(X p, double n) { return detail::make_history<histories::any>(std::move(p), n); }
/// The smallest value of x over the last n saved steps (NaN if one is NaN).
template <class X> [[nodiscard]] auto history_min(X x, double n) { return detail::make_history<histories::min>(std::move(x), n); }
/// The largest value of x over the last n saved steps (NaN if one is NaN).
template <class X> [[nodiscard]] auto history_max(X x, double n) { return detail::make_history<histories::max>(std::move(x), n); }
/// The mean of x over the last n saved steps.
template <class X> [[nodiscard]] auto history_mean(X x, double n) { return detail::make_history<histories::mean>(std::move(x), n); }

}  // namespace tdbg::rules
