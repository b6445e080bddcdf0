// Tests of in-process evaluation: the hook's observer hand-off, rules/live_source.hpp (memory
// bounded by the rules), rules/attach.hpp with its actions, and THE EQUIVALENCE TEST: rules
// attached to a hook and the same rules run offline over the trial it wrote agree exactly.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tdbg/hook/hook.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/attach.hpp"
#include "tdbg/rules/live_source.hpp"
#include "tdbg/rules/rules.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"

using namespace tdbg;
using namespace tdbg::rules;

namespace {

std::shared_ptr<const tdbg::tensor> vec(std::vector<float> v) {
  const std::int64_t n = static_cast<std::int64_t>(v.size());
  return std::make_shared<const tdbg::tensor>(
      make_tensor_ref(std::span<const float>(v), std::span<const std::int64_t>(&n, 1)));
}

collect::collection coll(std::string name, std::string regex, step_t every,
                         std::optional<collect::reduction_config> red = std::nullopt) {
  return collect::collection{std::move(name), {std::move(regex)}, {}, std::move(red), collect::save_config::every(every)};
}

/// Records what a hook shows its observers.
struct recorder final : tensor_observer {
  std::vector<std::pair<std::string, std::shared_ptr<const tdbg::tensor>>> saved;
  std::vector<std::vector<float>> copies;  // the values as seen at save time
  std::vector<std::pair<step_t, bool>> ends;
  int closes = 0;
  void on_save(const saved_tensor_info& i, const std::shared_ptr<const tdbg::tensor>& v) override {
    saved.emplace_back(std::string(i.name), v);
    if (v->dtype() == dtype::float32) copies.emplace_back(v->values<float>().begin(), v->values<float>().end());
  }
  void on_step_end(step_t s, mode, step_t, bool any) override { ends.emplace_back(s, any); }
  void on_close() override { ++closes; }
};

}  // namespace

// ---- the hook's observers ----------------------------------------------------------------------

TEST_CASE("hook observers see the hook's single shared copy, never recycled while held", "[rules][inprocess][hook]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, std::vector<collect::collection>{coll("w", "^w$", 1)});
  auto r1 = std::make_shared<recorder>();
  auto r2 = std::make_shared<recorder>();
  h.add_observer(r1);
  h.add_observer(r2);
  CHECK(h.observer_count() == 2);
  CHECK_THROWS_AS(h.add_observer(nullptr), usage_error);
  std::vector<float> w(1000);
  for (int s = 0; s < 60; ++s) {
    h.begin_step();
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(s * 1000 + static_cast<int>(i));
    h.save("w", std::span<const float>(w));
    h.save("not_saved", std::span<const float>(w));  // no collection: not observed
    if (s % 2 == 0) h.save_scalar("lr", 0.1);
    h.end_step();
  }
  h.flush();  // the writer has written (and offered to recycle) every buffer
  REQUIRE(r1->saved.size() == 60 + 30);
  for (std::size_t i = 0; i < r1->saved.size(); ++i) {
    CHECK(r1->saved[i].second.get() == r2->saved[i].second.get());  // one copy, shared
    CHECK(r1->saved[i].second->bytes().data() != reinterpret_cast<const std::byte*>(w.data()));
  }
  // Held tensors kept their values although the hook kept saving into recycled buffers.
  std::size_t k = 0;
  for (const auto& [name, v] : r1->saved) {
    if (name != "w") continue;
    const auto now = v->values<float>();
    CHECK(std::equal(now.begin(), now.end(), r1->copies[k].begin(), r1->copies[k].end()));
    CHECK(now[0] == static_cast<float>(k * 1000));
    ++k;
  }
  CHECK(k == 60);
  REQUIRE(r1->ends.size() == 60);
  CHECK(r1->ends.front() == std::pair<step_t, bool>{0, true});
  h.remove_observer(r2.get());
  CHECK(h.observer_count() == 1);
  h.begin_step();
  h.end_step();
  CHECK(r1->ends.size() == 61);
  CHECK(r2->ends.size() == 60);
  h.close();
  CHECK(r1->closes == 1);
  CHECK(r1->ends.size() == 61);
  // The trial holds what was observed.
  trial::trial t(b);
  REQUIRE(r1->saved.back().first == "w");  // step 59 saved no scalar
  CHECK(t.tensor("w").value(59) == *r1->saved.back().second);
}

// ---- live_source -------------------------------------------------------------------------------

TEST_CASE("live_source answers like a trial: visibility at step end, raw vs stored reductions", "[rules][inprocess][live_source]") {
  live_source src("worker_0");
  src.set_collections({io::collection_record{"weights", {"^w"}, {"extra"}, {}, {}}});
  requirements r;
  tensor_need need;
  need.selection = selection_spec{selection_kind::collection, "weights", std::nullopt, false};
  r.add(need);
  src.retain(r);
  CHECK(src.retention("w1").needed);
  CHECK(src.retention("extra").needed);
  CHECK_FALSE(src.retention("other").needed);

  const step_point p0{0, mode::train, 0};
  auto w = vec({1, -2, 3, 4});
  src.add("w1", p0, w, live_saved{false, true, {reduction{reduction_op::l2, false}, reduction{reduction_op::std, false}}});
  src.add("extra", p0, vec({5}));
  CHECK(src.tensor_names().empty());  // not before the step ends
  CHECK(src.steps(mode::global).empty());
  CHECK(src.end_step(p0));
  CHECK(src.tensor_names() == std::vector<std::string>{"extra", "w1"});
  CHECK(src.collection_tensor_names("weights") == std::vector<std::string>{"extra", "w1"});
  CHECK(src.collection_tensor_names("nope").empty());
  CHECK(src.steps(mode::train) == std::vector<step_t>{0});
  CHECK(src.steps(mode::eval).empty());
  CHECK(src.point(0) == p0);
  CHECK(src.workers("w1", 0) == std::vector<std::string>{"worker_0"});
  // Only reductions were saved for w1: no raw value, the stored ones as the writer stores them.
  CHECK(src.value("w1", 0) == nullptr);
  const double l2 = std::sqrt(1.0 + 4 + 9 + 16);
  CHECK(*src.stored_reduction("w1", 0, reduction{reduction_op::l2, false}) == static_cast<double>(static_cast<float>(l2)));
  CHECK(*src.stored_reduction("w1", 0, reduction{reduction_op::std, false}) ==
        static_cast<double>(static_cast<float>(compute_reduction(w->ref(), reduction{reduction_op::std, false}))));
  CHECK_FALSE(src.stored_reduction("w1", 0, reduction{reduction_op::mean, false}));  // not stored
  CHECK(src.value("extra", 0) != nullptr);
  CHECK(src.value("extra", 0, "worker_1") == nullptr);
  CHECK_FALSE(src.complete());

  // A step without data is not a step; steps must increase; one step is open at a time.
  CHECK_FALSE(src.end_step(step_point{1, mode::train, 1}));
  CHECK_THROWS_AS(src.add("w1", step_point{0, mode::train, 0}, w), usage_error);
  src.add("w1", step_point{2, mode::eval, 0}, w);
  CHECK_THROWS_AS(src.add("w1", step_point{3, mode::eval, 1}, w), usage_error);
  CHECK_THROWS_AS(src.add("w1", step_point{2, mode::eval, 0}, nullptr), usage_error);
  CHECK(src.end_step(step_point{2, mode::eval, 0}));
  CHECK(src.tensor_steps("w1", mode::global) == std::vector<step_t>{0, 2});
  CHECK(src.tensor_steps("w1", mode::eval) == std::vector<step_t>{2});
  src.close();
  CHECK(src.complete());
  CHECK_THROWS_AS(src.add("w1", step_point{5, mode::eval, 3}, w), usage_error);
}

TEST_CASE("live_source keeps only what the rules need over 10,000 steps", "[rules][inprocess][live_source]") {
  // w: update ratio (1 saved step back); g: 50 steps back; big: read by nobody.
  auto update = make_rule("WeightUpdate",
                          any(l2(tensor_named("w") - prev(tensor_named("w"))) / l2(prev(tensor_named("w"))) > 10.0));
  auto drift = make_rule("GradDrift",
                         any(l2(tensor_named("g")) > 3.0 * l2(at_steps_back(tensor_named("g"), 50))));
  inprocess_runner runner({update, drift}, {});
  auto& src = runner.source();
  CHECK(src.retention("w").saved_steps_back == 1);
  CHECK(src.retention("g").steps_back == 50);
  CHECK_FALSE(src.retention("big").needed);

  std::size_t max_values = 0;
  std::uint64_t max_bytes = 0;
  std::size_t max_points = 0;
  std::size_t update_known = 0, drift_known = 0, drift_evals = 0;
  const std::vector<float> big(4096, 1.0f);
  for (step_t s = 0; s < 10000; ++s) {
    const step_point p{s, mode::train, s};
    src.add("w", p, vec({1.0f + static_cast<float>(s % 5), 2.0f}));
    if (s % 7 == 0) src.add("g", p, vec({static_cast<float>(1 + s % 3)}));
    src.add("big", p, vec(big));
    for (const auto& e : runner.end_step(p)) {
      if (e.rule == "WeightUpdate" && e.result != verdict::insufficient_data) ++update_known;
      if (e.rule == "GradDrift") {
        ++drift_evals;
        if (e.result != verdict::insufficient_data) ++drift_known;
      }
    }
    max_values = std::max(max_values, src.retained_values());
    max_bytes = std::max(max_bytes, src.retained_bytes());
    max_points = std::max(max_points, src.retained_steps());
  }
  // w: 2 saved steps; g: the saved steps of the last 50 steps and the one before (≤ 9); big: none.
  CHECK(max_values <= 2 + 9);
  CHECK(max_bytes < 4096 * 4);  // never a single `big`
  CHECK(max_points <= 52);
  CHECK(src.tensor_steps("w", mode::train).size() == 2);
  CHECK(src.value("big", 9999) == nullptr);
  CHECK(src.tensor_names() == std::vector<std::string>{"big", "g", "w"});
  // Nothing the rules read was forgotten too early: every evaluation that can be known is.
  CHECK(update_known == 9999);                    // all but step 0 (no previous step)
  CHECK(drift_evals == (10000 + 6) / 7);          // every saved step of g
  CHECK(drift_known == drift_evals - 8);          // the first 8 (steps 0..49) have no step 50 back
  CHECK(runner.evaluations().size() == 10000 + drift_evals);
}

// ---- the equivalence test ----------------------------------------------------------------------

namespace {

/// A synthetic training: TRAIN phases of 40 steps and EVAL phases of 10, 300 steps in all.
/// Gradients vanish after global step 150; the training loss stalls after step 120; the eval loss
/// exceeds the train loss after step 200; weights grow.
void train(hook& h, const std::function<bool()>& keep_going = [] { return true; }) {
  std::vector<float> w0(16 * 8), w1(8 * 4), g0(16 * 8), g1(8 * 4), act(32);
  std::vector<double> act64(32);
  float train_loss = 2.0f;
  int phase_steps = 0;
  h.set_mode(mode::train);
  for (int s = 0; s < 300; ++s) {
    if (h.current_mode() == mode::train && phase_steps == 40) {
      h.set_mode(mode::eval);
      phase_steps = 0;
    } else if (h.current_mode() == mode::eval && phase_steps == 10) {
      h.set_mode(mode::train);
      phase_steps = 0;
    }
    ++phase_steps;
    h.begin_step();
    const step_t g = h.step();
    const bool training = h.current_mode() == mode::train;
    const float scale = g > 150 ? 1e-9f : 0.01f / (1.0f + static_cast<float>(g) / 50.0f);
    for (std::size_t i = 0; i < w0.size(); ++i) {
      w0[i] = (0.1f + 0.01f * static_cast<float>(g)) * std::sin(static_cast<float>(i + 1));
      g0[i] = scale * std::cos(static_cast<float>(i * 7 + static_cast<std::size_t>(g)));
    }
    for (std::size_t i = 0; i < w1.size(); ++i) {
      w1[i] = 0.2f * std::cos(static_cast<float>(i)) + 0.001f * static_cast<float>(g);
      g1[i] = scale * std::sin(static_cast<float>(i + static_cast<std::size_t>(g)));
    }
    h.save("layer0/weight", std::span<const float>(w0), {16, 8});
    h.save("layer1/weight", std::span<const float>(w1), {8, 4});
    if (training) {
      h.save("gradient/layer0/weight", std::span<const float>(g0), {16, 8});
      h.save("gradient/layer1/weight", std::span<const float>(g1), {8, 4});
      if (g < 120) train_loss *= 0.99f;
      h.save("loss", std::vector<float>{train_loss});
    } else {
      const float eval_loss = g > 200 ? train_loss * 1.2f : train_loss * 0.95f;
      h.save("loss", std::vector<float>{eval_loss});
      for (std::size_t i = 0; i < act.size(); ++i)
        act64[i] = std::sin(static_cast<double>(i) + static_cast<double>(g) * (g > 250 ? 0.0 : 1.0)) - (g > 250 ? 2.0 : 0.0);
      h.save("act/relu", std::span<const double>(act64), {32});  // first saved at the first EVAL step
    }
    std::vector<std::int32_t> counts{static_cast<std::int32_t>(g), static_cast<std::int32_t>(g % 3)};
    h.save("labels/count", std::span<const std::int32_t>(counts), {2});
    h.save_scalar("lr", 0.1 / (1.0 + static_cast<double>(g)));
    h.end_step();
    if (!keep_going()) break;
  }
}

std::vector<collect::collection> equivalence_collections() {
  collect::reduction_config reductions_only{false, {reduction{reduction_op::l2, false}, reduction{reduction_op::mean, true},
                                                    reduction{reduction_op::max, false}}, true};
  return {coll("gradients", "^gradient/", 1), coll("weights", "^layer\\d/weight$", 3, reductions_only),
          coll("losses", "^loss$", 1), coll("activations", "^act/", 2), coll("labels", "^labels/", 5)};
}

std::vector<any_rule> equivalence_rules() {
  auto loss = the(max(tensor_named("loss")));
  std::vector<any_rule> rs;
  rs.push_back(make_rule("VanishingGradient", any(mean(abs(collection("gradients"))) < 1e-7)));
  rs.push_back(make_rule("LossNotDecreasing", loss > prev(loss, 10) - 1e-6,
                         rule_options{schedule{mode::train, 10, 0, std::nullopt, std::nullopt}, std::string(default_message_template),
                                      findings_per::evaluation, {}}));
  rs.push_back(make_rule("LossFlat", patience(window_slope(loss, 8) > -1e-5, 3),
                         rule_options{schedule{mode::train, 1, 0, std::nullopt, std::nullopt},
                                      "{rule}: loss flat at {mode} step {mode_step}", findings_per::evaluation, {}}));
  rs.push_back(make_rule("BigWeights", any(l2(collection("weights")) > 3.0),
                         rule_options{schedule{}, std::string(default_message_template), findings_per::observation, {}}));
  rs.push_back(make_rule("Overfit", loss > the(max(tensor_named("loss").in(mode::train))) * 1.1,
                         rule_options{schedule{mode::eval, 3, 2, std::nullopt, std::nullopt},
                                      "eval loss {value:.4g} over train", findings_per::evaluation, {}}));
  rs.push_back(make_rule("DeadActivations", any(fraction(tensors_matching("^act/") <= 0.0) > 0.5)));
  rs.push_back(make_rule("GradientShrinks",
                         any(l2(collection("gradients")) < 0.5 * l2(at_steps_back(collection("gradients"), 20)))));
  rs.push_back(make_rule("LabelsSeen", the(max(tensor_named("labels/count"))) >= 100.0 &&
                                           the(max(tensor_named("scalar/lr"))) < 1.0));
  return rs;
}

}  // namespace

TEST_CASE("THE EQUIVALENCE TEST: rules in process and offline over the written trial agree exactly", "[rules][inprocess][equivalence]") {
  auto b = std::make_shared<storage::memory_backend>();
  std::vector<finding> called;
  std::vector<evaluation> in_process;
  std::vector<rule_summary> in_process_summaries;
  {
    hook h(b, equivalence_collections());
    auto live = attach(h, equivalence_rules(), {on_finding([&](const finding& f) { called.push_back(f); })});
    train(h);
    h.close();
    in_process = live.evaluations();
    in_process_summaries = live.summaries();
    CHECK(called == live.findings());  // the callback saw each finding once, in order
    CHECK_FALSE(live.stop_requested());
    CHECK_FALSE(h.should_stop());
    CHECK(live.source().complete());
  }
  trial::trial t(b);
  REQUIRE(t.loaded_all_steps());
  const auto offline = run(equivalence_rules(), trial_source(t));

  // Every field of every evaluation and finding, in the same order.
  REQUIRE(offline.evaluations.size() == in_process.size());
  for (std::size_t i = 0; i < in_process.size(); ++i) {
    const auto& a = in_process[i];
    const auto& o = offline.evaluations[i];
    INFO("evaluation " << i << ": " << a.rule << " at step " << a.step << " / " << o.rule << " at step " << o.step
                       << " reasons '" << a.reason << "' / '" << o.reason << "'");
    CHECK(a.rule == o.rule);
    CHECK(a.step == o.step);
    CHECK(a.mode == o.mode);
    CHECK(a.mode_step == o.mode_step);
    CHECK(a.result == o.result);
    CHECK(a.reason == o.reason);
    CHECK(a.findings == o.findings);
  }
  CHECK(offline.findings == called);
  REQUIRE(offline.summaries.size() == in_process_summaries.size());
  for (std::size_t i = 0; i < offline.summaries.size(); ++i) {
    CHECK(offline.summaries[i].evaluated == in_process_summaries[i].evaluated);
    CHECK(offline.summaries[i].fired == in_process_summaries[i].fired);
    CHECK(offline.summaries[i].insufficient_data == in_process_summaries[i].insufficient_data);
  }

  // The test is only worth something if the rules did something: each rule was evaluated,
  // and between them they fired, passed and lacked data.
  std::size_t fired = 0, ok = 0, insufficient = 0;
  for (const auto& s : offline.summaries) {
    INFO(s.rule << ": evaluated " << s.evaluated << ", fired " << s.fired << ", ok " << s.ok << ", insufficient "
                << s.insufficient_data);
    CHECK(s.evaluated > 0);
    CHECK(s.fired > 0);
    fired += s.fired;
    ok += s.ok;
    insufficient += s.insufficient_data;
  }
  CHECK(fired == offline.evaluations.size() - ok - insufficient);
  CHECK(ok > 0);
  CHECK(insufficient > 0);
  // The planted problems fire where they were planted.
  const auto& vanishing = offline.summary("VanishingGradient");
  REQUIRE(vanishing.first_fired);
  CHECK(*vanishing.first_fired == 151);  // gradients vanish after global step 150 (a TRAIN step)
  const auto& overfit = offline.summary("Overfit");
  REQUIRE(overfit.first_fired);
  CHECK(*overfit.first_fired > 200);
}

// ---- actions in process -------------------------------------------------------------------------

namespace {

/// Saves a loss per step: 1.0 except `spike` at global step `at`.
void save_loss_steps(hook& h, int steps, step_t at, float spike, bool check_stop, step_t* stopped_after = nullptr) {
  h.set_mode(mode::train);
  for (int s = 0; s < steps; ++s) {
    h.begin_step();
    h.save("loss", std::vector<float>{h.step() == at ? spike : 1.0f});
    h.end_step();
    if (check_stop && h.should_stop()) {
      if (stopped_after) *stopped_after = h.step();
      return;
    }
  }
}

any_rule spike_rule() {
  return make_rule("LossSpike", the(max(tensor_named("loss"))) > 5.0,
                   rule_options{schedule{}, "loss spiked to {value}", findings_per::evaluation, {}});
}

}  // namespace

TEST_CASE("a throw action surfaces from the hook call that ended the step, naming rule, step, tensor, value", "[rules][inprocess][actions]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, std::vector<collect::collection>{coll("losses", "^loss$", 1)});
  auto live = attach(h, {spike_rule()}, {throw_on_finding()});
  h.set_mode(mode::train);
  int thrown = 0;
  for (int s = 0; s < 12; ++s) {
    h.begin_step();
    h.save("loss", std::vector<float>{s == 7 ? 9.5f : 1.0f});
    try {
      h.end_step();
    } catch (const rule_fired_error& e) {
      ++thrown;
      CHECK(s == 7);
      CHECK(e.finding().step == 7);
      CHECK(e.finding().tensors == std::vector<std::string>{"loss"});
      const std::string w = e.what();
      CHECK(w.find("rule 'LossSpike' fired at step 7 (TRAIN step 7)") != std::string::npos);
      CHECK(w.find("tensor 'loss' = 9.5") != std::string::npos);
      CHECK(w.find("threshold 5") != std::string::npos);
      CHECK(w.find("loss spiked to 9.5") != std::string::npos);
    }
  }
  CHECK(thrown == 1);
  CHECK(live.findings().size() == 1);
  CHECK(live.evaluations().size() == 12);  // evaluation continued after the throw
  // The hook stayed usable: everything was written.
  h.close();
  trial::trial t(b);
  CHECK(t.steps().size() == 12);

  // When begin_step() ends the open step, the throw comes from begin_step().
  auto b2 = std::make_shared<storage::memory_backend>();
  hook h2(b2, std::vector<collect::collection>{coll("losses", "^loss$", 1)});
  auto live2 = attach(h2, {spike_rule()}, {throw_on_finding()});
  h2.begin_step();
  h2.save("loss", std::vector<float>{10.0f});
  CHECK_THROWS_AS(h2.begin_step(), rule_fired_error);
  CHECK(h2.in_step());  // the new step did begin
  h2.save("loss", std::vector<float>{1.0f});
  h2.end_step();
  CHECK(live2.findings().size() == 1);
}

TEST_CASE("a stop action makes hook.should_stop() true and the loop stops at that step", "[rules][inprocess][actions]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, std::vector<collect::collection>{coll("losses", "^loss$", 1)});
  int calls = 0;
  auto live = attach(h, {spike_rule()}, {stop_training(), on_finding([&](const finding&) { ++calls; })});
  step_t stopped = -1;
  CHECK_FALSE(h.should_stop());
  save_loss_steps(h, 100, 23, 50.0f, true, &stopped);
  CHECK(stopped == 23);
  CHECK(h.should_stop());
  CHECK(live.stop_requested());
  CHECK(calls == 1);
  CHECK(live.evaluations().size() == 24);
  CHECK(std::string(live.summaries().at(0).status()) == "IssuesFound");
}

TEST_CASE("callbacks run once per finding; several rules; detach stops evaluation", "[rules][inprocess][actions]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, std::vector<collect::collection>{coll("losses", "^loss$", 1)});
  auto low = make_rule("LossLow", the(min(tensor_named("loss"))) < 2.0,
                       rule_options{schedule{mode::train, 5, 0, std::nullopt, std::nullopt},
                                    std::string(default_message_template), findings_per::evaluation, {}});
  std::vector<std::pair<std::string, step_t>> calls;
  auto live = attach(h, {spike_rule(), low}, {on_finding([&](const finding& f) { calls.emplace_back(f.rule, f.step); })},
                     attach_options{false});
  save_loss_steps(h, 20, 10, 7.0f, false);
  // LossSpike fires at 10; LossLow at steps 0, 5, 15 (10 is not below 2); every 5 steps.
  const std::vector<std::pair<std::string, step_t>> want{{"LossLow", 0}, {"LossLow", 5}, {"LossSpike", 10}, {"LossLow", 15}};
  CHECK(calls == want);
  CHECK(live.findings().size() == 4);
  CHECK(live.evaluations().empty());  // keep_evaluations = false
  CHECK(live.summaries().at(0).evaluated == 20);
  CHECK(live.summaries().at(1).evaluated == 4);
  live.detach();
  CHECK(h.observer_count() == 0);
  save_loss_steps(h, 20, 25, 7.0f, false);
  CHECK(calls.size() == 4);
  h.begin_step();
  CHECK_THROWS_AS(attach(h, {spike_rule()}), usage_error);  // inside a step
  h.end_step();
  h.close();
  CHECK_THROWS_AS(attach(h, {spike_rule()}), usage_error);  // closed
}
