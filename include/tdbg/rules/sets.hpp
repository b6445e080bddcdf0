// tdbg/rules/sets.hpp — quantifiers over tensor sets, and per-layer grouping.
// Layer: rules (rules/{expr,select,ops,reduce}.hpp, Boost.Regex).
//
// From per_tensor to scalar:
//   any(p) all(p)            p a per-tensor boolean: some / every selected tensor satisfies it
//   count(p) fraction(p)     how many / which share of the tensors satisfy it
//   max_over(x) min_over(x) mean_over(x) sum_over(x)   of per-tensor numbers
//   the(x)                   the value of a set of exactly one tensor (e.g. tensor_named("loss"));
//                            an empty set is unknown, more than one tensor is a usage_error
//   max_over(x, p) min_over(x, p)   of per-tensor numbers x, over the tensors where the per-tensor
//                                   boolean p holds (e.g. the first-saved of the bad tensors:
//                                   min_over(save_order(t), bad)); over no tensor +inf
//                                   (min) / -inf (max), the identities, so that a comparison
//                                   with it is false rather than unknown; unknown when p, or x
//                                   where p holds, is unknown for a tensor
// (count and fraction also reduce elements: count(t) elements, count(t > 0) true elements,
// fraction(t <= 0) the share of true elements — reduce.hpp's semantics.)
//
// Per-tensor results are kept as evidence: any() reports the tensors that satisfy p, all()
// when false the ones that do not, max_over/min_over the tensor holding the extremum.
// Tri-state: any is true as soon as one tensor satisfies p, even if others are unknown; all is
// false as soon as one does not; otherwise an unknown tensor makes the quantifier unknown.
//
// Per-layer grouping (per_tensor → per_tensor, one value per group):
//   group_max(x, R"(^(layer\d+)/)")  group_min  group_mean  group_sum  group_any  group_all
// The group of a tensor is the first capture of the regex (the whole match if it has no
// capture, Boost.Regex perl syntax, search semantics); tensors it does not match are left out.
// The group's "tensor" name in evidence is the group key.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/regex.hpp>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/resolve.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

namespace quantifiers {
struct any { static constexpr std::string_view name = "any"; static constexpr bool boolean_in = true, boolean_out = true; };
struct all { static constexpr std::string_view name = "all"; static constexpr bool boolean_in = true, boolean_out = true; };
struct count { static constexpr std::string_view name = "count"; static constexpr bool boolean_in = true, boolean_out = false; };
struct fraction { static constexpr std::string_view name = "fraction"; static constexpr bool boolean_in = true, boolean_out = false; };
struct max_over { static constexpr std::string_view name = "max_over"; static constexpr bool boolean_in = false, boolean_out = false; };
struct min_over { static constexpr std::string_view name = "min_over"; static constexpr bool boolean_in = false, boolean_out = false; };
struct mean_over { static constexpr std::string_view name = "mean_over"; static constexpr bool boolean_in = false, boolean_out = false; };
struct sum_over { static constexpr std::string_view name = "sum_over"; static constexpr bool boolean_in = false, boolean_out = false; };
struct the { static constexpr std::string_view name = "the"; static constexpr bool boolean_in = false, boolean_out = false; };
}  // namespace quantifiers

namespace detail {
inline observation observe(const tensor_value& t) { return observation{t.tensor, t.worker, t.observed, t.threshold}; }
}  // namespace detail

/// A quantifier over the tensors of a per_tensor expression (scalar).
template <class Q, class X>
class quantify_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value =
      std::is_same_v<Q, quantifiers::the> ? X::value : (Q::boolean_out ? value_type::boolean : value_type::number);
  static constexpr bool stateful = X::stateful;
  static constexpr bool is_call = true;

  explicit quantify_node(X x) : x_(std::move(x)) {}
  [[nodiscard]] std::string describe() const { return std::string(Q::name) + "(" + x_.describe() + ")"; }
  void needs(requirements& r, const need_scope& s) const { x_.needs(r, s); }

  class evaluator {
   public:
    explicit evaluator(const quantify_node& n) : x_(n.x_) {}
    scalar_value eval(const context& c) {
      tensor_values tv = x_.eval(c);
      if (!tv.known) return scalar_value::missing(tv.reason);
      const tensor_value* unknown = nullptr;
      for (const auto& it : tv.items)
        if (!it.known && unknown == nullptr) unknown = &it;
      if constexpr (std::is_same_v<Q, quantifiers::the>) {
        if (tv.items.size() != 1) {
          std::string names;
          for (const auto& it : tv.items) names += (names.empty() ? "" : ", ") + it.tensor;
          throw usage_error("the(...) needs exactly one tensor, the selection has " + std::to_string(tv.items.size()) +
                            " at " + c.where() + ": " + names);
        }
        const auto& it = tv.items.front();
        if (!it.known) return scalar_value::missing(it.reason);
        return scalar_value::of(it.v, {observation{it.tensor, it.worker, it.observed, it.threshold}});
      } else if constexpr (std::is_same_v<Q, quantifiers::any> || std::is_same_v<Q, quantifiers::all>) {
        constexpr bool is_any = std::is_same_v<Q, quantifiers::any>;
        scalar_value r = scalar_value::of(is_any ? 0.0 : 1.0);
        for (const auto& it : tv.items)
          if (it.known && ((it.v != 0) == is_any)) r.evidence.push_back(detail::observe(it));
        if (!r.evidence.empty()) {
          r.v = is_any ? 1.0 : 0.0;
          return r;
        }
        if (unknown) return scalar_value::missing(unknown->reason);
        for (const auto& it : tv.items) r.evidence.push_back(detail::observe(it));
        return r;
      } else {
        if (unknown) return scalar_value::missing(unknown->reason);
        if constexpr (std::is_same_v<Q, quantifiers::count> || std::is_same_v<Q, quantifiers::fraction>) {
          scalar_value r = scalar_value::of(0);
          for (const auto& it : tv.items)
            if (it.v != 0) r.evidence.push_back(detail::observe(it));
          r.v = static_cast<double>(r.evidence.size());
          if constexpr (std::is_same_v<Q, quantifiers::fraction>) r.v /= static_cast<double>(tv.items.size());
          return r;
        } else if constexpr (std::is_same_v<Q, quantifiers::max_over> || std::is_same_v<Q, quantifiers::min_over>) {
          constexpr bool is_max = std::is_same_v<Q, quantifiers::max_over>;
          const tensor_value* best = &tv.items.front();
          for (const auto& it : tv.items) {
            if (std::isnan(best->v)) break;
            if (std::isnan(it.v) || (is_max ? it.v > best->v : it.v < best->v)) best = &it;
          }
          return scalar_value::of(best->v, {observation{best->tensor, best->worker, best->v, no_threshold}});
        } else {
          double s = 0;
          for (const auto& it : tv.items) s += it.v;
          if constexpr (std::is_same_v<Q, quantifiers::mean_over>) s /= static_cast<double>(tv.items.size());
          return scalar_value::of(s);
        }
      }
    }
    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return x_.state_size(); }

   private:
    typename X::evaluator x_;
  };

 private:
  X x_;
};

namespace detail {
template <class Q, class X>
[[nodiscard]] auto make_quantifier(X x) {
  static_assert(is_node_v<X>,
                "tdbg::rules: any/all/count/fraction/max_over/... quantify over a tensor set (a per-tensor "
                "expression such as mean(abs(collection(\"gradients\"))) < 1e-7), not over a plain number");
  if constexpr (is_node_v<X>) {
    static_assert(kind_of<X> == expr_kind::per_tensor,
                  "tdbg::rules: any/all/count/fraction/max_over/... quantify over a tensor set: reduce the elements "
                  "first (e.g. any(mean(t) > 1)); a scalar has nothing to quantify over");
    if constexpr (Q::boolean_in)
      static_assert(value_of<X> == value_type::boolean,
                    "tdbg::rules: any/all/count/fraction over tensors need a per-tensor boolean such as "
                    "any(l2(g) > 10); use max_over/min_over/mean_over/sum_over for numbers");
    else if constexpr (!std::is_same_v<Q, quantifiers::the>)
      static_assert(value_of<X> == value_type::number,
                    "tdbg::rules: max_over/min_over/mean_over/sum_over need per-tensor numbers; use "
                    "any/all/count/fraction for booleans");
    return quantify_node<Q, X>(std::move(x));
  } else {
    return bool_constant{};
  }
}
}  // namespace detail

/// True when some selected tensor satisfies p.
template <class X> [[nodiscard]] auto any(X x) { return detail::make_quantifier<quantifiers::any>(std::move(x)); }
/// True when every selected tensor satisfies p.
template <class X> [[nodiscard]] auto all(X x) { return detail::make_quantifier<quantifiers::all>(std::move(x)); }
/// Largest per-tensor value (NaN if any is NaN); evidence names its tensor.
template <class X> [[nodiscard]] auto max_over(X x) { return detail::make_quantifier<quantifiers::max_over>(std::move(x)); }
/// Smallest per-tensor value (NaN if any is NaN); evidence names its tensor.
template <class X> [[nodiscard]] auto min_over(X x) { return detail::make_quantifier<quantifiers::min_over>(std::move(x)); }
/// Mean of the per-tensor values.
template <class X> [[nodiscard]] auto mean_over(X x) { return detail::make_quantifier<quantifiers::mean_over>(std::move(x)); }
/// Sum of the per-tensor values.
template <class X> [[nodiscard]] auto sum_over(X x) { return detail::make_quantifier<quantifiers::sum_over>(std::move(x)); }
/// The value of a one-tensor set, as a scalar.
template <class X> [[nodiscard]] auto the(X x) {
  static_assert(is_node_v<X> && kind_of<X> == expr_kind::per_tensor,
                "tdbg::rules: the(x) takes a per-tensor expression over one tensor, e.g. the(mean(tensor_named(\"loss\")))");
  return quantify_node<quantifiers::the, X>(std::move(x));
}

/// max_over / min_over of x over the tensors where p holds (a scalar; evidence names the tensor
/// holding the extremum, NaN wins as in max_over(x)). When no tensor satisfies p: -inf / +inf
/// without evidence (the identity of max / min: `x == min_over(x, p)` is then false for every
/// tensor, not unknown). Tri-state: unknown when p is unknown for a tensor (it may count), or x
/// is unknown (or missing) for a tensor where p holds. x and p are matched by tensor name.
template <class Q, class X, class P>
class quantify_where_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = X::stateful || P::stateful;
  static constexpr bool is_call = true;

  quantify_where_node(X x, P p) : x_(std::move(x)), p_(std::move(p)) {}
  [[nodiscard]] std::string describe() const {
    return std::string(Q::name) + "(" + x_.describe() + ", " + p_.describe() + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    x_.needs(r, s);
    p_.needs(r, s);
  }

  class evaluator {
   public:
    explicit evaluator(const quantify_where_node& n) : x_(n.x_), p_(n.p_), x_text_(n.x_.describe()) {}
    scalar_value eval(const context& c) {
      constexpr bool is_max = std::is_same_v<Q, quantifiers::max_over>;
      const tensor_values pv = p_.eval(c);
      const tensor_values xv = x_.eval(c);  // evaluated at every evaluation: x may keep state
      if (!pv.known) return scalar_value::missing(pv.reason);
      std::vector<const tensor_value*> holding;
      for (const auto& it : pv.items) {
        if (!it.known) return scalar_value::missing(it.reason);
        if (it.v != 0) holding.push_back(&it);
      }
      if (holding.empty()) return scalar_value::of(is_max ? -std::numeric_limits<double>::infinity()
                                                       : std::numeric_limits<double>::infinity());
      if (!xv.known) return scalar_value::missing(xv.reason);
      const tensor_value* best = nullptr;
      for (const tensor_value* h : holding) {
        const auto it = std::find_if(xv.items.begin(), xv.items.end(),
                                     [&](const tensor_value& x) { return x.tensor == h->tensor; });
        if (it == xv.items.end())
          return scalar_value::missing("tensor '" + h->tensor + "' is missing from " + x_text_ + " at " +
                                       c.where());
        if (!it->known) return scalar_value::missing(it->reason);
        if (best == nullptr || (!std::isnan(best->v) && (std::isnan(it->v) || (is_max ? it->v > best->v : it->v < best->v))))
          best = &*it;
      }
      return scalar_value::of(best->v, {observation{best->tensor, best->worker, best->v, no_threshold}});
    }
    void reset() {
      x_.reset();
      p_.reset();
    }
    [[nodiscard]] std::size_t state_size() const { return x_.state_size() + p_.state_size(); }

   private:
    typename X::evaluator x_;
    typename P::evaluator p_;
    std::string x_text_;  // for reasons
  };

 private:
  X x_;
  P p_;
};

namespace detail {
template <class Q, class X, class P>
[[nodiscard]] auto make_quantifier_where(X x, P p) {
  static_assert(is_node_v<X> && is_node_v<P>,
                "tdbg::rules: max_over(x, p) / min_over(x, p) take per-tensor expressions (x: numbers, p: booleans)");
  if constexpr (is_node_v<X> && is_node_v<P>) {
    static_assert(kind_of<X> == expr_kind::per_tensor && value_of<X> == value_type::number,
                  "tdbg::rules: max_over(x, p) / min_over(x, p): x must be per-tensor numbers, e.g. save_order(t)");
    static_assert(kind_of<P> == expr_kind::per_tensor && value_of<P> == value_type::boolean,
                  "tdbg::rules: max_over(x, p) / min_over(x, p): p must be a per-tensor boolean, e.g. "
                  "fraction_nonfinite(t) > 0");
    return quantify_where_node<Q, X, P>(std::move(x), std::move(p));
  } else {
    return bool_constant{};
  }
}
}  // namespace detail

/// Largest x over the tensors where p holds (see quantify_where_node).
template <class X, class P> [[nodiscard]] auto max_over(X x, P p) {
  return detail::make_quantifier_where<quantifiers::max_over>(std::move(x), std::move(p));
}
/// Smallest x over the tensors where p holds (see quantify_where_node).
template <class X, class P> [[nodiscard]] auto min_over(X x, P p) {
  return detail::make_quantifier_where<quantifiers::min_over>(std::move(x), std::move(p));
}

/// count(elements): elements (numbers) or true elements (mask), per tensor;
/// count(per-tensor boolean): how many tensors satisfy it (scalar).
template <class X> [[nodiscard]] auto count(X x) {
  if constexpr (is_node_v<X> && kind_of<X> == expr_kind::elements)
    return detail::make_reduce(reducers::count{}, std::move(x));
  else
    return detail::make_quantifier<quantifiers::count>(std::move(x));
}
/// fraction(element mask): share of true elements per tensor;
/// fraction(per-tensor boolean): share of tensors satisfying it (scalar).
template <class X> [[nodiscard]] auto fraction(X x) {
  if constexpr (is_node_v<X> && kind_of<X> == expr_kind::elements)
    return detail::make_reduce(reducers::fraction{}, std::move(x));
  else
    return detail::make_quantifier<quantifiers::fraction>(std::move(x));
}

/// True when the selection has at least one tensor at the evaluated step (a scalar boolean that
/// is never unknown): guards a part of a rule whose tensors may be absent, e.g.
/// `exists(sig) && any(...sig...)` is false, not insufficient data, for a model without sigmoids.
/// It reads no value; its selection still decides the rule's steps like any other.
class exists_node {
 public:
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::boolean;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  explicit exists_node(selection s) : s_(std::move(s)) {}
  [[nodiscard]] std::string describe() const { return "exists(" + s_.describe() + ")"; }
  void needs(requirements& r, const need_scope& s) const {
    tensor_need n;
    n.selection = s_.spec();
    n.source = s.source;
    n.primary = s.primary;
    n.raw = false;  // names only: no value is read
    n.nearest_before = s.nearest_before || s_.spec().mode.has_value();
    n.all_workers = s.all_workers;
    r.add(std::move(n));
  }
  class evaluator {
   public:
    explicit evaluator(const exists_node& n) : s_(n.s_) {}
    scalar_value eval(const context& c) {
      const name_set ns = s_.names(c);
      std::string names;
      for (const auto& t : ns.names) names += (names.empty() ? "" : ", ") + t;
      return scalar_value::of(ns.known && !ns.names.empty() ? 1.0 : 0.0,
                              {observation{names, c.worker, static_cast<double>(ns.names.size()), no_threshold}});
    }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }

   private:
    selection::evaluator s_;
  };

 private:
  selection s_;
};

/// True when `s` selects at least one tensor at the evaluated step.
[[nodiscard]] inline exists_node exists(selection s) { return exists_node(std::move(s)); }

namespace groupers {
struct max { static constexpr std::string_view name = "group_max"; static constexpr bool boolean = false; };
struct min { static constexpr std::string_view name = "group_min"; static constexpr bool boolean = false; };
struct mean { static constexpr std::string_view name = "group_mean"; static constexpr bool boolean = false; };
struct sum { static constexpr std::string_view name = "group_sum"; static constexpr bool boolean = false; };
struct any { static constexpr std::string_view name = "group_any"; static constexpr bool boolean = true; };
struct all { static constexpr std::string_view name = "group_all"; static constexpr bool boolean = true; };
}  // namespace groupers

/// Per-tensor values grouped by a regex capture of the tensor name (per_tensor over groups).
template <class G, class X>
class group_node {
 public:
  static constexpr expr_kind kind = expr_kind::per_tensor;
  static constexpr value_type value = X::value;
  static constexpr bool stateful = X::stateful;
  static constexpr bool is_call = true;

  group_node(X x, std::string pattern)
      : x_(std::move(x)), pattern_(std::move(pattern)), regex_(compile_selection_regex(pattern_)) {}
  [[nodiscard]] std::string describe() const {
    return std::string(G::name) + "(" + x_.describe() + ", \"" + pattern_ + "\")";
  }
  void needs(requirements& r, const need_scope& s) const { x_.needs(r, s); }

  class evaluator {
   public:
    explicit evaluator(const group_node& n) : n_(&n), x_(n.x_) {}
    tensor_values eval(const context& c) {
      tensor_values tv = x_.eval(c);
      tensor_values out;
      if (!tv.known) return tv;
      std::map<std::string, std::vector<const tensor_value*>> groups;
      for (const auto& it : tv.items) {
        boost::smatch m;
        if (!boost::regex_search(it.tensor, m, *n_->regex_)) continue;
        std::string key = (m.size() > 1 && m[1].matched) ? m[1].str() : m[0].str();
        groups[key].push_back(&it);
      }
      if (groups.empty()) {
        out.known = false;
        out.reason = "no tensor name matches the group pattern \"" + n_->pattern_ + "\" at " + c.where();
        return out;
      }
      for (const auto& [key, members] : groups) {
        tensor_value g;
        g.tensor = key;
        g.worker = members.front()->worker;
        const tensor_value* unknown = nullptr;
        for (const auto* m : members)
          if (!m->known && unknown == nullptr) unknown = m;
        if constexpr (G::boolean) {
          constexpr bool is_any = std::is_same_v<G, groupers::any>;
          bool decided = false;
          for (const auto* m : members)
            if (m->known && ((m->v != 0) == is_any)) decided = true;
          if (decided) {
            g.v = is_any ? 1.0 : 0.0;
          } else if (unknown) {
            g.known = false;
            g.reason = unknown->reason;
          } else {
            g.v = is_any ? 0.0 : 1.0;
          }
          g.observed = g.v;
        } else if (unknown) {
          g.known = false;
          g.reason = unknown->reason;
        } else {
          double acc = members.front()->v;
          for (std::size_t i = 1; i < members.size(); ++i) {
            const double v = members[i]->v;
            if constexpr (std::is_same_v<G, groupers::max>)
              acc = (std::isnan(acc) || std::isnan(v)) ? detail::nan_v : std::max(acc, v);
            else if constexpr (std::is_same_v<G, groupers::min>)
              acc = (std::isnan(acc) || std::isnan(v)) ? detail::nan_v : std::min(acc, v);
            else
              acc += v;
          }
          if constexpr (std::is_same_v<G, groupers::mean>) acc /= static_cast<double>(members.size());
          g.v = g.observed = acc;
        }
        out.items.push_back(std::move(g));
      }
      return out;
    }
    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return x_.state_size(); }

   private:
    const group_node* n_;
    typename X::evaluator x_;
  };

 private:
  X x_;
  std::string pattern_;
  std::shared_ptr<const boost::regex> regex_;
};

namespace detail {
template <class G, class X>
[[nodiscard]] auto make_group(X x, std::string pattern) {
  static_assert(is_node_v<X> && kind_of<X> == expr_kind::per_tensor,
                "tdbg::rules: group_*(x, pattern) groups a per-tensor expression (e.g. l2(collection(\"gradients\"))) "
                "by layer");
  if constexpr (G::boolean)
    static_assert(value_of<X> == value_type::boolean, "tdbg::rules: group_any/group_all need per-tensor booleans");
  else
    static_assert(value_of<X> == value_type::number, "tdbg::rules: group_max/min/mean/sum need per-tensor numbers");
  return group_node<G, X>(std::move(x), std::move(pattern));
}
}  // namespace detail

template <class X> [[nodiscard]] auto group_max(X x, std::string pattern) { return detail::make_group<groupers::max>(std::move(x), std::move(pattern)); }
template <class X> [[nodiscard]] auto group_min(X x, std::string pattern) { return detail::make_group<groupers::min>(std::move(x), std::move(pattern)); }
template <class X> [[nodiscard]] auto group_mean(X x, std::string pattern) { return detail::make_group<groupers::mean>(std::move(x), std::move(pattern)); }
template <class X> [[nodiscard]] auto group_sum(X x, std::string pattern) { return detail::make_group<groupers::sum>(std::move(x), std::move(pattern)); }
template <class X> [[nodiscard]] auto group_any(X x, std::string pattern) { return detail::make_group<groupers::any>(std::move(x), std::move(pattern)); }
template <class X> [[nodiscard]] auto group_all(X x, std::string pattern) { return detail::make_group<groupers::all>(std::move(x), std::move(pattern)); }

}  // namespace tdbg::rules
