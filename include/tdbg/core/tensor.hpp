// tdbg/core/tensor.hpp — shapes, non-owning tensor views and owning tensors.
// Layer: core. `tensor_ref` is what the hook accepts (any contiguous C-order buffer + shape);
// `tensor` is what the trial returns (owns its bytes; core/eigen.hpp maps it as an Eigen view).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdbg/core/dtype.hpp"
#include "tdbg/core/error.hpp"

namespace tdbg {

/// Extents of a tensor, outermost first (C order). Empty = 0-d (a scalar).
using shape_t = std::vector<std::int64_t>;

/// Number of elements of a shape. Throws format_error on a negative extent or on overflow,
/// so shapes read from untrusted files can never cause a huge allocation by wrap-around.
[[nodiscard]] inline std::uint64_t element_count(std::span<const std::int64_t> shape) {
  std::uint64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw format_error("negative tensor extent " + std::to_string(d));
    const auto ud = static_cast<std::uint64_t>(d);
    if (ud != 0 && n > std::numeric_limits<std::uint64_t>::max() / ud)
      throw format_error("tensor shape overflows 64 bits");
    n *= ud;
  }
  return n;
}

/// "[32, 20]"
[[nodiscard]] inline std::string shape_string(std::span<const std::int64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

/// A non-owning view of a tensor: dtype, shape and either raw C-order little-endian element
/// bytes (numeric dtypes) or strings (dtype::string). The viewed memory must outlive the view.
struct tensor_ref {
  tdbg::dtype dtype = tdbg::dtype::float32;
  std::span<const std::int64_t> shape;
  std::span<const std::byte> bytes;        ///< numeric dtypes: element_count * dtype_size bytes
  std::span<const std::string> strings;    ///< dtype::string: element_count strings

  /// Throws usage_error when the buffer size does not match the shape.
  void validate(std::string_view name) const {
    const std::uint64_t n = element_count(shape);
    if (dtype == tdbg::dtype::string) {
      if (strings.size() != n)
        throw usage_error("tensor '" + std::string(name) + "': shape " + shape_string(shape) +
                          " needs " + std::to_string(n) + " strings, got " +
                          std::to_string(strings.size()));
    } else if (bytes.size() != n * dtype_size(dtype)) {
      throw usage_error("tensor '" + std::string(name) + "': shape " + shape_string(shape) +
                        " of " + std::string(dtype_name(dtype)) + " needs " +
                        std::to_string(n * dtype_size(dtype)) + " bytes, got " +
                        std::to_string(bytes.size()));
    }
  }
};

/// A view of `data` (a contiguous C-order buffer of numeric elements) with the given shape.
template <numeric_element T>
[[nodiscard]] tensor_ref make_tensor_ref(std::span<const T> data,
                                         std::span<const std::int64_t> shape) {
  return tensor_ref{dtype_of<std::remove_cv_t<T>>::value, shape, std::as_bytes(data), {}};
}

/// A view of strings with the given shape.
[[nodiscard]] inline tensor_ref make_tensor_ref(std::span<const std::string> data,
                                                std::span<const std::int64_t> shape) {
  return tensor_ref{dtype::string, shape, {}, data};
}

namespace detail {

/// Bytes aligned for any element type. Unlike std::vector it does not zero what it is about to
/// overwrite: a tensor copy is exactly one pass over the data (the hook's hot path).
class aligned_buffer {
 public:
  aligned_buffer() = default;
  explicit aligned_buffer(std::span<const std::byte> bytes) { assign(bytes); }
  aligned_buffer(const aligned_buffer& o) : aligned_buffer(std::span<const std::byte>(o.data(), o.size_)) {}
  aligned_buffer& operator=(const aligned_buffer& o) {
    if (this != &o) assign({o.data(), o.size_});
    return *this;
  }
  aligned_buffer(aligned_buffer&& o) noexcept
      : data_(std::move(o.data_)), size_(std::exchange(o.size_, 0)), capacity_(std::exchange(o.capacity_, 0)) {}
  aligned_buffer& operator=(aligned_buffer&& o) noexcept {
    data_ = std::move(o.data_);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
  }
  ~aligned_buffer() = default;

  /// Copies `bytes` in, reusing the current allocation when it is large enough.
  void assign(std::span<const std::byte> bytes) {
    if (bytes.size() > capacity_) {
      const std::size_t units = (bytes.size() + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
      data_ = std::make_unique_for_overwrite<std::max_align_t[]>(units);
      capacity_ = units * sizeof(std::max_align_t);
    }
    size_ = bytes.size();
    if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
  }

  [[nodiscard]] const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(data_.get()); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::unique_ptr<std::max_align_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace detail

/// An owning tensor: what the trial returns for a value. Numeric data is kept as C-order
/// little-endian bytes in a buffer aligned for any element type; strings as std::string.
class tensor {
 public:
  tensor() = default;

  /// A numeric tensor from raw bytes (copied). Throws format_error on a size mismatch.
  tensor(tdbg::dtype t, shape_t shape, std::span<const std::byte> bytes)
      : dtype_(t), shape_(std::move(shape)) {
    if (t == tdbg::dtype::string) throw usage_error("string tensors are built from strings");
    const std::uint64_t n = element_count(shape_);
    if (bytes.size() != n * dtype_size(t))
      throw format_error("tensor content of " + std::to_string(bytes.size()) +
                         " bytes does not match shape " + shape_string(shape_) + " of " +
                         std::string(dtype_name(t)));
    store_ = detail::aligned_buffer(bytes);
    size_ = bytes.size();
  }

  /// A numeric tensor from raw bytes copied into `storage` (reused when large enough: the hook
  /// recycles the buffers of tensors already written, so saving does not touch fresh pages).
  tensor(tdbg::dtype t, shape_t shape, std::span<const std::byte> bytes, detail::aligned_buffer&& storage)
      : dtype_(t), shape_(std::move(shape)), store_(std::move(storage)) {
    if (t == tdbg::dtype::string) throw usage_error("string tensors are built from strings");
    if (bytes.size() != element_count(shape_) * dtype_size(t))
      throw format_error("tensor content of " + std::to_string(bytes.size()) +
                         " bytes does not match shape " + shape_string(shape_) + " of " +
                         std::string(dtype_name(t)));
    store_.assign(bytes);
    size_ = bytes.size();
  }

  /// Gives up the element storage (for reuse); the tensor is left empty.
  [[nodiscard]] detail::aligned_buffer take_storage() && noexcept {
    size_ = 0;
    shape_ = {0};  // keeps the invariant: an empty tensor of its dtype
    return std::move(store_);
  }

  /// A string tensor.
  tensor(shape_t shape, std::vector<std::string> strings)
      : dtype_(tdbg::dtype::string), shape_(std::move(shape)), strings_(std::move(strings)) {
    if (element_count(shape_) != strings_.size())
      throw format_error("string tensor has " + std::to_string(strings_.size()) +
                         " strings but shape " + shape_string(shape_));
  }

  /// A tensor copied from a view.
  explicit tensor(const tensor_ref& r)
      : tensor(r.dtype == tdbg::dtype::string
                   ? tensor(shape_t(r.shape.begin(), r.shape.end()),
                            std::vector<std::string>(r.strings.begin(), r.strings.end()))
                   : tensor(r.dtype, shape_t(r.shape.begin(), r.shape.end()), r.bytes)) {}

  /// A 0-d tensor holding one value.
  template <numeric_element T>
  static tensor scalar(T v) {
    return tensor(dtype_of<T>::value, {}, std::as_bytes(std::span<const T>(&v, 1)));
  }

  [[nodiscard]] tdbg::dtype dtype() const noexcept { return dtype_; }
  [[nodiscard]] const shape_t& shape() const noexcept { return shape_; }
  [[nodiscard]] std::size_t rank() const noexcept { return shape_.size(); }
  [[nodiscard]] std::uint64_t size() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape_) n *= static_cast<std::uint64_t>(d);
    return n;
  }

  /// The raw element bytes (empty for strings).
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return {store_.data(), size_};
  }
  [[nodiscard]] const std::vector<std::string>& strings() const noexcept { return strings_; }

  /// The elements as T. Throws usage_error if T is not the element type of the dtype.
  template <numeric_element T>
  [[nodiscard]] std::span<const T> values() const {
    if (dtype_of<T>::value != dtype_)
      throw usage_error("tensor of dtype " + std::string(dtype_name(dtype_)) +
                        " read as " + std::string(dtype_name(dtype_of<T>::value)));
    return {reinterpret_cast<const T*>(store_.data()), size_ / sizeof(T)};
  }

  /// Element i converted to double (numeric dtypes only).
  [[nodiscard]] double as_double(std::size_t i) const {
    if (dtype_ == tdbg::dtype::string) throw usage_error("string tensor has no numeric value");
    return visit_numeric(dtype_, [&](auto tag) {
      using T = decltype(tag);
      T v;
      std::memcpy(&v, bytes().data() + i * sizeof(T), sizeof(T));
      return to_double(v);
    });
  }

  /// A view of this tensor.
  [[nodiscard]] tensor_ref ref() const noexcept {
    return tensor_ref{dtype_, shape_, bytes(), strings_};
  }

  friend bool operator==(const tensor& a, const tensor& b) {
    if (a.dtype_ != b.dtype_ || a.shape_ != b.shape_ || a.strings_ != b.strings_) return false;
    const auto x = a.bytes(), y = b.bytes();
    return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size()) == 0);
  }

 private:
  tdbg::dtype dtype_ = tdbg::dtype::float32;
  shape_t shape_;
  detail::aligned_buffer store_;  // the element bytes, aligned for any element type
  std::size_t size_ = 0;
  std::vector<std::string> strings_;
};

}  // namespace tdbg
