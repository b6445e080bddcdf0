// tdbg/core/eigen.hpp — Eigen views of tdbg tensors.
// Layer: core, the only core header that includes Eigen (unsupported Tensor module).
// Views are non-owning `Eigen::TensorMap<const Tensor<T, Rank, RowMajor>>` over the tensor's
// bytes: no copy. Data on disk is C order, hence RowMajor.
#pragma once

#include <unsupported/Eigen/CXX11/Tensor>

#include <array>
#include <string>

#include "tdbg/core/tensor.hpp"

namespace tdbg {

/// A rank-`Rank` view of `t` as elements of type T (the dtype's element type).
/// Throws usage_error on a dtype or rank mismatch.
template <numeric_element T, int Rank>
[[nodiscard]] Eigen::TensorMap<Eigen::Tensor<const T, Rank, Eigen::RowMajor>> eigen_map(
    const tensor& t) {
  if (static_cast<int>(t.rank()) != Rank)
    throw usage_error("tensor of rank " + std::to_string(t.rank()) + " viewed with rank " +
                      std::to_string(Rank));
  const auto v = t.values<T>();
  std::array<Eigen::Index, Rank> dims{};
  for (int i = 0; i < Rank; ++i) dims[static_cast<std::size_t>(i)] = t.shape()[static_cast<std::size_t>(i)];
  return Eigen::TensorMap<Eigen::Tensor<const T, Rank, Eigen::RowMajor>>(v.data(), dims);
}

/// A rank-1 view of all elements of `t` (any rank), in C order.
template <numeric_element T>
[[nodiscard]] Eigen::TensorMap<Eigen::Tensor<const T, 1, Eigen::RowMajor>> eigen_flat(
    const tensor& t) {
  const auto v = t.values<T>();
  return Eigen::TensorMap<Eigen::Tensor<const T, 1, Eigen::RowMajor>>(
      v.data(), static_cast<Eigen::Index>(v.size()));
}

}  // namespace tdbg
