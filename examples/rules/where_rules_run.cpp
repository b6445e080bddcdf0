// examples/rules/where_rules_run.cpp — where rules run: offline over a trial (rules::run), while
// the trial is written (rules::follower), in process on a hook (rules::attach), with actions
// (callback, throw, stop) and bounded memory. docs/rules.md ("Where rules run") quotes the
// functions below. Every check compares with results derived by hand from the training below;
// the program exits non-zero on a mismatch.
//
// The training: 12 steps (TRAIN mode). Each step saves "gradient/fc.weight" (1000 elements,
// mean |g| = 1e-3, then 1e-9 from step 8 on: the gradients vanish) and "loss" (1/(s+1), except
// step 5, where it goes up to 0.9). So:
//   VanishingGradient fires at steps 8, 9, 10, 11;   LossUp fires at step 5.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tdbg/hook/hook.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/attach.hpp"
#include "tdbg/rules/rules.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"

using namespace tdbg::rules;
using tdbg::step_t;

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

constexpr auto gradients = tdbg::collect::collection_config{"gradients"}.include("^gradient/").every(1);
constexpr auto losses = tdbg::collect::collection_config{"losses"}.include("^loss$").every(1);
using training_collections = tdbg::collect::collections<gradients, losses>;

/// The two rules of this example.
std::vector<any_rule> the_rules() {
  const auto loss = the(max(tensor_named("loss")));
  return {make_rule("VanishingGradient", any(mean(abs(collection("gradients"))) < 1e-7)),
          make_rule("LossUp", loss > prev(loss))};
}

/// One training step's tensors (see the header comment).
void save_step(tdbg::hook& h, int s) {
  std::vector<float> g(1000);
  const float scale = s < 8 ? 1e-3f : 1e-9f;
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = (i % 2 == 0 ? 1.0f : -1.0f) * scale;
  h.save("gradient/fc.weight", std::span<const float>(g));
  h.save("loss", std::vector<float>{s == 5 ? 0.9f : 1.0f / static_cast<float>(s + 1)});
}

/// Runs the training loop; stops early when the hook is asked to.
int train(tdbg::hook& h, int steps = 12) {
  h.set_mode(tdbg::mode::train);
  int done = 0;
  for (int s = 0; s < steps; ++s) {
    h.begin_step();
    save_step(h, s);
    h.end_step();  // attached rules are evaluated inside this call
    ++done;
    if (h.should_stop()) break;
  }
  return done;
}

using fired_at = std::vector<std::pair<std::string, step_t>>;
fired_at summary(const std::vector<finding>& fs) {
  fired_at out;
  for (const auto& f : fs) out.emplace_back(f.rule, f.step);
  return out;
}
const fired_at expected{{"LossUp", 5},
                        {"VanishingGradient", 8},
                        {"VanishingGradient", 9},
                        {"VanishingGradient", 10},
                        {"VanishingGradient", 11}};

// ---- offline --------------------------------------------------------------------------------

/// Offline: rules::run over a complete trial (here written to memory; a directory works alike).
std::vector<finding> offline() {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  {
    tdbg::hook h(backend, training_collections{});
    train(h);
  }  // the destructor closes the hook: the trial is complete
  const tdbg::trial::trial t(backend);
  const run_result r = run(the_rules(), trial_source(t));
  expect(summary(r.findings) == expected, "offline run: LossUp at 5, VanishingGradient at 8..11");
  expect(r.summary("LossUp").evaluated == 12 && r.summary("LossUp").insufficient_data == 1,
         "offline run: LossUp evaluated at 12 steps, step 0 has no previous loss (insufficient_data)");
  expect(std::string(r.summary("VanishingGradient").status()) == "IssuesFound", "offline run: status IssuesFound");
  return r.findings;
}

// ---- following a trial while it is written -------------------------------------------------

/// A follower evaluates each step once it is complete; here it polls after every step.
void follow_while_written() {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  tdbg::hook h(backend, training_collections{});
  h.set_mode(tdbg::mode::train);
  h.begin_step();
  save_step(h, 0);
  h.end_step();
  h.flush();  // step 0 is on "disk": the trial can be opened
  const tdbg::trial::trial t(backend);
  follower f(the_rules(), t);
  std::size_t evaluated_after_step_0 = f.poll().size();
  for (int s = 1; s < 12; ++s) {
    h.begin_step();
    save_step(h, s);
    h.end_step();
    h.flush();
    f.poll();
    if (s == 5) expect(summary(f.findings()) == fired_at{{"LossUp", 5}}, "follower: LossUp seen as soon as step 5 is written");
  }
  expect(!f.finished(), "follower: not finished while the training may go on");
  h.close();  // writes the end marker
  f.poll();
  expect(f.finished(), "follower: finished once the trial is complete");
  expect(evaluated_after_step_0 == 2 && summary(f.findings()) == expected, "follower: the same findings as offline");
}

// ---- in process -----------------------------------------------------------------------------

/// In process: rules attached to the hook run at the end of each step, on the hook's own copies
/// of the tensors; a callback sees each finding. Returns the findings.
std::vector<finding> in_process() {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  tdbg::hook h(backend, training_collections{});
  fired_at seen_during_training;
  session live = attach(h, the_rules(), {on_finding([&](const finding& f) {
                          seen_during_training.emplace_back(f.rule, f.step);
                        })});
  train(h);
  h.close();
  expect(seen_during_training == expected, "attach: the callback saw each finding during training");
  // Memory: the live source keeps what the rules declare — one step of the gradient
  // (no look-back) and two of the loss (prev) — not the 12 steps of training.
  expect(live.source().retained_values() == 3, "attach: the live source holds 3 tensor values after 12 steps");
  return live.findings();
}

// ---- actions --------------------------------------------------------------------------------

/// stop_training(): the loop sees hook.should_stop() right after the step that fired.
void stop_action() {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  tdbg::hook h(backend, training_collections{});
  session live = attach(h, the_rules(), {stop_training()});
  const int steps_run = train(h);
  expect(steps_run == 6 && h.should_stop() && live.stop_requested(),
         "stop_training: the loop stopped after step 5 (LossUp)");
}

/// throw_on_finding(): rule_fired_error comes out of the hook call that ended the step.
void throw_action() {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  tdbg::hook h(backend, training_collections{});
  session live = attach(h, the_rules(), {throw_on_finding()});
  h.set_mode(tdbg::mode::train);
  std::vector<step_t> thrown_at;
  for (int s = 0; s < 12; ++s) {
    h.begin_step();
    save_step(h, s);
    try {
      h.end_step();
    } catch (const rule_fired_error& e) {
      thrown_at.push_back(e.finding().step);  // e.what(): "rule 'LossUp' fired at step 5 (TRAIN step 5): ..."
    }
  }
  expect(thrown_at == std::vector<step_t>{5, 8, 9, 10, 11}, "throw_on_finding: thrown from end_step at 5, 8..11");
  expect(live.evaluations().size() == 24, "throw_on_finding: evaluation went on after each throw");
}

}  // namespace

int main() {
  const auto off = offline();
  follow_while_written();
  const auto in = in_process();
  expect(off == in, "equivalence: in-process findings == offline findings, field by field");
  stop_action();
  throw_action();
  if (failures != 0) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all checks passed\n");
  return 0;
}
