// Tests of tdbg/core/dtype.hpp: names, sizes, TensorFlow codes, and the binary16 conversions
// (checked exhaustively over all 65536 half values and against a nearest-value property).
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>

#include "tdbg/core/dtype.hpp"

using tdbg::dtype;

TEST_CASE("dtype names parse back and sizes match the C++ element types", "[core][dtype]") {
  std::set<std::string_view> names;
  for (dtype t : tdbg::all_dtypes) {
    names.insert(tdbg::dtype_name(t));
    REQUIRE(tdbg::parse_dtype(tdbg::dtype_name(t)) == t);
    if (t == dtype::string) {
      CHECK(tdbg::dtype_size(t) == 0);
      CHECK_FALSE(tdbg::is_numeric(t));
      continue;
    }
    const std::size_t size = tdbg::visit_numeric(t, [](auto v) { return sizeof(v); });
    CHECK(tdbg::dtype_size(t) == size);
    const dtype back = tdbg::visit_numeric(t, [](auto v) { return tdbg::dtype_of<decltype(v)>::value; });
    CHECK(back == t);
  }
  CHECK(names.size() == std::size(tdbg::all_dtypes));
  CHECK(tdbg::dtype_name(dtype::boolean) == "bool");
  CHECK(tdbg::parse_dtype("half") == dtype::float16);
  CHECK(tdbg::parse_dtype("double") == dtype::float64);
  CHECK_FALSE(tdbg::parse_dtype("complex64").has_value());
  CHECK(tdbg::is_floating(dtype::float16));
  CHECK_FALSE(tdbg::is_floating(dtype::int64));
}

TEST_CASE("TensorFlow DataType codes follow types.proto", "[core][dtype]") {
  // The numbers of TensorFlow's types.proto (spec §3), written out independently here.
  const std::pair<dtype, int> expected[] = {
      {dtype::float32, 1}, {dtype::float64, 2}, {dtype::int32, 3},   {dtype::uint8, 4},
      {dtype::int16, 5},   {dtype::int8, 6},    {dtype::int64, 9},   {dtype::boolean, 10},
      {dtype::uint16, 17}, {dtype::float16, 19}, {dtype::uint32, 22}, {dtype::uint64, 23}};
  for (auto [t, code] : expected) {
    CAPTURE(tdbg::dtype_name(t), code);
    CHECK(tdbg::to_tf_code(t) == code);
    CHECK(tdbg::from_tf_code(code) == t);
    CHECK(tdbg::from_tf_code(code + 100) == t);  // *_REF types
    CHECK(tdbg::tf_code_name(code) == tdbg::dtype_name(t));
  }
  CHECK(tdbg::to_tf_code(dtype::string) == 0);
  CHECK(tdbg::from_tf_code(7) == dtype::string);
  for (int unsupported : {0, 8, 11, 12, 13, 14, 15, 16, 18, 20, 21, 24, 25, 26, -1, 99, 1000})
    CHECK_FALSE(tdbg::from_tf_code(unsupported).has_value());
  CHECK(tdbg::tf_code_name(8) == "complex64");
  CHECK(tdbg::tf_code_name(18) == "complex128");
  CHECK(tdbg::tf_code_name(14) == "bfloat16");
  CHECK(tdbg::tf_code_name(77) == "unknown");
}

TEST_CASE("half -> float -> half is the identity for every non-NaN half", "[core][dtype][half]") {
  int nans = 0;
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = tdbg::half_to_float(bits);
    const bool is_nan = (bits & 0x7c00u) == 0x7c00u && (bits & 0x3ffu) != 0;
    if (is_nan) {
      ++nans;
      CHECK(std::isnan(f));
      const std::uint16_t back = tdbg::float_to_half(f);
      CHECK((back & 0x7c00u) == 0x7c00u);
      CHECK((back & 0x3ffu) != 0);
      CHECK((back & 0x8000u) == (bits & 0x8000u));
    } else {
      REQUIRE(tdbg::float_to_half(f) == bits);
    }
  }
  CHECK(nans == 2 * 1023);
}

TEST_CASE("half special values", "[core][dtype][half]") {
  CHECK(tdbg::half_to_float(0x3c00) == 1.0f);
  CHECK(tdbg::half_to_float(0xc000) == -2.0f);
  CHECK(tdbg::half_to_float(0x7bff) == 65504.0f);               // largest finite
  CHECK(tdbg::half_to_float(0x0400) == std::ldexp(1.0f, -14));  // smallest normal
  CHECK(tdbg::half_to_float(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(tdbg::half_to_float(0x03ff) == std::ldexp(1023.0f, -24));
  CHECK(tdbg::half_to_float(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(tdbg::half_to_float(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(tdbg::half_to_float(0x8000) == 0.0f);
  CHECK(std::signbit(tdbg::half_to_float(0x8000)));
  CHECK(tdbg::half_to_float(0x3555) == Approx(0.33325195f));

  CHECK(tdbg::float_to_half(0.0f) == 0x0000);
  CHECK(tdbg::float_to_half(-0.0f) == 0x8000);
  CHECK(tdbg::float_to_half(65504.0f) == 0x7bff);
  CHECK(tdbg::float_to_half(65519.0f) == 0x7bff);  // below the rounding midpoint to 65536
  CHECK(tdbg::float_to_half(65520.0f) == 0x7c00);  // the midpoint rounds to even: infinity
  CHECK(tdbg::float_to_half(1e10f) == 0x7c00);
  CHECK(tdbg::float_to_half(-1e10f) == 0xfc00);
  CHECK(tdbg::float_to_half(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(tdbg::float_to_half(1e-8f) == 0x0000);
  CHECK(tdbg::float_to_half(-1e-8f) == 0x8000);
  CHECK(tdbg::float_to_half(std::ldexp(1.0f, -25)) == 0x0000);         // tie -> even (0)
  CHECK(tdbg::float_to_half(std::ldexp(1.5f, -25)) == 0x0001);         // above the tie
  CHECK(tdbg::float_to_half(std::ldexp(3.0f, -25)) == 0x0002);         // tie 1.5 ulp -> even 2
  CHECK(tdbg::float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie -> even
  CHECK(tdbg::float_to_half(1.0f + std::ldexp(3.0f, -11)) == 0x3c02);  // tie -> even (up)
  CHECK(tdbg::float_to_half(std::ldexp(1023.5f, -24)) == 0x0400);      // subnormal carries to normal
  CHECK(tdbg::float_to_half(2047.5f / 1024.0f * 32768.0f) == 0x7c00);  // 65520: carry into inf
}

TEST_CASE("float -> half picks the nearest half, ties to even", "[core][dtype][half]") {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<std::uint32_t> any;
  // Finite halves by value, as doubles: the reference the conversion is checked against.
  auto value = [](std::uint16_t h) { return static_cast<double>(tdbg::half_to_float(h)); };
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t x = any(rng);
    // Bias half of the samples into the half range (exponents 100..143).
    if (i % 2) x = (x & 0x807fffffu) | ((100u + (x >> 23) % 44u) << 23);
    const float f = std::bit_cast<float>(x);
    if (std::isnan(f)) continue;
    const std::uint16_t h = tdbg::float_to_half(f);
    const double d = static_cast<double>(f);
    CAPTURE(f, h);
    if (std::fabs(d) >= 65520.0) {
      CHECK((h & 0x7fffu) == 0x7c00u);
      continue;
    }
    REQUIRE((h & 0x7fffu) < 0x7c00u);
    CHECK(((h & 0x8000u) != 0) == std::signbit(f));
    const double got = std::fabs(value(h)) , a = std::fabs(d);
    const std::uint16_t mag = h & 0x7fffu;
    // Neighbours of the result in magnitude.
    const double below = mag == 0 ? -1.0 : std::fabs(value(static_cast<std::uint16_t>(mag - 1)));
    const double above = mag == 0x7bff ? 65536.0 : std::fabs(value(static_cast<std::uint16_t>(mag + 1)));
    const double err = std::fabs(got - a);
    CHECK(err <= std::fabs(below - a));
    CHECK(err <= std::fabs(above - a));
    if (err == std::fabs(below - a) || err == std::fabs(above - a)) {
      if (err != 0) CHECK((mag & 1u) == 0);  // a tie goes to the even mantissa
    }
  }
}

TEST_CASE("to_double converts every element type", "[core][dtype]") {
  CHECK(tdbg::to_double(tdbg::float16_t{0x3800}) == 0.5);
  CHECK(tdbg::to_double(true) == 1.0);
  CHECK(tdbg::to_double(std::int8_t{-128}) == -128.0);
  CHECK(tdbg::to_double(std::uint64_t{1} << 63) == std::ldexp(1.0, 63));
  CHECK(tdbg::to_double(1.5f) == 1.5);
}
