// Tests of tdbg/core/reduce.hpp against hand-computed values, for every numeric dtype, and the
// edge cases of its contract: NaN, empty and one-element tensors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tdbg/core/reduce.hpp"

using tdbg::dtype;
using tdbg::reduction;
using tdbg::reduction_op;

namespace {

/// A tensor of dtype t holding `values` (converted to the element type).
tdbg::tensor make(dtype t, const std::vector<double>& values, tdbg::shape_t shape) {
  std::vector<std::byte> bytes;
  tdbg::visit_numeric(t, [&](auto tag) {
    using T = decltype(tag);
    for (double v : values) {
      T e;
      if constexpr (std::is_same_v<T, tdbg::float16_t>)
        e = tdbg::float16_t{tdbg::float_to_half(static_cast<float>(v))};
      else
        e = static_cast<T>(v);
      const auto* p = reinterpret_cast<const std::byte*>(&e);
      bytes.insert(bytes.end(), p, p + sizeof(T));
    }
  });
  return tdbg::tensor(t, std::move(shape), bytes);
}

double red(const tdbg::tensor& t, reduction_op op, bool abs = false) {
  return tdbg::compute_reduction(t.ref(), reduction{op, abs});
}

}  // namespace

TEST_CASE("reductions of {1, 2, 3, 4} in every numeric dtype", "[core][reduce]") {
  for (dtype t : tdbg::all_dtypes) {
    if (t == dtype::string || t == dtype::boolean) continue;
    CAPTURE(tdbg::dtype_name(t));
    const auto x = make(t, {1, 2, 3, 4}, {2, 2});
    CHECK(red(x, reduction_op::min) == 1);
    CHECK(red(x, reduction_op::max) == 4);
    CHECK(red(x, reduction_op::mean) == 2.5);
    CHECK(red(x, reduction_op::sum) == 10);
    CHECK(red(x, reduction_op::prod) == 24);
    CHECK(red(x, reduction_op::variance) == Approx(5.0 / 3.0));  // sample variance: 5/(4-1)
    CHECK(red(x, reduction_op::std) == Approx(std::sqrt(5.0 / 3.0)));
    CHECK(red(x, reduction_op::l1) == 10);
    CHECK(red(x, reduction_op::l2) == Approx(std::sqrt(30.0)));
  }
}

TEST_CASE("abs reductions of signed values", "[core][reduce]") {
  for (dtype t : {dtype::float16, dtype::float32, dtype::float64, dtype::int8, dtype::int16,
                  dtype::int32, dtype::int64}) {
    CAPTURE(tdbg::dtype_name(t));
    const auto x = make(t, {-3, 1, -2}, {3});
    CHECK(red(x, reduction_op::min) == -3);
    CHECK(red(x, reduction_op::min, true) == 1);
    CHECK(red(x, reduction_op::max) == 1);
    CHECK(red(x, reduction_op::max, true) == 3);
    CHECK(red(x, reduction_op::mean, true) == 2);
    CHECK(red(x, reduction_op::sum) == -4);
    CHECK(red(x, reduction_op::prod) == 6);
    CHECK(red(x, reduction_op::l1) == 6);
    CHECK(red(x, reduction_op::l1, true) == 6);
  }
}

TEST_CASE("bool tensors reduce as 0/1", "[core][reduce]") {
  const bool b[] = {true, false, true, true};
  const tdbg::tensor x(dtype::boolean, {4}, std::as_bytes(std::span<const bool>(b)));
  CHECK(red(x, reduction_op::sum) == 3);
  CHECK(red(x, reduction_op::mean) == 0.75);
  CHECK(red(x, reduction_op::min) == 0);
  CHECK(red(x, reduction_op::prod) == 0);
}

TEST_CASE("NaN propagates through min, max, mean, sum", "[core][reduce]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (dtype t : {dtype::float16, dtype::float32, dtype::float64}) {
    for (std::size_t at = 0; at < 3; ++at) {
      std::vector<double> v{1, 2, 3};
      v[at] = nan;
      CAPTURE(tdbg::dtype_name(t), at);
      const auto x = make(t, v, {3});
      for (auto op : tdbg::all_reduction_ops) {
        CAPTURE(tdbg::reduction_op_name(op));
        CHECK(std::isnan(red(x, op)));
        CHECK(std::isnan(red(x, op, true)));
      }
    }
  }
  const auto inf = make(dtype::float32, {1, std::numeric_limits<double>::infinity()}, {2});
  CHECK(red(inf, reduction_op::max) == std::numeric_limits<double>::infinity());
  CHECK(red(inf, reduction_op::min) == 1);
}

TEST_CASE("empty and one-element tensors", "[core][reduce]") {
  for (dtype t : tdbg::all_dtypes) {
    if (t == dtype::string) continue;
    CAPTURE(tdbg::dtype_name(t));
    const auto empty = make(t, {}, {0, 3});
    CHECK(red(empty, reduction_op::sum) == 0);
    CHECK(red(empty, reduction_op::prod) == 1);
    CHECK(red(empty, reduction_op::l1) == 0);
    CHECK(red(empty, reduction_op::l2) == 0);
    for (auto op : {reduction_op::min, reduction_op::max, reduction_op::mean, reduction_op::std,
                    reduction_op::variance})
      CHECK(std::isnan(red(empty, op)));

    const auto one = make(t, {1}, {});
    CHECK(red(one, reduction_op::min) == 1);
    CHECK(red(one, reduction_op::max) == 1);
    CHECK(red(one, reduction_op::mean) == 1);
    CHECK(red(one, reduction_op::sum) == 1);
    CHECK(red(one, reduction_op::prod) == 1);
    CHECK(red(one, reduction_op::l2) == 1);
    CHECK(std::isnan(red(one, reduction_op::std)));       // N-1 = 0, as torch
    CHECK(std::isnan(red(one, reduction_op::variance)));
  }
}

TEST_CASE("reduction tensors are 0-d in the stored dtype", "[core][reduce]") {
  CHECK(tdbg::reduction_dtype(dtype::float32) == dtype::float32);
  CHECK(tdbg::reduction_dtype(dtype::float16) == dtype::float16);
  CHECK(tdbg::reduction_dtype(dtype::int64) == dtype::float64);
  CHECK(tdbg::reduction_dtype(dtype::boolean) == dtype::float64);
  const auto x = make(dtype::float16, {0.5, 1.5}, {2});
  const auto r = tdbg::reduction_tensor(x.ref(), reduction{reduction_op::sum, false});
  CHECK(r.dtype() == dtype::float16);
  CHECK(r.shape().empty());
  CHECK(r.as_double(0) == 2.0);
  const auto y = make(dtype::int32, {7, -9}, {2});
  const auto m = tdbg::reduction_tensor(y.ref(), reduction{reduction_op::max, true});
  CHECK(m.dtype() == dtype::float64);
  CHECK(m.as_double(0) == 9.0);
  const tdbg::tensor s(tdbg::shape_t{1}, std::vector<std::string>{"a"});
  CHECK_THROWS_AS(tdbg::compute_reduction(s.ref(), reduction{}), tdbg::usage_error);
  CHECK(tdbg::reduction_name(reduction{reduction_op::l2, true}) == "abs_l2");
  CHECK(tdbg::parse_reduction_op("l1_norm") == reduction_op::l1);
  CHECK_FALSE(tdbg::parse_reduction_op("median").has_value());
}
