// The run-time (tdbg::lang::load_rules) and compiled (`tdbg compile`) forms of the same `.rule`
// files produce identical rules: the same description, steps, evaluations (verdict, mode, mode
// step, reason) and findings (tensors, values, thresholds, worker, message), on every trial:
// the smdebug fixtures and a hook-written trial with TRAIN and EVAL steps.
// Rules: every file of rules/ (globbed when CMake configures: TDBG_COMPILE_BUILTIN_FILES) and the
// construct files of tests/compile/rules (TDBG_COMPILE_EXTRA_FILES).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "compiled_builtin_rules.hpp"  // generated from rules/*.rule
#include "tdbg/core/error.hpp"
#include "compiled_extra_rules.hpp"    // generated from tests/compile/rules/*.rule
#include "support.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

namespace {

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ';'))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string show(const tdbg::rules::finding& f) {
  std::string s = f.rule + "@" + std::to_string(f.step) + " [" + f.message + "]";
  for (std::size_t i = 0; i < f.tensors.size(); ++i) s += " " + f.tensors[i] + "=" + std::to_string(f.values[i]);
  return s;
}

/// Runs both forms over the trial in `dir` and requires identical results, rule by rule.
void require_same(std::vector<tdbg::rules::any_rule> loaded, std::vector<tdbg::rules::any_rule> compiled,
                  const std::filesystem::path& dir) {
  REQUIRE(loaded.size() == compiled.size());
  tdbg::trial::trial t{dir};
  t.refresh();
  const tdbg::rules::trial_source src(t);
  // Rules comparing runs (in_trial(x, "other"), similar_across_runs) read the trial itself.
  const auto other = std::make_shared<const tdbg::rules::trial_source>(t);
  for (auto& r : loaded) r.bind_source("other", other);
  for (auto& r : compiled) r.bind_source("other", other);
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    INFO("trial " << dir.filename().string() << ", rule " << loaded[i].name());
    REQUIRE(loaded[i].name() == compiled[i].name());
    CHECK(loaded[i].describe() == compiled[i].describe());
    CHECK(loaded[i].options().message == compiled[i].options().message);
    CHECK(loaded[i].options().when.every == compiled[i].options().when.every);
    CHECK(loaded[i].options().when.warmup == compiled[i].options().when.warmup);
    CHECK(loaded[i].options().when.start == compiled[i].options().when.start);
    CHECK(loaded[i].options().when.end == compiled[i].options().when.end);
    CHECK(loaded[i].options().when.mode == compiled[i].options().when.mode);
    CHECK(loaded[i].options().findings == compiled[i].options().findings);
    CHECK(loaded[i].needs().tensors.size() == compiled[i].needs().tensors.size());
    CHECK(loaded[i].steps(src) == compiled[i].steps(src));
  }
  // A data error (e.g. a step of a trial still being written) must be the same error in both forms.
  std::string a_error, b_error;
  tdbg::rules::run_result a, b;
  try {
    a = tdbg::rules::run(std::move(loaded), src);
  } catch (const tdbg::error& e) {
    a_error = e.what();
  }
  try {
    b = tdbg::rules::run(std::move(compiled), src);
  } catch (const tdbg::error& e) {
    b_error = e.what();
  }
  CHECK(a_error == b_error);
  if (!a_error.empty() || !b_error.empty()) return;
  REQUIRE(a.evaluations.size() == b.evaluations.size());
  for (std::size_t i = 0; i < a.evaluations.size(); ++i) {
    const auto& x = a.evaluations[i];
    const auto& y = b.evaluations[i];
    INFO("trial " << dir.filename().string() << ", rule " << x.rule << ", step " << x.step);
    CHECK(x.rule == y.rule);
    CHECK(x.step == y.step);
    CHECK(x.mode == y.mode);
    CHECK(x.mode_step == y.mode_step);
    CHECK(x.result == y.result);
    CHECK(x.reason == y.reason);
    REQUIRE(x.findings.size() == y.findings.size());
    for (std::size_t k = 0; k < x.findings.size(); ++k) {
      INFO(show(x.findings[k]) << " vs " << show(y.findings[k]));
      CHECK(x.findings[k] == y.findings[k]);
    }
  }
  CHECK(a.findings == b.findings);
}

std::vector<std::filesystem::path> trials() {
  std::vector<std::filesystem::path> out;
  for (const char* name : {"mlp_train_eval", "reductions_only", "in_progress", "in_progress_live"})
    out.push_back(std::filesystem::path(TDBG_TEST_DATA) / "smdebug" / name);
  return out;
}

/// Counts the fired evaluations of both forms (so the test cannot pass on rules that never fire).
std::size_t fired(std::vector<tdbg::rules::any_rule> rules, const std::filesystem::path& dir) {
  tdbg::trial::trial t{dir};
  t.refresh();
  const tdbg::rules::trial_source src(t);
  const auto other = std::make_shared<const tdbg::rules::trial_source>(t);  // as in require_same
  for (auto& r : rules) r.bind_source("other", other);
  return tdbg::rules::run(std::move(rules), src).findings.size();
}

}  // namespace

TEST_CASE("every file of rules/: the run-time and compiled forms agree on every trial", "[compile][equivalence]") {
  const auto files = split(TDBG_COMPILE_BUILTIN_FILES);
  const auto params = split(TDBG_COMPILE_BUILTIN_PARAMS);  // values of required parameters
  REQUIRE(files.size() >= 3);
  const auto compiled = compiled_builtin::all_rules();
  REQUIRE(compiled.size() >= files.size());
  for (const auto& dir : trials()) require_same(compile_test::load_files(files, params), compiled, dir);

  const std::filesystem::path dir = std::filesystem::path(TDBG_TEST_BINARY_DIR) / "scratch" / "synthetic_builtin";
  std::filesystem::remove_all(dir);
  compile_test::write_synthetic_trial(dir);
  require_same(compile_test::load_files(files, params), compiled, dir);
  CHECK(fired(compiled, dir) > 0);  // vanishing_gradient and loss_not_decreasing fire there
  std::filesystem::remove_all(dir);
}

TEST_CASE("every construct: the run-time and compiled forms agree on every trial", "[compile][equivalence]") {
  const auto files = split(TDBG_COMPILE_EXTRA_FILES);
  const auto compiled = compiled_extra::all_rules();
  for (const auto& dir : trials()) require_same(compile_test::load_files(files), compiled, dir);
  CHECK(fired(compiled, trials().front()) > 0);

  const std::filesystem::path dir = std::filesystem::path(TDBG_TEST_BINARY_DIR) / "scratch" / "synthetic_extra";
  std::filesystem::remove_all(dir);
  compile_test::write_synthetic_trial(dir);
  require_same(compile_test::load_files(files), compiled, dir);
  CHECK(fired(compiled, dir) > 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("compiled rules take their parameters as constructor arguments", "[compile][params]") {
  using vg = compiled_builtin::vanishing_gradient;
  vg::params p;
  CHECK(p.threshold == 1e-7);
  p.threshold = 1e-3;
  const auto r = vg::make(p);
  CHECK(r.describe() == "vanishing_gradient: any(mean(abs(collection(\"gradients\"))) < threshold)");
  CHECK(r.options().message.find("0.001") != std::string::npos);
  // the typed condition is the engine's expression, usable on its own
  const auto c = vg::condition(p);
  static_assert(tdbg::rules::is_node_v<std::remove_cvref_t<decltype(c)>>);
  CHECK(c.describe() == "any(mean(abs(collection(\"gradients\"))) < threshold)");
}

namespace compile_test {

void write_synthetic_trial(const std::filesystem::path& dir) {
  namespace d = tdbg::collect::defaults;
  static constexpr auto weights = d::weights.every(1);
  static constexpr auto biases = d::biases.every(1);
  static constexpr auto gradients = d::gradients.every(1);
  static constexpr auto losses = d::losses.every(1);
  tdbg::hook h(dir, tdbg::collect::collections<weights, biases, gradients, losses>{});
  std::vector<float> w(32), b(8), g(32), g2(32), loss(1);
  auto train_step = [&](int s) {
    h.begin_step();
    for (std::size_t i = 0; i < w.size(); ++i) {
      w[i] = static_cast<float>(std::sin(0.3 * static_cast<double>(i + 1) + 0.1 * s));
      g[i] = static_cast<float>((i % 2 ? -1.0 : 1.0) * std::pow(0.05, s) * (1.0 + 0.01 * static_cast<double>(i)));
      g2[i] = static_cast<float>(0.2 * std::cos(0.1 * static_cast<double>(i) + s));
    }
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = i < 3 ? 0.0f : static_cast<float>(0.01 * s - 0.02 * static_cast<double>(i));
    loss[0] = static_cast<float>(2.0 / (1.0 + s) + (s > 7 ? 0.3 * (s - 7) : 0.0));
    h.save("MLP_fc1.weight", std::span<const float>(w));
    h.save("MLP_fc1.bias", std::span<const float>(b));
    h.save("MLP_fc2.weight", std::span<const float>(g2));
    h.save("gradient/MLP_fc1.weight", std::span<const float>(g));
    h.save("gradient/MLP_fc2.weight", std::span<const float>(g2));
    h.save("CrossEntropyLoss_output_0", std::span<const float>(loss));
    h.end_step();
  };
  h.set_mode(tdbg::mode::train);
  for (int s = 0; s < 6; ++s) train_step(s);
  h.set_mode(tdbg::mode::eval);
  for (int s = 0; s < 3; ++s) {
    h.begin_step();
    loss[0] = static_cast<float>(0.5 + 0.4 * s);
    h.save("CrossEntropyLoss_output_0", std::span<const float>(loss));
    h.save("MLP_fc1.weight", std::span<const float>(w));
    h.end_step();
  }
  h.set_mode(tdbg::mode::train);
  for (int s = 6; s < 12; ++s) train_step(s);
  h.close();
}

}  // namespace compile_test
