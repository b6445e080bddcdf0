// The run-time path of the `.rule` language (tdbg/lang/load.hpp): for every construct, a .rule
// text and the equivalent typed C++ rule give identical descriptions, requirements, steps,
// evaluations and findings on the same in-memory source; overrides; load-time errors; message
// templates; every function of the table builds; the example rules under rules/.
// The only TU of tdbg_lang_load_tests that includes the X3 grammar (through load.hpp).
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "../rules/test_source.hpp"
#include "tdbg/lang/lang.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using tdbg::mode;
using tdbg::lang::load_rules;
using tdbg::lang::load_rules_text;
using tdbg::lang::parse_error;
using tdbg::rules::test::make;
using tdbg::rules::test::memory_source;

namespace {

// TRAIN steps 0..9 (every step), EVAL steps at 3 and 7; two workers at every step.
memory_source training() {
  memory_source s;
  for (tdbg::step_t g = 0; g < 12; ++g) {
    const bool eval = g == 3 || g == 7;
    s.step(g, eval ? mode::eval : mode::train, eval ? g / 4 : g);
  }
  for (tdbg::step_t g = 0; g < 12; ++g) {
    const float f = static_cast<float>(g);
    for (const char* w : {"worker_0", "worker_1"}) {
      const float k = std::string(w) == "worker_1" ? 2.0f : 1.0f;
      s.put("layer1/weight", g, {k * (1.0f + 0.1f * f), -2.0f, 0.5f * f}, w);
      s.put("layer2/weight", g, {0.25f * k, -0.25f + 0.01f * f}, w);
    }
    for (const char* w : {"worker_0", "worker_1"}) {  // layer2 saved first at odd steps
      s.order("layer1/weight", g, static_cast<std::size_t>(g % 2), w);
      s.order("layer2/weight", g, static_cast<std::size_t>(1 - g % 2), w);
    }
    s.put("layer1/grad", g, g == 5 ? std::vector<float>{1e-9f, -1e-9f} : std::vector<float>{0.5f, -0.1f * f});
    s.put("layer2/grad", g, g == 9 ? std::vector<float>{NAN, 1.0f} : std::vector<float>{0.25f, 0.0f});
    s.put("loss", g, {g < 6 ? 10.0f - f : 4.0f + 0.1f * (g % 2)});
    s.put("i32", g, make<std::int32_t>({static_cast<std::int32_t>(g), -3, 7}));
    s.put("f64", g, make<double>({0.1 * static_cast<double>(g), 2.0}));
  }
  // reductions-only saves: layer3/weight has no raw value, only stored reductions
  for (tdbg::step_t g = 0; g < 12; ++g) {
    s.put_reduction("layer3/weight", g, tdbg::reduction{tdbg::reduction_op::mean, false}, 0.5 + static_cast<double>(g));
    s.put_reduction("layer3/weight", g, tdbg::reduction{tdbg::reduction_op::l2, false}, 3.0);
    s.put_reduction("layer3/weight", g, tdbg::reduction{tdbg::reduction_op::mean, true}, 1.5);
  }
  s.collection("weights", {"layer1/weight", "layer2/weight"});
  s.collection("gradients", {"layer1/grad", "layer2/grad"});
  s.collection("stored", {"layer3/weight"});
  return s;
}

memory_source baseline() {
  memory_source s;
  for (tdbg::step_t g = 0; g < 12; ++g) {
    s.step(g, mode::train, g);
    s.put("loss", g, {5.0f});
    s.put("layer1/weight", g, {1.0f, -2.0f, 0.0f});
  }
  return s;
}

/// Runs a rule over all its steps of `src`; a copy of `r` so the caller's state stays fresh.
std::vector<evaluation> run(any_rule r, const data_source& src) {
  std::vector<evaluation> out;
  for (tdbg::step_t s : r.steps(src)) out.push_back(r.evaluate(src, s));
  return out;
}

/// Asserts that the loaded rule and the typed rule are the same rule.
void check_same(const any_rule& loaded, const any_rule& typed, const data_source& src) {
  INFO("loaded: " << loaded.describe());
  INFO("typed:  " << typed.describe());
  CHECK(loaded.describe() == typed.describe());
  CHECK(loaded.needs().tensors == typed.needs().tensors);
  CHECK(loaded.needs().sources == typed.needs().sources);
  CHECK(loaded.needs().evaluations_kept == typed.needs().evaluations_kept);
  CHECK(loaded.steps(src) == typed.steps(src));
  const auto a = run(loaded, src);
  const auto b = run(typed, src);
  REQUIRE(a.size() == b.size());
  REQUIRE_FALSE(a.empty());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("step " << a[i].step << " reason " << a[i].reason);
    CHECK(a[i].step == b[i].step);
    CHECK(a[i].result == b[i].result);
    CHECK(a[i].reason == b[i].reason);
    CHECK(a[i].findings == b[i].findings);
  }
}

any_rule load_one(const std::string& text, const std::vector<std::string>& overrides = {}) {
  auto rules = load_rules_text(text, "test.rule", overrides);
  REQUIRE(rules.size() == 1);
  return rules.front();
}

/// A rule `r` whose condition is `cond` (after the `extra` statements), loaded.
any_rule load_cond(const std::string& cond, const std::string& params = "", const std::string& extra = "") {
  return load_one("rule r(" + params + ") {\n" + extra + "  fire when " + cond + "\n}\n");
}

std::size_t fired(const std::vector<evaluation>& es) {
  std::size_t n = 0;
  for (const auto& e : es) n += e.result == verdict::fired ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("loaded rules equal the typed C++ rules: selections, element-wise functions, reductions",
          "[lang][load]") {
  const auto src = training();
  const auto w = collection("weights");
  const auto g = collection("gradients");
  SECTION("vanishing gradient, with a parameter") {
    check_same(load_cond("any(mean(abs(collection(\"gradients\"))) < threshold)", "threshold = 1e-7"),
               make_rule("r", any(mean(abs(g)) < param_("threshold", 1e-7))), src);
  }
  SECTION("every reduction over a selection, a regex and a named tensor") {
    check_same(load_cond("any(min(tensors(/weight/)) < -1) && all(max(tensor(\"loss\")) > 0)"),
               make_rule("r", any(min(tensors_matching("weight")) < -1.0) && all(max(tensor_named("loss")) > 0.0)), src);
    check_same(load_cond("any(sum(w) + prod(w) + std_pop(w) + std_sample(w) > 0)", "", "  w = collection(\"weights\")\n"),
               make_rule("r", any(sum(w) + prod(w) + std_pop(w) + std_sample(w) > 0.0)), src);
    check_same(load_cond("any(variance_pop(w) - variance_sample(w) + l1(w) - l2(w) < 0)", "",
                         "  w = collection(\"weights\")\n"),
               make_rule("r", any(var_pop(w) - var_sample(w) + l1(w) - l2(w) < 0.0)), src);
    check_same(load_cond("any(max_abs(g) > 1 || fraction_zeros(g) > 0.4 || fraction_nonfinite(g) > 0)", "",
                         "  g = collection(\"gradients\")\n"),
               make_rule("r", any(max_abs(g) > 1.0 || fraction_zero(g) > 0.4 || fraction_nonfinite(g) > 0.0)), src);
    check_same(load_cond("any(quantile(w, 0.75) > 1) || any(percentile(w, 10) < -1.5)", "", "  w = collection(\"weights\")\n"),
               make_rule("r", any(quantile(w, 0.75) > 1.0) || any(percentile(w, 10) < -1.5)), src);
  }
  SECTION("element-wise functions, masks and counts, integer and float64 tensors") {
    check_same(load_cond("any(mean(sqrt(abs(w)) + log(abs(w) + 1) - exp(-abs(w)) * square(w)) > 0.5)", "",
                         "  w = collection(\"weights\")\n"),
               make_rule("r", any(mean(sqrt(abs(w)) + log(abs(w) + 1.0) - exp(-abs(w)) * square(w)) > 0.5)), src);
    check_same(load_cond("any(sum(clamp(tensor(\"i32\"), -1, 5)) >= 5) && any(count(tensor(\"f64\") > 0.5) == 2)"),
               make_rule("r", any(sum(clamp(tensor_named("i32"), -1, 5)) >= 5.0) &&
                                  any(count(tensor_named("f64") > 0.5) == 2.0)),
               src);
    check_same(load_cond("any(fraction(w <= 0 && w > -3) > 0.3) || any(count(w) > 2)", "", "  w = collection(\"weights\")\n"),
               make_rule("r", any(fraction(w <= 0.0 && w > -3.0) > 0.3) || any(count(w) > 2.0)), src);
    check_same(load_cond("any(max(w - mean(w)) > 1)", "", "  w = collection(\"weights\")\n"),
               make_rule("r", any(max(w - mean(w)) > 1.0)), src);
    // between over a selection: one fused typed level; bounds of any scalar kind
    check_same(load_cond("any(fraction(between(w, lo, 1)) > 0.5) || any(count(between(w, -1, scalar(mean(tensor(\"loss\"))))) > 2)",
                         "lo = -0.5", "  w = collection(\"weights\")\n"),
               make_rule("r", any(fraction(between(w, param_("lo", -0.5), 1.0)) > 0.5) ||
                                  any(count(between(w, -1.0, the(mean(tensor_named("loss"))))) > 2.0)),
               src);
  }
  SECTION("stored reductions (reductions-only saves) through the erased nodes") {
    const auto st = collection("stored");
    check_same(load_cond("any(mean(s) > 5) || any(mean(abs(s)) > 2) || any(l2(prev(s)) > 2.5)", "",
                         "  s = collection(\"stored\")\n"),
               make_rule("r", any(mean(st) > 5.0) || any(mean(abs(st)) > 2.0) || any(l2(prev(st)) > 2.5)), src);
    // sqrt(s) cannot use a stored reduction: the reason is the same as the typed one
    check_same(load_cond("any(mean(sqrt(s)) > 5)", "", "  s = collection(\"stored\")\n"),
               make_rule("r", any(mean(sqrt(st)) > 5.0)), src);
  }
}

TEST_CASE("loaded rules equal the typed C++ rules: logic, sets, grouping", "[lang][load]") {
  const auto src = training();
  const auto w = collection("weights");
  const auto loss = tensor_named("loss");
  check_same(load_cond("any(between(l2(w), lo, hi)) && !all(mean(w) >= 0)", "lo = 0.5, hi = 3",
                       "  w = collection(\"weights\")\n"),
             make_rule("r", any(between(l2(w), param_("lo", 0.5), param_("hi", 3.0))) && !all(mean(w) >= 0.0)), src);
  check_same(load_cond("count(l2(w) > 1) >= 1 && fraction(l2(w) > 1) <= 0.5 || false", "", "  w = collection(\"weights\")\n"),
             make_rule("r", (count(l2(w) > 1.0) >= 1.0 && fraction(l2(w) > 1.0) <= 0.5) || truth(false)), src);
  check_same(load_cond("max_over(l2(w)) > 10 * min_over(l2(w)) || mean_over(l2(w)) + sum_over(l2(w)) > 5", "",
                       "  w = collection(\"weights\")\n"),
             make_rule("r", max_over(l2(w)) > 10.0 * min_over(l2(w)) || mean_over(l2(w)) + sum_over(l2(w)) > 5.0), src);
  check_same(load_cond("(scalar(mean(tensor(\"loss\"))) < 5) == scalar(mean(tensor(\"loss\")) < 5)"),
             make_rule("r", (the(mean(loss)) < 5.0) == the(mean(loss) < 5.0)), src);
  check_same(load_cond("any(group_max(l2(tensors(/layer/)), /^(layer\\d+)\\//) > 2) || any(group_all(mean(tensors(/layer/)) > 0, /^(layer\\d+)\\//))"),
             make_rule("r", any(group_max(l2(tensors_matching("layer")), R"(^(layer\d+)/)") > 2.0) ||
                                any(group_all(mean(tensors_matching("layer")) > 0.0, R"(^(layer\d+)/)"))),
             src);
  check_same(load_cond("any(group_min(mean(w), /1/) + group_mean(mean(w), /1/) + group_sum(mean(w), /1/) > 0) || any(group_any(mean(w) > 0, /w/))",
                       "", "  w = collection(\"weights\")\n"),
             make_rule("r", any(group_min(mean(w), "1") + group_mean(mean(w), "1") + group_sum(mean(w), "1") > 0.0) ||
                                any(group_any(mean(w) > 0.0, "w"))),
             src);
  check_same(load_cond("any(save_order(w) == min_over(save_order(w), mean(w) > 0)) && "
                       "max_over(save_order(w), max(w) > 0) >= 0", "", "  w = collection(\"weights\")\n"),
             make_rule("r", any(save_order(w) == min_over(save_order(w), mean(w) > 0.0)) &&
                                max_over(save_order(w), max(w) > 0.0) >= 0.0),
             src);
  check_same(load_cond("any(mean(only_saved(collection(\"weights\"))) > 0)"),
             make_rule("r", any(mean(collection("weights").only_saved()) > 0.0)), src);
  // the observed side of a comparison is the non-constant one, also when it is on the right
  check_same(load_cond("1 < scalar(mean(tensor(\"loss\")))"), make_rule("r", 1.0 < the(mean(loss))), src);
}

TEST_CASE("loaded rules equal the typed C++ rules: time, windows, state", "[lang][load]") {
  const auto src = training();
  const auto w = collection("weights");
  const auto loss = tensor_named("loss");
  check_same(load_cond("any(l2(w - prev(w)) / (l2(prev(w)) + 1e-9) > 0.05)", "", "  w = collection(\"weights\")\n"),
             make_rule("r", any(l2(w - prev(w)) / (l2(prev(w)) + 1e-9) > 0.05)), src);
  check_same(load_cond("any(mean(loss) >= at(mean(loss), 3)) || any(prev(mean(loss), 2) < 3)", "",
                       "  loss = tensor(\"loss\")\n"),
             make_rule("r", any(mean(loss) >= at_steps_back(mean(loss), 3)) || any(prev(mean(loss), 2) < 3.0)), src);
  check_same(load_cond("any(abs(delta(mean(w))) < 0.01) || any(ratio(l2(w)) > 1.05) || any(max(delta(w)) > 0.4)", "",
                       "  w = collection(\"weights\")\n"),
             make_rule("r", any(abs(delta(mean(w))) < 0.01) || any(ratio(l2(w)) > 1.05) || any(max(delta(w)) > 0.4)), src);
  SECTION("a selection against its own past (prev, at): fused typed pairs, same rule as typed") {
    check_same(load_cond("any(max(abs(w - at(w, 2))) > 0.1) || any(count(w == prev(w)) > 1) || any(count(prev(w) != w) < 1)"
                         " || any(mean(w / prev(w)) > 2) || any(mean(prev(w, 2) - w) > 0.5)",
                         "", "  w = collection(\"weights\")\n"),
               make_rule("r", any(max(abs(w - at_steps_back(w, 2))) > 0.1) || any(count(w == prev(w)) > 1.0) ||
                                  any(count(prev(w) != w) < 1.0) || any(mean(w / prev(w)) > 2.0) ||
                                  any(mean(prev(w, 2) - w) > 0.5)),
               src);
  }
  SECTION("isclose: defaults, tolerances and equal_nan, every shape") {
    check_same(load_cond("any(count(!isclose(w, prev(w), 1e-3, 1e-6, true)) > 0) || any(count(isclose(prev(w, 2), w)) == 3)"
                         " || any(isclose(mean(w), 0.5)) || any(fraction(isclose(w, mean(w), rtol, 0)) > 0.5)",
                         "rtol = 0.25", "  w = collection(\"weights\")\n"),
               make_rule("r", any(count(!isclose(w, prev(w), 1e-3, 1e-6, true)) > 0.0) ||
                                  any(count(isclose(prev(w, 2), w)) == 3.0) || any(isclose(mean(w), 0.5)) ||
                                  any(fraction(isclose(w, mean(w), 0.25, 0)) > 0.5)),
               src);
    CHECK(load_cond("any(count(isclose(w, prev(w))) > 0)", "", "  w = collection(\"weights\")\n").describe().find(
              "isclose(collection(\"weights\"), prev(collection(\"weights\")), 1e-05, 1e-08)") != std::string::npos);
  }
  const auto l = the(mean(loss));
  check_same(load_cond("window_max(l, 3) - window_min(l, 3) < 0.5 && window_mean(l, 2) > 0 && window_slope(l, 3) <= 0", "",
                       "  l = scalar(mean(tensor(\"loss\")))\n"),
             make_rule("r", window_max(l, 3) - window_min(l, 3) < 0.5 && window_mean(l, 2) > 0.0 &&
                                window_slope(l, 3) <= 0.0),
             src);
  check_same(load_cond("window_count(l > 4, 4) >= 2 && window_any(l > 6, 5) && !window_all(l > 100, 2)", "",
                       "  l = scalar(mean(tensor(\"loss\")))\n"),
             make_rule("r", window_count(l > 4.0, 4) >= 2.0 && window_any(l > 6.0, 5) && !window_all(l > 100.0, 2)), src);
  check_same(load_cond("running_max(l) - running_min(l) > 5 || running_sum(l) / running_mean(l) > 20", "",
                       "  l = scalar(mean(tensor(\"loss\")))\n"),
             make_rule("r", running_max(l) - running_min(l) > 5.0 || running_sum(l) / running_mean(l) > 20.0), src);
  check_same(load_cond("patience(delta(l) >= 0, 2) || then(l < 5, l > 4, 3)", "", "  l = scalar(mean(tensor(\"loss\")))\n"),
             make_rule("r", patience(delta(l) >= 0.0, 2) || then(l < 5.0, l > 4.0, 3)), src);
}

TEST_CASE("loaded rules equal the typed C++ rules: modes, workers, trials, schedule", "[lang][load]") {
  const auto src = training();
  const auto loss = tensor_named("loss");
  check_same(load_cond("scalar(mean(tensor(\"loss\") in EVAL)) - scalar(mean(tensor(\"loss\") in m)) > -3",
                       "m: mode = TRAIN"),
             make_rule("r", the(mean(loss.in(mode::eval))) - the(mean(loss.in(mode::train))) > -3.0), src);
  check_same(load_cond("in_mode(scalar(mean(tensor(\"loss\"))), EVAL) > 6 || any(in_mode(mean(tensor(\"loss\")), EVAL) > 8)"),
             make_rule("r", in_mode(the(mean(loss)), mode::eval) > 6.0 || any(in_mode(mean(loss), mode::eval) > 8.0)), src);
  const auto w1 = the(l2(tensor_named("layer1/weight")));
  check_same(load_cond("spread_over_workers(x) > 1.5 && max_over_workers(x) - min_over_workers(x) > 0 && mean_over_workers(x) > 0",
                       "", "  x = scalar(l2(tensor(\"layer1/weight\")))\n"),
             make_rule("r", spread_over_workers(w1) > 1.5 && max_over_workers(w1) - min_over_workers(w1) > 0.0 &&
                                mean_over_workers(w1) > 0.0),
             src);
  SECTION("in_trial, bound by name after loading") {
    auto other = std::make_shared<memory_source>(baseline());
    any_rule loaded = load_cond("scalar(mean(tensor(\"loss\"))) > 1.5 * in_trial(scalar(mean(tensor(\"loss\"))), \"baseline\")");
    any_rule typed = make_rule("r", the(mean(loss)) > 1.5 * in_trial(the(mean(loss)), "baseline"));
    loaded.bind_source("baseline", other);
    typed.bind_source("baseline", other);
    check_same(loaded, typed, src);
    // loss 10, 9, 8 > 1.5 * 5 at TRAIN steps 0..2; step 3 is EVAL, which the baseline lacks
    const auto es = run(loaded, src);
    CHECK(fired(es) == 3);
    CHECK(es[3].result == verdict::insufficient_data);
  }
  SECTION("a selection against itself in another trial: isclose and == fused, as typed") {
    auto other = std::make_shared<memory_source>(baseline());
    any_rule loaded = load_cond(
        "any(count(!isclose(w, in_trial(w, \"baseline\"), 0.5, 0)) > 0) || any(count(in_trial(w, \"baseline\") == w) == 3)",
        "", "  w = tensor(\"layer1/weight\")\n");
    const auto w = tensor_named("layer1/weight");
    any_rule typed = make_rule("r", any(count(!isclose(w, in_trial(w, "baseline"), 0.5, 0)) > 0.0) ||
                                        any(count(in_trial(w, "baseline") == w) == 3.0));
    loaded.bind_source("baseline", other);
    typed.bind_source("baseline", other);
    check_same(loaded, typed, src);
  }
  SECTION("schedule: every, warmup, from, until (parameters or literals)") {
    rule_options o;
    o.when.every = 2;
    o.when.warmup = 1;
    o.when.start = 2;
    o.when.end = 9;
    any_rule loaded = load_cond("scalar(mean(tensor(\"loss\"))) > 0", "k = 2",
                                "  every k steps\n  warmup 1 step\n  from step 2\n  until step 9\n");
    check_same(loaded, make_rule("r", the(mean(loss)) > 0.0, o), src);
    CHECK(loaded.steps(src) == std::vector<tdbg::step_t>{3, 5, 7, 9});
    CHECK(loaded.options().when.every == 2);
  }
}

TEST_CASE("message templates: engine fields and parameters", "[lang][load]") {
  const auto src = training();
  any_rule r = load_cond("any(mean(abs(collection(\"gradients\"))) < threshold)", "threshold = 1e-7, label = \"{vg}\"",
                         "  message \"{label} {rule} at {step} ({mode} {mode_step}) {tensor}={value:.1e} < {threshold} "
                         "worker '{worker}' n={tensors} e={evidence} {{x}}\"\n");
  const auto es = run(r, src);
  REQUIRE(fired(es) == 1);
  for (const auto& e : es) {
    if (e.result != verdict::fired) continue;
    REQUIRE(e.findings.size() == 1);
    CHECK(e.findings[0].message ==
          "{vg} r at 5 (TRAIN 5) layer1/grad=1.0e-09 < 1e-07 worker '' n=layer1/grad "
          "e=layer1/grad = 1e-09 (threshold 1e-07) {x}");
  }
  // no message: the engine's default template
  any_rule d = load_cond("any(mean(abs(collection(\"gradients\"))) < 1e-7)");
  CHECK(d.options().message == std::string(default_message_template));
  // a parameter with a format spec
  any_rule f = load_cond("any(mean(tensor(\"loss\")) > t)", "t = 0.123456", "  message \"{t:.2f} {threshold:.3f}\"\n");
  const auto fs = run(f, src);
  REQUIRE(fired(fs) > 0);
  CHECK(fs.front().findings.at(0).message == "0.12 0.123");
}

TEST_CASE("parameter overrides", "[lang][load]") {
  const std::string text =
      "rule vg(threshold = 1e-7, n = 2) {\n"
      "  fire when patience(any(mean(abs(collection(\"gradients\"))) < threshold), n)\n"
      "}\n"
      "rule custom(limit: number) {\n"
      "  fire when scalar(mean(tensor(\"loss\"))) > limit\n"
      "}\n";
  const auto src = training();
  SECTION("valid overrides change the values (and the description keeps the names)") {
    auto rules = load_rules_text(text, "o.rule", {"vg.threshold=0.3", "vg.n=1", "custom.limit=7.5"});
    REQUIRE(rules.size() == 2);
    check_same(rules[0], make_rule("vg", patience(any(mean(abs(collection("gradients"))) < param_("threshold", 0.3)), 1)),
               src);
    check_same(rules[1], make_rule("custom", the(mean(tensor_named("loss"))) > param_("limit", 7.5)), src);
  }
  SECTION("missing required parameter") {
    try {
      (void)load_rules_text(text, "o.rule");
      FAIL("expected a parse_error");
    } catch (const parse_error& e) {
      REQUIRE(e.diagnostics().size() == 1);
      CHECK(e.diagnostics()[0].line == 4);
      CHECK(e.diagnostics()[0].column == 13);
      CHECK(std::string(e.what()) ==
            "o.rule:4:13: error: parameter 'limit' of rule 'custom' has no default; give it with --param "
            "custom.limit=...\nrule custom(limit: number) {\n            ^\n");
    }
  }
  SECTION("unknown parameter, unknown rule, wrong type, not whole: all reported") {
    try {
      (void)load_rules_text(text, "o.rule", {"vg.treshold=1", "nope.x=1", "custom.limit=abc", "vg.n=1.5", "custom.limit=1"});
      FAIL("expected a parse_error");
    } catch (const parse_error& e) {
      const auto& d = e.diagnostics();
      REQUIRE(d.size() == 4);
      CHECK(d[0].message == "rule 'vg' has no parameter 'treshold'");
      CHECK(d[0].file == "--param");
      CHECK(d[0].column == 4);
      CHECK(d[1].message == "unknown rule 'nope'");
      CHECK(d[2].message == "parameter 'limit' of rule 'custom' is a number, got 'abc'");
      CHECK(d[3].message.find("must be a whole number >= 1") != std::string::npos);
    }
  }
}

TEST_CASE("errors found at load time are positioned diagnostics", "[lang][load]") {
  auto diagnostics_of = [](const std::string& text, const std::vector<std::string>& o = {}) {
    try {
      (void)load_rules_text(text, "e.rule", o);
    } catch (const parse_error& e) {
      return e.diagnostics();
    }
    FAIL("expected a parse_error");
    return std::vector<tdbg::lang::diagnostic>{};
  };
  SECTION("syntax and semantic errors of the file (every one)") {
    const auto d = diagnostics_of(
        "rule a(t = \"x\") {\n  fire when any(mean(collection(\"g\")) < t)\n}\n"
        "rule b() {\n  fire when any(meen(collection(\"g\")) < 1)\n}\n");
    REQUIRE(d.size() == 2);
    CHECK(d[0].line == 2);
    CHECK(d[0].message.find("needs numbers") != std::string::npos);
    CHECK(d[1].line == 5);
    CHECK(d[1].column == 17);
    CHECK(d[1].message == "unknown function 'meen'; did you mean 'mean'?");
  }
  SECTION("what the engine refuses: quantile range, clamp bounds, a window inside prev/in_mode/workers") {
    const auto d = diagnostics_of(
        "rule q(p = 2) {\n  fire when any(quantile(collection(\"w\"), p) > 0)\n}\n"
        "rule c() {\n  fire when any(max(clamp(collection(\"w\"), 1, -1)) > 0)\n}\n"
        "rule w() {\n  fire when prev(window_mean(scalar(mean(tensor(\"l\"))), 3)) > 0\n}\n"
        "rule m() {\n  fire when in_mode(patience(scalar(mean(tensor(\"l\"))) > 0, 2), EVAL)\n}\n"
        "rule x() {\n  fire when max_over_workers(running_sum(scalar(mean(tensor(\"l\"))))) > 0\n}\n");
    REQUIRE(d.size() == 5);
    CHECK(d[0].line == 2);
    CHECK(d[0].column == 17);
    CHECK(d[0].message == "quantile: q must be in [0, 1], got 2");
    CHECK(d[1].line == 5);
    CHECK(d[1].column == 21);
    CHECK(d[1].message == "clamp: lo must be <= hi");
    CHECK(d[2].line == 8);
    CHECK(d[2].column == 13);
    CHECK(d[2].message.find("prev cannot contain a window") == 0);
    CHECK(d[3].line == 11);
    CHECK(d[3].message.find("in_mode cannot contain a window") == 0);
    CHECK(d[4].line == 14);
    CHECK(d[4].message.find("max_over_workers cannot contain a window") == 0);
    // rendered like a compiler's
    CHECK(d[0].str() == "e.rule:2:17: error: quantile: q must be in [0, 1], got 2\n"
                        "  fire when any(quantile(collection(\"w\"), p) > 0)\n"
                        "                ^\n");
  }
  SECTION("isclose's tolerances must be >= 0 (a parameter or an override can make them negative)") {
    const auto d = diagnostics_of("rule i(rtol = 1e-5) {\n  w = collection(\"w\")\n  fire when any(count(isclose(w, prev(w), rtol, 0)) > 0)\n}\n",
                                  {"i.rtol=-1"});
    REQUIRE(d.size() == 1);
    CHECK(d[0].line == 3);
    CHECK(d[0].column == 23);
    CHECK(d[0].message == "isclose: rtol and atol must be >= 0");
  }
  SECTION("an override can make a value the engine refuses") {
    const auto d = diagnostics_of("rule q(p = 0.5) {\n  fire when any(quantile(collection(\"w\"), p) > 0)\n}\n", {"q.p=1.5"});
    REQUIRE(d.size() == 1);
    CHECK(d[0].message == "quantile: q must be in [0, 1], got 1.5");
  }
  SECTION("an unreadable file") {
    CHECK_THROWS_AS(load_rules(std::filesystem::path(TDBG_TEST_BINARY_DIR) / "no-such.rule"), tdbg::io_error);
  }
}

TEST_CASE("every function of the table binds to the engine", "[lang][load]") {
  // One example argument per parameter kind, and a wrapper that makes any result a condition.
  using pk = tdbg::lang::param_kind;
  auto example = [](pk k) -> std::string {
    switch (k) {
      case pk::selection: return "tensor(\"loss\")";
      case pk::elements: return "tensor(\"loss\")";
      case pk::mask: return "tensor(\"loss\") > 0";
      case pk::per_tensor: return "mean(tensor(\"loss\"))";
      case pk::per_tensor_bool: return "mean(tensor(\"loss\")) > 0";
      case pk::reduced: return "mean(tensor(\"loss\"))";
      case pk::scalar: return "1";
      case pk::series: return "scalar(mean(tensor(\"loss\")))";
      case pk::condition: return "scalar(mean(tensor(\"loss\"))) > 0";
      case pk::numeric: return "tensor(\"loss\")";
      case pk::varying: return "mean(tensor(\"loss\"))";
      case pk::constant: return "0.5";
      case pk::count: return "2";
      case pk::string: return "\"baseline\"";
      case pk::regex: return "/lo/";
      case pk::mode: return "TRAIN";
      case pk::flag: return "true";
      case pk::expression: return "mean(tensor(\"loss\"))";
    }
    return "?";
  };
  auto type_of = [](pk k) -> tdbg::lang::type {
    using tdbg::lang::shape;
    using tdbg::lang::value_kind;
    switch (k) {
      case pk::selection:
      case pk::elements:
      case pk::numeric: return {shape::elements, value_kind::number, true};
      case pk::mask: return {shape::elements, value_kind::boolean};
      case pk::per_tensor_bool: return {shape::per_tensor, value_kind::boolean};
      case pk::series: return {shape::scalar, value_kind::number};
      case pk::condition: return {shape::scalar, value_kind::boolean};
      case pk::scalar:
      case pk::constant:
      case pk::count: return {shape::constant, value_kind::number};
      case pk::string: return {shape::constant, value_kind::string};
      case pk::regex: return {shape::constant, value_kind::regex};
      case pk::mode: return {shape::constant, value_kind::mode};
      default: return {shape::per_tensor, value_kind::number};
    }
  };
  const auto src = training();
  auto other = std::make_shared<memory_source>(baseline());
  std::size_t n = 0;
  for (const auto& s : tdbg::lang::builtin_functions().all()) {
    std::string call = s.name + "(";
    for (std::size_t i = 0; i < s.params.size(); ++i) {
      // a string argument names a tensor or a collection, except the trial of in_trial
      std::string a = example(s.params[i]);
      if (s.params[i] == pk::string && s.engine_name != "in_trial") a = "\"loss\"";
      // a count of saved steps (history_*) or an axis (*_along, *_per) is a whole number
      const bool whole = s.engine_name.rfind("history_", 0) == 0 || s.engine_name.find("_along") != std::string::npos ||
                         s.engine_name.find("_per") != std::string::npos;
      if (s.params[i] == pk::constant && whole) a = "1";
      call += (i ? ", " : "") + a;
    }
    call += ")";
    const auto t = tdbg::lang::result_type(s, s.params.empty() ? tdbg::lang::type{} : type_of(s.params[0]));
    const bool b = t.value == tdbg::lang::value_kind::boolean;
    std::string cond;
    switch (t.shape) {
      case tdbg::lang::shape::elements: cond = b ? "any(count(" + call + ") > 0)" : "any(max(" + call + ") > -1)"; break;
      case tdbg::lang::shape::per_tensor: cond = b ? "any(" + call + ")" : "any(" + call + " > -1)"; break;
      default: cond = b ? call : call + " > -1"; break;
    }
    INFO(s.name << " -> " << s.engine_name << ": " << cond);
    any_rule r = load_cond(cond);
    r.bind_source("baseline", other);
    CHECK_NOTHROW(run(r, src));
    ++n;
  }
  CHECK(n == tdbg::lang::builtin_functions().all().size());
}

TEST_CASE("three rules of rules/ fire where they must and only there", "[lang][load][examples]") {
  const std::filesystem::path dir = TDBG_RULES_DIR;
  std::vector<std::filesystem::path> files;
  // The first three rule files (the whole built-in library is tested in tests/builtin/).
  for (const char* stem : {"exploding_tensor", "loss_not_decreasing", "vanishing_gradient"})
    files.push_back(dir / (std::string(stem) + ".rule"));

  // healthy: gradients around 1e-2, finite values, loss decreasing by 20% every 10 steps.
  // sick: gradients 1e-9 from step 30, a NaN weight at step 40, loss flat from step 20.
  auto make_trial = [](bool sick) {
    memory_source s;
    for (tdbg::step_t g = 0; g <= 60; g += 5) {
      s.step(g, mode::train, g);
      const float grad = sick && g >= 30 ? 1e-9f : 1e-2f;
      s.put("dense/weight:grad", g, {grad, -grad, grad});
      s.put("dense/weight", g, {1.0f, sick && g == 40 ? NAN : -1.0f});
      const double healthy_loss = 10.0 * std::pow(0.8, static_cast<double>(g) / 10.0);
      s.put("loss", g, {static_cast<float>(sick && g >= 20 ? 10.0 * 0.64 : healthy_loss)});
    }
    s.collection("gradients", {"dense/weight:grad"});
    s.collection("weights", {"dense/weight"});
    s.collection("losses", {"loss"});
    return s;
  };
  const auto healthy = make_trial(false);
  const auto sick = make_trial(true);
  for (const auto& f : files) {
    INFO(f.filename().string());
    auto rules = load_rules(f);
    REQUIRE(rules.size() == 1);
    const auto ok = run(rules[0], healthy);
    const auto bad = run(rules[0], sick);
    CHECK(fired(ok) == 0);
    CHECK(fired(bad) > 0);
    for (const auto& e : bad)
      for (const auto& fd : e.findings) CHECK_FALSE(fd.message.empty());
  }
}

TEST_CASE("nan_inf_origin names the first-saved bad tensor; without a save order the origin step is insufficient data",
          "[lang][load][examples]") {
  auto rules = load_rules(std::filesystem::path(TDBG_RULES_DIR) / "nan_inf_origin.rule");
  REQUIRE(rules.size() == 1);
  // a_w and z_w are saved at steps 0..3 and both hold NaN from step 2.
  auto make_source = [](bool with_order) {
    memory_source s;
    for (tdbg::step_t g = 0; g < 4; ++g) {
      s.put("a_w", g, {g >= 2 ? NAN : 1.0f});
      s.put("z_w", g, {g >= 2 ? NAN : 1.0f});
      if (with_order) s.order("z_w", g, 0).order("a_w", g, 1);  // z_w saved first
    }
    return s;
  };
  const auto ordered = run(rules[0], make_source(true));
  REQUIRE(ordered.size() == 4);
  CHECK(fired(ordered) == 1);
  REQUIRE(ordered[2].result == verdict::fired);
  CHECK(ordered[2].findings.at(0).tensors == std::vector<std::string>{"z_w", "a_w"});
  const auto unordered = run(rules[0], make_source(false));
  CHECK(fired(unordered) == 0);
  CHECK(unordered[1].result == verdict::ok);  // no bad tensor: the order is not needed
  REQUIRE(unordered[2].result == verdict::insufficient_data);
  CHECK(unordered[2].reason == "the save order of tensor 'a_w' at step 2 (TRAIN step 2) is not known to memory source");
  CHECK(unordered[3].result == verdict::insufficient_data);  // bad tensors whose order is unknown
}
