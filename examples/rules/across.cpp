// examples/rules/across.cpp — across modes, workers and trials. docs/rules.md points here.
#include <cstdio>
#include <memory>

#include "example_source.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using example::expect;
using tdbg::mode;

namespace {
const auto loss = the(mean(tensor_named("loss")));

/// in_mode: the last EVAL loss at or before a TRAIN step.
void across_modes() {
  example::memory_source s;
  s.step(0, mode::train, 0).step(1, mode::eval, 0).step(2, mode::train, 1);
  s.put("loss", 0, {1.0f}).put("loss", 1, {1.5f}).put("loss", 2, {0.8f});
  expect(evaluate_at(in_mode(loss, mode::eval), s, 2).v == 1.5, "in_mode(loss, EVAL) at TRAIN step 2 == 1.5");
  expect(!evaluate_at(in_mode(loss, mode::eval), s, 0).known, "no EVAL step yet at 0: unknown");
  expect(evaluate_at(the(mean(tensor_named("loss").in(mode::eval))), s, 2).v == 1.5, "selection .in(EVAL)");
}

/// Aggregates over workers: spread = max - min of a per-worker value.
void across_workers() {
  example::memory_source s;
  s.step(0, mode::train, 0);
  s.put("w", 0, {3, 4}, "worker_0").put("w", 0, {6, 8}, "worker_1");
  const auto norm = the(l2(tensor_named("w")));
  expect(evaluate_at(spread_over_workers(norm), s, 0).v == 5, "spread_over_workers(l2) == 10 - 5");
  expect(evaluate_at(max_over_workers(norm), s, 0).evidence[0].worker == "worker_1", "max names worker_1");
}

/// in_trial: compare with another training (a data source bound by name).
void across_trials() {
  example::memory_source run;
  run.step(0, mode::train, 0).put("loss", 0, {2.0f});
  auto baseline = std::make_shared<example::memory_source>();
  baseline->step(0, mode::train, 0).put("loss", 0, {1.0f});
  any_rule worse = make_rule("WorseThanBaseline", loss > 1.5 * in_trial(loss, "baseline"));
  worse.bind_source("baseline", baseline);
  expect(worse.evaluate(run, 0).result == verdict::fired, "2.0 > 1.5 * 1.0: fired");
}
}  // namespace

int main() {
  across_modes();
  across_workers();
  across_trials();
  return example::failures == 0 ? 0 : 1;
}
