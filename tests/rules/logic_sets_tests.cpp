// Arithmetic, comparisons, tri-state logic, evidence, selections and quantifiers over tensor
// sets, per-layer grouping and describe() text, on hand-computed examples.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "probe.hpp"
#include "test_source.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/select.hpp"
#include "tdbg/rules/sets.hpp"

using namespace tdbg::rules;
using tdbg::rules::test::make;
using tdbg::rules::test::memory_source;
using tdbg::rules::test::probe;

namespace {

// Step 1 (TRAIN): a/grad mean 2, b/grad mean 0.1, c/weight mean 0, n has a NaN.
// Step 2 (TRAIN): m/grad appears (and a/grad); b/grad missing.
memory_source source() {
  memory_source s;
  s.put("a/grad", 1, {1.0f, 2.0f, 3.0f})
      .put("b/grad", 1, {0.1f, 0.1f})
      .put("c/weight", 1, {-1.0f, 1.0f})
      .put("n", 1, {1.0f, std::numeric_limits<float>::quiet_NaN()})
      .put("m/grad", 2, {5.0f})
      .put("a/grad", 2, {1.0f})
      .collection("gradients", {"a/grad", "b/grad"})
      .collection("gradients2", {"a/grad", "b/grad", "m/grad"});
  return s;
}

template <class E>
scalar_value at1(E e, const memory_source& s, tdbg::step_t g = 1) {
  probe p(std::move(e));
  return p.at(s, g);
}

const auto A = the(mean(tensor_named("a/grad")));
const auto missing = the(mean(tensor_named("nothing")));

}  // namespace

TEST_CASE("scalar arithmetic and comparisons", "[rules][ops]") {
  const auto s = source();
  CHECK(at1(A, s).v == 2);
  CHECK(at1(A * 3.0 + 1.0, s).v == 7);
  CHECK(at1(10.0 / A - 1.0, s).v == 4);
  CHECK(at1(-A, s).v == -2);
  CHECK(at1(abs(-A), s).v == 2);
  CHECK(at1(sqrt(A * 8.0), s).v == 4);
  CHECK(at1(A / 0.0, s).v == std::numeric_limits<double>::infinity());
  CHECK(at1(A > 1.0, s).v == 1);
  CHECK(at1(A < 1.0, s).v == 0);
  CHECK(at1(A >= 2.0, s).v == 1);
  CHECK(at1(A <= 2.0, s).v == 1);
  CHECK(at1(A == 2.0, s).v == 1);
  CHECK(at1(A != 2.0, s).v == 0);
  CHECK(at1(between(A, 1.0, 3.0), s).v == 1);
  CHECK(at1(between(A, 2.5, 3.0), s).v == 0);
  CHECK(at1(log(exp(A)), s).v == Approx(2));
  CHECK(at1(clamp(A, 0, 1), s).v == 1);
  CHECK(at1(square(A), s).v == 4);
  CHECK(at1(param_("threshold", 1.5) < A, s).v == 1);
}

TEST_CASE("comparisons with NaN are false, != included", "[rules][ops]") {
  const auto s = source();
  const auto n = the(mean(tensor_named("n")));
  CHECK(std::isnan(at1(n, s).v));
  CHECK(at1(n > 0.0, s).v == 0);
  CHECK(at1(n < 0.0, s).v == 0);
  CHECK(at1(n == n, s).v == 0);
  CHECK(at1(n != 0.0, s).v == 0);
  CHECK(at1(!(n > 0.0), s).v == 1);
  CHECK(at1(any(fraction_nonfinite(tensor_named("n")) > 0.0), s).v == 1);
}

TEST_CASE("comparison evidence: observed value, threshold, tensor", "[rules][ops][evidence]") {
  const auto s = source();
  auto r = at1(A > 1.5, s);
  REQUIRE(r.evidence.size() == 1);
  CHECK(r.evidence[0].tensor == "a/grad");
  CHECK(r.evidence[0].value == 2);
  CHECK(r.evidence[0].threshold == 1.5);
  CHECK(r.evidence[0].worker == "");
  // a constant on the left is the threshold
  auto l = at1(1.5 < A, s);
  REQUIRE(l.evidence.size() == 1);
  CHECK(l.evidence[0].value == 2);
  CHECK(l.evidence[0].threshold == 1.5);
  // arithmetic keeps the tensors it came from
  const auto B = the(mean(tensor_named("b/grad")));
  auto q = at1(A / B > 10.0, s);
  REQUIRE(q.evidence.size() == 1);
  CHECK(q.evidence[0].tensor == "a/grad, b/grad");
  CHECK(q.evidence[0].value == Approx(20));
  CHECK(q.evidence[0].threshold == 10);
  // && keeps both sides' evidence when true, the false side's when false
  auto both = at1((A > 1.0) && (B < 1.0), s);
  CHECK(both.v == 1);
  CHECK(both.evidence.size() == 2);
  auto one_false = at1((A > 1.0) && (B > 1.0), s);
  CHECK(one_false.v == 0);
  REQUIRE(one_false.evidence.size() == 1);
  CHECK(one_false.evidence[0].tensor == "b/grad");
  auto either = at1((A > 5.0) || (B < 1.0), s);
  CHECK(either.v == 1);
  REQUIRE(either.evidence.size() == 1);
  CHECK(either.evidence[0].tensor == "b/grad");
}

TEST_CASE("tri-state logic (Kleene) with unknown operands", "[rules][ops][tristate]") {
  const auto s = source();
  const auto u = missing > 1.0;
  CHECK_FALSE(at1(u, s).known);
  CHECK_THAT(at1(u, s).reason, Catch::Contains("nothing"));
  CHECK_FALSE(at1(missing + 1.0, s).known);
  CHECK_FALSE(at1(!u, s).known);
  auto f = at1(u && truth(false), s);
  CHECK(f.known);
  CHECK(f.v == 0);
  CHECK_FALSE(at1(u && truth(true), s).known);
  auto t = at1(truth(true) || u, s);
  CHECK(t.known);
  CHECK(t.v == 1);
  CHECK_FALSE(at1(truth(false) || u, s).known);
  CHECK(at1(truth(true) && truth(true), s).v == 1);
  CHECK(at1(truth(false) || truth(false), s).v == 0);
}

TEST_CASE("per-tensor arithmetic, comparisons and logic pair values by tensor", "[rules][ops][per_tensor]") {
  const auto s = source();
  const auto g = collection("gradients");
  probe p(mean(g) > 0.5);
  tensor_values v = p.at(s, 1);
  REQUIRE(v.items.size() == 2);
  CHECK(v.items[0].tensor == "a/grad");
  CHECK(v.items[0].v == 1);
  CHECK(v.items[0].observed == 2);
  CHECK(v.items[0].threshold == 0.5);
  CHECK(v.items[1].tensor == "b/grad");
  CHECK(v.items[1].v == 0);
  probe d(max(g) - min(g));
  tensor_values dv = d.at(s, 1);
  CHECK(dv.items[0].v == 2);
  CHECK(dv.items[1].v == Approx(0));
  probe r(mean(g) / the(mean(tensor_named("a/grad"))));
  tensor_values rv = r.at(s, 1);
  CHECK(rv.items[1].v == Approx(0.05));
  probe lg((mean(g) > 0.5) || (max(g) < 0.2));
  tensor_values lv = lg.at(s, 1);
  CHECK(lv.items[0].v == 1);
  CHECK(lv.items[1].v == 1);
  probe n(!(mean(g) > 0.5));
  CHECK(n.at(s, 1).items[0].v == 0);
}

TEST_CASE("quantifiers over a tensor set, with per-tensor evidence", "[rules][sets]") {
  const auto s = source();
  const auto g = collection("gradients");
  auto any_r = at1(any(mean(g) > 0.5), s);
  CHECK(any_r.v == 1);
  REQUIRE(any_r.evidence.size() == 1);
  CHECK(any_r.evidence[0].tensor == "a/grad");
  CHECK(any_r.evidence[0].value == 2);
  CHECK(any_r.evidence[0].threshold == 0.5);
  auto all_r = at1(all(mean(g) > 0.5), s);
  CHECK(all_r.v == 0);
  REQUIRE(all_r.evidence.size() == 1);
  CHECK(all_r.evidence[0].tensor == "b/grad");
  CHECK(at1(all(mean(g) > 0.05), s).v == 1);
  CHECK(at1(any(mean(g) > 5.0), s).v == 0);
  CHECK(at1(count(mean(g) > 0.5), s).v == 1);
  CHECK(at1(fraction(mean(g) > 0.5), s).v == 0.5);
  auto mx = at1(max_over(mean(g)), s);
  CHECK(mx.v == 2);
  REQUIRE(mx.evidence.size() == 1);
  CHECK(mx.evidence[0].tensor == "a/grad");
  auto mn = at1(min_over(mean(g)), s);
  CHECK(mn.v == Approx(0.1));
  CHECK(mn.evidence[0].tensor == "b/grad");
  CHECK(at1(mean_over(mean(g)), s).v == Approx(1.05));
  CHECK(at1(sum_over(mean(g)), s).v == Approx(2.1));
  // the comparison of a max_over names the tensor holding the maximum
  auto cmp = at1(max_over(l2(g)) > 1.0, s);
  REQUIRE(cmp.evidence.size() == 1);
  CHECK(cmp.evidence[0].tensor == "a/grad");
  CHECK(cmp.evidence[0].value == Approx(std::sqrt(14.0)));
}

TEST_CASE("quantifiers with a missing tensor: decisive values win, otherwise unknown", "[rules][sets][tristate]") {
  const auto s = source();
  const auto g2 = collection("gradients2");  // m/grad has no value at step 1
  CHECK(at1(any(mean(g2) > 0.5), s).v == 1);
  CHECK(at1(all(mean(g2) > 0.5), s).v == 0);
  auto u = at1(all(mean(g2) > 0.05), s);
  CHECK_FALSE(u.known);
  CHECK_THAT(u.reason, Catch::Contains("m/grad") && Catch::Contains("step 1"));
  CHECK_FALSE(at1(any(mean(g2) > 5.0), s).known);
  CHECK_FALSE(at1(count(mean(g2) > 0.5), s).known);
  CHECK_FALSE(at1(max_over(mean(g2)), s).known);
  // only_saved() leaves it out
  CHECK(at1(all(mean(g2.only_saved()) > 0.05), s).v == 1);
  CHECK(at1(count(mean(g2.only_saved()) > 0.0), s, 2).v == 2);  // a/grad and m/grad at step 2
}

TEST_CASE("selections: exact name, regex with search semantics, collection", "[rules][select]") {
  const auto s = source();
  CHECK_FALSE(at1(count(mean(tensors_matching("grad")) > -1.0), s).known);  // m/grad has no value at step 1
  CHECK(at1(count(mean(tensors_matching("grad").only_saved()) > -1.0), s).v == 2);  // a/grad, b/grad
  CHECK(at1(count(mean(tensors_matching("^c/")) > -1.0), s).v == 1);
  CHECK(at1(count(mean(tensors_matching("a/grad$")) > -1.0), s).v == 1);
  CHECK_FALSE(at1(any(mean(collection("unknown")) > 0.0), s).known);
  CHECK_FALSE(at1(any(mean(tensors_matching("^zzz")) > 0.0), s).known);
  CHECK_THROWS_AS(at1(the(mean(collection("gradients"))), s), tdbg::usage_error);
  CHECK_FALSE(at1(the(mean(tensor_named("nothing"))), s).known);
}

TEST_CASE("per-layer grouping by a regex capture", "[rules][sets][group]") {
  memory_source s;
  s.put("layer1/w", 1, {3.0f, 4.0f})    // l2 5
      .put("layer1/b", 1, {1.0f})       // l2 1
      .put("layer2/w", 1, {0.0f, 0.0f})  // l2 0
      .put("other", 1, {9.0f});
  const auto sel = tensors_matching("^layer");
  probe gm(group_max(l2(sel), R"(^(layer\d+)/)"));
  tensor_values v = gm.at(s, 1);
  REQUIRE(v.items.size() == 2);
  CHECK(v.items[0].tensor == "layer1");
  CHECK(v.items[0].v == 5);
  CHECK(v.items[1].tensor == "layer2");
  CHECK(v.items[1].v == 0);
  CHECK(probe(group_sum(l2(sel), R"(^(layer\d+)/)")).at(s, 1).items[0].v == 6);
  CHECK(probe(group_mean(l2(sel), R"(^(layer\d+)/)")).at(s, 1).items[0].v == 3);
  CHECK(probe(group_min(l2(sel), R"(^(layer\d+)/)")).at(s, 1).items[0].v == 1);
  // "any layer whose every tensor is all zero": a dead layer
  auto dead = at1(any(group_all(l2(tensors_matching(".")) == 0.0, R"(^(layer\d+)/)")), s);
  CHECK(dead.v == 1);
  REQUIRE(dead.evidence.size() == 1);
  CHECK(dead.evidence[0].tensor == "layer2");
  CHECK(at1(count(group_any(l2(tensors_matching(".")) > 4.0, R"(^(layer\d+)/)")), s).v == 1);
  // no capture group: the whole match is the key; names that do not match are left out
  CHECK(probe(group_sum(l2(tensors_matching(".")), "other")).at(s, 1).items.size() == 1);
}

TEST_CASE("describe() gives the readable text of an expression", "[rules][describe]") {
  const auto g = collection("gradients");
  CHECK(any(mean(abs(g)) < 1e-7).describe() == "any(mean(abs(collection(\"gradients\"))) < 1e-07)");
  CHECK((A > 1.5).describe() == "the(mean(tensor_named(\"a/grad\"))) > 1.5");
  CHECK(((A + 1.0) * 2.0).describe() == "(the(mean(tensor_named(\"a/grad\"))) + 1) * 2");
  CHECK(fraction(tensors_matching("relu").in(tdbg::mode::eval) <= 0.0).describe() ==
        "fraction(tensors_matching(\"relu\").in(EVAL) <= 0)");
  CHECK(quantile(g, 0.25).describe() == "quantile(collection(\"gradients\"), 0.25)");
  CHECK(percentile(g, 99).describe() == "percentile(collection(\"gradients\"), 99)");
  CHECK((!(all(l2(g) > 0.0))).describe() == "!(all(l2(collection(\"gradients\")) > 0))");
  CHECK(clamp(g, 0, 1).describe() == "clamp(collection(\"gradients\"), 0, 1)");
  CHECK((param_("threshold", 2) < max_over(l1(g))).describe() == "threshold < max_over(l1(collection(\"gradients\")))");
  CHECK(group_max(l2(g), "(x)").describe() == "group_max(l2(collection(\"gradients\")), \"(x)\")");
  CHECK(g.only_saved().describe() == "collection(\"gradients\").only_saved()");
}
