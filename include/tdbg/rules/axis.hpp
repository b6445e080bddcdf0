// tdbg/rules/axis.hpp — reductions along one axis of each tensor: elements → fewer elements.
// Layer: rules (rules/{expr,select,ops}.hpp, Eigen's Tensor module).
//
//   mean_along(x, a) sum_along(x, a) min_along(x, a) max_along(x, a) argmax_along(x, a)
//       reduce axis a: a tensor of shape [d0, ..., d(a), ..., dn] becomes [d0, ..., dn] without
//       d(a) (e.g. mean_along(relu > 0, 0): per unit, the share of the batch's samples in which it
//       is active; argmax_along(p, -1): the class index of each probability vector)
//   mean_per(x, a) sum_per(x, a) min_per(x, a) max_per(x, a)
//       keep only axis a: one value per index along it, over every other axis (e.g.
//       mean_per(images, 1): the mean of each channel of an NCHW batch)
// x is an elements expression (numbers or a mask, booleans counting 0/1); the result is an
// elements expression over the same tensors, to be reduced (fraction(mean_along(...) < t)),
// compared, or combined with an operand of the same shape. A negative axis counts from the last
// one (-1: the last axis). An axis outside the tensor's rank makes that tensor's value unknown,
// with a reason naming the tensor and its shape. Empty reductions: sum 0; mean, min, max and
// argmax NaN. min/max/argmax propagate NaN (argmax: the index of the first NaN, as numpy).
//
// Evaluation: the operand is evaluated once per tensor by its own Eigen loop into a double
// buffer, which is reduced in one pass (strided, no copy of the layout); the result exposes
// dims() (the elements protocol, select.hpp), so axis reductions compose: mean_along(mean_along
// (x, 0), 0).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <unsupported/Eigen/CXX11/Tensor>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

namespace detail {

/// Evaluates a bound elements evaluator into a double buffer (one Eigen pass over its elements).
template <class Ev>
void evaluate_into(Ev& e, std::vector<double>& out) {
  const dtype d = e.type();
  e.materialize(d);
  out.resize(static_cast<std::size_t>(e.size()));
  visit_element_type(d, [&](auto tag) {
    using T = decltype(tag);
    Eigen::TensorMap<Eigen::Tensor<double, 1, Eigen::RowMajor>> m(out.data(), static_cast<Eigen::Index>(out.size()));
    m = e.template expr<T>();
  });
}

inline std::string shape_text(const std::vector<std::uint64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

/// Common part of an elements evaluator that computes its values into a buffer at bind():
/// reports dtype float64 and exposes the buffer to the parent's Eigen loop.
class buffered_elements {
 public:
  [[nodiscard]] dtype type() const { return dtype::float64; }
  [[nodiscard]] std::uint64_t size() const { return out_.size(); }
  [[nodiscard]] std::vector<std::uint64_t> dims() const { return out_dims_; }
  void materialize(dtype) { window(0, out_.size()); }
  void window(std::uint64_t off, std::uint64_t n) {
    win_off_ = off;
    win_n_ = n;
  }
  template <class T>
  [[nodiscard]] auto expr() const {
    return flat_map<double>(out_.data() + win_off_, static_cast<Eigen::Index>(win_n_));
  }

 protected:
  std::uint64_t win_off_ = 0, win_n_ = 0;
  std::vector<double> in_, out_;
  std::vector<std::uint64_t> out_dims_;
};

}  // namespace detail

namespace axis_reducers {
struct mean { static constexpr std::string_view name = "mean"; };
struct sum { static constexpr std::string_view name = "sum"; };
struct min { static constexpr std::string_view name = "min"; };
struct max { static constexpr std::string_view name = "max"; };
struct argmax { static constexpr std::string_view name = "argmax"; };
}  // namespace axis_reducers

/// A reduction of axis `axis` of each tensor (Keep = false), or over every axis but it (Keep).
template <class R, bool Keep, class X>
class axis_node {
 public:
  static constexpr expr_kind kind = expr_kind::elements;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = X::stateful;
  static constexpr bool is_call = true;

  axis_node(X x, long axis) : x_(std::move(x)), axis_(axis) {}
  [[nodiscard]] std::string describe() const {
    return std::string(R::name) + (Keep ? "_per(" : "_along(") + x_.describe() + ", " + std::to_string(axis_) + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.stored.reset();
    x_.needs(r, inner);
  }

  class evaluator : public detail::buffered_elements {
   public:
    explicit evaluator(const axis_node& n) : x_(n.x_), axis_(n.axis_), text_(n.describe()) {}

    name_set names(const context& c) { return x_.names(c); }
    std::string bind(const context& c, const std::string& t) {
      if (auto why = x_.bind(c, t); !why.empty()) return why;
      const std::vector<std::uint64_t> dims = dims_of(x_);
      const long rank = static_cast<long>(dims.size());
      const long a = axis_ < 0 ? axis_ + rank : axis_;
      if (a < 0 || a >= rank) {
        x_.release();
        return "tensor '" + t + "' of shape " + detail::shape_text(dims) + " has no axis " + std::to_string(axis_) +
               " (" + text_ + ")";
      }
      detail::evaluate_into(x_, in_);
      x_.release();
      std::uint64_t outer = 1, inner = 1;
      for (long i = 0; i < a; ++i) outer *= dims[static_cast<std::size_t>(i)];
      for (long i = a + 1; i < rank; ++i) inner *= dims[static_cast<std::size_t>(i)];
      const std::uint64_t len = dims[static_cast<std::size_t>(a)];
      if constexpr (Keep) {
        out_dims_ = {len};
        out_.assign(len, 0.0);
        for (std::uint64_t j = 0; j < len; ++j) {
          acc ac;
          for (std::uint64_t o = 0; o < outer; ++o)
            for (std::uint64_t i = 0; i < inner; ++i) ac.add(in_[(o * len + j) * inner + i]);
          out_[j] = ac.result();
        }
      } else {
        out_dims_ = dims;
        out_dims_.erase(out_dims_.begin() + a);
        out_.assign(outer * inner, 0.0);
        for (std::uint64_t o = 0; o < outer; ++o)
          for (std::uint64_t i = 0; i < inner; ++i) {
            acc ac;
            for (std::uint64_t j = 0; j < len; ++j) ac.add(in_[(o * len + j) * inner + i]);
            out_[o * inner + i] = ac.result();
          }
      }
      return {};
    }
    void release() {
      in_.clear();
      out_.clear();
    }
    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return x_.state_size(); }

   private:
    /// The running reduction of one output element.
    struct acc {
      double v = std::is_same_v<R, axis_reducers::min>   ? std::numeric_limits<double>::infinity()
                 : std::is_same_v<R, axis_reducers::max> ? -std::numeric_limits<double>::infinity()
                                                         : 0.0;
      double best = 0;  // argmax: the largest value so far
      std::uint64_t n = 0;
      bool nan = false;
      void add(double x) {
        if constexpr (std::is_same_v<R, axis_reducers::argmax>) {
          if (!nan && (std::isnan(x) || n == 0 || x > best)) {
            best = x;
            v = static_cast<double>(n);
            nan = std::isnan(x);
          }
        } else if constexpr (std::is_same_v<R, axis_reducers::min> || std::is_same_v<R, axis_reducers::max>) {
          if (std::isnan(x)) nan = true;
          v = std::is_same_v<R, axis_reducers::min> ? (x < v ? x : v) : (x > v ? x : v);
        } else {
          v += x;
        }
        ++n;
      }
      [[nodiscard]] double result() const {
        if constexpr (std::is_same_v<R, axis_reducers::sum>) return v;
        if (n == 0) return std::numeric_limits<double>::quiet_NaN();
        if constexpr (std::is_same_v<R, axis_reducers::mean>) return v / static_cast<double>(n);
        if constexpr (std::is_same_v<R, axis_reducers::min> || std::is_same_v<R, axis_reducers::max>)
          return nan ? std::numeric_limits<double>::quiet_NaN() : v;
        return v;
      }
    };

    typename X::evaluator x_;
    long axis_;
    std::string text_;
  };

 private:
  X x_;
  long axis_;
};

namespace detail {
template <class R, bool Keep, class X>
[[nodiscard]] auto make_axis(X x, double axis) {
  static_assert(is_node_v<X> && kind_of<X> == expr_kind::elements,
                "tdbg::rules: *_along / *_per reduce an axis of element-wise tensor values (a selection, a mask "
                "such as relu > 0, or arithmetic on one)");
  if (axis != std::floor(axis) || std::fabs(axis) > 64)
    throw usage_error(std::string(R::name) + (Keep ? "_per" : "_along") + ": the axis must be a whole number, got " +
                      format_number(axis));
  return axis_node<R, Keep, X>(std::move(x), static_cast<long>(axis));
}
}  // namespace detail

/// Mean over axis `axis` (negative: from the last).
template <class X> [[nodiscard]] auto mean_along(X x, double axis) { return detail::make_axis<axis_reducers::mean, false>(std::move(x), axis); }
/// Sum over axis `axis`.
template <class X> [[nodiscard]] auto sum_along(X x, double axis) { return detail::make_axis<axis_reducers::sum, false>(std::move(x), axis); }
/// Minimum over axis `axis`.
template <class X> [[nodiscard]] auto min_along(X x, double axis) { return detail::make_axis<axis_reducers::min, false>(std::move(x), axis); }
/// Maximum over axis `axis`.
template <class X> [[nodiscard]] auto max_along(X x, double axis) { return detail::make_axis<axis_reducers::max, false>(std::move(x), axis); }
/// Index of the largest value along axis `axis` (first one on ties; first NaN).
template <class X> [[nodiscard]] auto argmax_along(X x, double axis) { return detail::make_axis<axis_reducers::argmax, false>(std::move(x), axis); }
/// One mean per index of axis `axis`, over every other axis.
template <class X> [[nodiscard]] auto mean_per(X x, double axis) { return detail::make_axis<axis_reducers::mean, true>(std::move(x), axis); }
/// One sum per index of axis `axis`.
template <class X> [[nodiscard]] auto sum_per(X x, double axis) { return detail::make_axis<axis_reducers::sum, true>(std::move(x), axis); }
/// One minimum per index of axis `axis`.
template <class X> [[nodiscard]] auto min_per(X x, double axis) { return detail::make_axis<axis_reducers::min, true>(std::move(x), axis); }
/// One maximum per index of axis `axis`.
template <class X> [[nodiscard]] auto max_per(X x, double axis) { return detail::make_axis<axis_reducers::max, true>(std::move(x), axis); }

}  // namespace tdbg::rules
