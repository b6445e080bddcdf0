// The built-in rules beyond smdebug (AUTOTRAINER, TensorBoard Debugger V2) on trials written by
// tdbg's hook from synthetic training data: gradient_norm_ratio_vanishing / _exploding,
// dying_relu, oscillating_loss, slow_convergence, nan_inf_origin. For each: where it must fire
// (step and tensor), where it must not, and its parameters overridden.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <utility>
#include <span>
#include <string>
#include <vector>

#include "support.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/rules/attach.hpp"

using namespace tdbg;

namespace {

using builtin_test::check;
using builtin_test::scratch_dir;

/// 64 entries of alternating sign, each of magnitude norm / 8: their L2 norm is `norm`.
std::vector<float> with_norm(double norm) {
  std::vector<float> v(64);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i % 2 ? -norm : norm) / 8.0);
  return v;
}

// ---- gradient norm ratio ---------------------------------------------------------------------

/// A three-layer MLP's weight gradients (smdebug's PyTorch names) for `steps` TRAIN steps: the
/// norms of fc1, fc2 and out at step s are first(s), 1 and last(s).
void write_layer_gradients(const std::filesystem::path& dir, int steps, const std::function<double(int)>& first,
                           const std::function<double(int)>& last,
                           const std::vector<std::string>& names = {"gradient/MLP_fc1.weight", "gradient/MLP_fc2.weight",
                                                                    "gradient/MLP_out.weight"}) {
  static constexpr auto gradients = collect::defaults::gradients.every(1);
  hook h(dir, collect::collections<gradients>{});
  h.set_mode(mode::train);
  for (int s = 0; s < steps; ++s) {
    h.begin_step();
    const auto g0 = with_norm(first(s)), g1 = with_norm(1.0), g2 = with_norm(last(s));
    h.save(names[0], std::span<const float>(g0));
    h.save(names[1], std::span<const float>(g1));
    h.save(names[2], std::span<const float>(g2));
    h.end_step();
  }
  h.close();
}

const std::vector<std::string> ratio_tensors{"gradient/MLP_fc1.weight, gradient/MLP_out.weight"};

}  // namespace

TEST_CASE("gradient_norm_ratio_vanishing fires when the first layer's gradient is small, also next to the last's",
          "[builtin][gradient_norm_ratio_vanishing]") {
  scratch_dir dir("gnr_vanishing_fires");
  // ||g fc1|| = 0.3^s, ||g out|| = 1: the ratio is < 1e-3 from step 6 (7.3e-4), the norm < 1e-4
  // from step 8 (6.6e-5; 0.3^7 = 2.2e-4): both hold from step 8 on.
  write_layer_gradients(dir.path(), 12, [](int s) { return std::pow(0.3, s); }, [](int) { return 1.0; });
  const auto res = check(dir.path(), "gradient_norm_ratio_vanishing");
  const auto& sum = res.summary("gradient_norm_ratio_vanishing");
  CHECK(sum.evaluated == 12);
  CHECK(sum.fired == 4);
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 8);
  REQUIRE(!res.findings.empty());
  const auto& f = res.findings.front();
  CHECK(f.mode == mode::train);
  REQUIRE(f.tensors == std::vector<std::string>{"gradient/MLP_fc1.weight, gradient/MLP_out.weight",
                                                "gradient/MLP_fc1.weight"});
  CHECK(f.values[0] == Approx(std::pow(0.3, 8)).epsilon(1e-5));  // the ratio
  CHECK(f.thresholds[0] == 1e-3);
  CHECK(f.values[1] == Approx(std::pow(0.3, 8)).epsilon(1e-5));  // ||g fc1||
  CHECK(f.thresholds[1] == 1e-4);
  CHECK(f.message.find("vanishing gradient at step 8") != std::string::npos);
}

TEST_CASE("gradient_norm_ratio_vanishing stays quiet when all layers shrink together", "[builtin][gradient_norm_ratio_vanishing]") {
  scratch_dir dir("gnr_vanishing_quiet");
  // ||g fc1|| = ||g out|| = 0.3^s: tiny (smdebug's VanishingGradient would fire), but the ratio
  // stays 1, so the gradient does not vanish on its way back.
  write_layer_gradients(dir.path(), 12, [](int s) { return std::pow(0.3, s); }, [](int s) { return std::pow(0.3, s); });
  const auto res = check(dir.path(), "gradient_norm_ratio_vanishing");
  CHECK(res.summary("gradient_norm_ratio_vanishing").status() == "NoIssuesFound");
  CHECK(res.summary("gradient_norm_ratio_vanishing").ok == 12);
  CHECK(res.findings.empty());
}

TEST_CASE("gradient_norm_ratio_vanishing's thresholds and layer regexes can be overridden",
          "[builtin][gradient_norm_ratio_vanishing]") {
  SECTION("beta2") {
    scratch_dir dir("gnr_vanishing_beta2");
    write_layer_gradients(dir.path(), 12, [](int s) { return std::pow(0.3, s); }, [](int) { return 1.0; });
    const auto res = check(dir.path(), "gradient_norm_ratio_vanishing", {"gradient_norm_ratio_vanishing.beta2=1e-3"});
    const auto& sum = res.summary("gradient_norm_ratio_vanishing");
    REQUIRE(sum.first_fired);
    CHECK(*sum.first_fired == 6);  // the ratio decides now: 0.3^6 = 7.3e-4 < 1e-3 <= 0.3^5
  }
  SECTION("beta1") {
    scratch_dir dir("gnr_vanishing_beta1");
    write_layer_gradients(dir.path(), 12, [](int s) { return std::pow(0.3, s); }, [](int) { return 1.0; });
    const auto res = check(dir.path(), "gradient_norm_ratio_vanishing", {"gradient_norm_ratio_vanishing.beta1=1e-5"});
    const auto& sum = res.summary("gradient_norm_ratio_vanishing");
    REQUIRE(sum.first_fired);
    CHECK(*sum.first_fired == 10);  // the ratio decides now: 0.3^10 = 5.9e-6 < 1e-5 <= 0.3^9
  }
  SECTION("layer names") {
    // TF-style names: the defaults match nothing, which is insufficient data, never a silent ok.
    scratch_dir dir("gnr_vanishing_names");
    write_layer_gradients(dir.path(), 12, [](int s) { return std::pow(0.3, s); }, [](int) { return 1.0; },
                          {"gradients/dense/kernel:0", "gradients/dense_1/kernel:0", "gradients/dense_2/kernel:0"});
    const auto plain = check(dir.path(), "gradient_norm_ratio_vanishing");
    CHECK(plain.summary("gradient_norm_ratio_vanishing").status() == "InsufficientData");
    CHECK(plain.evaluations.empty());  // no tensor matches: no step to evaluate

    const auto res = check(dir.path(), "gradient_norm_ratio_vanishing",
                           {"gradient_norm_ratio_vanishing.first_layer=/dense\\/kernel/",
                            "gradient_norm_ratio_vanishing.last_layer=/dense_2\\/kernel/"});
    const auto& sum = res.summary("gradient_norm_ratio_vanishing");
    REQUIRE(sum.first_fired);
    CHECK(*sum.first_fired == 8);
    CHECK(res.findings.front().tensors.back() == "gradients/dense/kernel:0");
  }
}

TEST_CASE("gradient_norm_ratio_exploding fires when the first layer's gradient outgrows the last's by beta3",
          "[builtin][gradient_norm_ratio_exploding]") {
  scratch_dir dir("gnr_exploding_fires");
  // ||g fc1|| = 2^s, ||g out|| = 1: 2^7 = 128 > 70 >= 2^6.
  write_layer_gradients(dir.path(), 10, [](int s) { return std::pow(2.0, s); }, [](int) { return 1.0; });
  const auto res = check(dir.path(), "gradient_norm_ratio_exploding");
  const auto& sum = res.summary("gradient_norm_ratio_exploding");
  CHECK(sum.evaluated == 10);
  CHECK(sum.fired == 3);
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 7);
  const auto& f = res.findings.front();
  CHECK(f.tensors == ratio_tensors);
  CHECK(f.values.front() == Approx(128.0).epsilon(1e-5));
  CHECK(f.thresholds.front() == 70.0);
}

TEST_CASE("gradient_norm_ratio_exploding stays quiet on large but balanced gradients, and on a ratio under beta3",
          "[builtin][gradient_norm_ratio_exploding]") {
  SECTION("balanced") {
    scratch_dir dir("gnr_exploding_balanced");
    // Every layer's gradient grows to 2^9 = 512: large, but not larger at the first layer.
    write_layer_gradients(dir.path(), 10, [](int s) { return std::pow(2.0, s); }, [](int s) { return std::pow(2.0, s); });
    const auto res = check(dir.path(), "gradient_norm_ratio_exploding");
    CHECK(res.summary("gradient_norm_ratio_exploding").status() == "NoIssuesFound");
  }
  SECTION("under beta3") {
    scratch_dir dir("gnr_exploding_under");
    write_layer_gradients(dir.path(), 11, [](int s) { return std::pow(1.5, s); }, [](int) { return 1.0; });  // <= 57.7
    const auto res = check(dir.path(), "gradient_norm_ratio_exploding");
    CHECK(res.summary("gradient_norm_ratio_exploding").status() == "NoIssuesFound");
    CHECK(res.findings.empty());
  }
}

TEST_CASE("gradient_norm_ratio_exploding's beta3 can be overridden", "[builtin][gradient_norm_ratio_exploding]") {
  scratch_dir dir("gnr_exploding_override");
  write_layer_gradients(dir.path(), 11, [](int s) { return std::pow(1.5, s); }, [](int) { return 1.0; });
  const auto res = check(dir.path(), "gradient_norm_ratio_exploding", {"gradient_norm_ratio_exploding.beta3=30"});
  const auto& sum = res.summary("gradient_norm_ratio_exploding");
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 9);  // 1.5^9 = 38.4 > 30 >= 1.5^8 = 25.6
  CHECK(res.findings.front().thresholds.front() == 30.0);
}

// ---- dying ReLU ------------------------------------------------------------------------------

namespace {

/// Gradients of all parameters for `steps` TRAIN steps: fc1.weight (100 entries) has 10·s exactly
/// zero entries (at most 100), fc2.weight (100) 5·s, out.bias (10) none. Overall share of zeros:
/// (min(10s,100) + min(5s,100)) / 210: 0.5 at step 7, 0.643 at 9, 0.714 at 10.
void write_dying_gradients(const std::filesystem::path& dir, int steps) {
  static constexpr auto gradients = collect::defaults::gradients.every(1);
  hook h(dir, collect::collections<gradients>{});
  h.set_mode(mode::train);
  auto grad = [](std::size_t n, std::size_t zeros) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = i < zeros ? (i % 2 ? -0.0f : 0.0f) : (i % 2 ? -0.02f : 0.03f);
    return v;
  };
  for (int s = 0; s < steps; ++s) {
    const auto z = static_cast<std::size_t>(s);
    h.begin_step();
    const auto a = grad(100, std::min<std::size_t>(10 * z, 100)), b = grad(100, std::min<std::size_t>(5 * z, 100)),
               c = grad(10, 0);
    h.save("gradient/MLP_fc1.weight", std::span<const float>(a));
    h.save("gradient/MLP_fc2.weight", std::span<const float>(b));
    h.save("gradient/MLP_out.bias", std::span<const float>(c));
    h.end_step();
  }
  h.close();
}

}  // namespace

TEST_CASE("dying_relu fires when the share of exactly-zero gradient entries of all parameters reaches gamma",
          "[builtin][dying_relu]") {
  scratch_dir dir("dying_relu_fires");
  write_dying_gradients(dir.path(), 14);
  const auto res = check(dir.path(), "dying_relu");
  const auto& sum = res.summary("dying_relu");
  CHECK(sum.evaluated == 14);
  CHECK(sum.fired == 4);
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 10);  // 150 / 210 = 0.714 >= 0.7 > 135 / 210
  const auto& f = res.findings.front();
  // The overall share (a property of the network, no tensor), then the tensors holding zeros.
  REQUIRE(f.tensors == std::vector<std::string>{"", "gradient/MLP_fc1.weight", "gradient/MLP_fc2.weight"});
  CHECK(f.values[0] == Approx(150.0 / 210.0));
  CHECK(f.thresholds[0] == 0.7);
  CHECK(f.message.find("0.714 of all gradient entries") != std::string::npos);
}

TEST_CASE("dying_relu judges all parameters together, not each tensor", "[builtin][dying_relu]") {
  scratch_dir dir("dying_relu_quiet");
  // Up to step 9 the overall share stays <= 0.643, although fc1.weight alone is 70% zeros at
  // step 7 and 90% at step 9.
  write_dying_gradients(dir.path(), 10);
  const auto res = check(dir.path(), "dying_relu");
  CHECK(res.summary("dying_relu").status() == "NoIssuesFound");
  CHECK(res.summary("dying_relu").ok == 10);
}

TEST_CASE("dying_relu's gamma can be overridden", "[builtin][dying_relu]") {
  scratch_dir dir("dying_relu_override");
  write_dying_gradients(dir.path(), 10);
  const auto res = check(dir.path(), "dying_relu", {"dying_relu.gamma=0.5"});
  const auto& sum = res.summary("dying_relu");
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 7);  // 105 / 210 = 0.5 >= 0.5 > 90 / 210
  CHECK(sum.fired == 3);
}

// ---- oscillating loss ------------------------------------------------------------------------

namespace {

/// A loss saved at `steps` TRAIN steps (and, to show it is ignored, an EVAL loss after every
/// fourth one): loss(s) = 1 - 0.01 s + wiggle(s).
void write_loss(const std::filesystem::path& dir, int steps, const std::function<double(int)>& wiggle) {
  static constexpr auto losses = collect::defaults::losses.tensor("loss").every(1);
  hook h(dir, collect::collections<losses>{});
  for (int s = 0; s < steps; ++s) {
    h.set_mode(mode::train);
    h.begin_step();
    h.save("loss", std::vector<float>{static_cast<float>(1.0 - 0.01 * s + wiggle(s))});
    h.end_step();
    if (s % 4 == 3) {
      h.set_mode(mode::eval);
      h.begin_step();
      h.save("loss", std::vector<float>{s % 8 == 3 ? 5.0f : 0.1f});  // would swing wildly if mixed in
      h.end_step();
    }
  }
  h.close();
}

/// The TRAIN step number of global step g in write_loss's trials.
int train_step_of(const tdbg::rules::run_result& r, step_t global) {
  for (const auto& e : r.evaluations)
    if (e.step == global) return static_cast<int>(e.mode_step);
  return -1;
}

}  // namespace

TEST_CASE("oscillating_loss fires once the window holds eta * window swings of at least zeta",
          "[builtin][oscillating_loss]") {
  scratch_dir dir("oscillating_loss_fires");
  // From TRAIN step 24 on, the loss zigzags by +-0.1: peaks at 24, 26, 28, 30 are judged at 25,
  // 27, 29, 31; the 4th swing (eta * window = 0.2 * 20) is there at TRAIN step 31.
  write_loss(dir.path(), 40, [](int s) { return s < 24 ? 0.0 : (s % 2 ? -0.1 : 0.1); });
  const auto res = check(dir.path(), "oscillating_loss");
  const auto& sum = res.summary("oscillating_loss");
  CHECK(sum.evaluated == 40);  // the TRAIN steps only
  REQUIRE(sum.first_fired);
  CHECK(train_step_of(res, *sum.first_fired) == 31);
  const auto& f = res.findings.front();
  CHECK(f.mode == mode::train);
  CHECK(f.mode_step == 31);
  CHECK(f.tensors == std::vector<std::string>{"loss"});
  CHECK(f.values.front() == 4.0);
  CHECK(f.thresholds.front() == Approx(4.0));
  CHECK(f.message.find("loss oscillates at step") != std::string::npos);
  // Two steps of insufficient data (no earlier values), then 19 (the window is filling).
  CHECK(sum.insufficient_data == 21);
}

TEST_CASE("oscillating_loss stays quiet on a loss whose wiggles are smaller than zeta", "[builtin][oscillating_loss]") {
  scratch_dir dir("oscillating_loss_quiet");
  // Peaks at every even step, but 0.026 above the lower neighbour (< 0.03).
  write_loss(dir.path(), 40, [](int s) { return s % 2 ? -0.008 : 0.008; });
  const auto res = check(dir.path(), "oscillating_loss");
  CHECK(res.summary("oscillating_loss").status() == "NoIssuesFound");
  CHECK(res.summary("oscillating_loss").ok == 19);
  CHECK(res.findings.empty());
}

TEST_CASE("oscillating_loss's zeta, window and series mode can be overridden", "[builtin][oscillating_loss]") {
  scratch_dir dir("oscillating_loss_override");
  write_loss(dir.path(), 40, [](int s) { return s % 2 ? -0.008 : 0.008; });
  SECTION("zeta and window") {
    // Swings of 0.026 >= 0.02 at TRAIN steps 3, 5, 7, 9, 11; a window of 10 is full at step 11.
    const auto res = check(dir.path(), "oscillating_loss", {"oscillating_loss.zeta=0.02", "oscillating_loss.window=10"});
    const auto& sum = res.summary("oscillating_loss");
    REQUIRE(sum.first_fired);
    CHECK(train_step_of(res, *sum.first_fired) == 11);
    CHECK(res.findings.front().values.front() == 5.0);
    CHECK(res.findings.front().thresholds.front() == Approx(2.0));
  }
  SECTION("series mode") {
    // The EVAL loss alternates 5, 0.1: every other value is a peak of 4.9.
    const auto res = check(dir.path(), "oscillating_loss", {"oscillating_loss.series_mode=EVAL", "oscillating_loss.window=5"});
    const auto& sum = res.summary("oscillating_loss");
    CHECK(sum.evaluated == 10);
    REQUIRE(sum.first_fired);
    CHECK(res.findings.front().mode == mode::eval);
    CHECK(res.findings.front().mode_step == 6);  // window of EVAL evaluations 2..6: swings at 3, 5
  }
}

// ---- slow convergence ------------------------------------------------------------------------

namespace {

/// `epochs` epochs, each a TRAIN step then an EVAL step saving "accuracy": train(e), val(e).
/// Global steps: TRAIN 2e, EVAL 2e + 1.
void write_accuracy(const std::filesystem::path& dir, int epochs, const std::function<double(int)>& train,
                    const std::function<double(int)>& val) {
  static constexpr auto metrics = collect::defaults::metrics.tensor("accuracy").every(1);
  hook h(dir, collect::collections<metrics>{});
  for (int e = 0; e < epochs; ++e) {
    h.set_mode(mode::train);
    h.begin_step();
    h.save("accuracy", std::vector<float>{static_cast<float>(train(e))});
    h.end_step();
    h.set_mode(mode::eval);
    h.begin_step();
    h.save("accuracy", std::vector<float>{static_cast<float>(val(e))});
    h.end_step();
  }
  h.close();
}

}  // namespace

TEST_CASE("slow_convergence fires when neither training nor validation accuracy ever rose by min_increase",
          "[builtin][slow_convergence]") {
  scratch_dir dir("slow_convergence_fires");
  // +0.005 per epoch in training, +0.004 in validation: first judged at epoch 1 (global 3),
  // slow at epochs 1, 2, 3 -> fires at epoch 3's validation, global step 7.
  write_accuracy(dir.path(), 8, [](int e) { return 0.1 + 0.005 * e; }, [](int e) { return 0.1 + 0.004 * e; });
  const auto res = check(dir.path(), "slow_convergence");
  const auto& sum = res.summary("slow_convergence");
  CHECK(sum.evaluated == 8);  // the validations
  CHECK(sum.insufficient_data == 1);
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 7);
  CHECK(sum.fired == 5);
  const auto& f = res.findings.front();
  CHECK(f.mode == mode::eval);
  CHECK(f.mode_step == 3);
  REQUIRE(f.values.size() == 2);
  CHECK(f.values[0] == Approx(0.004).epsilon(1e-4));  // validation
  CHECK(f.values[1] == Approx(0.005).epsilon(1e-4));  // training
  CHECK(f.thresholds == std::vector<double>{0.01, 0.01});
  CHECK(f.message.find("the largest increase of accuracy so far") != std::string::npos);
}

TEST_CASE("slow_convergence stays quiet once accuracy rose, even on a later plateau, or while one series rises",
          "[builtin][slow_convergence]") {
  SECTION("learned, then converged") {
    scratch_dir dir("slow_convergence_plateau");
    // +0.1 per epoch up to 0.9 (epoch 8), then flat: a converged run, not a slow one.
    write_accuracy(dir.path(), 16, [](int e) { return std::min(0.9, 0.1 + 0.1 * e); },
                   [](int e) { return std::min(0.85, 0.1 + 0.1 * e); });
    const auto res = check(dir.path(), "slow_convergence");
    CHECK(res.summary("slow_convergence").status() == "NoIssuesFound");
  }
  SECTION("training rises, validation does not") {
    scratch_dir dir("slow_convergence_one");
    write_accuracy(dir.path(), 10, [](int e) { return 0.1 + 0.05 * e; }, [](int) { return 0.1; });
    const auto res = check(dir.path(), "slow_convergence");
    CHECK(res.summary("slow_convergence").status() == "NoIssuesFound");
    CHECK(res.findings.empty());
  }
}

TEST_CASE("slow_convergence's min_increase, epochs and metric can be overridden", "[builtin][slow_convergence]") {
  scratch_dir dir("slow_convergence_override");
  write_accuracy(dir.path(), 8, [](int e) { return 0.1 + 0.04 * e; }, [](int e) { return 0.1 + 0.03 * e; });
  CHECK(check(dir.path(), "slow_convergence").summary("slow_convergence").status() == "NoIssuesFound");
  const auto res = check(dir.path(), "slow_convergence", {"slow_convergence.min_increase=0.05", "slow_convergence.epochs=2"});
  const auto& sum = res.summary("slow_convergence");
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 5);  // slow at epochs 1 and 2: epoch 2's validation
  const auto other = check(dir.path(), "slow_convergence", {"slow_convergence.metric=/^val_acc$/"});
  CHECK(other.summary("slow_convergence").status() == "InsufficientData");  // no such tensor: never evaluated
  CHECK(other.evaluations.empty());
}

// ---- NaN/Inf origin --------------------------------------------------------------------------

namespace {

constexpr float f_inf = std::numeric_limits<float>::infinity();
constexpr float f_nan = std::numeric_limits<float>::quiet_NaN();

/// 10 TRAIN steps saving, in this order (forward, then backward), "loss",
/// "gradient/MLP_out.weight", "gradient/MLP_fc1.weight". bad(s, tensor index) gives the value of
/// one element (0: finite).
void write_numerics(const std::filesystem::path& dir, const std::function<float(int, int)>& bad) {
  static constexpr auto gradients = collect::defaults::gradients.every(1);
  static constexpr auto losses = collect::defaults::losses.tensor("loss").every(1);
  hook h(dir, collect::collections<gradients, losses>{});
  h.set_mode(mode::train);
  const char* names[] = {"loss", "gradient/MLP_out.weight", "gradient/MLP_fc1.weight"};
  for (int s = 0; s < 10; ++s) {
    h.begin_step();
    for (int t = 0; t < 3; ++t) {
      std::vector<float> v = t == 0 ? std::vector<float>{0.5f} : with_norm(1.0);
      if (const float b = bad(s, t); b != 0) v.back() = b;
      h.save(names[t], std::span<const float>(v));
    }
    h.end_step();
  }
  h.close();
}

}  // namespace

TEST_CASE("nan_inf_origin fires once, at the first step and in the tensor where non-finite values appear",
          "[builtin][nan_inf_origin]") {
  scratch_dir dir("nan_inf_origin_fires");
  // out.weight's gradient overflows at step 5; from step 6 on everything is NaN.
  write_numerics(dir.path(), [](int s, int t) { return s == 5 && t == 1 ? f_inf : s > 5 ? f_nan : 0.0f; });
  const auto res = check(dir.path(), "nan_inf_origin");
  const auto& sum = res.summary("nan_inf_origin");
  CHECK(sum.evaluated == 10);
  CHECK(sum.fired == 1);
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 5);
  REQUIRE(res.findings.size() == 1);
  CHECK(res.findings.front().tensors == std::vector<std::string>{"gradient/MLP_out.weight"});
  CHECK(res.findings.front().message ==
        "non-finite values first appear at step 5 (TRAIN step 5) in gradient/MLP_out.weight: gradient/MLP_out.weight");
  // exploding_tensor, by contrast, fires at every step from the origin on.
  CHECK(check(dir.path(), "exploding_tensor").summary("exploding_tensor").fired == 5);
}

TEST_CASE("nan_inf_origin names the tensor saved first at the origin step, then the others by name",
          "[builtin][nan_inf_origin]") {
  scratch_dir dir("nan_inf_origin_order");
  // At step 3 "loss" (saved first), out.weight's gradient (second) and fc1.weight's (third) are
  // non-finite. By name the gradients come first; in save order the loss does.
  write_numerics(dir.path(), [](int s, int) { return s >= 3 ? f_nan : 0.0f; });
  const auto res = check(dir.path(), "nan_inf_origin");
  REQUIRE(res.findings.size() == 1);
  CHECK(res.findings.front().step == 3);
  CHECK(res.findings.front().tensors ==
        std::vector<std::string>{"loss", "gradient/MLP_fc1.weight", "gradient/MLP_out.weight"});
  CHECK(res.findings.front().message ==
        "non-finite values first appear at step 3 (TRAIN step 3) in loss: loss, gradient/MLP_fc1.weight, "
        "gradient/MLP_out.weight");
}

namespace {

/// 6 TRAIN steps saving "z_layer", "b_layer", "a_layer" in this order (not name order), each
/// finite until its first bad step (-1: never); with `rules` attached in process.
std::vector<rules::finding> write_layers(const std::filesystem::path& dir, int z_bad, int b_bad, int a_bad,
                                         std::vector<rules::any_rule> attached) {
  static constexpr auto layers = collect::collection_config{"layers"}.include("_layer$").every(1);
  hook h(dir, collect::collections<layers>{});
  auto session = rules::attach(h, std::move(attached));
  h.set_mode(mode::train);
  for (int s = 0; s < 6; ++s) {
    h.begin_step();
    for (const auto& [name, bad] : {std::pair{"z_layer", z_bad}, std::pair{"b_layer", b_bad}, std::pair{"a_layer", a_bad}}) {
      std::vector<float> v = with_norm(1.0);
      if (bad >= 0 && s >= bad) v.front() = f_nan;
      h.save(name, std::span<const float>(v));
    }
    h.end_step();
  }
  h.close();
  return session.findings();
}

}  // namespace

TEST_CASE("nan_inf_origin names the first-SAVED bad tensor, offline and in process alike", "[builtin][nan_inf_origin]") {
  SECTION("saved first, last by name") {
    scratch_dir dir("nan_inf_origin_saved_first");
    // z_layer and a_layer go bad together at step 2; z_layer was saved first.
    const auto in_process = write_layers(dir.path(), 2, -1, 2, builtin_test::load("nan_inf_origin"));
    const auto res = check(dir.path(), "nan_inf_origin");
    REQUIRE(res.findings.size() == 1);
    const auto& f = res.findings.front();
    CHECK(f.step == 2);
    CHECK(f.tensors == std::vector<std::string>{"z_layer", "a_layer"});
    CHECK(f.message == "non-finite values first appear at step 2 (TRAIN step 2) in z_layer: z_layer, a_layer");
    CHECK(in_process == res.findings);
  }
  SECTION("the first by save order among the bad ones") {
    scratch_dir dir("nan_inf_origin_saved_middle");
    // b_layer (saved second) and a_layer (third) at step 1, z_layer (first) only at step 4.
    const auto in_process = write_layers(dir.path(), 4, 1, 1, builtin_test::load("nan_inf_origin"));
    const auto res = check(dir.path(), "nan_inf_origin");
    REQUIRE(res.findings.size() == 1);
    CHECK(res.findings.front().step == 1);
    CHECK(res.findings.front().tensors == std::vector<std::string>{"b_layer", "a_layer"});
    CHECK(in_process == res.findings);
  }
}

TEST_CASE("nan_inf_origin stays quiet on finite tensors", "[builtin][nan_inf_origin]") {
  scratch_dir dir("nan_inf_origin_quiet");
  write_numerics(dir.path(), [](int, int) { return 0.0f; });
  const auto res = check(dir.path(), "nan_inf_origin");
  CHECK(res.summary("nan_inf_origin").status() == "NoIssuesFound");
  CHECK(res.summary("nan_inf_origin").ok == 10);
}

TEST_CASE("nan_inf_origin's only_nan and tensor_regex can be overridden", "[builtin][nan_inf_origin]") {
  scratch_dir dir("nan_inf_origin_override");
  // Step 4: the loss is +inf. Step 6: fc1's gradient holds a NaN. Step 8: out's gradient too.
  write_numerics(dir.path(), [](int s, int t) {
    if (t == 0) return s >= 4 ? f_inf : 0.0f;
    if (t == 2) return s >= 6 ? f_nan : 0.0f;
    return s >= 8 ? f_nan : 0.0f;
  });
  SECTION("defaults") {
    const auto res = check(dir.path(), "nan_inf_origin");
    REQUIRE(res.findings.size() == 1);
    CHECK(res.findings.front().step == 4);
    CHECK(res.findings.front().tensors == std::vector<std::string>{"loss"});
  }
  SECTION("only_nan") {
    const auto res = check(dir.path(), "nan_inf_origin", {"nan_inf_origin.only_nan=true"});
    REQUIRE(res.findings.size() == 1);
    CHECK(res.findings.front().step == 6);
    CHECK(res.findings.front().tensors == std::vector<std::string>{"gradient/MLP_fc1.weight"});
  }
  SECTION("tensor_regex") {
    const auto res = check(dir.path(), "nan_inf_origin", {"nan_inf_origin.tensor_regex=/^gradient\\/MLP_out/"});
    REQUIRE(res.findings.size() == 1);
    CHECK(res.findings.front().step == 8);
    CHECK(res.findings.front().tensors == std::vector<std::string>{"gradient/MLP_out.weight"});
  }
}
