// The element-wise functors' vectorised forms (packetOp, used by Eigen's assignment loops in a
// type-erased level's window) give the very bits of their scalar forms (used by fused typed
// loops), on the values where they could differ: NaN, ±inf, ±0, equal and unequal operands.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <unsupported/Eigen/CXX11/Tensor>

#include "tdbg/rules/ops.hpp"

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
void check_binary() {
  static_assert(Eigen::internal::functor_traits<F>::PacketAccess, "the functor must vectorise");
  vec a, b;
  all_pairs(a, b);
  vec packet = a.binaryExpr(b, F{});  // Eigen vectorises this assignment
  const F f{};
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
