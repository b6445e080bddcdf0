// tdbg/rules/across.hpp — comparing across modes, workers and trials.
// Layer: rules (rules/{expr,select,ops,resolve}.hpp).
//
//   in_mode(x, mode::eval)     x evaluated at the newest step of that mode at or before the
//                              evaluated step: the newest step, among the saved steps of x's
//                              tensors in that mode, that is <= the evaluated global step
//                              (e.g. the last EVAL loss at a TRAIN step). Unknown when there
//                              is none.
//   max_over_workers(x) min_over_workers(x) mean_over_workers(x) spread_over_workers(x)
//                              x (a number) evaluated once per worker that has x's tensors at
//                              the step; spread = max − min. Evidence names the workers.
//   in_trial(x, "baseline")    x evaluated against another data source, given to the rule by
//                              name (rule_options::sources or any_rule::bind_source), at the
//                              newest step of x's tensors there at or before the evaluated
//                              global step, in the evaluated step's mode. An unbound name is a
//                              usage_error at evaluation.
// x may be of any kind for in_mode/in_trial, a scalar number for the worker aggregates; none
// of them accepts a stateful x (windows, patience, then) — static_assert. Selections inside
// in_mode/in_trial do not decide the rule's steps (requirements: primary = false).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/resolve.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

namespace detail {

inline std::vector<selection_spec> selections_of(const requirements& r) {
  std::vector<selection_spec> out;
  for (const auto& n : r.tensors)
    if (std::find(out.begin(), out.end(), n.selection) == out.end()) out.push_back(n.selection);
  return out;
}

/// The newest saved step <= c.step of any tensor of `sels` in mode m, in c's source.
inline std::optional<step_t> newest_step_at_or_before(const context& c, const std::vector<selection_spec>& sels,
                                                      tdbg::mode m) {
  std::optional<step_t> best;
  auto consider = [&](const std::vector<step_t>& st) {
    auto it = std::upper_bound(st.begin(), st.end(), c.step);
    if (it != st.begin()) best = std::max(best.value_or(*std::prev(it)), *std::prev(it));
  };
  if (sels.empty()) {
    consider(c.src->steps(m));
    return best;
  }
  for (const auto& s : sels)
    for (const auto& t : resolve_names(*c.src, s)) consider(c.tensor_steps(t, s.mode.value_or(m)));
  return best;
}

/// Forwards every evaluator operation of X with a retargeted context.
template <class Self, class X>
class retarget_evaluator {
 public:
  explicit retarget_evaluator(const X& x) : x_(x) {}
  auto eval(const context& c) {
    using R = decltype(x_.eval(c));
    context t;
    std::string why;
    if (!self().retarget(c, t, why)) {
      if constexpr (std::is_same_v<R, scalar_value>) {
        return scalar_value::missing(why);
      } else {
        tensor_values v;
        v.known = false;
        v.reason = why;
        return v;
      }
    }
    return x_.eval(t);
  }
  name_set names(const context& c) {
    context t;
    std::string why;
    if (!self().retarget(c, t, why)) return name_set{false, why, {}};
    return x_.names(t);
  }
  std::string bind(const context& c, const std::string& name) {
    context t;
    std::string why;
    if (!self().retarget(c, t, why)) return why;
    return x_.bind(t, name);
  }
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
  void reset() { x_.reset(); }
  [[nodiscard]] std::size_t state_size() const { return 0; }

 private:
  Self& self() { return static_cast<Self&>(*this); }
  typename X::evaluator x_;
};

template <class X>
constexpr void check_across_operand() {
  static_assert(is_node_v<X>, "tdbg::rules: in_mode/in_trial/..._over_workers take a rule expression, not a plain number");
  static_assert(!stateful_of<X>,
                "tdbg::rules: in_mode/in_trial/..._over_workers cannot contain a window, patience or then (one "
                "evaluation would feed them several times); put the window outside");
}

}  // namespace detail

/// x evaluated at the newest step of mode m at or before the evaluated step.
template <class X>
class in_mode_node {
 public:
  static constexpr expr_kind kind = X::kind;
  static constexpr value_type value = X::value;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  in_mode_node(X x, tdbg::mode m) : x_(std::move(x)), mode_(m) {
    requirements r;
    x_.needs(r, need_scope{});
    sels_ = detail::selections_of(r);
  }
  [[nodiscard]] std::string describe() const {
    return "in_mode(" + x_.describe() + ", " + std::string(mode_name(mode_)) + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.primary = false;
    inner.nearest_before = true;
    x_.needs(r, inner);
  }

  class evaluator : public detail::retarget_evaluator<evaluator, X> {
   public:
    explicit evaluator(const in_mode_node& n) : detail::retarget_evaluator<evaluator, X>(n.x_), n_(&n) {}
    bool retarget(const context& c, context& t, std::string& why) const {
      const auto g = detail::newest_step_at_or_before(c, n_->sels_, n_->mode_);
      if (!g) {
        why = "no " + std::string(mode_name(n_->mode_)) + " step of " + n_->x_.describe() + " at or before " + c.where();
        return false;
      }
      t = c;
      t.step = *g;
      const auto p = c.src->point(*g);
      t.mode = p ? p->mode : n_->mode_;
      t.mode_step = p ? p->mode_step : *g;
      return true;
    }

   private:
    const in_mode_node* n_;
  };

 private:
  X x_;
  tdbg::mode mode_;
  std::vector<selection_spec> sels_;
};

/// x evaluated against another named data source.
template <class X>
class in_trial_node {
 public:
  static constexpr expr_kind kind = X::kind;
  static constexpr value_type value = X::value;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  in_trial_node(X x, std::string source) : x_(std::move(x)), source_(std::move(source)) {
    if (source_.empty()) throw usage_error("in_trial: the source name must not be empty");
    requirements r;
    x_.needs(r, need_scope{});
    sels_ = detail::selections_of(r);
  }
  [[nodiscard]] std::string describe() const { return "in_trial(" + x_.describe() + ", \"" + source_ + "\")"; }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.primary = false;
    inner.source = source_;
    inner.nearest_before = true;
    r.add_source(source_);
    x_.needs(r, inner);
  }

  class evaluator : public detail::retarget_evaluator<evaluator, X> {
   public:
    explicit evaluator(const in_trial_node& n) : detail::retarget_evaluator<evaluator, X>(n.x_), n_(&n) {}
    bool retarget(const context& c, context& t, std::string& why) const {
      const data_source* other = nullptr;
      if (c.sources) {
        auto it = c.sources->find(n_->source_);
        if (it != c.sources->end()) other = it->second.get();
      }
      if (other == nullptr)
        throw usage_error("in_trial: no data source named '" + n_->source_ +
                          "' is bound to the rule (rule_options::sources / any_rule::bind_source)");
      t = c;
      t.src = other;
      t.source_name = n_->source_;
      const auto g = detail::newest_step_at_or_before(t, n_->sels_, c.mode);
      if (!g) {
        why = "source '" + n_->source_ + "' has no " + std::string(mode_name(c.mode)) + " step of " + n_->x_.describe() +
              " at or before step " + std::to_string(c.step);
        return false;
      }
      t.step = *g;
      const auto p = other->point(*g);
      t.mode = p ? p->mode : c.mode;
      t.mode_step = p ? p->mode_step : *g;
      return true;
    }

   private:
    const in_trial_node* n_;
  };

 private:
  X x_;
  std::string source_;
  std::vector<selection_spec> sels_;
};

namespace worker_aggregates {
struct max { static constexpr std::string_view name = "max_over_workers"; };
struct min { static constexpr std::string_view name = "min_over_workers"; };
struct mean { static constexpr std::string_view name = "mean_over_workers"; };
struct spread { static constexpr std::string_view name = "spread_over_workers"; };
}  // namespace worker_aggregates

/// A scalar number evaluated per worker and aggregated.
template <class A, class X>
class workers_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  explicit workers_node(X x) : x_(std::move(x)) {
    requirements r;
    x_.needs(r, need_scope{});
    sels_ = detail::selections_of(r);
  }
  [[nodiscard]] std::string describe() const { return std::string(A::name) + "(" + x_.describe() + ")"; }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.all_workers = true;
    x_.needs(r, inner);
  }

  class evaluator {
   public:
    explicit evaluator(const workers_node& n) : n_(&n), x_(n.x_) {}
    scalar_value eval(const context& c) {
      std::set<std::string> workers;
      for (const auto& s : n_->sels_)
        for (const auto& t : resolve_names(*c.src, s))
          for (auto& w : c.src->workers(t, c.step)) workers.insert(std::move(w));
      if (workers.empty())
        return scalar_value::missing("no worker has the tensors of " + n_->x_.describe() + " at " + c.where());
      std::vector<std::pair<std::string, double>> vals;
      for (const auto& w : workers) {
        context wc = c;
        wc.worker = w;
        scalar_value v = x_.eval(wc);
        if (!v.known) return v;
        vals.emplace_back(w, v.v);
      }
      auto label = [&](const std::pair<std::string, double>& p) {
        return observation{n_->x_.describe(), p.first, p.second, no_threshold};
      };
      const auto nan = std::numeric_limits<double>::quiet_NaN();
      auto hi = vals.begin(), lo = vals.begin();
      bool has_nan = false;
      double total = 0;
      for (auto it = vals.begin(); it != vals.end(); ++it) {
        if (std::isnan(it->second)) has_nan = true;
        if (it->second > hi->second) hi = it;
        if (it->second < lo->second) lo = it;
        total += it->second;
      }
      if constexpr (std::is_same_v<A, worker_aggregates::max>) {
        return scalar_value::of(has_nan ? nan : hi->second, {label(*hi)});
      } else if constexpr (std::is_same_v<A, worker_aggregates::min>) {
        return scalar_value::of(has_nan ? nan : lo->second, {label(*lo)});
      } else if constexpr (std::is_same_v<A, worker_aggregates::mean>) {
        return scalar_value::of(total / static_cast<double>(vals.size()));
      } else {
        return scalar_value::of(has_nan ? nan : hi->second - lo->second, {label(*hi), label(*lo)});
      }
    }
    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return 0; }

   private:
    const workers_node* n_;
    typename X::evaluator x_;
  };

 private:
  X x_;
  std::vector<selection_spec> sels_;
};

/// x evaluated at the newest step of mode m at or before the evaluated step.
template <class X>
[[nodiscard]] auto in_mode(X x, tdbg::mode m) {
  detail::check_across_operand<X>();
  return in_mode_node<X>(std::move(x), m);
}
/// x evaluated against the data source bound to the rule under `source`.
template <class X>
[[nodiscard]] auto in_trial(X x, std::string source) {
  detail::check_across_operand<X>();
  return in_trial_node<X>(std::move(x), std::move(source));
}

namespace detail {
template <class A, class X>
[[nodiscard]] auto make_workers(X x) {
  check_across_operand<X>();
  static_assert(kind_of<X> == expr_kind::scalar && value_of<X> == value_type::number,
                "tdbg::rules: ..._over_workers take a scalar number, e.g. max_over_workers(the(l2(tensor_named(\"w\"))))");
  return workers_node<A, X>(std::move(x));
}
}  // namespace detail

template <class X> [[nodiscard]] auto max_over_workers(X x) { return detail::make_workers<worker_aggregates::max>(std::move(x)); }
template <class X> [[nodiscard]] auto min_over_workers(X x) { return detail::make_workers<worker_aggregates::min>(std::move(x)); }
template <class X> [[nodiscard]] auto mean_over_workers(X x) { return detail::make_workers<worker_aggregates::mean>(std::move(x)); }
/// max − min over workers.
template <class X> [[nodiscard]] auto spread_over_workers(X x) { return detail::make_workers<worker_aggregates::spread>(std::move(x)); }

}  // namespace tdbg::rules
