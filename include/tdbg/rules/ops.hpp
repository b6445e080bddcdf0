// tdbg/rules/ops.hpp — element-wise functions, arithmetic, comparisons and logic, for every kind.
// Layer: rules (rules/{expr,select}.hpp, Eigen's Tensor module).
//
//   abs(x) sqrt(x) log(x) exp(x) square(x) clamp(x, lo, hi) -x        numbers → numbers
//   isnan(x) isfinite(x)                                             numbers → booleans
//   x + y  x - y  x * y  x / y                                       numbers → numbers
//   x < y  x <= y  x > y  x >= y  x == y  x != y  between(x, lo, hi)   → booleans
//   isclose(x, y, rtol, atol, equal_nan)                             numpy's isclose → booleans
//   a && b  a || b  !a                                               booleans → booleans
// Kinds: the result has the "widest" kind of its operands: elements ⊕ anything → elements
// (per tensor, element by element; a per_tensor operand contributes its value for that tensor,
// a scalar its single value); per_tensor ⊕ per_tensor/scalar → per_tensor (paired by tensor
// name); scalar ⊕ scalar → scalar. Two elements operands must select the same tensors with the
// same element count (e.g. `w - prev(w)`).
//
// Numbers follow IEEE 754 in double: NaN in → NaN out; x / 0 is ±inf or NaN. Every comparison
// involving NaN is false — `!=` included (so `x != x` is false for NaN; use
// fraction_nonfinite() to detect NaN). Element-wise booleans (masks) are 0/1 numbers inside;
// reduce them with count(), fraction(), or quantify after a reduction.
//
// Tri-state logic (Kleene) for scalar and per_tensor booleans: false && unknown = false,
// true || unknown = true; otherwise unknown operands make the result unknown (insufficient
// data). Both operands are always evaluated (stateful nodes see every evaluation).
//
// Evidence: a comparison records one observation — the observed side (the left one, unless it
// is a constant or parameter) with its tensor(s) and worker, and the other side as threshold.
// && keeps the evidence of both operands (of the false ones when false); || of the true ones.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

/// What an operator does with values.
enum class op_class : std::uint8_t { arithmetic, ordering, equality, logic };

namespace ops {

// Binary functors: double × double → double (booleans as 0/1). Those with a packetOp vectorise
// in Eigen's assignment loops (functor_traits below: a type-erased level's window, erased.hpp);
// packetOp computes exactly what operator() computes (IEEE operations and comparisons, masks as
// 0/1, NaN compares false), so typed and type-erased trees agree to the bit whichever loop runs.
namespace pk = Eigen::internal;
/// 1.0 where the comparison mask m is set, else 0.0.
template <class P>
P mask01(const P& m) {
  return pk::pand(m, pk::pset1<P>(1.0));
}
/// The mask of lanes equal to 0 (NaN is not).
template <class P>
P is_zero_mask(const P& x) {
  return pk::pcmp_eq(x, pk::pset1<P>(0.0));
}
struct plus {
  static constexpr std::string_view symbol = "+";
  static constexpr op_class cls = op_class::arithmetic;
  double operator()(double a, double b) const noexcept { return a + b; }
  template <class P> P packetOp(const P& a, const P& b) const { return pk::padd(a, b); }
};
struct minus {
  static constexpr std::string_view symbol = "-";
  static constexpr op_class cls = op_class::arithmetic;
  double operator()(double a, double b) const noexcept { return a - b; }
  template <class P> P packetOp(const P& a, const P& b) const { return pk::psub(a, b); }
};
struct multiplies {
  static constexpr std::string_view symbol = "*";
  static constexpr op_class cls = op_class::arithmetic;
  double operator()(double a, double b) const noexcept { return a * b; }
  template <class P> P packetOp(const P& a, const P& b) const { return pk::pmul(a, b); }
};
struct divides {
  static constexpr std::string_view symbol = "/";
  static constexpr op_class cls = op_class::arithmetic;
  double operator()(double a, double b) const noexcept { return a / b; }
  template <class P> P packetOp(const P& a, const P& b) const { return pk::pdiv(a, b); }
};
struct less {
  static constexpr std::string_view symbol = "<";
  static constexpr op_class cls = op_class::ordering;
  double operator()(double a, double b) const noexcept { return a < b ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& a, const P& b) const { return mask01(pk::pcmp_lt(a, b)); }
};
struct less_equal {
  static constexpr std::string_view symbol = "<=";
  static constexpr op_class cls = op_class::ordering;
  double operator()(double a, double b) const noexcept { return a <= b ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& a, const P& b) const { return mask01(pk::pcmp_le(a, b)); }
};
struct greater {
  static constexpr std::string_view symbol = ">";
  static constexpr op_class cls = op_class::ordering;
  double operator()(double a, double b) const noexcept { return a > b ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& a, const P& b) const { return mask01(pk::pcmp_lt(b, a)); }
};
struct greater_equal {
  static constexpr std::string_view symbol = ">=";
  static constexpr op_class cls = op_class::ordering;
  double operator()(double a, double b) const noexcept { return a >= b ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& a, const P& b) const { return mask01(pk::pcmp_le(b, a)); }
};
struct equal_to {
  static constexpr std::string_view symbol = "==";
  static constexpr op_class cls = op_class::equality;
  double operator()(double a, double b) const noexcept { return a == b ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& a, const P& b) const { return mask01(pk::pcmp_eq(a, b)); }
};
struct not_equal_to {
  static constexpr std::string_view symbol = "!=";
  static constexpr op_class cls = op_class::equality;
  double operator()(double a, double b) const noexcept {
    return (a != b && !std::isnan(a) && !std::isnan(b)) ? 1.0 : 0.0;
  }
  template <class P> P packetOp(const P& a, const P& b) const {
    return mask01(pk::pandnot(pk::pand(pk::pcmp_eq(a, a), pk::pcmp_eq(b, b)), pk::pcmp_eq(a, b)));
  }
};
struct logical_and {
  static constexpr std::string_view symbol = "&&";
  static constexpr op_class cls = op_class::logic;
  double operator()(double a, double b) const noexcept { return (a != 0 && b != 0) ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& a, const P& b) const {
    return pk::pandnot(pk::pandnot(pk::pset1<P>(1.0), is_zero_mask(a)), is_zero_mask(b));
  }
};
struct logical_or {
  static constexpr std::string_view symbol = "||";
  static constexpr op_class cls = op_class::logic;
  double operator()(double a, double b) const noexcept { return (a != 0 || b != 0) ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& a, const P& b) const {
    return pk::pandnot(pk::pset1<P>(1.0), pk::pand(is_zero_mask(a), is_zero_mask(b)));
  }
};

/// numpy's isclose: a == b, or both finite and |a − b| <= atol + rtol·|b| (asymmetric: b is the
/// reference); an infinity is close only to itself, NaN only to NaN and only with equal_nan. A
/// functor with state: binary_node stores it (describe_call: shown as a call, not infix).
struct isclose_fn {
  static constexpr std::string_view symbol = "isclose";
  static constexpr op_class cls = op_class::ordering;  // numbers in, a boolean out
  static constexpr bool describe_call = true;
  double rtol = 1e-5, atol = 1e-8;
  bool equal_nan = false;
  /// The functor, or usage_error for a negative or NaN tolerance.
  static isclose_fn checked(double rtol, double atol, bool equal_nan) {
    if (!(rtol >= 0) || !(atol >= 0)) throw usage_error("isclose: rtol and atol must be >= 0");
    return isclose_fn{rtol, atol, equal_nan};
  }
  double operator()(double a, double b) const noexcept {
    if (a == b) return 1.0;
    if (std::isfinite(a) && std::isfinite(b) && std::fabs(a - b) <= atol + rtol * std::fabs(b)) return 1.0;
    return (equal_nan && std::isnan(a) && std::isnan(b)) ? 1.0 : 0.0;
  }
  template <class P> P packetOp(const P& a, const P& b) const {
    const P tol = pk::padd(pk::pset1<P>(atol), pk::pmul(pk::pset1<P>(rtol), pk::pabs(b)));
    const P finite = pk::pand(is_zero_mask(pk::psub(a, a)), is_zero_mask(pk::psub(b, b)));  // x - x: 0 or NaN
    P m = pk::por(pk::pcmp_eq(a, b), pk::pand(finite, pk::pcmp_le(pk::pabs(pk::psub(a, b)), tol)));
    if (equal_nan) {  // lanes where neither a == a nor b == b: both NaN
      const P ones = pk::ptrue(a);
      m = pk::por(m, pk::pandnot(pk::pandnot(ones, pk::pcmp_eq(a, a)), pk::pcmp_eq(b, b)));
    }
    return mask01(m);
  }
  [[nodiscard]] std::string describe(const std::string& a, const std::string& b) const {
    return "isclose(" + a + ", " + b + ", " + format_number(rtol) + ", " + format_number(atol) +
           (equal_nan ? ", true)" : ")");
  }
};

// Unary functors: double → double. `boolean_in`: takes a boolean; `boolean_out`: gives one.
struct abs_fn {
  static constexpr bool boolean_in = false, boolean_out = false;
  double operator()(double x) const noexcept { return std::fabs(x); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "abs(" + x + ")"; }
};
struct sqrt_fn {
  static constexpr bool boolean_in = false, boolean_out = false;
  double operator()(double x) const noexcept { return std::sqrt(x); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "sqrt(" + x + ")"; }
};
struct log_fn {
  static constexpr bool boolean_in = false, boolean_out = false;
  double operator()(double x) const noexcept { return std::log(x); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "log(" + x + ")"; }
};
struct exp_fn {
  static constexpr bool boolean_in = false, boolean_out = false;
  double operator()(double x) const noexcept { return std::exp(x); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "exp(" + x + ")"; }
};
struct square_fn {
  static constexpr bool boolean_in = false, boolean_out = false;
  double operator()(double x) const noexcept { return x * x; }
  [[nodiscard]] std::string describe(const std::string& x) const { return "square(" + x + ")"; }
};
struct negate_fn {
  static constexpr bool boolean_in = false, boolean_out = false;
  double operator()(double x) const noexcept { return -x; }
  template <class P> P packetOp(const P& x) const { return pk::pnegate(x); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "-(" + x + ")"; }
};
struct clamp_fn {
  static constexpr bool boolean_in = false, boolean_out = false;
  double lo = 0, hi = 0;
  double operator()(double x) const noexcept { return x < lo ? lo : (x > hi ? hi : x); }  // NaN stays NaN
  [[nodiscard]] std::string describe(const std::string& x) const {
    return "clamp(" + x + ", " + format_number(lo) + ", " + format_number(hi) + ")";
  }
};
struct isnan_fn {
  static constexpr bool boolean_in = false, boolean_out = true;
  double operator()(double x) const noexcept { return std::isnan(x) ? 1.0 : 0.0; }
  template <class P> P packetOp(const P& x) const { return pk::pandnot(pk::pset1<P>(1.0), pk::pcmp_eq(x, x)); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "isnan(" + x + ")"; }
};
struct isfinite_fn {
  static constexpr bool boolean_in = false, boolean_out = true;
  double operator()(double x) const noexcept { return std::isfinite(x) ? 1.0 : 0.0; }
  // x - x is 0 for a finite x, NaN for NaN and ±inf
  template <class P> P packetOp(const P& x) const { return mask01(is_zero_mask(pk::psub(x, x))); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "isfinite(" + x + ")"; }
};
struct not_fn {
  static constexpr bool boolean_in = true, boolean_out = true;
  double operator()(double x) const noexcept { return x != 0 ? 0.0 : 1.0; }
  template <class P> P packetOp(const P& x) const { return mask01(is_zero_mask(x)); }
  [[nodiscard]] std::string describe(const std::string& x) const { return "!(" + x + ")"; }
};

template <class F>
struct bind_right {
  F f;
  double c;
  double operator()(double x) const noexcept { return f(x, c); }
  template <class P> P packetOp(const P& x) const { return f.packetOp(x, pk::pset1<P>(c)); }
};
template <class F>
struct bind_left {
  F f;
  double c;
  double operator()(double x) const noexcept { return f(c, x); }
  template <class P> P packetOp(const P& x) const { return f.packetOp(pk::pset1<P>(c), x); }
};

}  // namespace ops
}  // namespace tdbg::rules

// The functors above that have a packetOp vectorise in Eigen's expression loops.
namespace Eigen::internal {
struct tdbg_vectorised {
  enum { Cost = 1, PacketAccess = 1, IsRepeatable = 1 };
};
template <> struct functor_traits<tdbg::rules::ops::plus> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::minus> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::multiplies> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::divides> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::less> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::less_equal> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::greater> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::greater_equal> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::equal_to> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::not_equal_to> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::isclose_fn> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::logical_and> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::logical_or> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::negate_fn> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::isnan_fn> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::isfinite_fn> : tdbg_vectorised {};
template <> struct functor_traits<tdbg::rules::ops::not_fn> : tdbg_vectorised {};
template <class F>
struct functor_traits<tdbg::rules::ops::bind_left<F>> : functor_traits<F> {};
template <class F>
struct functor_traits<tdbg::rules::ops::bind_right<F>> : functor_traits<F> {};
}  // namespace Eigen::internal

namespace tdbg::rules {

namespace detail {

/// True when an elements evaluator can answer with a stored reduction (a plain selection,
/// abs of one, prev of one ...).
template <class Ev>
concept has_stored_fallback = requires(const Ev& e, const context& c, const std::string& t, reduction r) {
  { e.stored(c, t, r) } -> std::same_as<std::optional<double>>;
};

template <class N>
inline constexpr bool is_literal_node_v =
    std::is_same_v<N, constant> || std::is_same_v<N, param> || std::is_same_v<N, bool_constant>;

// Run-time answers to what typed nodes know statically (erased nodes, erased.hpp, answer
// them at run time).
/// Whether an elements evaluator can answer with a stored reduction now (run time).
template <class Ev>
[[nodiscard]] bool stored_available(const Ev& e) {
  if constexpr (!has_stored_fallback<Ev>)
    return false;
  else if constexpr (requires { e.stored_capable(); })
    return e.stored_capable();
  else
    return true;
}

template <class N>
[[nodiscard]] bool literal_node(const N& n) {
  if constexpr (requires { n.literal(); })
    return n.literal();
  else
    return is_literal_node_v<N>;
}

template <class N>
[[nodiscard]] bool atomic_node(const N& n) {
  if constexpr (requires { n.atomic(); })
    return n.atomic();
  else
    return is_literal_node_v<N> || std::is_same_v<N, selection> || requires { N::is_call; };
}

/// Tensor names of evidence, comma-joined without repeats; the worker if all share one.
inline observation summarize(const std::vector<observation>& ev, double value, double threshold) {
  observation o;
  o.value = value;
  o.threshold = threshold;
  std::vector<std::string> names;
  for (const auto& e : ev) {
    if (e.tensor.empty()) continue;
    if (std::find(names.begin(), names.end(), e.tensor) == names.end()) names.push_back(e.tensor);
  }
  for (std::size_t i = 0; i < names.size(); ++i) o.tensor += (i ? ", " : "") + names[i];
  if (!ev.empty()) {
    o.worker = ev.front().worker;
    for (const auto& e : ev)
      if (e.worker != o.worker) o.worker.clear();
  }
  return o;
}

inline void append(std::vector<observation>& to, const std::vector<observation>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

/// Kleene combination of two scalar booleans with their evidence.
template <class F>
scalar_value combine_logic(scalar_value a, scalar_value b) {
  const bool is_and = std::is_same_v<F, ops::logical_and>;
  const bool a_dec = a.known && ((a.v != 0) != is_and);  // decisive: false for &&, true for ||
  const bool b_dec = b.known && ((b.v != 0) != is_and);
  if (a_dec || b_dec) {
    scalar_value r = scalar_value::of(is_and ? 0.0 : 1.0);
    if (a_dec) append(r.evidence, a.evidence);
    if (b_dec) append(r.evidence, b.evidence);
    return r;
  }
  if (!a.known) return a;
  if (!b.known) return b;
  scalar_value r = scalar_value::of(is_and ? 1.0 : 0.0);
  append(r.evidence, a.evidence);
  append(r.evidence, b.evidence);
  return r;
}

/// Kleene combination of two per-tensor booleans.
template <class F>
void combine_logic(tensor_value& out, const tensor_value& a, double b_v, bool b_known, const std::string& b_reason) {
  const bool is_and = std::is_same_v<F, ops::logical_and>;
  const bool a_dec = a.known && ((a.v != 0) != is_and);
  const bool b_dec = b_known && ((b_v != 0) != is_and);
  if (a_dec || b_dec) {
    out.known = true;
    out.v = is_and ? 0.0 : 1.0;
  } else if (!a.known) {
    out.known = false;
    out.reason = a.reason;
  } else if (!b_known) {
    out.known = false;
    out.reason = b_reason;
  } else {
    out.known = true;
    out.v = is_and ? 1.0 : 0.0;
  }
}

}  // namespace detail

/// A unary function applied to an expression of any kind (keeps the kind).
template <class F, class X>
class unary_node {
 public:
  static constexpr expr_kind kind = X::kind;
  static constexpr value_type value = F::boolean_out ? value_type::boolean : value_type::number;
  static constexpr bool stateful = X::stateful;
  static constexpr bool is_call = true;

  unary_node(F f, X x) : f_(f), x_(std::move(x)) {}
  [[nodiscard]] std::string describe() const { return f_.describe(x_.describe()); }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    if constexpr (std::is_same_v<F, ops::abs_fn>) {
      if (inner.stored) inner.stored->abs = true;
    } else {
      inner.stored.reset();
    }
    x_.needs(r, inner);
  }
  [[nodiscard]] const X& child() const noexcept { return x_; }
  [[nodiscard]] const F& fn() const noexcept { return f_; }

  class evaluator {
   public:
    explicit evaluator(const unary_node& n) : f_(n.f_), x_(n.x_) {}

    auto eval(const context& c) {
      if constexpr (kind == expr_kind::scalar) {
        scalar_value r = x_.eval(c);
        if (r.known) r.v = f_(r.v);
        return r;
      } else {
        tensor_values r = x_.eval(c);
        for (auto& it : r.items)
          if (it.known) it.v = it.observed = f_(it.v);
        return r;
      }
    }

    // elements protocol
    name_set names(const context& c) { return x_.names(c); }
    std::string bind(const context& c, const std::string& t) { return x_.bind(c, t); }
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
      if constexpr (std::is_same_v<F, ops::abs_fn>)
        return x_.template expr<T>().abs();
      else if constexpr (std::is_same_v<F, ops::sqrt_fn>)
        return x_.template expr<T>().sqrt();
      else if constexpr (std::is_same_v<F, ops::square_fn>)
        return x_.template expr<T>().square();
      else
        return x_.template expr<T>().unaryExpr(f_);
    }
    // Stored-reduction fallback: abs(selection) reads the selection's abs_ reductions.
    [[nodiscard]] std::optional<double> stored(const context& c, const std::string& t, reduction r) const
      requires std::is_same_v<F, ops::abs_fn> && detail::has_stored_fallback<typename X::evaluator>
    {
      r.abs = true;
      return x_.stored(c, t, r);
    }
    [[nodiscard]] bool stored_capable() const
      requires std::is_same_v<F, ops::abs_fn> && detail::has_stored_fallback<typename X::evaluator>
    {
      return detail::stored_available(x_);
    }

    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return x_.state_size(); }

   private:
    F f_;
    typename X::evaluator x_;
  };

 private:
  F f_;
  X x_;
};

/// A binary operator over operands of any kinds (see the header comment).
template <class F, class A, class B>
class binary_node {
 public:
  static constexpr expr_kind kind = A::kind < B::kind ? A::kind : B::kind;  // elements < per_tensor < scalar
  static constexpr value_type value = F::cls == op_class::arithmetic ? value_type::number : value_type::boolean;
  static constexpr bool stateful = A::stateful || B::stateful;

  binary_node(A a, B b, F f = {}) : a_(std::move(a)), b_(std::move(b)), f_(f) {}

  [[nodiscard]] std::string describe() const {
    if constexpr (requires { F::describe_call; })
      return f_.describe(a_.describe(), b_.describe());
    else
      return operand_text(a_) + " " + std::string(F::symbol) + " " + operand_text(b_);
  }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.stored.reset();
    a_.needs(r, inner);
    b_.needs(r, inner);
  }

  class evaluator {
   public:
    explicit evaluator(const binary_node& n)
        : a_(n.a_), b_(n.b_), f_(n.f_), left_observed_(!detail::literal_node(n.a_) || detail::literal_node(n.b_)) {}

    auto eval(const context& c) {
      if constexpr (kind == expr_kind::scalar) {
        return eval_scalar(c);
      } else {
        return eval_per_tensor(c);
      }
    }

    // elements protocol
    name_set names(const context& c) {
      // Both elements operands prepare (their own scalar operands); the left one's set rules.
      name_set out;
      if constexpr (A::kind == expr_kind::elements) {
        out = a_.names(c);
        if (!out.known) return out;
      }
      if constexpr (B::kind == expr_kind::elements) {
        name_set right = b_.names(c);
        if (!right.known) return right;
        if constexpr (A::kind != expr_kind::elements) out = std::move(right);
      }
      if constexpr (A::kind != expr_kind::elements) {
        std::string why = pre_eval(a_, sa_, pa_, c);
        if (!why.empty()) return name_set{false, why, {}};
      }
      if constexpr (B::kind != expr_kind::elements) {
        std::string why = pre_eval(b_, sb_, pb_, c);
        if (!why.empty()) return name_set{false, why, {}};
      }
      return out;
    }
    std::string bind(const context& c, const std::string& t) {
      if constexpr (A::kind == expr_kind::elements) {
        if (auto why = a_.bind(c, t); !why.empty()) return why;
      } else if constexpr (A::kind == expr_kind::per_tensor) {
        if (auto why = lookup(pa_, t, va_); !why.empty()) return why;
      } else {
        va_ = sa_.v;
      }
      if constexpr (B::kind == expr_kind::elements) {
        if (auto why = b_.bind(c, t); !why.empty()) return why;
      } else if constexpr (B::kind == expr_kind::per_tensor) {
        if (auto why = lookup(pb_, t, vb_); !why.empty()) return why;
      } else {
        vb_ = sb_.v;
      }
      if constexpr (A::kind == expr_kind::elements && B::kind == expr_kind::elements) {
        if (a_.size() != b_.size())
          return "tensor '" + t + "': the operands of " + std::string(F::symbol) + " have " + std::to_string(a_.size()) +
                 " and " + std::to_string(b_.size()) + " elements";
      }
      return {};
    }
    [[nodiscard]] dtype type() const {
      if constexpr (A::kind == expr_kind::elements && B::kind == expr_kind::elements)
        return common_dtype(a_.type(), b_.type());
      else if constexpr (A::kind == expr_kind::elements)
        return a_.type();
      else
        return b_.type();
    }
    [[nodiscard]] std::uint64_t size() const {
      if constexpr (A::kind == expr_kind::elements)
        return a_.size();
      else
        return b_.size();
    }
    [[nodiscard]] std::vector<std::uint64_t> dims() const {
      if constexpr (A::kind == expr_kind::elements)
        return dims_of(a_);
      else
        return dims_of(b_);
    }
    void materialize(dtype d) {
      if constexpr (A::kind == expr_kind::elements) a_.materialize(d);
      if constexpr (B::kind == expr_kind::elements) b_.materialize(d);
    }
    void window(std::uint64_t off, std::uint64_t n)
      requires((A::kind != expr_kind::elements || has_window<typename A::evaluator>) &&
               (B::kind != expr_kind::elements || has_window<typename B::evaluator>))
    {
      if constexpr (A::kind == expr_kind::elements) a_.window(off, n);
      if constexpr (B::kind == expr_kind::elements) b_.window(off, n);
    }
    void release() {
      if constexpr (A::kind == expr_kind::elements) a_.release();
      if constexpr (B::kind == expr_kind::elements) b_.release();
    }
    template <class T>
    [[nodiscard]] auto expr() const {
      if constexpr (A::kind == expr_kind::elements && B::kind == expr_kind::elements) {
        if constexpr (std::is_same_v<F, ops::plus>)
          return a_.template expr<T>() + b_.template expr<T>();
        else if constexpr (std::is_same_v<F, ops::minus>)
          return a_.template expr<T>() - b_.template expr<T>();
        else if constexpr (std::is_same_v<F, ops::multiplies>)
          return a_.template expr<T>() * b_.template expr<T>();
        else
          return a_.template expr<T>().binaryExpr(b_.template expr<T>(), f_);
      } else if constexpr (A::kind == expr_kind::elements) {
        return a_.template expr<T>().unaryExpr(ops::bind_right<F>{f_, vb_});
      } else {
        return b_.template expr<T>().unaryExpr(ops::bind_left<F>{f_, va_});
      }
    }

    void reset() {
      a_.reset();
      b_.reset();
    }
    [[nodiscard]] std::size_t state_size() const { return a_.state_size() + b_.state_size(); }

   private:
    template <class Ev>
    static std::string pre_eval(Ev& side, scalar_value& s, tensor_values& p, const context& c) {
      auto v = side.eval(c);
      if constexpr (std::is_same_v<decltype(v), scalar_value>) {
        s = std::move(v);
        return s.known ? std::string() : s.reason;
      } else {
        p = std::move(v);
        return p.known ? std::string() : p.reason;
      }
    }
    static std::string lookup(const tensor_values& p, const std::string& t, double& out) {
      for (const auto& it : p.items)
        if (it.tensor == t) {
          if (!it.known) return it.reason;
          out = it.v;
          return {};
        }
      return "tensor '" + t + "' is missing from an operand of " + std::string(F::symbol);
    }

    scalar_value eval_scalar(const context& c) {
      scalar_value a = a_.eval(c);
      scalar_value b = b_.eval(c);
      if constexpr (F::cls == op_class::logic) {
        return detail::combine_logic<F>(std::move(a), std::move(b));
      } else {
        if (!a.known) return a;
        if (!b.known) return b;
        const double v = f_(a.v, b.v);
        if constexpr (F::cls == op_class::arithmetic) {
          scalar_value r = scalar_value::of(v, std::move(a.evidence));
          detail::append(r.evidence, b.evidence);
          return r;
        } else {
          const scalar_value& obs = left_observed_ ? a : b;
          const scalar_value& thr = left_observed_ ? b : a;
          return scalar_value::of(v, {detail::summarize(obs.evidence, obs.v, thr.v)});
        }
      }
    }

    tensor_values eval_per_tensor(const context& c) {
      auto av = a_.eval(c);
      auto bv = b_.eval(c);
      constexpr bool a_set = A::kind == expr_kind::per_tensor;
      constexpr bool b_set = B::kind == expr_kind::per_tensor;
      tensor_values out;
      if (!av.known) return unknown_set(av.reason);
      if (!bv.known) return unknown_set(bv.reason);
      const tensor_values& base = [&]() -> const tensor_values& {
        if constexpr (a_set) return av; else return bv;
      }();
      for (const auto& item : base.items) {
        tensor_value r;
        r.tensor = item.tensor;
        r.worker = item.worker;
        double x = 0, y = 0;
        bool xk = true, yk = true;
        std::string xr, yr;
        if constexpr (a_set) {
          x = item.v; xk = item.known; xr = item.reason;
        } else {
          x = av.v;
        }
        if constexpr (b_set) {
          if constexpr (a_set) {
            const tensor_value* other = nullptr;
            for (const auto& o : bv.items)
              if (o.tensor == item.tensor) other = &o;
            if (other == nullptr) {
              yk = false;
              yr = "tensor '" + item.tensor + "' is missing from the right operand of " + std::string(F::symbol);
            } else {
              y = other->v; yk = other->known; yr = other->reason;
            }
          } else {
            y = item.v; yk = item.known; yr = item.reason;
          }
        } else {
          y = bv.v;
        }
        if constexpr (F::cls == op_class::logic) {
          tensor_value xa;
          xa.known = xk; xa.v = x; xa.reason = xr;
          detail::combine_logic<F>(r, xa, y, yk, yr);
          r.observed = r.v;
        } else if (!xk || !yk) {
          r.known = false;
          r.reason = !xk ? xr : yr;
        } else {
          r.v = f_(x, y);
          if constexpr (F::cls == op_class::arithmetic) {
            r.observed = r.v;
          } else {
            const bool left_observed = a_set;
            r.observed = left_observed ? x : y;
            r.threshold = left_observed ? y : x;
          }
        }
        out.items.push_back(std::move(r));
      }
      return out;
    }
    static tensor_values unknown_set(const std::string& why) {
      tensor_values t;
      t.known = false;
      t.reason = why;
      return t;
    }

    typename A::evaluator a_;
    typename B::evaluator b_;
    scalar_value sa_, sb_;
    F f_;
    tensor_values pa_, pb_;
    double va_ = 0, vb_ = 0;
    bool left_observed_;  // the left operand is the observed side (not a constant/parameter)
  };

 private:
  template <class N>
  static std::string operand_text(const N& n) {
    return detail::atomic_node(n) ? n.describe() : "(" + n.describe() + ")";
  }
  A a_;
  B b_;
  F f_;
};

namespace detail {

template <class F, class A, class B>
[[nodiscard]] auto make_binary(A a, B b, F f = {}) {
  using NA = node_t<A>;
  using NB = node_t<B>;
  constexpr value_type va = value_of<NA>, vb = value_of<NB>;
  if constexpr (F::cls == op_class::arithmetic) {
    static_assert(va == value_type::number && vb == value_type::number,
                  "tdbg::rules: arithmetic (+ - * /) needs two numbers, but an operand is a boolean (a verdict "
                  "such as a comparison or any/all); combine booleans with && || ! instead");
  } else if constexpr (F::cls == op_class::ordering) {
    static_assert(va == value_type::number && vb == value_type::number,
                  "tdbg::rules: < <= > >= compare two numbers, but an operand is a boolean (a verdict such as a "
                  "comparison or any/all): a tensor set or a number cannot be compared with a verdict");
  } else if constexpr (F::cls == op_class::equality) {
    static_assert(va == vb,
                  "tdbg::rules: == and != compare two numbers or two booleans, not a number with a boolean "
                  "(a verdict)");
  } else {
    static_assert(va == value_type::boolean && vb == value_type::boolean,
                  "tdbg::rules: && and || combine booleans (comparisons, any/all, patience ...), but an operand "
                  "is a number; compare it first, e.g. x > 0");
  }
  return binary_node<F, NA, NB>(to_node(std::move(a)), to_node(std::move(b)), f);
}

template <class A, class B>
concept binary_operands = (node<A> || node<B>) && operand<A> && operand<B>;

}  // namespace detail

template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator+(A a, B b) { return detail::make_binary<ops::plus>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator-(A a, B b) { return detail::make_binary<ops::minus>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator*(A a, B b) { return detail::make_binary<ops::multiplies>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator/(A a, B b) { return detail::make_binary<ops::divides>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator<(A a, B b) { return detail::make_binary<ops::less>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator<=(A a, B b) { return detail::make_binary<ops::less_equal>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator>(A a, B b) { return detail::make_binary<ops::greater>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator>=(A a, B b) { return detail::make_binary<ops::greater_equal>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator==(A a, B b) { return detail::make_binary<ops::equal_to>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator!=(A a, B b) { return detail::make_binary<ops::not_equal_to>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator&&(A a, B b) { return detail::make_binary<ops::logical_and>(std::move(a), std::move(b)); }
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto operator||(A a, B b) { return detail::make_binary<ops::logical_or>(std::move(a), std::move(b)); }

namespace detail {
template <class F, class X>
[[nodiscard]] auto make_unary(F f, X x) {
  if constexpr (F::boolean_in)
    static_assert(value_of<X> == value_type::boolean,
                  "tdbg::rules: ! negates a boolean (a comparison, any/all ...), not a number");
  else
    static_assert(value_of<X> == value_type::number,
                  "tdbg::rules: abs/sqrt/log/exp/square/clamp/- apply to numbers, not to a boolean (a verdict)");
  return unary_node<F, X>(f, std::move(x));
}
}  // namespace detail

template <node X>
[[nodiscard]] auto operator!(X x) { return detail::make_unary(ops::not_fn{}, std::move(x)); }
template <node X>
[[nodiscard]] auto operator-(X x) { return detail::make_unary(ops::negate_fn{}, std::move(x)); }

/// |x| element-wise (or of a per-tensor value / scalar).
template <node X>
[[nodiscard]] auto abs(X x) { return detail::make_unary(ops::abs_fn{}, std::move(x)); }
/// √x (NaN for x < 0).
template <node X>
[[nodiscard]] auto sqrt(X x) { return detail::make_unary(ops::sqrt_fn{}, std::move(x)); }
/// Natural logarithm (-inf at 0, NaN for x < 0).
template <node X>
[[nodiscard]] auto log(X x) { return detail::make_unary(ops::log_fn{}, std::move(x)); }
/// e^x.
template <node X>
[[nodiscard]] auto exp(X x) { return detail::make_unary(ops::exp_fn{}, std::move(x)); }
/// x².
template <node X>
[[nodiscard]] auto square(X x) { return detail::make_unary(ops::square_fn{}, std::move(x)); }
/// x limited to [lo, hi] (NaN stays NaN). Throws usage_error if lo > hi.
template <node X>
[[nodiscard]] auto clamp(X x, double lo, double hi) {
  if (!(lo <= hi)) throw usage_error("clamp: lo must be <= hi");
  return detail::make_unary(ops::clamp_fn{lo, hi}, std::move(x));
}

/// True where x is NaN (a boolean of x's kind; comparisons cannot detect NaN).
template <node X>
[[nodiscard]] auto isnan(X x) { return detail::make_unary(ops::isnan_fn{}, std::move(x)); }
/// True where x is neither NaN nor ±inf.
template <node X>
[[nodiscard]] auto isfinite(X x) { return detail::make_unary(ops::isfinite_fn{}, std::move(x)); }

/// Element-wise numpy isclose(a, b, rtol, atol, equal_nan): |a − b| <= atol + rtol·|b|, equal
/// values (±inf too) are close, NaN only to NaN and only with equal_nan. A boolean of the wider
/// kind of a and b. Throws usage_error for a negative or NaN tolerance.
template <class A, class B> requires detail::binary_operands<A, B>
[[nodiscard]] auto isclose(A a, B b, double rtol = ops::isclose_fn{}.rtol, double atol = ops::isclose_fn{}.atol,
                          bool equal_nan = false) {
  return detail::make_binary(std::move(a), std::move(b), ops::isclose_fn::checked(rtol, atol, equal_nan));
}

/// lo <= x && x <= hi.
template <node X, operand L, operand H>
[[nodiscard]] auto between(X x, L lo, H hi) {
  return (x >= std::move(lo)) && (x <= std::move(hi));
}

}  // namespace tdbg::rules
