// tdbg/rules/reduce.hpp — reductions: from the elements of each selected tensor to one value per tensor.
// Layer: rules (rules/{expr,select,ops}.hpp, Eigen's Tensor module).
//
//   min max mean sum prod                 of the elements
//   std_pop var_pop                       population (divide by N)
//   std_sample var_sample                 sample (divide by N − 1)
//   l1 l2                                 vector norms over all elements, whatever the rank
//   max_abs                               max(|x|)
//   fraction_zero fraction_nonfinite      share of elements == 0 / NaN or ±inf
//   quantile(x, q) percentile(x, p)       linear interpolation between order statistics
//                                         (numpy's default), q in [0, 1], p in [0, 100]
//   count(x), fraction(mask)              in sets.hpp (they also quantify tensor sets)
// Each takes an elements expression: a selection, or element-wise functions/arithmetic of
// one (`mean(abs(g))`, `l2(w - prev(w))`, `max(clamp(x, 0, 1))`). The result is per_tensor.
//
// Numbers: elements are read as their own type through Eigen::TensorMap (no copy; float16 is
// widened to float once per tensor) and accumulated in double (sums in eight interleaved
// partial sums: detail::sum_accumulator); dispatch on the dtype happens once per tensor.
//
// Windows. A reducer sees the elements of one tensor as an *elements source*: xs.whole() is one
// Eigen expression of all of them, xs.each(f) calls f on Eigen expressions of consecutive windows
// covering them in index order. A typed operand is one window (the whole fused expression); an
// operand that computes into a buffer (a type-erased node, erased.hpp) is consumed in windows of
// detail::element_block elements, so its buffer stays in L1. Sums, means, norms, variances,
// fractions, counts, min and max go through each(); prod and quantile through whole(). Results
// do not depend on the windows: the partial sums carry over from window to window, and every
// window but the last is a multiple of eight elements, so each element lands in the same partial
// sum in the same order as in one pass; min/max take elements in index order either way.
// Sums of x, |x| or x² over a type-erased operand (mean, sum, l1, l2, count, fraction, the mean
// of a variance) are fused into it instead: the erased level runs its own loop straight into the
// accumulator, window by window, with no buffer between them (erased.hpp, add_to).
// The accumulators are in accumulate.hpp.
// NaN in → NaN out (min/max included); quantile copies the elements to sort.
// Empty tensors: sum 0, prod 1, l1 0, l2 0; min, max, max_abs, mean, std, var, fractions and
// quantiles NaN. One element: var_pop/std_pop 0, var_sample/std_sample NaN.
//
// Stored reductions: when a tensor has no raw value at the step (smdebug's reductions-only
// saves), mean/min/max/sum/prod/std_sample/var_sample/l1/l2 of a plain selection (or of
// abs(selection)) use the reduction stored there (data_source::stored_reduction) instead.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <unsupported/Eigen/CXX11/Tensor>

#include "tdbg/core/reduction.hpp"
#include "tdbg/rules/accumulate.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

namespace detail {

inline constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

using scalar0 = Eigen::Tensor<double, 0, Eigen::RowMajor>;

template <class Fn>
struct unary_of {
  Fn fn{};
  template <class X>
  auto operator()(const X& x) const {
    return x.unaryExpr(fn);
  }
};

/// Σ f(x) over an elements source (f maps an Eigen expression to an Eigen expression). A source
/// that can fuse the sum into its own loop (a type-erased level: add_to) does so for x, |x|, x².
template <class S, class F = identity_of>
double window_sum(const S& xs, F f = {}) {
  sum_accumulator acc;
  if constexpr (requires { F::summand_kind; xs.add_to(acc, F::summand_kind); })
    xs.add_to(acc, F::summand_kind);
  else
    xs.each([&](const auto& x) { acc.add(f(x)); });
  return acc.result();
}
/// max (IsMax) or min of f(x) over an elements source.
template <bool IsMax, class S, class F = identity_of>
double window_extremum(const S& xs, F f = {}) {
  extremum_accumulator<IsMax> acc;
  xs.each([&](const auto& x) { acc.add(f(x)); });
  return acc.result();
}

/// An elements source of one Eigen expression: a single window.
template <class X>
struct whole_elements {
  const X& x;
  [[nodiscard]] const X& whole() const { return x; }
  template <class F>
  void each(F&& f) const {
    f(x);
  }
};

/// An elements source over a bound, materialized evaluator that computes into a buffer (dtype
/// float64): windows of element_block elements (the elements protocol's window(), select.hpp).
template <class Ev>
struct windowed_elements {
  Ev& e;
  std::uint64_t n;
  [[nodiscard]] auto whole() const {
    e.materialize(dtype::float64);  // back to all elements
    return e.template expr<double>();
  }
  template <class F>
  void each(F&& f) const {
    for (std::uint64_t off = 0; off < n; off += element_block) {
      e.window(off, std::min(element_block, n - off));
      f(e.template expr<double>());
    }
  }
  /// The sum fused into the evaluator (erased.hpp: the erased subtree's own loop, no buffer).
  void add_to(sum_accumulator& acc, summand f) const
    requires requires(Ev& ev, sum_accumulator& a) { ev.add_to(a, summand::value); }
  {
    e.add_to(acc, f);
  }
};

/// Evaluators that compute into a buffer and can be windowed (erased.hpp's elements).
template <class Ev>
concept buffers_elements = has_window<Ev> && requires { requires Ev::buffers_elements; };

struct squared_deviation {
  double m;
  double operator()(double x) const noexcept { return (x - m) * (x - m); }
};
struct is_zero_fn {
  double operator()(double x) const noexcept { return x == 0 ? 1.0 : 0.0; }
};
struct is_nonfinite_fn {
  double operator()(double x) const noexcept { return std::isfinite(x) ? 0.0 : 1.0; }
};

template <class S>
double variance(const S& xs, std::uint64_t n, bool sample) {
  if (n == 0 || (sample && n < 2)) return nan_v;
  const double m = window_sum(xs) / static_cast<double>(n);
  const double ss = window_sum(xs, unary_of<squared_deviation>{squared_deviation{m}});
  return ss / static_cast<double>(sample ? n - 1 : n);
}

}  // namespace detail

/// The reduction operations (tags with their semantics; see the header comment).
namespace reducers {

#define TDBG_RULES_REDUCER(NAME, STORED)                                                            \
  static constexpr std::string_view name = #NAME;                                                   \
  static constexpr std::optional<reduction_op> stored = STORED;                                     \
  static constexpr bool on_mask = false;                                                            \
  [[nodiscard]] std::string describe(const std::string& x) const { return std::string(name) + "(" + x + ")"; }

struct min {
  TDBG_RULES_REDUCER(min, reduction_op::min)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return n == 0 ? detail::nan_v : detail::window_extremum<false>(xs);
  }
};
struct max {
  TDBG_RULES_REDUCER(max, reduction_op::max)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return n == 0 ? detail::nan_v : detail::window_extremum<true>(xs);
  }
};
struct mean {
  TDBG_RULES_REDUCER(mean, reduction_op::mean)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return n == 0 ? detail::nan_v : detail::window_sum(xs) / static_cast<double>(n);
  }
};
struct sum {
  TDBG_RULES_REDUCER(sum, reduction_op::sum)
  template <class S> double operator()(const S& xs, std::uint64_t) const { return detail::window_sum(xs); }
};
struct prod {
  TDBG_RULES_REDUCER(prod, reduction_op::prod)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    if (n == 0) return 1.0;
    detail::scalar0 r = xs.whole().prod();
    return r();
  }
};
struct std_pop {
  TDBG_RULES_REDUCER(std_pop, std::nullopt)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return std::sqrt(detail::variance(xs, n, false));
  }
};
struct std_sample {
  TDBG_RULES_REDUCER(std_sample, reduction_op::std)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return std::sqrt(detail::variance(xs, n, true));
  }
};
struct var_pop {
  TDBG_RULES_REDUCER(var_pop, std::nullopt)
  template <class S> double operator()(const S& xs, std::uint64_t n) const { return detail::variance(xs, n, false); }
};
struct var_sample {
  TDBG_RULES_REDUCER(var_sample, reduction_op::variance)
  template <class S> double operator()(const S& xs, std::uint64_t n) const { return detail::variance(xs, n, true); }
};
struct l1 {
  TDBG_RULES_REDUCER(l1, reduction_op::l1)
  template <class S> double operator()(const S& xs, std::uint64_t) const { return detail::window_sum(xs, detail::abs_of{}); }
};
struct l2 {
  TDBG_RULES_REDUCER(l2, reduction_op::l2)
  template <class S> double operator()(const S& xs, std::uint64_t) const {
    return std::sqrt(detail::window_sum(xs, detail::square_of{}));
  }
};
struct max_abs {
  TDBG_RULES_REDUCER(max_abs, std::nullopt)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return n == 0 ? detail::nan_v : detail::window_extremum<true>(xs, detail::abs_of{});
  }
};
struct fraction_zero {
  TDBG_RULES_REDUCER(fraction_zero, std::nullopt)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return n == 0 ? detail::nan_v : detail::window_sum(xs, detail::unary_of<detail::is_zero_fn>{}) / static_cast<double>(n);
  }
};
struct fraction_nonfinite {
  TDBG_RULES_REDUCER(fraction_nonfinite, std::nullopt)
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return n == 0 ? detail::nan_v
                  : detail::window_sum(xs, detail::unary_of<detail::is_nonfinite_fn>{}) / static_cast<double>(n);
  }
};
#undef TDBG_RULES_REDUCER

/// Number of elements (of a number expression) or of true elements (of a mask).
struct count {
  static constexpr std::string_view name = "count";
  static constexpr std::optional<reduction_op> stored = std::nullopt;
  static constexpr bool on_mask = true;  // also allowed on numbers
  bool mask = false;
  [[nodiscard]] std::string describe(const std::string& x) const { return "count(" + x + ")"; }
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return mask ? detail::window_sum(xs) : static_cast<double>(n);
  }
};
/// Share of true elements of a mask (NaN for an empty tensor).
struct fraction {
  static constexpr std::string_view name = "fraction";
  static constexpr std::optional<reduction_op> stored = std::nullopt;
  static constexpr bool on_mask = true;
  [[nodiscard]] std::string describe(const std::string& x) const { return "fraction(" + x + ")"; }
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    return n == 0 ? detail::nan_v : detail::window_sum(xs) / static_cast<double>(n);
  }
};
/// The q-quantile, linear interpolation (numpy's default); NaN if any element is NaN.
struct quantile {
  static constexpr std::string_view name = "quantile";
  static constexpr std::optional<reduction_op> stored = std::nullopt;
  static constexpr bool on_mask = false;
  double q = 0.5;
  bool as_percentile = false;
  [[nodiscard]] std::string describe(const std::string& x) const {
    return as_percentile ? "percentile(" + x + ", " + format_number(q * 100) + ")"
                         : "quantile(" + x + ", " + format_number(q) + ")";
  }
  template <class S> double operator()(const S& xs, std::uint64_t n) const {
    if (n == 0) return detail::nan_v;
    Eigen::Tensor<double, 1, Eigen::RowMajor> v = xs.whole();  // sorting needs a copy
    double* b = v.data();
    double* e = b + n;
    if (std::any_of(b, e, [](double d) { return std::isnan(d); })) return detail::nan_v;
    const double pos = q * static_cast<double>(n - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min<std::size_t>(lo + 1, n - 1);
    std::nth_element(b, b + lo, e);
    const double vlo = b[lo];
    if (hi == lo || pos == static_cast<double>(lo)) return vlo;
    const double vhi = *std::min_element(b + lo + 1, e);
    return vlo + (vhi - vlo) * (pos - static_cast<double>(lo));
  }
};

}  // namespace reducers

namespace detail {
template <class E>
inline constexpr bool stored_capable_v = has_stored_fallback<typename E::evaluator>;
}

/// A reduction of an elements expression: one number per tensor.
template <class R, class E>
class reduce_node {
 public:
  static constexpr expr_kind kind = expr_kind::per_tensor;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = E::stateful;
  static constexpr bool is_call = true;

  reduce_node(R r, E e) : r_(r), e_(std::move(e)) {
    if constexpr (std::is_same_v<R, reducers::count>) r_.mask = E::value == value_type::boolean;
  }
  [[nodiscard]] std::string describe() const { return r_.describe(e_.describe()); }
  void needs(requirements& req, const need_scope& s) const {
    need_scope inner = s;
    inner.stored.reset();
    if constexpr (R::stored.has_value() && detail::stored_capable_v<E>)
      inner.stored = reduction{*R::stored, false};
    e_.needs(req, inner);
  }

  class evaluator {
   public:
    explicit evaluator(const reduce_node& n) : r_(n.r_), e_(n.e_) {}

    tensor_values eval(const context& c) {
      tensor_values out;
      const name_set ns = e_.names(c);
      if (!ns.known) {
        out.known = false;
        out.reason = ns.reason;
        return out;
      }
      for (const auto& t : ns.names) {
        tensor_value r;
        r.tensor = t;
        r.worker = c.worker;
        std::string why = e_.bind(c, t);
        if (!why.empty()) {
          e_.release();
          if constexpr (R::stored.has_value() && detail::stored_capable_v<E>) {
            if (detail::stored_available(e_)) {  // run-time answer for erased operands
              if (auto v = e_.stored(c, t, reduction{*R::stored, false})) {
                r.v = r.observed = *v;
                out.items.push_back(std::move(r));
                continue;
              }
              why += " (nor a stored " + std::string(R::name) + " reduction)";
            }
          }
          r.known = false;
          r.reason = std::move(why);
          out.items.push_back(std::move(r));
          continue;
        }
        const std::uint64_t n = e_.size();
        const dtype d = e_.type();
        e_.materialize(d);
        if constexpr (detail::buffers_elements<typename E::evaluator>) {
          r.v = r.observed = r_(detail::windowed_elements<typename E::evaluator>{e_, n}, n);
        } else {
          r.v = r.observed = visit_element_type(d, [&](auto tag) {
            using T = decltype(tag);
            const auto x = e_.template expr<T>();
            return r_(detail::whole_elements<decltype(x)>{x}, n);
          });
        }
        e_.release();
        out.items.push_back(std::move(r));
      }
      return out;
    }
    void reset() { e_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return e_.state_size(); }

   private:
    R r_;
    typename E::evaluator e_;
  };

 private:
  R r_;
  E e_;
};

namespace detail {
template <class R, class E>
[[nodiscard]] auto make_reduce(R r, E e) {
  static_assert(is_node_v<E>,
                "tdbg::rules: a reduction (mean, l2, quantile ...) takes an element-wise tensor expression "
                "(a selection such as collection(\"gradients\"), or abs/sqrt/arithmetic of one), not a number");
  if constexpr (is_node_v<E>) {
    static_assert(kind_of<E> == expr_kind::elements,
                  "tdbg::rules: a reduction (mean, l2, quantile ...) takes the elements of tensors (a selection "
                  "or an element-wise expression of one); this operand is already reduced (per tensor or scalar)");
    if constexpr (!R::on_mask)
      static_assert(value_of<E> == value_type::number,
                    "tdbg::rules: this reduction needs numbers; reduce an element mask (x <= 0) with count() or "
                    "fraction()");
    if constexpr (std::is_same_v<R, reducers::fraction>)
      static_assert(value_of<E> == value_type::boolean,
                    "tdbg::rules: fraction(x) takes an element predicate such as fraction(t <= 0); use "
                    "fraction_zero/fraction_nonfinite or mean for numbers");
    return reduce_node<R, E>(r, std::move(e));
  } else {
    return constant{};
  }
}
}  // namespace detail

template <class E> [[nodiscard]] auto min(E e) { return detail::make_reduce(reducers::min{}, std::move(e)); }
template <class E> [[nodiscard]] auto max(E e) { return detail::make_reduce(reducers::max{}, std::move(e)); }
template <class E> [[nodiscard]] auto mean(E e) { return detail::make_reduce(reducers::mean{}, std::move(e)); }
template <class E> [[nodiscard]] auto sum(E e) { return detail::make_reduce(reducers::sum{}, std::move(e)); }
template <class E> [[nodiscard]] auto prod(E e) { return detail::make_reduce(reducers::prod{}, std::move(e)); }
template <class E> [[nodiscard]] auto std_pop(E e) { return detail::make_reduce(reducers::std_pop{}, std::move(e)); }
template <class E> [[nodiscard]] auto std_sample(E e) { return detail::make_reduce(reducers::std_sample{}, std::move(e)); }
template <class E> [[nodiscard]] auto var_pop(E e) { return detail::make_reduce(reducers::var_pop{}, std::move(e)); }
template <class E> [[nodiscard]] auto var_sample(E e) { return detail::make_reduce(reducers::var_sample{}, std::move(e)); }
template <class E> [[nodiscard]] auto l1(E e) { return detail::make_reduce(reducers::l1{}, std::move(e)); }
template <class E> [[nodiscard]] auto l2(E e) { return detail::make_reduce(reducers::l2{}, std::move(e)); }
template <class E> [[nodiscard]] auto max_abs(E e) { return detail::make_reduce(reducers::max_abs{}, std::move(e)); }
template <class E> [[nodiscard]] auto fraction_zero(E e) { return detail::make_reduce(reducers::fraction_zero{}, std::move(e)); }
template <class E> [[nodiscard]] auto fraction_nonfinite(E e) {
  return detail::make_reduce(reducers::fraction_nonfinite{}, std::move(e));
}
/// The q-quantile (q in [0, 1]; usage_error otherwise).
template <class E> [[nodiscard]] auto quantile(E e, double q) {
  if (!(q >= 0 && q <= 1)) throw usage_error("quantile: q must be in [0, 1], got " + format_number(q));
  return detail::make_reduce(reducers::quantile{q, false}, std::move(e));
}
/// The p-th percentile (p in [0, 100]; usage_error otherwise).
template <class E> [[nodiscard]] auto percentile(E e, double p) {
  if (!(p >= 0 && p <= 100)) throw usage_error("percentile: p must be in [0, 100], got " + format_number(p));
  return detail::make_reduce(reducers::quantile{p / 100, true}, std::move(e));
}

}  // namespace tdbg::rules
