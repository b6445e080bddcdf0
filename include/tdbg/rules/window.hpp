// tdbg/rules/window.hpp — state over evaluations: windows, running values, patience, then.
// Layer: rules (rules/{expr,ops}.hpp).
//
//   window_min(x, n) window_max(x, n) window_mean(x, n)   over the last n known values of a
//   window_slope(x, n)                                   scalar number x; slope: least
//                                                        squares of value against global step
//   window_count(b, n) window_all(b, n) window_any(b, n) over the last n known values of a
//                                                        scalar boolean b (count of true)
//   running_sum(x) running_min(x) running_max(x) running_mean(x)   since the first evaluation
//   patience(b, k)        true when b was true at the last k evaluations in a row
//   then(a, b, k)         true when b is true now and a was true at an evaluation of a step in
//                         [step − k, step] (global steps; the same evaluation counts)
//
// Semantics: "evaluations" are the evaluations of the rule holding the node (its scheduled
// steps), in increasing step order. A window holds the last n evaluations at which x was known
// (an unknown x adds nothing) and is unknown until it holds n values (reason: "window of
// mean(...) has 2 of 5 values"). Running values are unknown until one value was seen. patience
// restarts its count at an evaluation where b is false or unknown (unknown: the result is
// unknown). then is false while a has not been true within k steps; otherwise it is b.
// Memory is bounded by n (windows) or O(1) (the others), never by the length of training;
// state_size() reports the number of values kept.
//
// These nodes are stateful: they can be used in a rule's condition and inside arithmetic and
// logic, but not inside prev/at_steps_back/in_mode/across_workers/in_trial (static_assert):
// there, one evaluation would push several values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"

namespace tdbg::rules {

namespace windows {
struct min { static constexpr std::string_view name = "window_min"; static constexpr bool boolean = false, boolean_out = false; };
struct max { static constexpr std::string_view name = "window_max"; static constexpr bool boolean = false, boolean_out = false; };
struct mean { static constexpr std::string_view name = "window_mean"; static constexpr bool boolean = false, boolean_out = false; };
struct slope { static constexpr std::string_view name = "window_slope"; static constexpr bool boolean = false, boolean_out = false; };
struct count { static constexpr std::string_view name = "window_count"; static constexpr bool boolean = true, boolean_out = false; };
struct all { static constexpr std::string_view name = "window_all"; static constexpr bool boolean = true, boolean_out = true; };
struct any { static constexpr std::string_view name = "window_any"; static constexpr bool boolean = true, boolean_out = true; };
}  // namespace windows

/// A window over the last n known values of a scalar.
template <class W, class X>
class window_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = W::boolean_out ? value_type::boolean : value_type::number;
  static constexpr bool stateful = true;
  static constexpr bool is_call = true;

  window_node(X x, std::size_t n) : x_(std::move(x)), n_(n) {
    if (n_ == 0) throw usage_error(std::string(W::name) + ": the window size must be >= 1");
  }
  [[nodiscard]] std::string describe() const {
    return std::string(W::name) + "(" + x_.describe() + ", " + std::to_string(n_) + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    x_.needs(r, s);
    r.evaluations_kept = std::max(r.evaluations_kept, n_);
  }

  class evaluator {
   public:
    explicit evaluator(const window_node& n) : n_(&n), x_(n.x_) {}
    scalar_value eval(const context& c) {
      scalar_value x = x_.eval(c);
      if (x.known) {
        values_.push_back({c.step, x.v});
        if (values_.size() > n_->n_) values_.pop_front();
      }
      if (values_.size() < n_->n_)
        return scalar_value::missing("window of " + n_->x_.describe() + " has " + std::to_string(values_.size()) +
                                     " of " + std::to_string(n_->n_) + " values at " + c.where() +
                                     (x.known ? std::string() : " (" + x.reason + ")"));
      const double n = static_cast<double>(values_.size());
      double r = 0;
      if constexpr (std::is_same_v<W, windows::min> || std::is_same_v<W, windows::max>) {
        r = values_.front().second;
        for (const auto& [s, v] : values_) {
          if (std::isnan(r)) break;
          if (std::isnan(v) || (std::is_same_v<W, windows::max> ? v > r : v < r)) r = v;
        }
      } else if constexpr (std::is_same_v<W, windows::mean>) {
        for (const auto& p : values_) r += p.second;
        r /= n;
      } else if constexpr (std::is_same_v<W, windows::slope>) {
        double mx = 0, my = 0;
        for (const auto& [s, v] : values_) {
          mx += static_cast<double>(s);
          my += v;
        }
        mx /= n;
        my /= n;
        double sxy = 0, sxx = 0;
        for (const auto& [s, v] : values_) {
          sxy += (static_cast<double>(s) - mx) * (v - my);
          sxx += (static_cast<double>(s) - mx) * (static_cast<double>(s) - mx);
        }
        r = sxx == 0 ? std::numeric_limits<double>::quiet_NaN() : sxy / sxx;
      } else if constexpr (std::is_same_v<W, windows::count>) {
        for (const auto& p : values_) r += p.second != 0 ? 1 : 0;
      } else if constexpr (std::is_same_v<W, windows::all>) {
        r = 1;
        for (const auto& p : values_)
          if (p.second == 0) r = 0;
      } else {
        for (const auto& p : values_)
          if (p.second != 0) r = 1;
      }
      scalar_value out = scalar_value::of(r);
      const auto label = detail::summarize(x.evidence, r, no_threshold);
      if (!label.tensor.empty()) out.evidence.push_back(label);
      return out;
    }
    void reset() {
      values_.clear();
      x_.reset();
    }
    [[nodiscard]] std::size_t state_size() const { return values_.size() + x_.state_size(); }

   private:
    const window_node* n_;
    typename X::evaluator x_;
    std::deque<std::pair<step_t, double>> values_;
  };

 private:
  X x_;
  std::size_t n_;
};

namespace running {
struct sum { static constexpr std::string_view name = "running_sum"; };
struct min { static constexpr std::string_view name = "running_min"; };
struct max { static constexpr std::string_view name = "running_max"; };
struct mean { static constexpr std::string_view name = "running_mean"; };
}  // namespace running

/// A value accumulated over every evaluation so far (O(1) memory).
template <class R, class X>
class running_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = true;
  static constexpr bool is_call = true;

  explicit running_node(X x) : x_(std::move(x)) {}
  [[nodiscard]] std::string describe() const { return std::string(R::name) + "(" + x_.describe() + ")"; }
  void needs(requirements& r, const need_scope& s) const { x_.needs(r, s); }

  class evaluator {
   public:
    explicit evaluator(const running_node& n) : n_(&n), x_(n.x_) {}
    scalar_value eval(const context& c) {
      scalar_value x = x_.eval(c);
      if (x.known) {
        if (count_ == 0) {
          acc_ = x.v;
        } else if constexpr (std::is_same_v<R, running::min>) {
          acc_ = (std::isnan(acc_) || std::isnan(x.v)) ? std::numeric_limits<double>::quiet_NaN() : std::min(acc_, x.v);
        } else if constexpr (std::is_same_v<R, running::max>) {
          acc_ = (std::isnan(acc_) || std::isnan(x.v)) ? std::numeric_limits<double>::quiet_NaN() : std::max(acc_, x.v);
        } else {
          acc_ += x.v;
        }
        ++count_;
      }
      if (count_ == 0)
        return scalar_value::missing(std::string(R::name) + " of " + n_->x_.describe() + " has no value yet at " +
                                     c.where() + (x.known ? std::string() : " (" + x.reason + ")"));
      if constexpr (std::is_same_v<R, running::mean>) return scalar_value::of(acc_ / static_cast<double>(count_));
      return scalar_value::of(acc_);
    }
    void reset() {
      acc_ = 0;
      count_ = 0;
      x_.reset();
    }
    [[nodiscard]] std::size_t state_size() const { return (count_ ? 1 : 0) + x_.state_size(); }

   private:
    const running_node* n_;
    typename X::evaluator x_;
    double acc_ = 0;
    std::size_t count_ = 0;
  };

 private:
  X x_;
};

/// True when b held at the last k evaluations in a row.
template <class B>
class patience_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::boolean;
  static constexpr bool stateful = true;
  static constexpr bool is_call = true;

  patience_node(B b, std::size_t k) : b_(std::move(b)), k_(k) {
    if (k_ == 0) throw usage_error("patience: k must be >= 1");
  }
  [[nodiscard]] std::string describe() const { return "patience(" + b_.describe() + ", " + std::to_string(k_) + ")"; }
  void needs(requirements& r, const need_scope& s) const { b_.needs(r, s); }

  class evaluator {
   public:
    explicit evaluator(const patience_node& n) : k_(n.k_), b_(n.b_) {}
    scalar_value eval(const context& c) {
      scalar_value b = b_.eval(c);
      if (!b.known) {
        run_ = 0;
        return b;
      }
      run_ = b.v != 0 ? run_ + 1 : 0;
      scalar_value out = scalar_value::of(run_ >= k_ ? 1.0 : 0.0, std::move(b.evidence));
      return out;
    }
    void reset() {
      run_ = 0;
      b_.reset();
    }
    [[nodiscard]] std::size_t state_size() const { return b_.state_size(); }
    [[nodiscard]] std::size_t run() const noexcept { return run_; }

   private:
    std::size_t k_;
    typename B::evaluator b_;
    std::size_t run_ = 0;
  };

 private:
  B b_;
  std::size_t k_;
};

/// True when b holds now and a held within the last k steps.
template <class A, class B>
class then_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::boolean;
  static constexpr bool stateful = true;
  static constexpr bool is_call = true;

  then_node(A a, B b, step_t k) : a_(std::move(a)), b_(std::move(b)), k_(k) {
    if (k_ < 0) throw usage_error("then: the step distance must be >= 0");
  }
  [[nodiscard]] std::string describe() const {
    return "then(" + a_.describe() + ", " + b_.describe() + ", " + std::to_string(k_) + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    a_.needs(r, s);
    b_.needs(r, s);
  }

  class evaluator {
   public:
    explicit evaluator(const then_node& n) : k_(n.k_), a_(n.a_), b_(n.b_) {}
    scalar_value eval(const context& c) {
      scalar_value a = a_.eval(c);
      scalar_value b = b_.eval(c);
      if (a.truth()) {
        last_a_ = c.step;
        a_evidence_ = std::move(a.evidence);
      }
      if (!last_a_ || c.step - *last_a_ > k_) {
        last_a_.reset();
        a_evidence_.clear();
        return scalar_value::of(0);
      }
      if (!b.known) return b;
      scalar_value out = scalar_value::of(b.v != 0 ? 1.0 : 0.0, a_evidence_);
      detail::append(out.evidence, b.evidence);
      return out;
    }
    void reset() {
      last_a_.reset();
      a_evidence_.clear();
      a_.reset();
      b_.reset();
    }
    [[nodiscard]] std::size_t state_size() const {
      return (last_a_ ? 1 : 0) + a_.state_size() + b_.state_size();
    }

   private:
    step_t k_;
    typename A::evaluator a_;
    typename B::evaluator b_;
    std::optional<step_t> last_a_;
    std::vector<observation> a_evidence_;
  };

 private:
  A a_;
  B b_;
  step_t k_;
};

namespace detail {
template <class X>
constexpr void check_window_operand() {
  static_assert(is_node_v<X>, "tdbg::rules: windows, running values and patience take a rule expression, not a plain number");
  static_assert(kind_of<X> == expr_kind::scalar,
                "tdbg::rules: windows, running values, patience and then take a scalar expression; a window over "
                "a tensor set is not defined: quantify it first (any/all/max_over/mean_over/the ...)");
}
template <class W, class X>
[[nodiscard]] auto make_window(X x, std::size_t n) {
  check_window_operand<X>();
  if constexpr (W::boolean)
    static_assert(value_of<X> == value_type::boolean,
                  "tdbg::rules: window_count/window_all/window_any take a boolean (e.g. loss > 1)");
  else
    static_assert(value_of<X> == value_type::number,
                  "tdbg::rules: window_min/max/mean/slope take a number; use window_count/all/any for booleans");
  return window_node<W, X>(std::move(x), n);
}
template <class R, class X>
[[nodiscard]] auto make_running(X x) {
  check_window_operand<X>();
  static_assert(value_of<X> == value_type::number, "tdbg::rules: running_* take a number");
  return running_node<R, X>(std::move(x));
}
}  // namespace detail

template <class X> [[nodiscard]] auto window_min(X x, std::size_t n) { return detail::make_window<windows::min>(std::move(x), n); }
template <class X> [[nodiscard]] auto window_max(X x, std::size_t n) { return detail::make_window<windows::max>(std::move(x), n); }
template <class X> [[nodiscard]] auto window_mean(X x, std::size_t n) { return detail::make_window<windows::mean>(std::move(x), n); }
template <class X> [[nodiscard]] auto window_slope(X x, std::size_t n) { return detail::make_window<windows::slope>(std::move(x), n); }
template <class X> [[nodiscard]] auto window_count(X x, std::size_t n) { return detail::make_window<windows::count>(std::move(x), n); }
template <class X> [[nodiscard]] auto window_all(X x, std::size_t n) { return detail::make_window<windows::all>(std::move(x), n); }
template <class X> [[nodiscard]] auto window_any(X x, std::size_t n) { return detail::make_window<windows::any>(std::move(x), n); }

template <class X> [[nodiscard]] auto running_sum(X x) { return detail::make_running<running::sum>(std::move(x)); }
template <class X> [[nodiscard]] auto running_min(X x) { return detail::make_running<running::min>(std::move(x)); }
template <class X> [[nodiscard]] auto running_max(X x) { return detail::make_running<running::max>(std::move(x)); }
template <class X> [[nodiscard]] auto running_mean(X x) { return detail::make_running<running::mean>(std::move(x)); }

/// True when b held at the last k evaluations in a row.
template <class B>
[[nodiscard]] auto patience(B b, std::size_t k) {
  detail::check_window_operand<B>();
  static_assert(value_of<B> == value_type::boolean, "tdbg::rules: patience(b, k) takes a boolean condition");
  return patience_node<B>(std::move(b), k);
}

/// True when b holds now and a held at an evaluation within the last `within_steps` steps.
template <class A, class B>
[[nodiscard]] auto then(A a, B b, step_t within_steps) {
  detail::check_window_operand<A>();
  detail::check_window_operand<B>();
  static_assert(value_of<A> == value_type::boolean && value_of<B> == value_type::boolean,
                "tdbg::rules: then(a, b, k) takes two boolean conditions");
  return then_node<A, B>(std::move(a), std::move(b), within_steps);
}

}  // namespace tdbg::rules
