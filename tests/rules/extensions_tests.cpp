// Vocabulary extensions of the built-in rule library, on hand-computed examples: saved-history
// quantifiers (history.hpp), axis reductions (axis.hpp), class counts / confusion matrices /
// accumulation (classes.hpp), isnan/isfinite, exists, choose — typed and through erased nodes.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "probe.hpp"
#include "test_source.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using tdbg::rules::test::make;
using tdbg::rules::test::memory_source;
using tdbg::rules::test::probe;

namespace {

const double nan_v = std::numeric_limits<double>::quiet_NaN();

/// The elements (and dims) of an elements expression for its first tensor at step g, through
/// the elements protocol (names, bind, materialize, expr) as a parent node drives it.
template <class E>
std::vector<double> elements_of(E e, const memory_source& src, tdbg::step_t g, std::vector<std::uint64_t>* dims = nullptr) {
  typename E::evaluator ev(e);
  detail::step_cache cache;
  context c;
  c.src = &src;
  c.step = g;
  const auto p = src.point(g);
  c.mode = p ? p->mode : tdbg::mode::global;
  c.mode_step = p ? p->mode_step : g;
  c.cache = &cache;
  const name_set ns = ev.names(c);
  REQUIRE(ns.known);
  REQUIRE(ns.names.size() >= 1);
  const std::string why = ev.bind(c, ns.names.front());
  INFO(why);
  REQUIRE(why.empty());
  if (dims) *dims = dims_of(ev);
  std::vector<double> out;
  detail::evaluate_into(ev, out);
  ev.release();
  return out;
}

/// The reason an elements expression cannot be bound for the first tensor at g.
template <class E>
std::string bind_failure(E e, const memory_source& src, tdbg::step_t g) {
  typename E::evaluator ev(e);
  detail::step_cache cache;
  context c;
  c.src = &src;
  c.step = g;
  c.mode = tdbg::mode::train;
  c.mode_step = g;
  c.cache = &cache;
  const name_set ns = ev.names(c);
  REQUIRE(ns.known);
  return ev.bind(c, ns.names.front());
}

}  // namespace

TEST_CASE("history_all/any look back through each tensor's saved steps", "[rules][extensions][history]") {
  memory_source src;
  // w saved at 0, 2, 3, 5 (not at 1 or 4): 1, 1, 1, 2
  src.put("w", 0, std::vector<float>{1, 1}).put("w", 2, std::vector<float>{1, 1}).put("w", 3, std::vector<float>{1, 1});
  src.put("w", 5, std::vector<float>{2, 1}).step(1).step(4);
  const auto w = tensor_named("w");
  const auto same = max_abs(w - prev(w)) == 0.0;
  probe q(any(history_all(same, 2)));
  CHECK(!q.at(src, 0).known);            // no saved step before 0
  CHECK(!q.at(src, 2).known);            // w at 2 vs 0 only: one pair, two needed
  CHECK(q.at(src, 2).reason.find("tensor 'w' has no TRAIN value 1 saved step(s) before step 0") != std::string::npos);
  CHECK(q.at(src, 3).truth());           // 0, 2, 3 all equal (not consecutive global steps)
  CHECK(!q.at(src, 5).truth());          // 5 differs from 3
  CHECK(q.at(src, 5).known);
  probe a(any(history_any(!same, 3)));
  CHECK(a.at(src, 5).truth());           // changed at 5
  CHECK(!a.at(src, 3).known);            // 3 pairs before 3 need 4 saved values
  // false wins over unknown: at 5 the newest pair already differs
  probe f(any(history_all(same, 4)));
  CHECK(f.at(src, 5).known);
  CHECK(!f.at(src, 5).truth());
  CHECK(history_all(same, 2).describe() == "history_all(max_abs(tensor_named(\"w\") - prev(tensor_named(\"w\"))) == 0, 2)");
  requirements r;
  history_all(same, 3).needs(r, need_scope{});
  REQUIRE(!r.tensors.empty());
  std::size_t back = 0;
  for (const auto& n : r.tensors) back = std::max(back, n.saved_steps_back);
  CHECK(back == 3);  // 2 shifts of the history + prev
  CHECK_THROWS_AS(history_all(same, 0), tdbg::usage_error);
  CHECK_THROWS_AS(history_all(same, 1.5), tdbg::usage_error);
}

TEST_CASE("history_min/max/mean of per-tensor and scalar numbers", "[rules][extensions][history]") {
  memory_source src;
  for (int s = 0; s < 4; ++s) src.put("loss", s, std::vector<float>{static_cast<float>(s * s)});
  const auto loss = the(max(tensor_named("loss")));
  CHECK(evaluate_at(history_max(loss, 3), src, 3).v == 9);
  CHECK(evaluate_at(history_min(loss, 3), src, 3).v == 1);
  CHECK(evaluate_at(history_mean(loss, 3), src, 3).v == Approx((1 + 4 + 9) / 3.0));
  CHECK(!evaluate_at(history_mean(loss, 3), src, 1).known);
  probe per(history_max(mean(tensor_named("loss")), 2));
  const tensor_values v = per.at(src, 2);
  REQUIRE(v.items.size() == 1);
  CHECK(v.items[0].v == 4);
}

TEST_CASE("axis reductions: along one axis, per index of one axis, argmax", "[rules][extensions][axis]") {
  memory_source src;
  // t [2, 3] = [[1, 2, 3], [4, 5, 6]]
  src.put("t", 1, make<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  const auto t = tensor_named("t");
  std::vector<std::uint64_t> dims;
  CHECK(elements_of(mean_along(t, 0), src, 1, &dims) == std::vector<double>{2.5, 3.5, 4.5});
  CHECK(dims == std::vector<std::uint64_t>{3});
  CHECK(elements_of(sum_along(t, 1), src, 1, &dims) == std::vector<double>{6, 15});
  CHECK(elements_of(sum_along(t, -1), src, 1) == std::vector<double>{6, 15});
  CHECK(elements_of(max_along(t, 0), src, 1) == std::vector<double>{4, 5, 6});
  CHECK(elements_of(min_along(t, 1), src, 1) == std::vector<double>{1, 4});
  CHECK(elements_of(mean_per(t, 1), src, 1, &dims) == std::vector<double>{2.5, 3.5, 4.5});
  CHECK(elements_of(sum_per(t, 0), src, 1) == std::vector<double>{6, 15});
  CHECK(elements_of(argmax_along(t, 0), src, 1) == std::vector<double>{1, 1, 1});
  CHECK(elements_of(mean_along(t > 2.0, 0), src, 1) == std::vector<double>{0.5, 0.5, 1});
  // composition: per-channel mean of an NCHW batch [2, 2, 1, 2]
  src.put("img", 1, make<float>({1, 1, 5, 7, 3, 3, 9, 11}, {2, 2, 1, 2}));
  CHECK(elements_of(mean_per(tensor_named("img"), 1), src, 1) == std::vector<double>{2, 8});
  CHECK(elements_of(mean_along(mean_along(tensor_named("img"), 0), -1), src, 1, &dims) == std::vector<double>{2, 8});
  CHECK(dims == std::vector<std::uint64_t>{2, 1});
  // a reduction of the result, and the description
  probe p(fraction(mean_along(t > 2.0, 0) < 0.75));
  CHECK(p.at(src, 1).items.at(0).v == Approx(2.0 / 3));
  CHECK(mean_along(t > 2.0, 0).describe() == "mean_along(tensor_named(\"t\") > 2, 0)");
  CHECK(mean_per(t, 1).describe() == "mean_per(tensor_named(\"t\"), 1)");
  // an axis the tensor does not have: that tensor is unknown, with its shape
  CHECK(bind_failure(mean_along(t, 2), src, 1).find("shape [2, 3] has no axis 2") != std::string::npos);
  CHECK_THROWS_AS(mean_along(t, 0.5), tdbg::usage_error);
}

TEST_CASE("axis reductions: NaN, empty axes, argmax ties", "[rules][extensions][axis]") {
  memory_source src;
  src.put("t", 1, make<double>({1, nan_v, 3, 3}, {2, 2}));
  src.put("e", 1, make<float>({}, {0, 2}));
  const auto t = tensor_named("t");
  auto v = elements_of(max_along(t, 0), src, 1);  // columns {1, 3} and {NaN, 3}
  CHECK(v[0] == 3);
  CHECK(std::isnan(v[1]));
  CHECK(elements_of(argmax_along(t, 1), src, 1) == std::vector<double>{1, 0});  // first NaN; first of a tie
  auto e = elements_of(mean_along(tensor_named("e"), 0), src, 1);
  REQUIRE(e.size() == 2);
  CHECK(std::isnan(e[0]));
  CHECK(elements_of(sum_along(tensor_named("e"), 0), src, 1) == std::vector<double>{0, 0});
}

TEST_CASE("axis reductions through erased nodes keep the shape", "[rules][extensions][axis]") {
  memory_source src;
  src.put("t", 1, make<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  const any_element_mask m(tensor_named("t") > 2.0);
  std::vector<std::uint64_t> dims;
  CHECK(elements_of(any_elements(mean_along(m, 0)), src, 1, &dims) == std::vector<double>{0.5, 0.5, 1});
  CHECK(dims == std::vector<std::uint64_t>{3});
  CHECK(elements_of(sum_per(any_elements(tensor_named("t")), 0), src, 1) == std::vector<double>{6, 15});
}

TEST_CASE("class_counts, confusion_matrix, diagonal, off_diagonal", "[rules][extensions][classes]") {
  memory_source src;
  src.put("labels", 1, make<std::int64_t>({0, 1, 1, 2, 2, 2}));
  src.put("predictions", 1, make<std::int64_t>({0, 1, 2, 2, 2, 0}));
  src.put("probs", 1, make<float>({0.9f, 0.1f, 0.2f, 0.8f}, {2, 2}));
  src.put("bad", 1, std::vector<float>{0.5f, 1});
  const auto l = tensor_named("labels");
  const auto p = tensor_named("predictions");
  std::vector<std::uint64_t> dims;
  CHECK(elements_of(class_counts(l), src, 1, &dims) == std::vector<double>{1, 2, 3});
  CHECK(dims == std::vector<std::uint64_t>{3});
  const std::vector<double> m{1, 0, 0,  //
                              0, 1, 1,  //
                              1, 0, 2};
  CHECK(elements_of(confusion_matrix(l, p), src, 1, &dims) == m);
  CHECK(dims == std::vector<std::uint64_t>{3, 3});
  CHECK(elements_of(diagonal(confusion_matrix(l, p)), src, 1) == std::vector<double>{1, 1, 2});
  CHECK(elements_of(off_diagonal(confusion_matrix(l, p)), src, 1) == std::vector<double>{0, 0, 0, 0, 0, 1, 1, 0, 0});
  CHECK(elements_of(sum_along(confusion_matrix(l, p), 0), src, 1) == std::vector<double>{2, 1, 3});  // predicted
  CHECK(elements_of(argmax_along(tensor_named("probs"), -1), src, 1) == std::vector<double>{0, 1});
  CHECK(bind_failure(class_counts(tensor_named("bad")), src, 1).find("value 0.5 is not a class index") !=
        std::string::npos);
  CHECK(bind_failure(diagonal(l), src, 1).find("is not a matrix") != std::string::npos);
  CHECK(confusion_matrix(l, p).describe() ==
        "confusion_matrix(tensor_named(\"labels\"), tensor_named(\"predictions\"))");
}

TEST_CASE("confusion_matrix pairs labels with predictions by name, position or the only one", "[rules][extensions][classes]") {
  memory_source src;
  src.put("a/labels", 1, make<std::int64_t>({0, 1})).put("b/labels", 1, make<std::int64_t>({1, 1}));
  src.put("a/predictions", 1, make<std::int64_t>({0, 0})).put("b/predictions", 1, make<std::int64_t>({1, 0}));
  probe per(sum(diagonal(confusion_matrix(tensors_matching("labels"), tensors_matching("predictions")))));
  const tensor_values v = per.at(src, 1);
  REQUIRE(v.items.size() == 2);
  CHECK(v.items[0].v == 1);  // a: (0, 0) right, (1, 0) wrong
  CHECK(v.items[1].v == 1);  // b: (1, 1) right, (1, 0) wrong
  probe one(sum(diagonal(confusion_matrix(tensors_matching("labels"), tensor_named("a/predictions")))));
  CHECK(one.at(src, 1).items[1].v == 0);  // b/labels {1, 1} vs a/predictions {0, 0}
}

TEST_CASE("accumulate sums counts over evaluations, padding a growing class range", "[rules][extensions][classes]") {
  memory_source src;
  src.put("labels", 0, make<std::int64_t>({0, 0, 1}));
  src.put("labels", 1, make<std::int64_t>({2}));
  src.put("labels", 2, make<std::int64_t>({1, 1}));
  const auto acc = accumulate(class_counts(tensor_named("labels")));
  probe p(max(acc));
  CHECK(p.at(src, 0).items[0].v == 2);  // {2, 1}
  CHECK(p.at(src, 1).items[0].v == 2);  // {2, 1, 1}
  CHECK(p.at(src, 2).items[0].v == 3);  // {2, 3, 1}
  CHECK(p.state_size() == 3);
  probe s(sum(acc));
  CHECK(s.at(src, 0).items[0].v == 3);
  CHECK(s.at(src, 2).items[0].v == 5);  // it adds what it reads, at the evaluations it sees
  // a matrix whose K grows keeps each count at its (label, prediction) position
  memory_source cm;
  cm.put("l", 0, make<std::int64_t>({0, 1})).put("p", 0, make<std::int64_t>({1, 1}));
  cm.put("l", 1, make<std::int64_t>({2})).put("p", 1, make<std::int64_t>({0}));
  const auto m = accumulate(confusion_matrix(tensor_named("l"), tensor_named("p")));
  {
    typename decltype(m)::evaluator ev(m);
    detail::step_cache cache;
    std::vector<double> out;
    for (tdbg::step_t g : {0, 1}) {
      context c;
      c.src = &cm;
      c.step = g;
      c.mode = tdbg::mode::train;
      c.mode_step = g;
      c.cache = &cache;
      REQUIRE(ev.names(c).known);
      REQUIRE(ev.bind(c, "l").empty());
      detail::evaluate_into(ev, out);
      ev.release();
    }
    CHECK(out == std::vector<double>{0, 1, 0,  //
                                     0, 1, 0,  //
                                     1, 0, 0});
  }
}

TEST_CASE("isnan, isfinite, exists, choose", "[rules][extensions]") {
  memory_source src;
  src.put("t", 1, make<double>({1, nan_v, std::numeric_limits<double>::infinity()}));
  const auto t = tensor_named("t");
  probe n(count(isnan(t)));
  CHECK(n.at(src, 1).items[0].v == 1);
  probe f(count(isfinite(t)));
  CHECK(f.at(src, 1).items[0].v == 1);
  CHECK(evaluate_at(exists(t), src, 1).truth());
  const scalar_value none = evaluate_at(exists(tensors_matching("sigmoid")), src, 1);
  CHECK(none.known);
  CHECK(!none.truth());
  // exists guards an absent part: false && unknown is false, not insufficient data
  const auto sig = tensors_matching("sigmoid");
  const scalar_value guarded = evaluate_at(exists(sig) && any(max(sig) > 0.0), src, 1);
  CHECK(guarded.known);
  CHECK(!guarded.truth());
  CHECK(choose(max(t), min(t), true).describe() == "max(tensor_named(\"t\"))");
  CHECK(choose(max(t), min(t), false).describe() == "min(tensor_named(\"t\"))");
  CHECK(choose(t, t, false).describe() == "tensor_named(\"t\")");
}

TEST_CASE("extension rules run like any rule", "[rules][extensions]") {
  memory_source src;
  for (int s = 0; s < 4; ++s) src.put("w", s, std::vector<float>{1, s < 2 ? static_cast<float>(s) : 2.0f});
  const auto w = tensor_named("w");
  any_rule r = make_rule("Unchanged", any(history_all(max_abs(w - prev(w)) == 0.0, 1)));
  std::vector<std::string> verdicts;
  for (tdbg::step_t s : r.steps(src)) verdicts.push_back(std::string(verdict_name(r.evaluate(src, s).result)));
  CHECK(verdicts == std::vector<std::string>{"insufficient_data", "ok", "ok", "fired"});
}
