// examples/rules/as_tests.cpp — rules as Catch2 tests (docs/rules.md, "Rules as tests"): a
// training run checked by hand-written REQUIRE_THATs with tdbg::catch2's matchers. Built as a
// Catch2 test executable (link tdbg::catch2) and run by CTest. The training here is in memory;
// a real test reads the trial its training wrote: `tdbg::trial::trial run("/runs/exp1");`.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "example_source.hpp"
#include "tdbg/catch2/matchers.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using tdbg::catch2::fires;
using tdbg::catch2::fires_at;
using tdbg::catch2::satisfies;
using tdbg::catch2::satisfies_strictly;

namespace {

// TRAIN steps 0..4: gradients shrink 10x per step; the loss goes 2.0 1.2 0.9 0.95 0.6.
example::memory_source training() {
  example::memory_source s;
  const float loss[] = {2.0f, 1.2f, 0.9f, 0.95f, 0.6f};
  float g = 1.0f;
  for (tdbg::step_t step = 0; step < 5; ++step, g /= 10) {
    s.step(step, tdbg::mode::train, step);
    s.put("fc1/grad", step, {g, -g}).put("fc2/grad", step, {2 * g});
    s.put("loss", step, {loss[step]});
  }
  s.collection("gradients", {"fc1/grad", "fc2/grad"});
  return s;
}

const auto vanishing_gradient = make_rule("VanishingGradient", any(mean(abs(collection("gradients"))) < 1e-7));
const auto small_gradient = make_rule("SmallGradient", any(mean(abs(collection("gradients"))) < 5e-4));
const auto loss = the(mean(tensor_named("loss")));
const auto loss_went_up = make_rule("LossWentUp", loss > prev(loss));

}  // namespace

TEST_CASE("the gradients never vanish") {
  const auto run = training();
  REQUIRE_THAT(run, satisfies(vanishing_gradient));
  // strictly: every step was evaluated with all its data
  REQUIRE_THAT(run, satisfies_strictly(vanishing_gradient));
}

TEST_CASE("small gradients are flagged from step 4 on") {
  const auto run = training();
  REQUIRE_THAT(run, fires(small_gradient));
  REQUIRE_THAT(run, fires_at(small_gradient, 4));
  REQUIRE_THAT(run, !fires_at(small_gradient, 3));
}

TEST_CASE("the loss went up once, at TRAIN step 3") {
  const auto run = training();
  REQUIRE_THAT(run, fires_at(loss_went_up, 3, tdbg::mode::train));
  // At step 0 there is no previous loss: insufficient data, which satisfies() tolerates and
  // satisfies_strictly() does not.
  const std::vector<any_rule> before_step_3{loss_went_up};
  run_options first_steps;
  first_steps.end_step = 3;
  REQUIRE_THAT(run, satisfies(before_step_3).with(first_steps));
  REQUIRE_THAT(run, !satisfies_strictly(before_step_3).with(first_steps));
}
