// tdbg/hook/eigen.hpp — hook.save(name, x) for Eigen::Tensor, Eigen::TensorMap and Eigen::Matrix.
// Layer: hook; the only hook header that includes Eigen.
//
// Trials store tensors in C order (row-major). Eigen's default layout is column-major, so:
//  * RowMajor tensors/matrices, vectors and 0-d tensors are saved as they are (one copy, the
//    hook's usual one);
//  * ColMajor tensors/matrices are converted to C order first (an extra transposing copy): the
//    saved tensor has the same shape and the same element (i, j, ...) as the Eigen object, i.e.
//    `m(i, j)` is element [i, j] of the saved tensor whatever the layout.
// Element types: those of tdbg::dtype_of (float, double, int*, uint*, bool, float16_t) and
// std::string (string tensors).
#pragma once

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "tdbg/hook/hook.hpp"

namespace tdbg {

namespace detail {

/// Saves `n` elements at `data`, laid out column-major when `col_major`, as a C-order tensor.
template <class T>
void save_eigen(hook& h, std::string_view name, const T* data, const shape_t& shape, bool col_major) {
  const std::size_t n = static_cast<std::size_t>(element_count(shape));
  const std::size_t rank = shape.size();
  // Skip the conversion for a tensor nobody saves (save() still reports misuse outside a step).
  if ((col_major && rank >= 2) || std::is_same_v<T, std::string>)
    if (h.in_step() && !h.will_save(name)) return;
  // offset in the column-major buffer of the element at C-order position `c`
  auto source = [&](std::size_t c) {
    if (!col_major || rank < 2) return c;
    std::size_t off = 0, stride = 1;
    std::vector<std::size_t> idx(rank);
    for (std::size_t k = rank; k-- > 0;) {
      const auto d = static_cast<std::size_t>(shape[k]);
      idx[k] = c % d;
      c /= d;
    }
    for (std::size_t k = 0; k < rank; ++k) {
      off += idx[k] * stride;
      stride *= static_cast<std::size_t>(shape[k]);
    }
    return off;
  };
  if constexpr (std::is_same_v<T, std::string>) {
    std::vector<std::string> out(n);
    for (std::size_t c = 0; c < n; ++c) out[c] = data[source(c)];
    h.save(name, tensor(shape, std::move(out)));
  } else {
    if (!col_major || rank < 2) {
      h.save(name, make_tensor_ref(std::span<const T>(data, n), shape));
      return;
    }
    std::vector<std::byte> out(n * sizeof(T));
    for (std::size_t c = 0; c < n; ++c) std::memcpy(out.data() + c * sizeof(T), data + source(c), sizeof(T));
    h.save(name, tensor(dtype_of<T>::value, shape, out));
  }
}

template <class T>
concept eigen_element = numeric_element<T> || std::is_same_v<T, std::string>;

template <class Dims>
shape_t eigen_shape(const Dims& dims, std::size_t rank) {
  shape_t s(rank);
  for (std::size_t i = 0; i < rank; ++i) s[i] = static_cast<std::int64_t>(dims[static_cast<Eigen::Index>(i)]);
  return s;
}

}  // namespace detail

/// Eigen::Tensor of any rank and layout.
template <class T, int Rank, int Options, class Index>
  requires detail::eigen_element<T>
struct save_adapter<Eigen::Tensor<T, Rank, Options, Index>> {
  static void save(hook& h, std::string_view name, const Eigen::Tensor<T, Rank, Options, Index>& t) {
    detail::save_eigen(h, name, t.data(), detail::eigen_shape(t.dimensions(), Rank),
                       (Options & Eigen::RowMajor) == 0);
  }
};

/// Eigen::TensorMap over a Tensor of any rank and layout (const or not).
template <class T, int Rank, int Options, class Index, int MapOptions>
  requires detail::eigen_element<std::remove_const_t<T>>
struct save_adapter<Eigen::TensorMap<Eigen::Tensor<T, Rank, Options, Index>, MapOptions>> {
  static void save(hook& h, std::string_view name,
                   const Eigen::TensorMap<Eigen::Tensor<T, Rank, Options, Index>, MapOptions>& t) {
    detail::save_eigen<std::remove_const_t<T>>(h, name, t.data(), detail::eigen_shape(t.dimensions(), Rank),
                                               (Options & Eigen::RowMajor) == 0);
  }
};

/// Eigen::Matrix: shape [rows, cols]; a compile-time vector (one row or one column) has shape [size].
template <class T, int Rows, int Cols, int Options, int MaxRows, int MaxCols>
  requires detail::eigen_element<T>
struct save_adapter<Eigen::Matrix<T, Rows, Cols, Options, MaxRows, MaxCols>> {
  static void save(hook& h, std::string_view name,
                   const Eigen::Matrix<T, Rows, Cols, Options, MaxRows, MaxCols>& m) {
    if constexpr (Rows == 1 || Cols == 1) {
      detail::save_eigen(h, name, m.data(), shape_t{static_cast<std::int64_t>(m.size())}, false);
    } else {
      detail::save_eigen(h, name, m.data(),
                         shape_t{static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())},
                         (Options & Eigen::RowMajor) == 0);
    }
  }
};

}  // namespace tdbg
