// tdbg/rules/accumulate.hpp — the accumulators of the reductions: sums and extrema of Eigen
// expressions, added window after window.
// Layer: rules (Eigen's Tensor module). Used by reduce.hpp (every reduction) and erased.hpp (a
// reduction fused into a type-erased element-wise level: no buffer between them).
//
//   sum_accumulator            Σ x in double, eight interleaved partial sums (index mod 8)
//   extremum_accumulator<max>  min / max in index order, NaN as soon as one element is NaN
//   summand                    what a fused sum adds: x, |x| or x²
//
// Results do not depend on how the elements are cut into windows, nor on whether Eigen's packets
// or single coefficients are read: every window but the last is a multiple of eight elements,
// element i always goes into partial sum i mod 8, and a packet's lanes are single IEEE additions
// into those same partial sums.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <unsupported/Eigen/CXX11/Tensor>

namespace tdbg::rules::detail {

/// Elements per window when a reduction consumes a buffered operand (8 KiB of doubles).
inline constexpr std::uint64_t element_block = 1024;
static_assert(element_block % 8 == 0, "windows must keep the partial sums' order (see the header comment)");

/// Calls f(n, evaluator) for an Eigen expression of n coefficients, through its TensorEvaluator
/// (no temporary).
template <class X, class F>
void with_evaluator(const X& x, F&& f) {
  using evaluator_t = Eigen::TensorEvaluator<const X, Eigen::DefaultDevice>;
  const Eigen::DefaultDevice device;
  evaluator_t ev(x, device);
  ev.evalSubExprsIfNeeded(nullptr);
  const Eigen::Index n = Eigen::internal::array_prod(ev.dimensions());
  f(n, ev);
  ev.cleanup();
}

/// The sum of the coefficients of Eigen expressions, in double, added window after window. Each
/// coefficient goes into one of eight independent double partial sums (by its index mod 8), added
/// pairwise at the end. An expression of doubles whose evaluator offers packets (the vectorised
/// functors of ops.hpp, abs, square over a type-erased level's buffers) is read a packet at a
/// time, each lane added into its own partial sum, so that an element-wise formula and its sum
/// are one vectorised loop; otherwise (and over stored float values) coefficient by coefficient:
/// the compiler vectorises that loop for a plain conversion, so a float tensor streams at memory
/// bandwidth (benchmarks/rules_mean_abs.cpp).
/// Both give the same bits. Windows added before the last must be multiples of 8 coefficients
/// (then the result equals one pass over them all).
/// Accuracy: every coefficient is added in double; the rounding error is at most about
/// (n/8 + 3) · 2^-53 · Σ|x_i| (e.g. 1.5e-11 relative for 2^20 elements; typically far less),
/// below the 2^-24 rounding of float32 data. NaN and ±inf propagate as in any order of sums.
// Eigen's packet types carry vector attributes, which a template argument drops (harmlessly: only
// their size and Eigen's own functions are used here).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
class sum_accumulator {
 public:
  template <class X>
  void add(const X& x) {
    with_evaluator(x, [&](const Eigen::Index n, const auto& ev) {
      using Ev = std::remove_cvref_t<decltype(ev)>;
      if constexpr (packets_of_doubles<Ev>()) {
        add_packets(n, ev);
      } else {
        double a[8] = {a_[0], a_[1], a_[2], a_[3], a_[4], a_[5], a_[6], a_[7]};
        Eigen::Index i = 0;
        for (; i + 8 <= n; i += 8)
          for (int j = 0; j < 8; ++j) a[j] += static_cast<double>(ev.coeff(i + j));
        for (; i < n; ++i) a[0] += static_cast<double>(ev.coeff(i));
        for (int j = 0; j < 8; ++j) a_[j] = a[j];
      }
    });
  }
  [[nodiscard]] double result() const {
    return ((a_[0] + a_[1]) + (a_[2] + a_[3])) + ((a_[4] + a_[5]) + (a_[6] + a_[7]));
  }

 private:
  /// Whether Ev gives packets of doubles whose lanes tile the eight partial sums. Expressions that
  /// convert stored values (float → double) are left to the coefficient loop, which the compiler
  /// vectorises better than Eigen's conversion packets (about twice as fast on float32).
  template <class Ev>
  static constexpr bool packets_of_doubles() {
    if constexpr (!static_cast<bool>(Ev::PacketAccess) || !std::is_same_v<typename Ev::Scalar, double>) {
      return false;
    } else {
      constexpr int lanes = Eigen::internal::packet_traits<double>::size;
      return lanes > 1 && 8 % lanes == 0 && !converts<typename Ev::XprType>::value;
    }
  }
  /// Whether an element-wise Eigen expression contains a conversion.
  template <class Xpr>
  struct converts : std::false_type {};
  template <class Xpr>
  struct converts<const Xpr> : converts<Xpr> {};
  template <class T, class Xpr>
  struct converts<Eigen::TensorConversionOp<T, Xpr>> : std::true_type {};
  template <class F, class Xpr>
  struct converts<Eigen::TensorCwiseUnaryOp<F, Xpr>> : converts<Xpr> {};
  template <class F, class L, class R>
  struct converts<Eigen::TensorCwiseBinaryOp<F, L, R>> : std::bool_constant<converts<L>::value || converts<R>::value> {};

  template <class Ev>
  void add_packets(const Eigen::Index n, const Ev& ev) {
    namespace pk = Eigen::internal;
    using P = typename Ev::PacketReturnType;
    constexpr int lanes = pk::packet_traits<double>::size;
    constexpr int k = 8 / lanes;  // packets per eight elements; packet j holds partial sums j·lanes ...
    P acc[k];
    for (int j = 0; j < k; ++j) acc[j] = pk::ploadu<P>(a_ + j * lanes);
    Eigen::Index i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < k; ++j) acc[j] = pk::padd(acc[j], ev.template packet<Eigen::Unaligned>(i + j * lanes));
    for (int j = 0; j < k; ++j) pk::pstoreu(a_ + j * lanes, acc[j]);
    for (; i < n; ++i) a_[0] += ev.coeff(i);
  }

  double a_[8] = {0, 0, 0, 0, 0, 0, 0, 0};
};
#pragma GCC diagnostic pop

/// The minimum or maximum of the coefficients of Eigen expressions, in index order; NaN as soon
/// as one coefficient is NaN (a plain comparison would skip it).
template <bool IsMax>
class extremum_accumulator {
 public:
  template <class X>
  void add(const X& x) {
    with_evaluator(x, [&](const Eigen::Index n, const auto& ev) {
      double m = m_;
      for (Eigen::Index i = 0; i < n && !std::isnan(m); ++i) {
        const auto t = static_cast<double>(ev.coeff(i));
        if (std::isnan(t) || (IsMax ? t > m : t < m)) m = t;
      }
      m_ = m;
    });
  }
  [[nodiscard]] double result() const { return m_; }

 private:
  double m_ = IsMax ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
};

/// What a sum fused into a type-erased level adds up (reduce.hpp's window_sum, erased.hpp).
enum class summand : std::uint8_t { value, abs, square };

/// The maps of an Eigen expression that a reduction sums: x, |x|, x². The fused sum (erased.hpp)
/// applies the very functor the reduction asked for (with_summand), so both paths add the same
/// expression.
struct identity_of {
  static constexpr summand summand_kind = summand::value;
  template <class X>
  const X& operator()(const X& x) const noexcept {
    return x;
  }
};
struct abs_of {
  static constexpr summand summand_kind = summand::abs;
  template <class X>
  auto operator()(const X& x) const {
    return x.abs();
  }
};
struct square_of {
  static constexpr summand summand_kind = summand::square;
  template <class X>
  auto operator()(const X& x) const {
    return x.square();
  }
};

/// Calls f with the map (identity_of, abs_of or square_of) of summand s.
template <class F>
void with_summand(summand s, F&& f) {
  switch (s) {
    case summand::value: f(identity_of{}); return;
    case summand::abs: f(abs_of{}); return;
    case summand::square: f(square_of{}); return;
  }
}

}  // namespace tdbg::rules::detail
