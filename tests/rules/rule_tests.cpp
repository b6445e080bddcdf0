// Rules: verdicts, findings and evidence, message templates, describe(), requirements,
// schedules (mode, every k, warm-up, start/end), state and copies.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "test_source.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using tdbg::mode;
using tdbg::rules::test::make;
using tdbg::rules::test::memory_source;

namespace {

// gradients at TRAIN steps 0, 5, 10 and EVAL step 7; b/grad vanishes at step 5.
memory_source training() {
  memory_source s;
  s.step(0, mode::train, 0).step(5, mode::train, 5).step(7, mode::eval, 0).step(10, mode::train, 10);
  for (tdbg::step_t g : {0, 5, 7, 10}) {
    s.put("a/grad", g, {1.0f, -1.0f});
    s.put("b/grad", g, g == 5 ? std::vector<float>{1e-9f, -1e-9f} : std::vector<float>{0.5f});
    s.put("loss", g, {static_cast<float>(10 - g)});
  }
  s.collection("gradients", {"a/grad", "b/grad"});
  return s;
}

auto vanishing() { return any(mean(abs(collection("gradients"))) < 1e-7); }

}  // namespace

TEST_CASE("a rule fires with findings naming tensors, values and thresholds", "[rules][rule]") {
  auto src = training();
  any_rule r = make_rule("VanishingGradient", vanishing());
  CHECK(r.name() == "VanishingGradient");
  CHECK(r.describe() == "VanishingGradient: any(mean(abs(collection(\"gradients\"))) < 1e-07)");
  evaluation ok = r.evaluate(src, 0);
  CHECK(ok.result == verdict::ok);
  CHECK(ok.findings.empty());
  CHECK(ok.mode == mode::train);
  evaluation e = r.evaluate(src, 5);
  REQUIRE(e.result == verdict::fired);
  REQUIRE(e.findings.size() == 1);
  const finding& f = e.findings[0];
  CHECK(f.rule == "VanishingGradient");
  CHECK(f.step == 5);
  CHECK(f.mode == mode::train);
  CHECK(f.mode_step == 5);
  CHECK(f.tensors == std::vector<std::string>{"b/grad"});
  REQUIRE(f.values.size() == 1);
  CHECK(f.values[0] == Approx(1e-9));
  CHECK(f.thresholds == std::vector<double>{1e-7});
  CHECK(f.worker == "");  // read from the default (first) worker: not worker-specific
  CHECK(f.message == "VanishingGradient fired at step 5 (TRAIN step 5): b/grad = 1e-09 (threshold 1e-07)");
  CHECK(std::string(verdict_name(verdict::fired)) == "fired");
  CHECK(std::string(verdict_name(verdict::ok)) == "ok");
  CHECK(std::string(verdict_name(verdict::insufficient_data)) == "insufficient_data");
}

TEST_CASE("message templates use named fields", "[rules][rule][message]") {
  auto src = training();
  rule_options o;
  o.message = "{rule}@{step}/{mode}:{mode_step} {tensor} mean|g| {value:.1e} < {threshold} ({tensors}; {expr})";
  any_rule r = make_rule("VG", vanishing(), o);
  auto e = r.evaluate(src, 5);
  REQUIRE(e.findings.size() == 1);
  CHECK(e.findings[0].message ==
        "VG@5/TRAIN:5 b/grad mean|g| 1.0e-09 < 1e-07 (b/grad; any(mean(abs(collection(\"gradients\"))) < 1e-07))");
  rule_options bad;
  bad.message = "{nonsense}";
  CHECK_THROWS_AS(make_rule("Bad", vanishing(), bad), tdbg::usage_error);
  bad.message = "{value:d}";
  CHECK_THROWS_AS(make_rule("Bad", vanishing(), bad), tdbg::usage_error);
  CHECK_THROWS_AS(make_rule("", vanishing()), tdbg::usage_error);
}

TEST_CASE("one finding per observation on request", "[rules][rule]") {
  auto src = training();
  rule_options o;
  o.findings = findings_per::observation;
  o.message = "{tensor}";
  any_rule r = make_rule("Big", any(max_abs(collection("gradients")) > 1e-3), o);
  auto e = r.evaluate(src, 0);
  REQUIRE(e.findings.size() == 2);
  CHECK(e.findings[0].message == "a/grad");
  CHECK(e.findings[1].message == "b/grad");
  rule_options p;
  any_rule all_in_one = make_rule("Big", any(max_abs(collection("gradients")) > 1e-3), p);
  auto e2 = all_in_one.evaluate(src, 0);
  REQUIRE(e2.findings.size() == 1);
  CHECK(e2.findings[0].tensors == std::vector<std::string>{"a/grad", "b/grad"});
  CHECK(e2.findings[0].values == std::vector<double>{1.0, 0.5});
}

TEST_CASE("insufficient data names what is missing", "[rules][rule][tristate]") {
  auto src = training();
  src.step(12, mode::train, 12).put("a/grad", 12, {1.0f});
  any_rule r = make_rule("VanishingGradient", vanishing());
  auto e = r.evaluate(src, 12);
  CHECK(e.result == verdict::insufficient_data);
  CHECK(e.findings.empty());
  CHECK_THAT(e.reason, Catch::Contains("b/grad") && Catch::Contains("step 12") && Catch::Contains("TRAIN"));
  auto unknown_step = r.evaluate(src, 99);
  CHECK(unknown_step.result == verdict::insufficient_data);
  CHECK_THAT(unknown_step.reason, Catch::Contains("99"));
}

TEST_CASE("schedule: steps of its tensors, mode, start/end, warm-up, every k", "[rules][rule][schedule]") {
  auto src = training();
  src.step(3, mode::train, 3).put("loss", 3, {1.0f});  // a step without gradients
  CHECK(make_rule("R", vanishing()).steps(src) == std::vector<tdbg::step_t>{0, 5, 7, 10});
  rule_options o;
  o.when.mode = mode::train;
  CHECK(make_rule("R", vanishing(), o).steps(src) == std::vector<tdbg::step_t>{0, 5, 10});
  o.when.every = 10;
  CHECK(make_rule("R", vanishing(), o).steps(src) == std::vector<tdbg::step_t>{0, 10});
  o.when.every = 1;
  o.when.warmup = 1;
  CHECK(make_rule("R", vanishing(), o).steps(src) == std::vector<tdbg::step_t>{5, 10});
  o.when.warmup = 0;
  o.when.start = 5;
  o.when.end = 9;
  CHECK(make_rule("R", vanishing(), o).steps(src) == std::vector<tdbg::step_t>{5});
  rule_options ev;
  ev.when.mode = mode::eval;
  CHECK(make_rule("R", vanishing(), ev).steps(src) == std::vector<tdbg::step_t>{7});
  // every k counts steps of the schedule: with saves at 0, 5, 7, 10 and k = 4: 0, 5, 10
  rule_options k;
  k.when.every = 4;
  CHECK(make_rule("R", vanishing(), k).steps(src) == std::vector<tdbg::step_t>{0, 5, 10});
  // the loss is saved at 3 too
  CHECK(make_rule("L", the(mean(tensor_named("loss"))) > 100.0).steps(src) ==
        std::vector<tdbg::step_t>{0, 3, 5, 7, 10});
  // no selection at all: every step of the source in the mode
  CHECK(make_rule("C", truth(true)).steps(src) == std::vector<tdbg::step_t>{0, 3, 5, 7, 10});
  // selections inside in_mode do not decide the steps
  rule_options tr;
  tr.when.mode = mode::train;
  auto of = make_rule("Overfit", in_mode(the(mean(tensor_named("loss"))), mode::eval) > 0.0 &&
                                     the(mean(tensor_named("b/grad"))) > 0.0, tr);
  CHECK(of.steps(src) == std::vector<tdbg::step_t>{0, 5, 10});
}

TEST_CASE("requirements list selections, stored reductions, look-back, sources, memory", "[rules][rule][needs]") {
  auto vg = make_rule("VG", vanishing()).needs();
  REQUIRE(vg.tensors.size() == 1);
  CHECK(vg.tensors[0].selection.kind == selection_kind::collection);
  CHECK(vg.tensors[0].selection.pattern == "gradients");
  CHECK(vg.tensors[0].primary);
  CHECK_FALSE(vg.tensors[0].raw);  // a stored abs_mean can replace the raw value
  CHECK(vg.tensors[0].reductions == std::vector<tdbg::reduction>{{tdbg::reduction_op::mean, true}});
  const auto w = collection("weights");
  auto wur = make_rule("WUR", any(l2(w - prev(w)) / l2(prev(w)) > 10.0)).needs();
  REQUIRE(wur.tensors.size() == 2);
  CHECK(wur.tensors[0].raw);
  CHECK(wur.tensors[0].saved_steps_back == 0);
  CHECK(wur.tensors[1].saved_steps_back == 1);
  const auto loss = the(mean(tensor_named("loss")));
  auto lnd = make_rule("LND", loss >= at_steps_back(loss, 10) && window_mean(loss, 5) > 0.0).needs();
  CHECK(lnd.evaluations_kept == 5);
  bool back10 = false;
  for (const auto& n : lnd.tensors) back10 = back10 || n.steps_back == 10;
  CHECK(back10);
  auto across = make_rule("X", in_trial(loss, "baseline") < loss && in_mode(loss, mode::eval) > 0.0 &&
                                   spread_over_workers(loss) > 0.0).needs();
  CHECK(across.sources == std::vector<std::string>{"baseline"});
  int other_source = 0, non_primary = 0, workers = 0;
  for (const auto& n : across.tensors) {
    other_source += n.source == "baseline";
    non_primary += !n.primary;
    workers += n.all_workers;
  }
  CHECK(other_source == 1);
  CHECK(non_primary == 2);
  CHECK(workers == 1);
}

TEST_CASE("state: evaluations update windows; copies start fresh; reset clears", "[rules][rule][state]") {
  memory_source src;
  for (tdbg::step_t g = 0; g < 6; ++g) src.put("loss", g, {1.0f});
  any_rule r = make_rule("Flat", patience(the(mean(tensor_named("loss"))) >= 1.0, 3));
  CHECK(r.evaluate(src, 0).result == verdict::ok);
  CHECK(r.evaluate(src, 1).result == verdict::ok);
  CHECK(r.evaluate(src, 2).result == verdict::fired);
  any_rule copy = r;
  CHECK(copy.evaluate(src, 3).result == verdict::ok);  // fresh count
  CHECK(r.evaluate(src, 3).result == verdict::fired);
  r.reset();
  CHECK(r.evaluate(src, 4).result == verdict::ok);
  any_rule w = make_rule("W", window_mean(the(mean(tensor_named("loss"))), 4) > 0.0);
  for (tdbg::step_t g = 0; g < 6; ++g) (void)w.evaluate(src, g);
  CHECK(w.state_size() == 4);
  CHECK(w.needs().evaluations_kept == 4);
  any_rule moved = std::move(w);
  CHECK(moved.state_size() == 4);
}

TEST_CASE("a rule reads another trial bound by name", "[rules][rule][across]") {
  memory_source main;
  main.put("loss", 1, {3.0f});
  auto base = std::make_shared<memory_source>();
  base->put("loss", 1, {1.0f});
  const auto loss = the(mean(tensor_named("loss")));
  any_rule r = make_rule("WorseThanBaseline", loss > in_trial(loss, "baseline") * 2.0);
  CHECK_THROWS_AS(r.evaluate(main, 1), tdbg::usage_error);
  r.bind_source("baseline", base);
  auto e = r.evaluate(main, 1);
  REQUIRE(e.result == verdict::fired);
  CHECK(e.findings[0].values == std::vector<double>{3.0});
  CHECK(e.findings[0].thresholds == std::vector<double>{2.0});
  CHECK(r.steps(main) == std::vector<tdbg::step_t>{1});
}

TEST_CASE("a worker-specific finding records its worker", "[rules][rule][workers]") {
  memory_source src;
  src.put("w", 1, make<float>({1}), "worker_0").put("w", 1, make<float>({9}), "worker_1");
  any_rule r = make_rule("Diverged", max_over_workers(the(max(tensor_named("w")))) > 5.0);
  auto e = r.evaluate(src, 1);
  REQUIRE(e.result == verdict::fired);
  CHECK(e.findings[0].worker == "worker_1");
  CHECK(e.findings[0].values == std::vector<double>{9.0});
}
