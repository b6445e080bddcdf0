// The element-wise functors' vectorised forms (packetOp, used by Eigen's assignment loops in a
// type-erased level's window) give the very bits of their scalar forms (used by fused typed
// loops), on the values where they could differ: NaN, ±inf, ±0, equal and unequal operands.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include <unsupported/Eigen/CXX11/Tensor>

#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/select.hpp"
#include "tdbg/rules/time.hpp"

using namespace tdbg::rules;

namespace {

using vec = Eigen::Tensor<double, 1, Eigen::RowMajor>;

const double nan_v = std::numeric_limits<double>::quiet_NaN();
const double inf_v = std::numeric_limits<double>::infinity();
const std::vector<double> values = {0.0, -0.0, 1.0, -1.0, 2.5, nan_v, inf_v, -inf_v, 1e-300, 0.5};

bool same_bits(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

/// Every pair of `values` as two equally long tensors (lhs, rhs).
void all_pairs(vec& a, vec& b) {
  const auto n = static_cast<Eigen::Index>(values.size() * values.size());
  a.resize(n);
  b.resize(n);
  Eigen::Index k = 0;
  for (double x : values)
    for (double y : values) {
      a(k) = x;
      b(k) = y;
      ++k;
    }
}

template <class F>
void check_binary(const F f = {}) {
  static_assert(Eigen::internal::functor_traits<F>::PacketAccess, "the functor must vectorise");
  vec a, b;
  all_pairs(a, b);
  vec packet = a.binaryExpr(b, f);  // Eigen vectorises this assignment
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    INFO(F::symbol << ": " << a(i) << ", " << b(i) << " -> " << packet(i) << " vs " << f(a(i), b(i)));
    CHECK(same_bits(packet(i), f(a(i), b(i))));
  }
}

template <class F>
void check_unary(F f) {
  static_assert(Eigen::internal::functor_traits<F>::PacketAccess, "the functor must vectorise");
  vec a(static_cast<Eigen::Index>(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) a(static_cast<Eigen::Index>(i)) = values[i];
  vec packet = a.unaryExpr(f);
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    INFO(a(i) << " -> " << packet(i) << " vs " << f(a(i)));
    CHECK(same_bits(packet(i), f(a(i))));
  }
}

}  // namespace

TEST_CASE("vectorised functors equal their scalar forms bit for bit", "[rules][ops][packet]") {
  check_binary<ops::plus>();
  check_binary<ops::minus>();
  check_binary<ops::multiplies>();
  check_binary<ops::divides>();
  check_binary<ops::less>();
  check_binary<ops::less_equal>();
  check_binary<ops::greater>();
  check_binary<ops::greater_equal>();
  check_binary<ops::equal_to>();
  check_binary<ops::not_equal_to>();
  check_binary<ops::logical_and>();
  check_binary<ops::logical_or>();
  check_binary<ops::isclose_fn>();
  check_binary(ops::isclose_fn{0.5, 1.0, true});
  check_binary(ops::isclose_fn{0, 0, false});
  check_unary(ops::negate_fn{});
  check_unary(ops::isnan_fn{});
  check_unary(ops::isfinite_fn{});
  check_unary(ops::not_fn{});
  for (double c : values) {
    check_unary(ops::bind_left<ops::less>{ops::less{}, c});
    check_unary(ops::bind_right<ops::logical_or>{ops::logical_or{}, c});
    check_unary(ops::bind_right<ops::minus>{ops::minus{}, c});
  }
  // functors without a packet form stay scalar (Eigen picks the scalar loop)
  STATIC_REQUIRE_FALSE(Eigen::internal::functor_traits<ops::clamp_fn>::PacketAccess);
  STATIC_REQUIRE(Eigen::internal::functor_traits<ops::bind_left<ops::divides>>::PacketAccess);
}

TEST_CASE("isclose is numpy's isclose", "[rules][ops]") {
  // numpy.isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False), its documented examples
  const ops::isclose_fn d{};
  CHECK(d(1e10, 1.00001e10) == 1.0);
  CHECK(d(1e-7, 1e-8) == 0.0);
  CHECK(d(1e-8, 1e-9) == 1.0);
  CHECK(d(1.0, 1.0) == 1.0);
  CHECK(d(nan_v, nan_v) == 0.0);
  CHECK(ops::isclose_fn{1e-5, 1e-8, true}(nan_v, nan_v) == 1.0);
  CHECK(ops::isclose_fn{1e-5, 1e-8, true}(nan_v, 1.0) == 0.0);
  CHECK(d(1e-8, 0.0) == 1.0);
  CHECK(d(1e-7, 0.0) == 0.0);
  CHECK(ops::isclose_fn{1e-5, 0.0, false}(1e-100, 0.0) == 0.0);
  CHECK(ops::isclose_fn{1e-5, 0.0, false}(0.0, 0.0) == 1.0);
  // infinities: close only to themselves
  CHECK(d(inf_v, inf_v) == 1.0);
  CHECK(d(-inf_v, -inf_v) == 1.0);
  CHECK(d(inf_v, -inf_v) == 0.0);
  CHECK(d(inf_v, 1e308) == 0.0);
  CHECK(d(1.0, inf_v) == 0.0);  // |1 - inf| <= rtol * inf would hold: numpy compares infinities by ==
  CHECK(ops::isclose_fn{0.5, 1.0, true}(-inf_v, inf_v) == 0.0);
  // asymmetric: b is the reference (|a - b| <= atol + rtol * |b|)
  const ops::isclose_fn r{0.5, 0.0, false};
  CHECK(r(1.0, 2.0) == 1.0);  // 1 <= 0.5 * 2
  CHECK(r(2.0, 1.0) == 0.0);  // 1 > 0.5 * 1
  // the node: a boolean of the wider kind, shown as a call; tolerances are checked
  const auto n = isclose(tensor_named("w"), prev(tensor_named("w")), 1e-3, 0, true);
  STATIC_REQUIRE(std::remove_cvref_t<decltype(n)>::kind == expr_kind::elements);
  STATIC_REQUIRE(std::remove_cvref_t<decltype(n)>::value == value_type::boolean);
  CHECK(n.describe() == "isclose(tensor_named(\"w\"), prev(tensor_named(\"w\")), 0.001, 0, true)");
  CHECK_THROWS_AS(isclose(tensor_named("w"), 1.0, -1e-5), tdbg::usage_error);
  CHECK_THROWS_AS(isclose(tensor_named("w"), 1.0, 1e-5, nan_v), tdbg::usage_error);
}
