// Time (prev, at_steps_back, delta, ratio), windows, running values, patience and then, with
// state over evaluations, and bounded memory.
#include <catch2/catch.hpp>

#include <cmath>

#include "probe.hpp"
#include "test_source.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/sets.hpp"
#include "tdbg/rules/time.hpp"
#include "tdbg/rules/window.hpp"

using namespace tdbg::rules;
using tdbg::mode;
using tdbg::rules::test::make;
using tdbg::rules::test::memory_source;
using tdbg::rules::test::probe;

namespace {
const auto loss = the(mean(tensor_named("loss")));

/// loss = values[i] at TRAIN steps 0..n-1.
memory_source losses(const std::vector<float>& values) {
  memory_source s;
  for (std::size_t i = 0; i < values.size(); ++i) s.put("loss", static_cast<tdbg::step_t>(i), {values[i]});
  return s;
}
}  // namespace

TEST_CASE("prev, delta and ratio of a scalar", "[rules][time]") {
  const auto s = losses({5, 4, 2});
  probe p(prev(loss));
  CHECK_FALSE(p.at(s, 0).known);
  CHECK_THAT(p.at(s, 0).reason, Catch::Contains("'loss'") && Catch::Contains("before step 0"));
  CHECK(p.at(s, 1).v == 5);
  CHECK(p.at(s, 2).v == 4);
  CHECK(probe(delta(loss)).at(s, 2).v == -2);
  CHECK(probe(ratio(loss)).at(s, 2).v == 0.5);
  CHECK(probe(prev(loss, 2)).at(s, 2).v == 5);
  CHECK(probe(prev(prev(loss))).at(s, 2).v == 5);
  CHECK(prev(loss).describe() == "prev(the(mean(tensor_named(\"loss\"))))");
  CHECK(delta(loss).describe() == "the(mean(tensor_named(\"loss\"))) - prev(the(mean(tensor_named(\"loss\"))))");
}

TEST_CASE("prev follows each tensor's own saved steps, within the mode", "[rules][time]") {
  memory_source s;
  s.step(0, mode::train, 0).step(1, mode::eval, 0).step(2, mode::train, 1).step(3, mode::eval, 1).step(4, mode::train, 2);
  s.put("loss", 0, {1.0f}).put("loss", 1, {10.0f}).put("loss", 2, {2.0f}).put("loss", 3, {20.0f}).put("loss", 4, {3.0f});
  s.put("w", 0, {1.0f}).put("w", 4, {3.0f});
  CHECK(probe(prev(loss)).at(s, 4).v == 2);   // previous TRAIN step, not the EVAL step 3
  CHECK(probe(prev(loss)).at(s, 3).v == 10);  // previous EVAL step
  CHECK(probe(prev(the(mean(tensor_named("w"))))).at(s, 4).v == 1);  // w saved at 0 and 4 only
  // at_steps_back counts mode steps: TRAIN step 2 − 1 = TRAIN step 1 = global 2
  CHECK(probe(at_steps_back(loss, 1)).at(s, 4).v == 2);
  CHECK(probe(at_steps_back(loss, 2)).at(s, 4).v == 1);
  CHECK_FALSE(probe(at_steps_back(loss, 3)).at(s, 4).known);
  // a tensor not saved at the evaluated step is unknown, even under prev
  CHECK_FALSE(probe(prev(the(mean(tensor_named("w"))))).at(s, 2).known);
}

TEST_CASE("at_steps_back takes the newest saved step at or before step - k", "[rules][time]") {
  memory_source s;
  s.put("loss", 0, {9.0f}).put("loss", 10, {7.0f}).put("loss", 20, {5.0f}).put("loss", 25, {4.0f});
  CHECK(probe(at_steps_back(loss, 10)).at(s, 25).v == 7);  // step 15 → newest at or before: 10
  CHECK(probe(at_steps_back(loss, 5)).at(s, 25).v == 5);
  CHECK(probe(at_steps_back(loss, 25)).at(s, 25).v == 9);
  CHECK_FALSE(probe(at_steps_back(loss, 26)).at(s, 25).known);
  // LossNotDecreasing's core: loss now vs loss num_steps ago
  CHECK(probe(loss >= at_steps_back(loss, 10)).at(s, 25).v == 0);
}

TEST_CASE("prev of a selection: element-wise differences between steps", "[rules][time][elements]") {
  memory_source s;
  s.put("w", 1, make<float>({1, 2})).put("w", 2, make<float>({4, 6})).put("w", 3, make<double>({4, 6}));
  s.put("w", 4, make<float>({1, 2, 3}));
  const auto w = tensor_named("w");
  CHECK(probe(the(l2(w - prev(w)))).at(s, 2).v == 5);
  // the weight update ratio, per tensor
  CHECK(probe(the(l2(w - prev(w)) / l2(prev(w)))).at(s, 2).v == Approx(5 / std::sqrt(5.0)));
  // mixed dtypes (float64 now, float32 before) are compared as float64
  CHECK(probe(the(max_abs(w - prev(w)))).at(s, 3).v == 0);
  // a changed shape cannot be subtracted: unknown with a reason
  auto r = probe(the(l2(w - prev(w)))).at(s, 4);
  CHECK_FALSE(r.known);
  CHECK_THAT(r.reason, Catch::Contains("elements"));
  // allclose over two steps (UnchangedTensor's core)
  CHECK(probe(all(count(abs(w - prev(w)) > 1e-6 + 1e-5 * abs(prev(w))) == 0.0)).at(s, 3).v == 1);
  CHECK(probe(all(count(abs(w - prev(w)) > 1e-6 + 1e-5 * abs(prev(w))) == 0.0)).at(s, 2).v == 0);
}

TEST_CASE("windows over the last n values of a scalar", "[rules][window]") {
  const auto s = losses({1, 2, 3, 4, 5, 6});
  probe mean3(window_mean(loss, 3));
  auto r0 = mean3.at(s, 0);
  CHECK_FALSE(r0.known);
  CHECK_THAT(r0.reason, Catch::Contains("1 of 3"));
  CHECK_FALSE(mean3.at(s, 1).known);
  CHECK(mean3.at(s, 2).v == 2);
  CHECK(mean3.at(s, 3).v == 3);
  CHECK(mean3.state_size() == 3);
  probe mn(window_min(loss, 2));
  probe mx(window_max(loss, 2));
  probe sl(window_slope(loss * 2.0, 4));
  for (tdbg::step_t g = 0; g < 5; ++g) {
    (void)mn.at(s, g);
    (void)mx.at(s, g);
    (void)sl.at(s, g);
  }
  CHECK(mn.at(s, 5).v == 5);
  CHECK(mx.at(s, 5).v == 6);
  CHECK(sl.at(s, 5).v == Approx(2.0));
  probe cnt(window_count(loss > 2.5, 3));
  probe al(window_all(loss > 2.5, 3));
  probe an(window_any(loss > 5.5, 3));
  for (tdbg::step_t g = 0; g < 4; ++g) {
    (void)cnt.at(s, g);
    (void)al.at(s, g);
    (void)an.at(s, g);
  }
  CHECK(cnt.at(s, 4).v == 3);  // 3, 4, 5
  CHECK(al.at(s, 4).v == 1);
  CHECK(an.at(s, 4).v == 0);
  CHECK(an.at(s, 5).v == 1);
  mean3.expr();  // the node is inert: still usable
  CHECK(window_slope(loss, 4).describe() == "window_slope(the(mean(tensor_named(\"loss\"))), 4)");
}

TEST_CASE("a window skips evaluations where its value is unknown; reset clears it", "[rules][window]") {
  memory_source s;
  s.put("loss", 0, {1.0f}).step(1).put("loss", 2, {3.0f});
  probe w(window_mean(loss, 2));
  CHECK_FALSE(w.at(s, 0).known);
  auto mid = w.at(s, 1);
  CHECK_FALSE(mid.known);
  CHECK_THAT(mid.reason, Catch::Contains("1 of 2"));
  CHECK(w.at(s, 2).v == 2);
}

TEST_CASE("running values accumulate over every evaluation in O(1) memory", "[rules][window]") {
  const auto s = losses({3, 1, 4, 1, 5});
  probe sum_(running_sum(loss));
  probe min_(running_min(loss));
  probe max_(running_max(loss));
  probe mean_(running_mean(loss));
  for (tdbg::step_t g = 0; g < 5; ++g) {
    (void)sum_.at(s, g);
    (void)min_.at(s, g);
    (void)max_.at(s, g);
    (void)mean_.at(s, g);
  }
  CHECK(sum_.at(s, 4).v == 19);  // evaluated again at 4: 3+1+4+1+5+5
  CHECK(min_.at(s, 4).v == 1);
  CHECK(max_.at(s, 4).v == 5);
  CHECK(mean_.at(s, 4).v == Approx(19.0 / 6));
  CHECK(sum_.state_size() == 1);
}

TEST_CASE("patience: a condition holding k evaluations in a row", "[rules][window][patience]") {
  memory_source s = losses({1, 2, 3, 4, 5, 6});
  s.step(6).put("loss", 7, {9.0f}).put("loss", 8, {9.0f}).put("loss", 9, {9.0f});
  probe p(patience(loss > 2.0, 3));
  std::vector<double> got;
  for (tdbg::step_t g = 0; g < 10; ++g) {
    auto r = p.at(s, g);
    got.push_back(r.known ? r.v : -1);
  }
  // true from the 3rd consecutive true (steps 2,3,4); unknown at 6 restarts the count
  CHECK(got == std::vector<double>{0, 0, 0, 0, 1, 1, -1, 0, 0, 1});
  CHECK(p.state_size() == 0);
}

TEST_CASE("then: A, then B within k steps", "[rules][window][then]") {
  const auto s = losses({1, 2, 1, 4, 5, 6});
  probe t(then(loss == 2.0, loss >= 4.0, 3));
  std::vector<double> got;
  for (tdbg::step_t g = 0; g < 6; ++g) got.push_back(t.at(s, g).v);
  CHECK(got == std::vector<double>{0, 0, 0, 1, 1, 0});  // A at 1; B at 3, 4 (≤ 3 steps later); 5 is too late
  probe same_step(then(loss == 5.0, loss > 4.0, 0));
  for (tdbg::step_t g = 0; g < 4; ++g) CHECK(same_step.at(s, g).v == 0);
  CHECK(same_step.at(s, 4).v == 1);
  CHECK(same_step.at(s, 5).v == 0);
}

TEST_CASE("memory is bounded by the window, not by the training length", "[rules][window][memory]") {
  memory_source s;
  for (tdbg::step_t g = 0; g < 10000; ++g) s.put("loss", g, {static_cast<float>(g % 7)});
  probe w(window_max(loss, 5) > 5.0 && patience(loss >= 0.0, 3));
  std::size_t largest = 0;
  for (tdbg::step_t g = 0; g < 10000; ++g) {
    (void)w.at(s, g);
    largest = std::max(largest, w.state_size());
  }
  CHECK(largest == 5);
}
