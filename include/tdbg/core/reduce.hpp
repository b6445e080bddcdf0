// tdbg/core/reduce.hpp — computing a reduction over a tensor view.
// Layer: core. Used by the hook (reductions it stores) and the trial (reductions computed on
// read when none was stored). One dtype dispatch per tensor; the loops are per element type.
//
// Contract (the same for stored and computed reductions, so a rule sees one meaning):
//  * std / variance are the *sample* estimators (N−1), like torch's defaults that smdebug's
//    PyTorch hook stores. (smdebug's reader computes population values with numpy when nothing
//    is stored — spec §8 — which disagrees with its own stored values; tdbg does not copy that.)
//  * l1 / l2 are vector norms over all elements, whatever the rank (smdebug's reader computes
//    matrix norms for 2-D and fails for 0-d and >2-D tensors; tdbg does not copy that).
//  * abs applies |x| first. Accumulation is in double.
//  * Empty tensors: sum 0, prod 1, norms 0; min, max, mean, std, variance NaN.
//    One element: std and variance NaN (N−1 = 0), as torch.
#pragma once

#include <cmath>
#include <cstring>
#include <limits>

#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"

namespace tdbg {

namespace detail {
template <class T>
[[nodiscard]] double reduce_typed(const T* p, std::size_t n, reduction r) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto at = [&](std::size_t i) {
    T v;
    std::memcpy(&v, p + i, sizeof(T));  // the buffer may be unaligned (a record in a file)
    double d = to_double(v);
    return r.abs ? std::fabs(d) : d;
  };
  switch (r.op) {
    case reduction_op::min:
    case reduction_op::max: {
      if (n == 0) return nan;
      double m = at(0);
      if (std::isnan(m)) return nan;  // fmin/fmax below would drop a leading NaN
      for (std::size_t i = 1; i < n; ++i) {
        const double x = at(i);
        if (std::isnan(x)) return nan;  // NaN propagates, as in torch/numpy
        m = (r.op == reduction_op::min) ? std::fmin(m, x) : std::fmax(m, x);
      }
      return m;
    }
    case reduction_op::sum: {
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) s += at(i);
      return s;
    }
    case reduction_op::prod: {
      double s = 1;
      for (std::size_t i = 0; i < n; ++i) s *= at(i);
      return s;
    }
    case reduction_op::mean: {
      if (n == 0) return nan;
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) s += at(i);
      return s / static_cast<double>(n);
    }
    case reduction_op::std:
    case reduction_op::variance: {
      if (n < 2) return nan;
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) s += at(i);
      const double mean = s / static_cast<double>(n);
      double ss = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double d = at(i) - mean;
        ss += d * d;
      }
      const double var = ss / static_cast<double>(n - 1);
      return r.op == reduction_op::std ? std::sqrt(var) : var;
    }
    case reduction_op::l1: {
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) s += std::fabs(at(i));
      return s;
    }
    case reduction_op::l2: {
      double s = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double x = at(i);
        s += x * x;
      }
      return std::sqrt(s);
    }
  }
  return nan;
}
}  // namespace detail

/// The reduction `r` of a numeric tensor view, in double. Throws usage_error for strings.
[[nodiscard]] inline double compute_reduction(const tensor_ref& t, reduction r) {
  if (t.dtype == dtype::string)
    throw usage_error("reduction " + reduction_name(r) + " of a string tensor");
  return visit_numeric(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    return detail::reduce_typed(reinterpret_cast<const T*>(t.bytes.data()),
                                t.bytes.size() / sizeof(T), r);
  });
}

/// The dtype a reduction of a tensor of dtype `t` is stored with: floating dtypes keep theirs
/// (smdebug stores a float32 0-d tensor for a float32 tensor); other dtypes give float64.
[[nodiscard]] constexpr dtype reduction_dtype(dtype t) noexcept {
  return is_floating(t) ? t : dtype::float64;
}

/// The reduction as a 0-d tensor of reduction_dtype(t.dtype).
[[nodiscard]] inline tensor reduction_tensor(const tensor_ref& t, reduction r) {
  const double v = compute_reduction(t, r);
  switch (reduction_dtype(t.dtype)) {
    case dtype::float16: return tensor::scalar(float16_t{float_to_half(static_cast<float>(v))});
    case dtype::float32: return tensor::scalar(static_cast<float>(v));
    default: return tensor::scalar(v);
  }
}

}  // namespace tdbg
