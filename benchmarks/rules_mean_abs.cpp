// benchmarks/rules_mean_abs.cpp — the rule engine's reduction speed over tensors held in memory,
// next to the memory bandwidth measured in the same run.
//
// The trial: 16 float32 gradient tensors of 4 MiB at each of 8 steps (512 MiB), written by a
// hook into a storage::memory_backend and read through rules::trial_source — the offline path
// of rules::run — with a value cache large enough to hold every decoded tensor. A first run
// decodes every record into the cache ("cold"); the runs after it find every value there, so
// they time the engine alone: the selection, the dtype dispatch, the Eigen reduction over
// TensorMaps of the cached tensors, the quantifier and the findings. (A live_source would keep
// only the last step: it retains what the rule declares, and this rule looks back zero steps.)
//
// Rule: VanishingGradient = any(mean(abs(collection("gradients"))) < 1e-7); one tensor is
// scaled by 1e-9 at step 5, so the rule fires there and only there (checked).
//
// Baselines, over the same decoded arrays the engine reads, same compiler flags:
//  * read bandwidth: a sum of the arrays' 64-bit words (integer adds, vectorised by the
//    compiler, no floating-point work): how fast this machine streams these bytes;
//  * memcpy of every array into a preallocated buffer (bytes copied per second);
//  * a hand-written mean(|x|) per tensor, double accumulator (what one writes without Eigen).
// The figure to read is engine GB/s ÷ read bandwidth (goal ≥ 0.5).
//
// Usage: tdbg_bench_rules_mean_abs [ROUNDS]   (default 7; each measure reports its best round;
// the measures are interleaved round by round, so a busy moment of the machine hits them all)
// Exits non-zero if the engine's findings or means disagree with the hand-computed ones.
#include <tdbg/hook/hook.hpp>
#include <tdbg/rules/rules.hpp>
#include <tdbg/rules/runner.hpp>
#include <tdbg/rules/trial_source.hpp>
#include <tdbg/storage/memory.hpp>
#include <tdbg/trial/trial.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

constexpr auto gradients = tdbg::collect::collection_config{"gradients"}.include("^gradient/").every(1);

/// Sum of the 64-bit words of a buffer (its size is a multiple of 8): a pure read stream.
std::uint64_t sum_words(const std::byte* p, std::size_t bytes) {
  const std::size_t n = bytes / 8;
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    std::uint64_t w[4];
    std::memcpy(w, p + i * 8, sizeof w);
    a0 += w[0];
    a1 += w[1];
    a2 += w[2];
    a3 += w[3];
  }
  for (; i < n; ++i) {
    std::uint64_t w;
    std::memcpy(&w, p + i * 8, 8);
    a0 += w;
  }
  return a0 + a1 + a2 + a3;
}

}  // namespace

int main(int argc, char** argv) {
  namespace r = tdbg::rules;
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const std::size_t n_tensors = 16, elems = std::size_t{1} << 20;  // 16 x 4 MiB per step
  const int steps = 8;
  const int tiny_step = 5;
  const std::size_t tiny_tensor = 3;
  const double tensor_bytes = double(elems * sizeof(float));
  const double total_bytes = tensor_bytes * double(n_tensors) * steps;

  // ---- the trial, in memory ------------------------------------------------------------------
  std::vector<std::vector<float>> data(n_tensors, std::vector<float>(elems));
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1e-3f);
  for (auto& v : data)
    for (auto& x : v) x = nd(rng);
  std::vector<float> tiny(data[tiny_tensor]);
  for (auto& x : tiny) x *= 1e-9f;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < n_tensors; ++i) names.push_back(fmt::format("gradient/layer{:02}.weight", i));

  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  {
    tdbg::hook_options opt;
    opt.queue_capacity_bytes = std::uint64_t{1} << 30;
    tdbg::hook hook(backend, tdbg::collect::collections<gradients>{}, opt);
    const std::array<std::int64_t, 2> shape{1024, 1024};
    for (int s = 0; s < steps; ++s) {
      hook.begin_step();
      for (std::size_t i = 0; i < n_tensors; ++i) {
        const auto& v = (s == tiny_step && i == tiny_tensor) ? tiny : data[i];
        hook.save(names[i], std::span<const float>(v), shape);
      }
      hook.end_step();
    }
    hook.close();
  }
  const tdbg::trial::trial trial(backend);
  r::trial_source_options so;
  so.cache_entries = n_tensors * steps + 16;
  so.cache_bytes = std::uint64_t{1} << 30;
  r::trial_source src(trial, so);

  const r::any_rule rule =
      r::make_rule("VanishingGradient", r::any(r::mean(r::abs(r::collection("gradients"))) < 1e-7));

  fmt::print("tdbg benchmark: rule {}\n", rule.describe());
  fmt::print("over {} float32 gradient tensors x {} MiB x {} steps = {:.0f} MiB in memory; best of {} rounds\n\n", n_tensors,
             elems * sizeof(float) >> 20, steps, total_bytes / (1 << 20), reps);

  // ---- engine ------------------------------------------------------------------------------
  bool ok = true;
  auto check = [&](const r::run_result& res) {
    if (res.evaluations.size() != std::size_t(steps) || res.findings.size() != 1 ||
        res.findings[0].step != tiny_step || res.findings[0].tensors != std::vector<std::string>{names[tiny_tensor]}) {
      fmt::print(stderr, "MISMATCH: expected one finding at step {} on {}\n", tiny_step, names[tiny_tensor]);
      ok = false;
    }
  };
  r::run_result res;
  auto t0 = clock_type::now();
  res = r::run(rule, src);
  const double t_cold = seconds_since(t0);
  check(res);
  if (src.cache_size() != n_tensors * std::size_t(steps)) {
    fmt::print(stderr, "the cache holds {} values, expected {}\n", src.cache_size(), n_tensors * steps);
    ok = false;
  }
  const auto misses = src.cache_misses();

  // ---- warm engine runs and the baselines over the very arrays the engine reads, interleaved
  // round by round (the machine is shared: each measure takes its best round) ----------------
  std::vector<std::shared_ptr<const tdbg::tensor>> values;
  for (int s = 0; s < steps; ++s)
    for (const auto& n : names) values.push_back(src.value(n, tdbg::step_t(s)));
  std::vector<std::byte> sink(values.front()->bytes().size());
  std::vector<double> hand_means(values.size());
  std::uint64_t words = 0;
  double t_engine = 1e300, t_read = 1e300, t_memcpy = 1e300, t_hand = 1e300;
  auto timed = [](double& best, auto&& f) {
    const auto t1 = clock_type::now();
    f();
    best = std::min(best, seconds_since(t1));
  };
  for (int round = 0; round < reps; ++round) {
    timed(t_read, [&] {
      for (const auto& v : values) words += sum_words(v->bytes().data(), v->bytes().size());
    });
    timed(t_engine, [&] { res = r::run(rule, src); });
    timed(t_memcpy, [&] {
      for (const auto& v : values) {
        std::memcpy(sink.data(), v->bytes().data(), v->bytes().size());
        words += std::to_integer<std::uint64_t>(sink[v->bytes().size() / 2]);
      }
    });
    timed(t_hand, [&] {
      for (std::size_t k = 0; k < values.size(); ++k) {
        const auto f = values[k]->values<float>();
        double s = 0;
        for (const float x : f) s += std::fabs(double(x));
        hand_means[k] = s / double(f.size());
      }
    });
  }
  check(res);
  if (src.cache_misses() != misses) {
    fmt::print(stderr, "warm runs missed the cache\n");
    ok = false;
  }

  // The engine's means agree with the hand-computed ones (relative 1e-9: both sum in double,
  // in different orders).
  for (int s = 0; s < steps; ++s) {
    const auto v = r::evaluate_at(r::max_over(r::mean(r::abs(r::collection("gradients")))), src, tdbg::step_t(s));
    const double want = *std::max_element(hand_means.begin() + s * std::ptrdiff_t(n_tensors),
                                          hand_means.begin() + (s + 1) * std::ptrdiff_t(n_tensors));
    if (!v.known || std::fabs(v.v - want) > 1e-9 * want) {
      fmt::print(stderr, "MISMATCH at step {}: engine max mean |g| {} vs hand-computed {}\n", s, v.v, want);
      ok = false;
    }
  }

  const double read_bw = total_bytes / t_read / 1e9;
  const double engine = total_bytes / t_engine / 1e9;
  fmt::print("{:<62} {:>8} {:>10}\n", "measure", "GB/s", "vs read");
  fmt::print("{:<62} {:>8.2f} {:>9.2f}x\n", "baseline: read bandwidth (sum of 64-bit words)", read_bw, 1.0);
  fmt::print("{:<62} {:>8.2f} {:>9.2f}x\n", "baseline: memcpy (bytes copied)", total_bytes / t_memcpy / 1e9,
             t_read / t_memcpy);
  fmt::print("{:<62} {:>8.2f} {:>9.2f}x\n", "baseline: hand-written mean(|x|) loop, double accumulator",
             total_bytes / t_hand / 1e9, t_read / t_hand);
  fmt::print("{:<62} {:>8.2f} {:>9.2f}x\n", "engine: rules::run, values in the trial_source cache", engine,
             t_read / t_engine);
  fmt::print("{:<62} {:>8.2f} {:>9.2f}x\n", "engine, cold: first run, decoding every record", total_bytes / t_cold / 1e9,
             t_read / t_cold);
  fmt::print("\ngoal: engine >= 0.5 x read bandwidth: {} ({:.2f})\n", engine >= 0.5 * read_bw ? "met" : "NOT met",
             engine / read_bw);
  fmt::print("findings: {} at step {} (checked); (checksum {})\n", res.findings.size(),
             res.findings.empty() ? -1 : res.findings[0].step, words & 0xff);
  return ok ? 0 : 1;
}
