// Reductions on hand-computed examples: every reduction, every dtype, NaN/Inf/empty tensors,
// abs(), element-wise functions before reducing, stored reductions when the raw value is missing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "probe.hpp"
#include "test_source.hpp"
#include "tdbg/core/reduce.hpp"
#include "tdbg/rules/erased.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/time.hpp"
#include "tdbg/rules/sets.hpp"

using namespace tdbg::rules;
using tdbg::rules::test::make;
using tdbg::rules::test::memory_source;
using tdbg::rules::test::probe;

namespace {

const double inf_v = std::numeric_limits<double>::infinity();

/// The value of a per-tensor expression over the one tensor "t" at step 1 of src.
template <class E>
double one(E e, const memory_source& src) {
  probe p(std::move(e));
  tensor_values v = p.at(src, 1);
  REQUIRE(v.known);
  REQUIRE(v.items.size() == 1);
  INFO(v.items[0].reason);
  REQUIRE(v.items[0].known);
  return v.items[0].v;
}

memory_source with(tdbg::tensor t) {
  memory_source s;
  s.put("t", 1, std::move(t));
  return s;
}

/// The same double, bit for bit (NaN: any NaN).
bool same_bits(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return a == Approx(b).epsilon(1e-12);
}

}  // namespace

TEST_CASE("every reduction of a float32 tensor, hand computed", "[rules][reduce]") {
  const auto src = with(make<float>({1, -2, 3, -4}));
  const auto t = tensor_named("t");
  CHECK(one(min(t), src) == -4);
  CHECK(one(max(t), src) == 3);
  CHECK(one(mean(t), src) == -0.5);
  CHECK(one(sum(t), src) == -2);
  CHECK(one(prod(t), src) == 24);
  CHECK(one(var_pop(t), src) == Approx(7.25));
  CHECK(one(var_sample(t), src) == Approx(29.0 / 3));
  CHECK(one(std_pop(t), src) == Approx(std::sqrt(7.25)));
  CHECK(one(std_sample(t), src) == Approx(std::sqrt(29.0 / 3)));
  CHECK(one(l1(t), src) == 10);
  CHECK(one(l2(t), src) == Approx(std::sqrt(30.0)));
  CHECK(one(max_abs(t), src) == 4);
  CHECK(one(count(t), src) == 4);
  CHECK(one(fraction_zero(t), src) == 0);
  CHECK(one(fraction_nonfinite(t), src) == 0);
  CHECK(one(quantile(t, 0.5), src) == Approx(-0.5));
  CHECK(one(quantile(t, 0.0), src) == -4);
  CHECK(one(quantile(t, 1.0), src) == 3);
  CHECK(one(percentile(t, 25), src) == Approx(-2.5));
  CHECK(one(count(t > 0.0), src) == 2);
  CHECK(one(fraction(t <= 0.0), src) == 0.5);
  CHECK(one(fraction(t == 3.0), src) == 0.25);
}

TEST_CASE("reductions of abs() and of element-wise functions", "[rules][reduce]") {
  const auto src = with(make<double>({1, -2, 3, -4}));
  const auto t = tensor_named("t");
  CHECK(one(mean(abs(t)), src) == 2.5);
  CHECK(one(min(abs(t)), src) == 1);
  CHECK(one(max(abs(t)), src) == 4);
  CHECK(one(sum(abs(t)), src) == 10);
  CHECK(one(prod(abs(t)), src) == 24);
  CHECK(one(var_pop(abs(t)), src) == Approx(1.25));
  CHECK(one(std_sample(abs(t)), src) == Approx(std::sqrt(5.0 / 3)));
  CHECK(one(l1(abs(t)), src) == 10);
  CHECK(one(l2(abs(t)), src) == Approx(std::sqrt(30.0)));
  CHECK(one(quantile(abs(t), 0.5), src) == Approx(2.5));
  CHECK(one(sum(square(t)), src) == 30);
  CHECK(one(sum(clamp(t, -1, 2)), src) == Approx(1 - 1 + 2 - 1));
  CHECK(one(sum(sqrt(abs(t))), src) == Approx(1 + std::sqrt(2.0) + std::sqrt(3.0) + 2));
  CHECK(one(sum(exp(t)), src) == Approx(std::exp(1.0) + std::exp(-2.0) + std::exp(3.0) + std::exp(-4.0)));
  CHECK(one(sum(log(abs(t))), src) == Approx(std::log(24.0)));
  CHECK(one(sum(t * 2.0 + 1.0), src) == Approx(0.0));  // 2*(-2) + 4
  CHECK(one(sum(1.0 - t), src) == Approx(6.0));
  CHECK(one(sum(t / 2.0), src) == Approx(-1.0));
  CHECK(one(sum(-t), src) == Approx(2.0));
  CHECK(one(count((t > 0.0) && (t < 2.0)), src) == 1);
  CHECK(one(count((t > 2.0) || (t < -3.0)), src) == 2);
  CHECK(one(count(!(t > 0.0)), src) == 2);
  CHECK(one(count(t != 1.0), src) == 3);
  CHECK(one(count(t >= 3.0), src) == 1);
  // per-tensor value as an element operand: deviations from the tensor's own mean
  CHECK(one(sum(square(t - mean(t))), src) == Approx(29.0));
}

TEMPLATE_TEST_CASE("reductions of every integer dtype", "[rules][reduce][dtype]", std::int8_t, std::int16_t,
                   std::int32_t, std::int64_t, std::uint8_t, std::uint16_t, std::uint32_t, std::uint64_t) {
  const auto src = with(make<TestType>({1, 2, 0, 5}));
  const auto t = tensor_named("t");
  CHECK(one(sum(t), src) == 8);
  CHECK(one(mean(t), src) == 2);
  CHECK(one(min(t), src) == 0);
  CHECK(one(max(t), src) == 5);
  CHECK(one(prod(t), src) == 0);
  CHECK(one(l2(t), src) == Approx(std::sqrt(30.0)));
  CHECK(one(fraction_zero(t), src) == 0.25);
  CHECK(one(var_pop(t), src) == Approx(3.5));
  CHECK(one(quantile(t, 0.5), src) == 1.5);
  CHECK(one(count(t > 1.0), src) == 2);
}

TEST_CASE("reductions of float16, float64, bool and large integers", "[rules][reduce][dtype]") {
  const auto t = tensor_named("t");
  const auto h = with(tdbg::rules::test::make_half({0.5f, 1.5f, -2.0f, 4.0f}));
  CHECK(one(sum(t), h) == 4);
  CHECK(one(mean(t), h) == 1);
  CHECK(one(min(t), h) == -2);
  CHECK(one(max_abs(t), h) == 4);
  CHECK(one(l1(abs(t)), h) == 8);
  const auto d = with(make<double>({0.25, 0.5}));
  CHECK(one(sum(t), d) == 0.75);
  const auto b = with(make<bool>({true, false, true, true}));
  CHECK(one(sum(t), b) == 3);
  CHECK(one(mean(t), b) == 0.75);
  CHECK(one(fraction_zero(t), b) == 0.25);
  CHECK(one(count(t == 1.0), b) == 3);
  const auto big = with(make<std::uint64_t>({std::uint64_t{1} << 63}));
  CHECK(one(max(t), big) == 9223372036854775808.0);
  const auto neg = with(make<std::int64_t>({-(std::int64_t{1} << 62), 2}));
  CHECK(one(min(t), neg) == -4611686018427387904.0);
  const auto scalar0 = with(tdbg::tensor::scalar(7.5f));
  CHECK(one(mean(t), scalar0) == 7.5);
  CHECK(one(count(t), scalar0) == 1);
  const auto matrix = with(make<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(one(l2(t), matrix) == Approx(std::sqrt(91.0)));  // a vector norm over all elements
}

TEST_CASE("NaN, Inf and empty tensors", "[rules][reduce]") {
  const auto t = tensor_named("t");
  const auto n = with(make<float>({1, std::numeric_limits<float>::quiet_NaN(), 3}));
  for (double v : {one(min(t), n), one(max(t), n), one(mean(t), n), one(sum(t), n), one(prod(t), n),
                   one(var_pop(t), n), one(std_sample(t), n), one(l1(t), n), one(l2(t), n), one(max_abs(t), n),
                   one(quantile(t, 0.5), n)})
    CHECK(std::isnan(v));
  CHECK(one(min(t), with(make<float>({std::numeric_limits<float>::quiet_NaN(), 1}))) != 1);  // leading NaN too
  CHECK(one(fraction_nonfinite(t), n) == Approx(1.0 / 3));
  CHECK(one(count(t), n) == 3);
  CHECK(one(count(t > 0.0), n) == 2);  // NaN > 0 is false
  CHECK(one(count(t != 1.0), n) == 1);  // NaN != 1 is false as well
  const auto i = with(make<double>({1, inf_v, -2}));
  CHECK(one(max(t), i) == inf_v);
  CHECK(one(min(t), i) == -2);
  CHECK(one(mean(t), i) == inf_v);
  CHECK(one(l2(t), i) == inf_v);
  CHECK(one(fraction_nonfinite(t), i) == Approx(1.0 / 3));
  CHECK(std::isnan(one(sum(t), with(make<double>({inf_v, -inf_v})))));
  const auto e = with(make<float>({}, {0}));
  CHECK(one(sum(t), e) == 0);
  CHECK(one(prod(t), e) == 1);
  CHECK(one(l1(t), e) == 0);
  CHECK(one(l2(t), e) == 0);
  CHECK(one(count(t), e) == 0);
  for (double v : {one(min(t), e), one(max(t), e), one(mean(t), e), one(var_pop(t), e), one(std_sample(t), e),
                   one(max_abs(t), e), one(fraction_zero(t), e), one(fraction_nonfinite(t), e),
                   one(fraction(t > 0.0), e), one(quantile(t, 0.5), e)})
    CHECK(std::isnan(v));
  const auto single = with(make<float>({3}));
  CHECK(one(var_pop(t), single) == 0);
  CHECK(std::isnan(one(var_sample(t), single)));
  CHECK(std::isnan(one(std_sample(t), single)));
}

TEST_CASE("reductions agree with core's compute_reduction", "[rules][reduce]") {
  const auto data = make<float>({0.5f, -1.25f, 2.0f, 8.0f, -0.125f});
  const auto src = with(data);
  const auto t = tensor_named("t");
  using tdbg::reduction_op;
  CHECK(same(one(min(t), src), tdbg::compute_reduction(data.ref(), {reduction_op::min, false})));
  CHECK(same(one(std_sample(t), src), tdbg::compute_reduction(data.ref(), {reduction_op::std, false})));
  CHECK(same(one(var_sample(abs(t)), src), tdbg::compute_reduction(data.ref(), {reduction_op::variance, true})));
  CHECK(same(one(l1(t), src), tdbg::compute_reduction(data.ref(), {reduction_op::l1, false})));
  CHECK(same(one(prod(abs(t)), src), tdbg::compute_reduction(data.ref(), {reduction_op::prod, true})));
}

TEST_CASE("stored reductions replace a missing raw value", "[rules][reduce][stored]") {
  memory_source src;
  src.put_reduction("t", 1, {tdbg::reduction_op::mean, false}, 0.25);
  src.put_reduction("t", 1, {tdbg::reduction_op::mean, true}, 0.75);
  src.put_reduction("t", 1, {tdbg::reduction_op::std, false}, 2.0);
  src.put_reduction("t", 1, {tdbg::reduction_op::l2, true}, 3.0);
  const auto t = tensor_named("t");
  CHECK(one(mean(t), src) == 0.25);
  CHECK(one(mean(abs(t)), src) == 0.75);
  CHECK(one(std_sample(t), src) == 2.0);
  CHECK(one(l2(abs(t)), src) == 3.0);
  // not stored: unknown, and the reason names tensor, step and mode
  probe p(l2(t));
  tensor_values v = p.at(src, 1);
  REQUIRE(v.items.size() == 1);
  CHECK_FALSE(v.items[0].known);
  CHECK_THAT(v.items[0].reason, Catch::Contains("'t'") && Catch::Contains("step 1") && Catch::Contains("TRAIN") &&
                                    Catch::Contains("stored l2"));
  // population variance is never stored (smdebug stores the sample one): unknown
  probe q(var_pop(t));
  CHECK_FALSE(q.at(src, 1).items[0].known);
  // the raw value wins when both exist
  src.put("t", 1, make<float>({1, 2}));
  CHECK(one(mean(t), src) == 1.5);
}

TEST_CASE("a tensor missing at the step is unknown with a reason", "[rules][reduce]") {
  memory_source src;
  src.put("t", 1, {1.0f}).step(2);
  probe p(mean(tensor_named("t")));
  tensor_values v = p.at(src, 2);
  REQUIRE(v.items.size() == 1);
  CHECK_FALSE(v.items[0].known);
  CHECK_THAT(v.items[0].reason, Catch::Contains("tensor 't'") && Catch::Contains("step 2"));
  probe q(mean(tensor_named("nope")));
  tensor_values w = q.at(src, 1);
  CHECK_FALSE(w.known);
  CHECK_THAT(w.reason, Catch::Contains("tensor_named(\"nope\")"));
}

TEST_CASE("quantile and percentile reject out-of-range arguments", "[rules][reduce]") {
  CHECK_THROWS_AS(quantile(tensor_named("t"), 1.5), tdbg::usage_error);
  CHECK_THROWS_AS(percentile(tensor_named("t"), -1), tdbg::usage_error);
  CHECK_THROWS_AS(clamp(tensor_named("t"), 2, 1), tdbg::usage_error);
  CHECK_THROWS_AS(tensors_matching("("), tdbg::config_error);
}

namespace {

/// A tensor "t" of n float32 values at steps 0 and 1, of mixed signs and magnitudes (so the
/// order of additions shows in the last bits), with `at1` patched into step 1.
memory_source large(std::size_t n, const std::vector<std::pair<std::size_t, float>>& at1 = {}) {
  memory_source s;
  for (tdbg::step_t g = 0; g < 2; ++g) {
    std::vector<float> v(n);
    std::uint32_t x = 12345u + static_cast<std::uint32_t>(g);
    for (std::size_t i = 0; i < n; ++i) {
      x = x * 1664525u + 1013904223u;
      const float u = static_cast<float>(x >> 8) / 16777216.0f;  // [0, 1)
      v[i] = (u - 0.5f) * std::pow(10.0f, static_cast<float>(static_cast<int>(i % 7) - 3));
      if (i % 97 == 0) v[i] = 0.0f;
    }
    if (g == 1)
      for (const auto& [i, f] : at1) v[i] = f;
    s.put("t", g, make<float>(v));
  }
  return s;
}

/// A number elements node without window(): an erased node over it fills the whole tensor once.
struct no_window_node {
  static constexpr expr_kind kind = expr_kind::elements;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;
  selection sel = tensor_named("t");
  [[nodiscard]] std::string describe() const { return "no_window(t)"; }
  void needs(requirements& r, const need_scope& s) const { sel.needs(r, s); }
  class evaluator {
   public:
    explicit evaluator(const no_window_node& n) : x_(n.sel) {}
    name_set names(const context& c) { return x_.names(c); }
    std::string bind(const context& c, const std::string& t) { return x_.bind(c, t); }
    [[nodiscard]] tdbg::dtype type() const { return x_.type(); }
    [[nodiscard]] std::uint64_t size() const { return x_.size(); }
    void materialize(tdbg::dtype d) { x_.materialize(d); }
    void release() { x_.release(); }
    template <class T>
    [[nodiscard]] auto expr() const {
      return x_.template expr<T>() * 3.0;
    }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }

   private:
    selection::evaluator x_;
  };
};
static_assert(!has_window<no_window_node::evaluator>);
static_assert(has_window<selection::evaluator>);

/// Every windowed reduction of `typed` and of the same expression behind erased nodes: equal to
/// the last bit (the windows keep the typed one-pass order).
template <class X, class Y>
void check_windowed(const X& typed, const Y& erased_form, const memory_source& src) {
  CHECK(same_bits(one(sum(typed), src), one(sum(erased_form), src)));
  CHECK(same_bits(one(mean(typed), src), one(mean(erased_form), src)));
  CHECK(same_bits(one(l1(typed), src), one(l1(erased_form), src)));
  CHECK(same_bits(one(l2(typed), src), one(l2(erased_form), src)));
  CHECK(same_bits(one(min(typed), src), one(min(erased_form), src)));
  CHECK(same_bits(one(max(typed), src), one(max(erased_form), src)));
  CHECK(same_bits(one(max_abs(typed), src), one(max_abs(erased_form), src)));
  CHECK(same_bits(one(var_pop(typed), src), one(var_pop(erased_form), src)));
  CHECK(same_bits(one(std_sample(typed), src), one(std_sample(erased_form), src)));
  CHECK(same_bits(one(fraction_zero(typed), src), one(fraction_zero(erased_form), src)));
  CHECK(same_bits(one(fraction_nonfinite(typed), src), one(fraction_nonfinite(erased_form), src)));
  CHECK(same_bits(one(prod(typed), src), one(prod(erased_form), src)));              // whole()
  CHECK(same_bits(one(quantile(typed, 0.3), src), one(quantile(erased_form, 0.3), src)));  // whole()
  CHECK(same_bits(one(count(typed > 0.0), src), one(count(any_element_mask(erased_form > 0.0)), src)));
}

}  // namespace

TEST_CASE("reductions of erased operands consume windows and equal the one-pass typed result",
          "[rules][reduce][erased]") {
  const auto t = tensor_named("t");
  // sizes around the window (detail::element_block) and its multiples, with a ragged tail
  const std::uint64_t b = detail::element_block;
  for (const std::uint64_t n : {std::uint64_t{1}, b - 1, b, b + 1, 3 * b + 5}) {
    INFO("n = " << n);
    const auto src = large(static_cast<std::size_t>(n));
    check_windowed(abs(t), any_elements(abs(t)), src);
    // nested erased levels: each is asked for the same window
    check_windowed(abs(t - prev(t)) * 2.0, any_elements(any_elements(abs(any_elements(t - any_elements(prev(t))))) * 2.0),
                   src);
    // a subtree without window(): filled whole once, then handed out by windows
    const no_window_node nw;
    check_windowed(nw, any_elements(nw), src);
  }

  SECTION("the windowed sum is the sum (against a long double reference)") {
    const std::uint64_t n = 3 * b + 5;
    const auto src = large(static_cast<std::size_t>(n));
    const auto v = src.value("t", 1, "worker_0");
    long double ref = 0;
    for (std::uint64_t i = 0; i < n; ++i) ref += std::fabs(static_cast<long double>(v->as_double(i)));
    CHECK(one(sum(any_elements(abs(t))), src) == Approx(static_cast<double>(ref)).epsilon(1e-13));
    CHECK(one(max_abs(any_elements(t)), src) == Approx(0.5 * 1000).epsilon(1e-2));
  }

  SECTION("NaN and infinity in a later window") {
    const std::uint64_t n = 3 * b + 5;
    const auto src = large(static_cast<std::size_t>(n), {{2 * b + 3, NAN}, {b + 1, INFINITY}});
    CHECK(std::isnan(one(min(any_elements(abs(t))), src)));
    CHECK(std::isnan(one(max(any_elements(abs(t))), src)));
    CHECK(std::isnan(one(sum(any_elements(abs(t))), src)));
    CHECK(one(fraction_nonfinite(any_elements(abs(t))), src) == Approx(2.0 / static_cast<double>(n)));
    CHECK(one(count(any_element_mask(t == t)), src) == static_cast<double>(n - 1));
    const auto inf_only = large(static_cast<std::size_t>(n), {{b + 1, -INFINITY}});
    CHECK(one(min(any_elements(t * 1.0)), inf_only) == -inf_v);
    CHECK(one(max(any_elements(abs(t))), inf_only) == inf_v);
  }
}

TEST_CASE("the sum accumulator reads packets or coefficients into the same partial sums", "[rules][reduce][packet]") {
  // |x| over doubles is read a packet at a time (Eigen's vectorised abs); the same values through a
  // functor without a packet form are read coefficient by coefficient. Both must give the same
  // bits, whole or in windows of any multiple of 8, with a ragged tail.
  struct scalar_abs {
    double operator()(double x) const { return std::fabs(x); }
  };
  using map = Eigen::TensorMap<Eigen::Tensor<const double, 1, Eigen::RowMajor>>;
  STATIC_REQUIRE(static_cast<bool>(
      Eigen::TensorEvaluator<const decltype(std::declval<map>().abs()), Eigen::DefaultDevice>::PacketAccess));
  STATIC_REQUIRE_FALSE(static_cast<bool>(
      Eigen::TensorEvaluator<const decltype(std::declval<map>().unaryExpr(scalar_abs{})), Eigen::DefaultDevice>::PacketAccess));
  for (const Eigen::Index n : {1, 7, 8, 9, 15, 16, 17, 63, 64, 1000, 1031}) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i)  // magnitudes far apart: any change of order shows
      v[static_cast<std::size_t>(i)] = (i % 3 == 0 ? 1e16 : 1.0) * (i % 2 ? -1.0 : 1.0) + 0.1 * static_cast<double>(i);
    const map m(v.data(), n);
    detail::sum_accumulator packets, coefficients, windows, scalar_windows;
    packets.add(m.abs());
    coefficients.add(m.unaryExpr(scalar_abs{}));
    for (Eigen::Index off = 0; off < n; off += 16) {
      const Eigen::Index len = std::min<Eigen::Index>(16, n - off);
      const map w(v.data() + off, len);
      windows.add(w.abs());
      scalar_windows.add(w.unaryExpr(scalar_abs{}));
    }
    long double ref = 0;
    for (double x : v) ref += std::fabs(static_cast<long double>(x));
    INFO("n = " << n);
    CHECK(same_bits(packets.result(), coefficients.result()));
    CHECK(same_bits(windows.result(), packets.result()));
    CHECK(same_bits(scalar_windows.result(), packets.result()));
    CHECK(packets.result() == Approx(static_cast<double>(ref)).epsilon(1e-15));
  }
}

TEST_CASE("a sum under an erased level runs in that level's loop (no buffer) and equals the typed sum",
          "[rules][reduce][erased]") {
  // an erased level's fused sum (add_to) equals the typed tree's one pass, for the summands it
  // fuses (x, |x|, x²) and next to the ones it does not (the variance's second pass: windows)
  const auto t = tensor_named("t");
  const std::uint64_t b = detail::element_block;
  const auto src = large(static_cast<std::size_t>(3 * b + 5), {{b + 2, -3.5}});
  const auto typed = t * 2.0 - prev(t);
  const any_elements erased_form(typed);
  CHECK(same_bits(one(sum(typed), src), one(sum(erased_form), src)));
  CHECK(same_bits(one(l1(typed), src), one(l1(erased_form), src)));
  CHECK(same_bits(one(l2(typed), src), one(l2(erased_form), src)));
  CHECK(same_bits(one(var_sample(typed), src), one(var_sample(erased_form), src)));  // fused mean, windowed squares
  CHECK(same_bits(one(count(typed > 0.0), src), one(count(any_element_mask(any_elements(typed) > 0.0)), src)));
  CHECK(same_bits(one(fraction(typed > 0.0), src), one(fraction(any_element_mask(typed > 0.0)), src)));
}
