// examples/rules/time_and_state.cpp — prev, at_steps_back, delta, ratio, windows, running
// values, patience and then, over a rule's successive evaluations. docs/rules.md points here.
#include <cstdio>

#include "example_source.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using example::expect;
using v = std::vector<tdbg::step_t>;

namespace {

// TRAIN steps 0..7, loss: 8 6 5 5 5 5 9 9; w: [1, 1] then each step +[1, 0]
example::memory_source training() {
  example::memory_source s;
  const float loss[] = {8, 6, 5, 5, 5, 5, 9, 9};
  for (tdbg::step_t g = 0; g < 8; ++g) {
    s.step(g, tdbg::mode::train, g).put("loss", g, {loss[g]});
    s.put("w", g, {1.0f + static_cast<float>(g), 1.0f});
  }
  return s;
}
const auto loss = the(mean(tensor_named("loss")));

/// prev/delta/ratio/at_steps_back on a scalar, and prev of a selection (element-wise).
void time_ops() {
  const auto s = training();
  expect(evaluate_at(prev(loss), s, 1).v == 8, "prev(loss) at 1 == 8");
  expect(!evaluate_at(prev(loss), s, 0).known, "prev(loss) at 0 is unknown");
  expect(evaluate_at(delta(loss), s, 1).v == -2, "delta(loss) at 1 == -2");
  expect(evaluate_at(ratio(loss), s, 6).v == 1.8, "ratio(loss) at 6 == 1.8");
  expect(evaluate_at(at_steps_back(loss, 4), s, 5).v == 6, "at_steps_back(loss, 4) at 5 == loss at step 1 == 6");
  const auto w = tensor_named("w");
  expect(evaluate_at(the(l2(w - prev(w))), s, 3).v == 1, "l2(w - prev(w)) == 1");
}

/// Windows over the last n evaluations of a rule.
void window_examples() {
  const auto s = training();
  expect(example::fired_steps(make_rule("Plateau", window_max(loss, 3) - window_min(loss, 3) < 0.5), s) == v{4, 5},
         "plateau (range of the last 3 losses < 0.5) at 4 and 5");
  expect(example::fired_steps(make_rule("Rising", window_slope(loss, 3) > 1.0), s) == v{6, 7},
         "rising (least-squares slope of the last 3 > 1) at 6 and 7");
  expect(example::fired_steps(make_rule("MostlyHigh", window_count(loss > 5.5, 4) >= 2.0), s) == v{3, 7},
         "at least 2 of the last 4 losses > 5.5 at 3 and 7");
  expect(example::fired_steps(make_rule("EverAbove", running_max(loss) > 8.5), s) == v{6, 7}, "running_max");
}

/// patience and then.
void patience_and_then() {
  const auto s = training();
  expect(example::fired_steps(make_rule("Stuck", patience(delta(loss) == 0.0, 2)), s) == v{4, 5},
         "loss unchanged for 2 evaluations in a row at 4 and 5");
  expect(example::fired_steps(make_rule("Rebound", then(delta(loss) == 0.0, delta(loss) > 3.0, 3)), s) == v{6},
         "a flat loss, then a jump > 3 within 3 steps, at 6");
}

}  // namespace

int main() {
  time_ops();
  window_examples();
  patience_and_then();
  return example::failures == 0 ? 0 : 1;
}
