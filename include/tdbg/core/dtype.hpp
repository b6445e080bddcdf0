// tdbg/core/dtype.hpp — element types of saved tensors and their on-disk codes.
// Layer: core. The codes are TensorFlow's DataType enum as smdebug writes it (spec §3).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>

namespace tdbg {

/// Element type of a tensor. `string` tensors hold UTF-8 strings, one per element.
enum class dtype : std::uint8_t {
  float16, float32, float64,
  int8, int16, int32, int64,
  uint8, uint16, uint32, uint64,
  boolean, string,
};

inline constexpr dtype all_dtypes[] = {dtype::float16, dtype::float32, dtype::float64,
                                       dtype::int8,    dtype::int16,   dtype::int32,
                                       dtype::int64,   dtype::uint8,   dtype::uint16,
                                       dtype::uint32,  dtype::uint64,  dtype::boolean,
                                       dtype::string};

/// numpy-style name: "float32", "int64", "bool", "string" ...
[[nodiscard]] constexpr std::string_view dtype_name(dtype t) noexcept {
  switch (t) {
    case dtype::float16: return "float16";
    case dtype::float32: return "float32";
    case dtype::float64: return "float64";
    case dtype::int8: return "int8";
    case dtype::int16: return "int16";
    case dtype::int32: return "int32";
    case dtype::int64: return "int64";
    case dtype::uint8: return "uint8";
    case dtype::uint16: return "uint16";
    case dtype::uint32: return "uint32";
    case dtype::uint64: return "uint64";
    case dtype::boolean: return "bool";
    case dtype::string: return "string";
  }
  return "?";
}

/// Inverse of dtype_name (also accepts "boolean", "str", "half", "float", "double").
[[nodiscard]] constexpr std::optional<dtype> parse_dtype(std::string_view s) noexcept {
  for (dtype t : all_dtypes)
    if (dtype_name(t) == s) return t;
  if (s == "boolean") return dtype::boolean;
  if (s == "str") return dtype::string;
  if (s == "half") return dtype::float16;
  if (s == "float") return dtype::float32;
  if (s == "double") return dtype::float64;
  return std::nullopt;
}

/// Bytes per element; 0 for strings (variable length).
[[nodiscard]] constexpr std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
    case dtype::int8: case dtype::uint8: case dtype::boolean: return 1;
    case dtype::float16: case dtype::int16: case dtype::uint16: return 2;
    case dtype::float32: case dtype::int32: case dtype::uint32: return 4;
    case dtype::float64: case dtype::int64: case dtype::uint64: return 8;
    case dtype::string: return 0;
  }
  return 0;
}

[[nodiscard]] constexpr bool is_floating(dtype t) noexcept {
  return t == dtype::float16 || t == dtype::float32 || t == dtype::float64;
}
[[nodiscard]] constexpr bool is_numeric(dtype t) noexcept { return t != dtype::string; }

/// TensorFlow DataType codes (types.proto) used on disk.
namespace tf_code {
inline constexpr int invalid = 0, float32 = 1, float64 = 2, int32 = 3, uint8 = 4, int16 = 5,
                     int8 = 6, string = 7, complex64 = 8, int64 = 9, boolean = 10,
                     bfloat16 = 14, uint16 = 17, complex128 = 18, float16 = 19, uint32 = 22,
                     uint64 = 23;
}

/// The TensorFlow DataType code of a dtype (strings: 0, which smdebug omits on the wire).
[[nodiscard]] constexpr int to_tf_code(dtype t) noexcept {
  switch (t) {
    case dtype::float16: return tf_code::float16;
    case dtype::float32: return tf_code::float32;
    case dtype::float64: return tf_code::float64;
    case dtype::int8: return tf_code::int8;
    case dtype::int16: return tf_code::int16;
    case dtype::int32: return tf_code::int32;
    case dtype::int64: return tf_code::int64;
    case dtype::uint8: return tf_code::uint8;
    case dtype::uint16: return tf_code::uint16;
    case dtype::uint32: return tf_code::uint32;
    case dtype::uint64: return tf_code::uint64;
    case dtype::boolean: return tf_code::boolean;
    case dtype::string: return tf_code::invalid;
  }
  return tf_code::invalid;
}

/// The dtype of a TensorFlow DataType code, nullopt for codes tdbg does not read
/// (complex, bfloat16, quantized, resource, variant ...). Reference codes (+100) map like
/// their base type. Code 7 (DT_STRING) is a string tensor. Code 0 is handled by the decoder
/// (it means "string" only when string_val is present).
/// Note: smdebug's reader maps DT_INT8 to uint8 (spec §13.6, a bug); tdbg reads int8 as int8.
[[nodiscard]] constexpr std::optional<dtype> from_tf_code(std::int64_t code) noexcept {
  if (code > 100 && code < 200) code -= 100;
  switch (code) {
    case tf_code::float16: return dtype::float16;
    case tf_code::float32: return dtype::float32;
    case tf_code::float64: return dtype::float64;
    case tf_code::int8: return dtype::int8;
    case tf_code::int16: return dtype::int16;
    case tf_code::int32: return dtype::int32;
    case tf_code::int64: return dtype::int64;
    case tf_code::uint8: return dtype::uint8;
    case tf_code::uint16: return dtype::uint16;
    case tf_code::uint32: return dtype::uint32;
    case tf_code::uint64: return dtype::uint64;
    case tf_code::boolean: return dtype::boolean;
    case tf_code::string: return dtype::string;
    default: return std::nullopt;
  }
}

/// A readable name for any TensorFlow code, for error messages.
[[nodiscard]] constexpr std::string_view tf_code_name(std::int64_t code) noexcept {
  switch (code) {
    case 8: return "complex64";
    case 18: return "complex128";
    case 14: return "bfloat16";
    case 11: return "qint8";
    case 12: return "quint8";
    case 13: return "qint32";
    case 15: return "qint16";
    case 16: return "quint16";
    case 20: return "resource";
    case 21: return "variant";
    case 24: return "float8_e5m2";
    case 25: return "float8_e4m3fn";
    default: break;
  }
  if (auto t = from_tf_code(code)) return dtype_name(*t);
  return "unknown";
}

/// IEEE 754 binary16, stored as its bit pattern. Arithmetic goes through float.
struct float16_t {
  std::uint16_t bits = 0;
};

/// binary16 → binary32, exact (subnormals, infinities and NaN included).
[[nodiscard]] constexpr float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      std::uint32_t e = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --e;
      }
      mant &= 0x3ffu;
      bits = sign | (e << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

/// binary32 → binary16 with round-to-nearest-even (overflow gives ±inf, NaN stays NaN).
[[nodiscard]] constexpr std::uint16_t float_to_half(float f) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t exp = (x >> 23) & 0xffu;
  std::uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return static_cast<std::uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 0x1f) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<std::uint16_t>(sign);
    mant |= 0x800000u;
    const int shift = 14 - e;
    std::uint32_t half_mant = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
    return static_cast<std::uint16_t>(sign | half_mant);
  }
  std::uint32_t h = sign | (static_cast<std::uint32_t>(e) << 10) | (mant >> 13);
  const std::uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: ok
  return static_cast<std::uint16_t>(h);
}

/// The C++ element type stored for a dtype (float16 → float16_t, bool → bool).
template <dtype D> struct dtype_traits;
#define TDBG_DTYPE_TRAITS(D, T)   \
  template <> struct dtype_traits<dtype::D> { using type = T; }
TDBG_DTYPE_TRAITS(float16, float16_t);
TDBG_DTYPE_TRAITS(float32, float);
TDBG_DTYPE_TRAITS(float64, double);
TDBG_DTYPE_TRAITS(int8, std::int8_t);
TDBG_DTYPE_TRAITS(int16, std::int16_t);
TDBG_DTYPE_TRAITS(int32, std::int32_t);
TDBG_DTYPE_TRAITS(int64, std::int64_t);
TDBG_DTYPE_TRAITS(uint8, std::uint8_t);
TDBG_DTYPE_TRAITS(uint16, std::uint16_t);
TDBG_DTYPE_TRAITS(uint32, std::uint32_t);
TDBG_DTYPE_TRAITS(uint64, std::uint64_t);
TDBG_DTYPE_TRAITS(boolean, bool);
#undef TDBG_DTYPE_TRAITS

/// The dtype of a C++ element type, for `hook.save(name, span<const T>)`.
template <class T> struct dtype_of;
#define TDBG_DTYPE_OF(T, D) \
  template <> struct dtype_of<T> { static constexpr dtype value = dtype::D; }
TDBG_DTYPE_OF(float16_t, float16);
TDBG_DTYPE_OF(float, float32);
TDBG_DTYPE_OF(double, float64);
TDBG_DTYPE_OF(std::int8_t, int8);
TDBG_DTYPE_OF(std::int16_t, int16);
TDBG_DTYPE_OF(std::int32_t, int32);
TDBG_DTYPE_OF(std::int64_t, int64);
TDBG_DTYPE_OF(std::uint8_t, uint8);
TDBG_DTYPE_OF(std::uint16_t, uint16);
TDBG_DTYPE_OF(std::uint32_t, uint32);
TDBG_DTYPE_OF(std::uint64_t, uint64);
TDBG_DTYPE_OF(bool, boolean);
#undef TDBG_DTYPE_OF
// `long long` is a distinct type from int64_t (`long`) on LP64 Linux.
template <> struct dtype_of<long long> {
  static constexpr dtype value = sizeof(long long) == 8 ? dtype::int64 : dtype::int32;
};
template <> struct dtype_of<unsigned long long> {
  static constexpr dtype value = sizeof(unsigned long long) == 8 ? dtype::uint64 : dtype::uint32;
};

template <class T>
concept numeric_element = requires { dtype_of<std::remove_cv_t<T>>::value; };

/// Calls `f(T{})` with the C++ element type of a numeric dtype: dtype dispatch done once per
/// tensor, never per element. Strings are not dispatched (caller handles them).
template <class F>
decltype(auto) visit_numeric(dtype t, F&& f) {
  switch (t) {
    case dtype::float16: return f(float16_t{});
    case dtype::float32: return f(float{});
    case dtype::float64: return f(double{});
    case dtype::int8: return f(std::int8_t{});
    case dtype::int16: return f(std::int16_t{});
    case dtype::int32: return f(std::int32_t{});
    case dtype::int64: return f(std::int64_t{});
    case dtype::uint8: return f(std::uint8_t{});
    case dtype::uint16: return f(std::uint16_t{});
    case dtype::uint32: return f(std::uint32_t{});
    case dtype::uint64: return f(std::uint64_t{});
    case dtype::boolean: return f(bool{});
    case dtype::string: break;
  }
  return f(std::uint8_t{});  // unreachable for numeric dtypes; keeps the return type single
}

/// An element converted to double (float16 through half_to_float, bool as 0/1).
template <class T>
[[nodiscard]] constexpr double to_double(T v) noexcept {
  if constexpr (std::is_same_v<T, float16_t>)
    return static_cast<double>(half_to_float(v.bits));
  else
    return static_cast<double>(v);
}

}  // namespace tdbg
