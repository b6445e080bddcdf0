// benchmarks/rules_interpreted_vs_compiled.cpp — the interpreted form of a rule (the `.rule`
// loader, tdbg::lang::load_rules: the engine's node templates with erased nodes at the joints)
// next to its compiled form (`tdbg compile`: one fully typed expression), on the same trial in
// the same run. Goal: interpreted ≤ 1.5 × compiled, for every rule file.
//
// Rules: every file of rules/ (TDBG_BENCH_RULE_FILES, globbed by CMake), loaded at run time with
// the overrides the build used for the generated header (unchanged_tensor needs its regex).
// similar_across_runs compares with a second trial bound as "other": here a second source over
// the same trial (so it never fires, but evaluates every element of every tensor).
//
// The trials, written by tdbg's hook into a storage::memory_backend and read through
// rules::trial_source (the offline path of rules::run) with a cache that holds every decoded
// value: a first (warm-up) round decodes every record, the timed rounds find every value in the
// cache (checked: no cache miss), so they time the rule engine, not decoding.
//  * small (engine work per node and per tensor dominates: the interpreter's extra virtual calls
//    weigh most):
//    an MLP of 12 layers of width 16 with a batch of 16 — per TRAIN step, for each layer its
//    weight (16x16) and bias, their gradients, its relu input and output (16x16) — plus a loss,
//    accuracy, labels, predictions, input images, token ids, tanh and sigmoid inputs (80 tensors,
//    at most 768 elements each) over 150 TRAIN steps, with 2 EVAL steps every 10.
//  * large: the same names with width 256 and batch 256 (65536-element weights), 4 layers,
//    12 TRAIN steps with 2 EVAL steps every 4: the element loops dominate, and the interpreter's
//    materialization (one pass over a double buffer per erased element-wise level, rules/erased.hpp)
//    costs memory traffic the fused typed loop does not have — the interpreter's worst case.
//
// For each rule file, each round times rules::run of the interpreted rule and of the compiled
// rule over the trial (fresh copies: fresh state), in alternating order; each reports its best
// round. A rule that runs in microseconds is run several times in a row per measurement (the
// same count for both forms, shown as "runs"), so that one measurement lasts about 5 ms.
// "all rules" runs the whole set in one rules::run. Correctness is checked in the program:
// both forms must give the same evaluations (step, verdict, reason) and identical findings
// (rule, step, mode, tensors, values, thresholds, message), else the program exits non-zero.
//
// Usage: tdbg_bench_rules_interpreted_vs_compiled [ROUNDS] [small|large|both] [RULE]
//        (defaults: 7 rounds, both trials, every rule; RULE keeps that rule only, for profiling)
#include <tdbg/collect/defaults.hpp>
#include <tdbg/hook/hook.hpp>
#include <tdbg/lang/lang.hpp>
#include <tdbg/rules/rules.hpp>
#include <tdbg/rules/runner.hpp>
#include <tdbg/rules/trial_source.hpp>
#include <tdbg/storage/memory.hpp>
#include <tdbg/trial/trial.hpp>

#include <fmt/format.h>

#include "bench_compiled_rules.hpp"  // generated from rules/*.rule by `tdbg compile`

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace r = tdbg::rules;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ';'))
    if (!item.empty()) out.push_back(item);
  return out;
}

namespace d = tdbg::collect::defaults;
constexpr auto weights = d::weights.every(1);
constexpr auto biases = d::biases.every(1);
constexpr auto gradients = d::gradients.every(1);
constexpr auto losses = d::losses.every(1);
constexpr auto activations =
    tdbg::collect::collection_config{"activations"}.include("_(input|output)(_0)?$").every(1);
constexpr auto labels = tdbg::collect::collection_config{"labels"}.include("labels$").every(1);
constexpr auto predictions = tdbg::collect::collection_config{"predictions"}.include("predictions$").every(1);
constexpr auto metrics = tdbg::collect::collection_config{"metrics"}.include("accuracy$").every(1);

struct shape_config {
  const char* name;
  int layers;
  std::int64_t width;  // a weight is width x width, a relu tensor batch x width
  std::int64_t batch;
  int train_steps;
  int eval_every;  // 2 EVAL steps after every eval_every TRAIN steps
};

/// Writes the trial (see the header comment); returns the number of tensors saved per TRAIN step
/// and the bytes of raw data saved in total.
std::pair<std::size_t, double> write_trial(const std::shared_ptr<tdbg::storage::memory_backend>& backend,
                                           const shape_config& c) {
  tdbg::hook_options opt;
  opt.queue_capacity_bytes = std::uint64_t{1} << 30;
  tdbg::hook h(backend,
               tdbg::collect::collections<weights, biases, gradients, losses, activations, labels, predictions,
                                          metrics>{},
               opt);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  const auto w = static_cast<std::size_t>(c.width), b = static_cast<std::size_t>(c.batch);
  std::vector<std::vector<float>> weight(static_cast<std::size_t>(c.layers), std::vector<float>(w * w));
  for (auto& v : weight)
    for (auto& x : v) x = 0.1f * nd(rng);
  std::vector<float> bias(w), grad(w * w), gbias(w), relu_in(b * w), relu_out(b * w), images(b * 3 * 16),
      tanh_in(b * w), sigm_in(b * w);
  std::vector<std::int64_t> lab(b), pred(b), tokens(b * 16);
  std::vector<float> loss(1), acc(1);
  std::size_t per_step = 0;
  double bytes = 0;
  auto save = [&](const std::string& name, const auto& v, std::initializer_list<std::int64_t> shape) {
    using T = typename std::remove_cvref_t<decltype(v)>::value_type;
    h.save(name, std::span<const T>(v), shape);
    ++per_step;
    bytes += double(v.size() * sizeof(T));
  };
  const std::int64_t W = c.width, B = c.batch;
  auto layer_name = [&](int l) { return l + 1 == c.layers ? std::string("out") : fmt::format("fc{}", l + 1); };
  int global_train = 0;
  auto train_step = [&] {
    const int s = global_train++;
    h.begin_step();
    per_step = 0;
    for (int l = 0; l < c.layers; ++l) {
      const std::string n = layer_name(l);
      auto& wt = weight[static_cast<std::size_t>(l)];
      // gradient: decays with the step; layer 3 learns nothing after step 100 (vanishing)
      const float scale = (l == 3 && s >= 100) ? 1e-9f : 0.01f / float(1 + s % 7);
      for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = scale * nd(rng);
      // the last layer's weight stops changing after step 120 (unchanged_tensor)
      if (!(l + 1 == c.layers && s >= 120))
        for (std::size_t i = 0; i < wt.size(); ++i) wt[i] -= grad[i];
      for (std::size_t i = 0; i < w; ++i) {
        bias[i] = i < 2 ? 0.f : 0.01f * float(i) - 0.001f * float(s);
        gbias[i] = 0.001f * nd(rng);
      }
      for (std::size_t i = 0; i < relu_in.size(); ++i) {
        // layer 5's units are mostly dead
        relu_in[i] = nd(rng) - (l == 5 ? 3.f : 0.f);
        relu_out[i] = std::max(relu_in[i], 0.f);
      }
      save(n + ".weight", wt, {W, W});
      save(n + ".bias", bias, {W});
      save("gradient/" + n + ".weight", grad, {W, W});
      save("gradient/" + n + ".bias", gbias, {W});
      save(n + "_relu_input", relu_in, {B, W});
      save(n + "_relu_output", relu_out, {B, W});
    }
    for (auto& x : images) x = 0.5f + 0.2f * nd(rng);  // not normalized: mean 0.5
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = (i % 16) < 10 ? 0 : std::int64_t(1 + i % 50);
    for (auto& x : tanh_in) x = 3.f * nd(rng);
    for (auto& x : sigm_in) x = 30.f * nd(rng);
    for (std::size_t i = 0; i < b; ++i) {
      lab[i] = std::int64_t(i % 4 == 0 ? 0 : i % 3);  // skewed classes
      pred[i] = (i % 5 == 0) ? (lab[i] + 1) % 3 : lab[i];
    }
    loss[0] = 2.f / float(1 + s / 10) + 0.05f * float(s % 3);  // oscillates
    acc[0] = 1.f - loss[0] / 3.f;
    save("hybridsequential0_input_0", images, {B, 3, 4, 4});
    save("embedding0_input_0", tokens, {B, 16});
    save("layer_tanh_input", tanh_in, {B, W});
    save("layer_sigmoid_input", sigm_in, {B, W});
    save("CrossEntropyLoss_output_0", loss, {1});
    save("accuracy", acc, {1});
    save("labels", lab, {B});
    save("predictions", pred, {B});
    h.end_step();
  };
  h.set_mode(tdbg::mode::train);
  const std::size_t per_train_step = [&] {
    train_step();
    return per_step;
  }();
  int eval_step = 0;
  while (global_train < c.train_steps) {
    train_step();
    if (global_train % c.eval_every == 0) {
      h.set_mode(tdbg::mode::eval);
      for (int k = 0; k < 2; ++k, ++eval_step) {
        h.begin_step();
        loss[0] = 0.8f + 0.01f * float(eval_step);  // rises: overfit, overtraining
        acc[0] = 0.6f;
        save("CrossEntropyLoss_output_0", loss, {1});
        save("accuracy", acc, {1});
        save("labels", lab, {B});
        save("predictions", pred, {B});
        h.end_step();
      }
      h.set_mode(tdbg::mode::train);
    }
  }
  h.close();
  return {per_train_step, bytes};
}

/// Where the two forms' results differ ("" when they agree).
std::string difference(const r::run_result& a, const r::run_result& b) {
  if (a.evaluations.size() != b.evaluations.size())
    return fmt::format("{} vs {} evaluations", a.evaluations.size(), b.evaluations.size());
  for (std::size_t i = 0; i < a.evaluations.size(); ++i) {
    const auto& x = a.evaluations[i];
    const auto& y = b.evaluations[i];
    if (x.rule != y.rule || x.step != y.step || x.result != y.result || x.reason != y.reason ||
        x.findings != y.findings)
      return fmt::format("evaluation {} ({} at step {}): {} '{}' vs {} '{}'", i, x.rule, x.step,
                         r::verdict_name(x.result), x.reason, r::verdict_name(y.result), y.reason);
  }
  if (a.findings != b.findings) return "findings differ";
  return "";
}

struct timing {
  std::string rule;
  double interpreted = 1e300, compiled = 1e300;
  std::size_t evaluations = 0, fired = 0, findings = 0;
  int reps = 1;  // runs per timed measurement (short rules: see min_measure)
  [[nodiscard]] double ratio() const { return interpreted / compiled; }
};

/// Runs the benchmark on one trial shape; returns false on a disagreement of the two forms.
bool bench(const shape_config& c, int rounds, const std::vector<r::any_rule>& interpreted_in,
           const std::vector<r::any_rule>& compiled_in, double goal, bool& goal_met) {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  const auto [per_step, bytes] = write_trial(backend, c);
  const tdbg::trial::trial trial(backend);
  r::trial_source_options so;
  so.cache_entries = std::size_t{1} << 20;
  so.cache_bytes = std::uint64_t{8} << 30;
  const r::trial_source src(trial, so);
  const auto other = std::make_shared<const r::trial_source>(trial, so);

  std::vector<r::any_rule> interpreted = interpreted_in, compiled = compiled_in;
  for (auto& x : interpreted) x.bind_source("other", other);
  for (auto& x : compiled) x.bind_source("other", other);

  fmt::print("trial '{}': {} tensors per TRAIN step ({} layers, weights {}x{}, batch {}), {} TRAIN steps + 2 EVAL "
             "steps every {}; {:.1f} MiB of raw values in memory\n",
             c.name, per_step, c.layers, c.width, c.width, c.batch, c.train_steps, c.eval_every,
             bytes / (1 << 20));

  bool ok = true;
  std::vector<timing> t(interpreted.size() + 1);
  // Warm-up: decodes every record into the caches, and checks that both forms agree.
  const auto t_cold = clock_type::now();
  for (std::size_t i = 0; i < interpreted.size(); ++i) {
    t[i].rule = interpreted[i].name();
    const auto a = r::run(interpreted[i], src);
    const auto b = r::run(compiled[i], src);
    if (const auto diff = difference(a, b); !diff.empty()) {
      fmt::print(stderr, "MISMATCH ({}, rule {}): {}\n", c.name, t[i].rule, diff);
      ok = false;
    }
    t[i].evaluations = a.evaluations.size();
    t[i].findings = a.findings.size();
    for (const auto& e : a.evaluations) t[i].fired += e.result == r::verdict::fired;
  }
  t.back().rule = "all rules, one rules::run";
  {
    const auto a = r::run(interpreted, src);
    const auto b = r::run(compiled, src);
    if (const auto diff = difference(a, b); !diff.empty()) {
      fmt::print(stderr, "MISMATCH ({}, all rules): {}\n", c.name, diff);
      ok = false;
    }
    t.back().evaluations = a.evaluations.size();
    t.back().findings = a.findings.size();
    for (const auto& e : a.evaluations) t.back().fired += e.result == r::verdict::fired;
  }
  const double cold = seconds_since(t_cold);
  const auto misses = src.cache_misses() + other->cache_misses();

  // A rule that runs in microseconds (a clock rule evaluates once) is timed over `reps` runs in a
  // row, the same number for both forms, so that each measurement lasts about min_measure: one
  // run alone would time the clock and the scheduler more than the rule.
  constexpr double min_measure = 0.005;
  for (std::size_t i = 0; i <= interpreted.size(); ++i) {
    const bool all = i == interpreted.size();
    const auto t0 = clock_type::now();
    if (all)
      (void)r::run(compiled, src);
    else
      (void)r::run(compiled[i], src);
    const double once = std::max(seconds_since(t0), 1e-7);
    t[i].reps = static_cast<int>(std::clamp(std::ceil(min_measure / once), 1.0, 100000.0));
  }
  std::size_t current = 0;  // the rule being timed (its reps)
  auto timed = [&](double& best, const auto& rules) {
    std::size_t evaluations = 0;
    const auto t0 = clock_type::now();
    for (int k = 0; k < t[current].reps; ++k) evaluations = r::run(rules, src).evaluations.size();
    best = std::min(best, seconds_since(t0) / t[current].reps);
    return evaluations;
  };
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i <= interpreted.size(); ++i) {
      const bool all = i == interpreted.size();
      current = i;
      auto run_interpreted = [&] {
        return all ? timed(t[i].interpreted, interpreted) : timed(t[i].interpreted, interpreted[i]);
      };
      auto run_compiled = [&] { return all ? timed(t[i].compiled, compiled) : timed(t[i].compiled, compiled[i]); };
      std::size_t ea = 0, eb = 0;
      if (round % 2 == 0) {
        ea = run_interpreted();
        eb = run_compiled();
      } else {
        eb = run_compiled();
        ea = run_interpreted();
      }
      if (ea != t[i].evaluations || eb != t[i].evaluations) {
        fmt::print(stderr, "MISMATCH ({}, {}): {} / {} evaluations in round {}, {} before\n", c.name, t[i].rule, ea,
                   eb, round, t[i].evaluations);
        ok = false;
      }
    }
  }
  if (src.cache_misses() + other->cache_misses() != misses) {
    fmt::print(stderr, "the timed rounds missed the value cache ({} misses): raise its bounds\n",
               src.cache_misses() + other->cache_misses() - misses);
    ok = false;
  }

  fmt::print("warm-up (decoding every record, checking both forms agree): {:.2f} s; best of {} rounds, time per "
             "run (runs: how many in a row make one measurement of a short rule):\n\n",
             cold, rounds);
  fmt::print("{:<32} {:>6} {:>6} {:>9} {:>13} {:>11} {:>7} {:>6}\n", "rule file", "evals", "fired", "findings",
             "interpreted", "compiled", "ratio", "runs");
  double worst = 0;
  std::string worst_rule;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (i + 1 == t.size()) fmt::print("{:-<90}\n", "");
    const auto& x = t[i];
    fmt::print("{:<32} {:>6} {:>6} {:>9} {:>10.3f} ms {:>8.3f} ms {:>6.2f}x {:>6}\n", x.rule, x.evaluations, x.fired,
               x.findings, x.interpreted * 1e3, x.compiled * 1e3, x.ratio(), x.reps);
    if (x.ratio() > worst) {
      worst = x.ratio();
      worst_rule = x.rule;
    }
  }
  double sum_i = 0, sum_c = 0;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) {
    sum_i += t[i].interpreted;
    sum_c += t[i].compiled;
  }
  fmt::print("{:<32} {:>6} {:>6} {:>9} {:>10.3f} ms {:>8.3f} ms {:>6.2f}x\n", "sum of the rule files", "", "", "",
             sum_i * 1e3, sum_c * 1e3, sum_i / sum_c);
  const bool met = worst <= goal;
  goal_met = goal_met && met;
  fmt::print("\ngoal on '{}': interpreted <= {} x compiled for every rule: {} (worst {:.2f}x: {})\n\n", c.name, goal,
             met ? "met" : "NOT met", worst, worst_rule);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const std::string which = argc > 2 ? argv[2] : "both";
  if (which != "small" && which != "large" && which != "both") {
    fmt::print(stderr, "usage: {} [ROUNDS] [small|large|both] [RULE]\n", argv[0]);
    return 2;
  }
  try {
    // The interpreted form: each file loaded at run time, with the overrides of its rule.
    const auto files = split(TDBG_BENCH_RULE_FILES);
    const auto params = split(TDBG_BENCH_RULE_PARAMS);
    std::vector<r::any_rule> interpreted;
    for (const auto& f : files) {
      std::vector<std::string> mine;
      const std::string stem = std::filesystem::path(f).stem().string();
      for (const auto& o : params)
        if (o.rfind(stem + ".", 0) == 0) mine.push_back(o);
      for (auto& x : tdbg::lang::load_rules(f, mine)) interpreted.push_back(std::move(x));
    }
    // The compiled form: the generated header's rules (the same files, the same overrides).
    std::vector<r::any_rule> compiled = bench_compiled::all_rules();
    if (compiled.size() != interpreted.size()) {
      fmt::print(stderr, "{} interpreted rules but {} compiled ones\n", interpreted.size(), compiled.size());
      return 1;
    }
    for (std::size_t i = 0; i < compiled.size(); ++i)
      if (compiled[i].name() != interpreted[i].name() || compiled[i].describe() != interpreted[i].describe()) {
        fmt::print(stderr, "rule {}: '{}' interpreted, '{}' compiled\n", i, interpreted[i].describe(),
                   compiled[i].describe());
        return 1;
      }
    if (argc > 3) {
      const std::string only = argv[3];
      std::erase_if(interpreted, [&](const r::any_rule& x) { return x.name() != only; });
      std::erase_if(compiled, [&](const r::any_rule& x) { return x.name() != only; });
      if (compiled.empty()) {
        fmt::print(stderr, "no rule named '{}'\n", only);
        return 2;
      }
    }
    fmt::print("tdbg benchmark: {} rules of {} files of rules/, interpreted (tdbg::lang::load_rules) vs compiled "
               "(tdbg compile), rules::run over an in-memory trial with every value cached\n\n",
               compiled.size(), files.size());

    constexpr double goal = 1.5;
    bool ok = true, met = true;
    if (which != "large")
      ok = bench(shape_config{"small", 12, 16, 16, 150, 10}, rounds, interpreted, compiled, goal, met) && ok;
    if (which != "small")
      ok = bench(shape_config{"large", 4, 256, 256, 12, 4}, rounds, interpreted, compiled, goal, met) && ok;
    fmt::print("goal: interpreted <= {} x compiled: {}; both forms gave identical findings: {}\n", goal,
               met ? "met" : "NOT met", ok ? "yes" : "NO");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
