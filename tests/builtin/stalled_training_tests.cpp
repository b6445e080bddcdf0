// rules/stalled_training.rule on hook-written trials: a training whose writer went silent
// without ending its trial fires once its newest step is older than the threshold; a healthy
// or finished training does not. Time is the trial_source's injected clock (no sleeping).
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "support.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/lang/lang.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

using namespace tdbg;

namespace {

/// `steps` TRAIN steps of a loss; with `ended` false the trial gets no end marker (the job
/// stopped saving, or died, without ending it).
void write_training(const std::filesystem::path& dir, int steps, bool ended) {
  static constexpr auto losses = collect::defaults::losses.every(1);
  hook_options o;
  o.write_end_marker = ended;
  hook h(dir, collect::collections<losses>{}, o);
  h.set_mode(mode::train);
  for (int s = 0; s < steps; ++s) {
    h.begin_step();
    h.save("CrossEntropyLoss_output_0", std::vector<float>{1.0f / static_cast<float>(s + 1)});
    h.end_step();
  }
  h.close();
}

/// Runs rules/stalled_training.rule over `dir` as `tdbg check` does, with the clock reading
/// `seconds_after` seconds after the trial's newest step was saved.
rules::run_result check_at(const std::filesystem::path& dir, double seconds_after,
                           const std::vector<std::string>& overrides = {}) {
  auto t = std::make_shared<trial::trial>(dir);
  const auto steps = t->steps();
  REQUIRE(!steps.empty());
  const auto saved = t->step_wall_time(steps.back());
  REQUIRE(saved);
  rules::trial_source_options so;
  so.clock = [now = *saved + seconds_after] { return now; };
  const rules::trial_source src(t, so);
  return rules::run(builtin_test::load("stalled_training", overrides), src);
}

}  // namespace

TEST_CASE("stalled_training fires when the newest step is older than 1800 s", "[builtin][stalled_training]") {
  builtin_test::scratch_dir dir("stalled_training_fires");
  write_training(dir.path(), 5, false);
  const auto res = check_at(dir.path(), 2000);
  const auto& sum = res.summary("stalled_training");
  CHECK(sum.evaluated == 1);  // the newest step only
  CHECK(sum.status() == "IssuesFound");
  REQUIRE(res.findings.size() == 1);
  const auto& f = res.findings.front();
  CHECK(f.step == 4);
  CHECK(f.mode == mode::train);
  CHECK(f.values.front() == Approx(2000.0).margin(1e-3));
  CHECK(f.thresholds.front() == 1800.0);
  CHECK(f.message == "no new step saved for 2000 s (threshold 1800 s) after step 4 (TRAIN step 4)");
}

TEST_CASE("stalled_training stays quiet on a recent or a finished training", "[builtin][stalled_training]") {
  builtin_test::scratch_dir running("stalled_training_recent");
  write_training(running.path(), 5, false);
  auto res = check_at(running.path(), 1700);
  CHECK(res.summary("stalled_training").status() == "NoIssuesFound");
  CHECK(res.findings.empty());
  res = check_at(running.path(), 1800);  // "for threshold s": strictly more than 1800 s
  CHECK(res.findings.empty());

  builtin_test::scratch_dir ended("stalled_training_ended");
  write_training(ended.path(), 5, true);
  res = check_at(ended.path(), 1e6);  // long after, but the training ended: not stalled
  CHECK(res.summary("stalled_training").status() == "NoIssuesFound");
  CHECK(res.findings.empty());
  // and `tdbg check`'s path (the system clock) agrees on the finished trial
  const auto real = builtin_test::check(ended.path(), "stalled_training");
  CHECK(real.summary("stalled_training").status() == "NoIssuesFound");
}

TEST_CASE("stalled_training's threshold can be overridden", "[builtin][stalled_training]") {
  builtin_test::scratch_dir dir("stalled_training_override");
  write_training(dir.path(), 3, false);
  CHECK(check_at(dir.path(), 100).findings.empty());
  const auto res = check_at(dir.path(), 100, {"stalled_training.threshold=60"});
  REQUIRE(res.findings.size() == 1);
  CHECK(res.findings.front().step == 2);
  CHECK(res.findings.front().thresholds.front() == 60.0);
  CHECK(res.findings.front().message.find("(threshold 60 s)") != std::string::npos);
}

TEST_CASE("stalled_training has no verdict before the first saved step", "[builtin][stalled_training]") {
  builtin_test::scratch_dir dir("stalled_training_empty");
  {
    static constexpr auto losses = collect::defaults::losses.every(1);
    hook_options o;
    o.write_end_marker = false;
    hook h(dir.path(), collect::collections<losses>{}, o);  // started, nothing saved yet
  }
  const auto res = builtin_test::check(dir.path(), "stalled_training");
  CHECK(res.summary("stalled_training").evaluated == 0);
  CHECK(res.summary("stalled_training").status() == "InsufficientData");
}

TEST_CASE("the .rule language: seconds_since_last_save makes a clock rule, without state", "[builtin][stalled_training][lang]") {
  const auto rs = lang::load_rules_text("rule r(t = 5) {\n  fire when seconds_since_last_save() > t && exists(tensor(\"loss\"))\n}\n",
                                        "clock.rule", {});
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].reads_clock());
  CHECK_THAT(rs[0].expression(), Catch::StartsWith("(seconds_since_last_save() > t) && exists("));
  CHECK_FALSE(builtin_test::load("vanishing_gradient").front().reads_clock());
  CHECK(builtin_test::load("stalled_training").front().reads_clock());
  // re-evaluated at one step as time passes: no window, patience, then or accumulate inside
  CHECK_THROWS_WITH(lang::load_rules_text("rule p() {\n  fire when patience(seconds_since_last_save() > 1, 2)\n}\n",
                                          "clock.rule", {}),
                    Catch::Contains("clock.rule:2:13") && Catch::Contains("reads the clock"));
  CHECK_THROWS_WITH(lang::load_rules_text("rule w() {\n  fire when window_max(seconds_since_last_save(), 3) > 1\n}\n",
                                          "clock.rule", {}),
                    Catch::Contains("reads the clock"));
}
