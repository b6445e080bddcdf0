// examples/rules/builtin_rules.cpp — smdebug's built-in rules written in tdbg's vocabulary,
// checked on a small in-memory training. docs/rules.md quotes the functions below.
#include <cstdio>
#include <limits>

#include "example_source.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using tdbg::mode;

/// VanishingGradient: some gradient has mean(|g|) < threshold.
any_rule vanishing_gradient(double threshold = 1e-7) {
  rule_options o;
  o.message = "{rule}: {tensor} has mean |g| = {value:.2g} at step {step}";
  return make_rule("VanishingGradient", any(mean(abs(collection("gradients"))) < param_("threshold", threshold)), o);
}

/// ExplodingTensor: some tensor holds NaN or ±inf.
any_rule exploding_tensor() {
  return make_rule("ExplodingTensor", any(fraction_nonfinite(tensors_matching(".")) > 0.0));
}

/// WeightUpdateRatio: ‖w_s − w_prev‖ / (‖w_prev‖ + ε) outside [small, large].
any_rule weight_update_ratio(double small = 1e-5, double large = 10, double eps = 1e-9) {
  const auto w = collection("weights");
  const auto ratio = l2(w - prev(w)) / (l2(prev(w)) + eps);
  return make_rule("WeightUpdateRatio", any(!between(ratio, small, large)));
}

/// LossNotDecreasing: the loss now is not below the loss num_steps ago (mode steps),
/// evaluated at most every num_steps TRAIN steps.
any_rule loss_not_decreasing(tdbg::step_t num_steps = 10) {
  const auto loss = the(mean(tensor_named("loss")));
  rule_options o;
  o.when.mode = mode::train;
  o.when.every = num_steps;
  o.when.warmup = 1;  // the first saved step has nothing to compare with
  return make_rule("LossNotDecreasing", loss >= at_steps_back(loss, num_steps), o);
}

/// Overfit: (last EVAL loss − TRAIN loss) / TRAIN loss > ratio for `patience_steps` evaluations.
any_rule overfit(double ratio = 0.1, std::size_t patience_steps = 2) {
  const auto train = the(mean(tensor_named("loss")));
  const auto eval = in_mode(train, mode::eval);
  rule_options o;
  o.when.mode = mode::train;
  return make_rule("Overfit", patience((eval - train) / train > ratio, patience_steps), o);
}

/// WorkerDivergence: the spread over workers of a weight norm is large.
any_rule worker_divergence(double max_spread = 0.5) {
  return make_rule("WorkerDivergence", spread_over_workers(the(l2(tensor_named("fc.weight")))) > max_spread);
}

int main() {
  example::memory_source src;
  // TRAIN steps 0..40 by 10, EVAL after each: global 0,1 10,11 ... 40,41.
  const float train_loss[] = {2.0f, 1.5f, 1.2f, 1.2f, 1.3f};
  const float eval_loss[] = {2.1f, 1.6f, 1.4f, 1.5f, 1.6f};
  for (int i = 0; i < 5; ++i) {
    const tdbg::step_t g = 10 * i;
    src.step(g, mode::train, g).step(g + 1, mode::eval, i);
    src.put("loss", g, {train_loss[i]}).put("loss", g + 1, {eval_loss[i]});
    src.put("fc.weight", g, {1.0f + 0.1f * static_cast<float>(i), 1.0f}, "worker_0");
    src.put("fc.weight", g, {1.0f + 0.1f * static_cast<float>(i), i == 4 ? 2.0f : 1.0f}, "worker_1");
    src.put("fc.weight_grad", g, {i == 3 ? 1e-9f : 0.1f, i == 3 ? -1e-9f : -0.1f});
    src.put("fc.bias", g, {i == 2 ? std::numeric_limits<float>::quiet_NaN() : 0.5f});
  }
  src.collection("gradients", {"fc.weight_grad"}).collection("weights", {"fc.weight"});

  using v = std::vector<tdbg::step_t>;
  example::expect(example::fired_steps(vanishing_gradient(), src) == v{30}, "VanishingGradient fires at step 30");
  example::expect(example::fired_steps(exploding_tensor(), src) == v{20}, "ExplodingTensor fires at step 20 (NaN bias)");
  // fc.weight (worker_0) moves by 0.1 per saved step: ratios 0.0707, 0.0673, 0.0640, 0.0610
  example::expect(example::fired_steps(weight_update_ratio(), src).empty(), "WeightUpdateRatio stays quiet");
  example::expect(example::fired_steps(weight_update_ratio(0.065, 10), src) == v{30, 40},
                  "WeightUpdateRatio with small = 0.065 fires once updates shrink below 6.5%");
  // TRAIN losses 2.0 1.5 1.2 1.2 1.3: not decreasing at 30 (1.2 >= 1.2) and 40 (1.3 >= 1.2)
  example::expect(example::fired_steps(loss_not_decreasing(), src) == v{30, 40}, "LossNotDecreasing fires at 30 and 40");
  // (last eval − train) / train at TRAIN steps: 0: no EVAL yet (unknown); 10: (2.1−1.5)/1.5 = 0.4;
  // 20: (1.6−1.2)/1.2 = 0.33; 30: (1.4−1.2)/1.2 = 0.17; 40: (1.5−1.3)/1.3 = 0.15
  example::expect(example::fired_steps(overfit(0.3, 2), src) == v{20},
                  "Overfit (gap > 30% for 2 TRAIN evaluations in a row) fires at 20");
  example::expect(example::fired_steps(worker_divergence(), src) == v{40}, "WorkerDivergence fires at 40");

  auto r = vanishing_gradient();
  auto e = r.evaluate(src, 30);
  example::expect(!e.findings.empty() && e.findings[0].message ==
                                             "VanishingGradient: fc.weight_grad has mean |g| = 1e-09 at step 30",
                  "finding message: " + (e.findings.empty() ? std::string("none") : e.findings[0].message));
  std::printf("%s\n", r.describe().c_str());
  return example::failures == 0 ? 0 : 1;
}
