// rules/{unchanged_tensor,dead_relu,saturated_activation,check_input_images,nlp_sequence_ratio,
// similar_across_runs}.rule on hook-written trials of synthetic training data: each fires at the
// expected step and tensor, stays quiet on healthy data, and honours an overridden parameter.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "support.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

using namespace tdbg;

namespace {

// Every tensor every step (smdebug's default interval is 500 steps).
constexpr auto everything = collect::collection_config{"all"}.include(".*").every(1);

using fill_fn = std::vector<float> (*)(int step);

/// Writes `steps` steps of one tensor `name` of shape `shape`, values from fill(step), plus a
/// healthy companion written by `companion` (when given) under `companion_name`.
template <class Fill, class Companion>
void write(const std::filesystem::path& dir, int steps, const std::string& name, std::vector<std::int64_t> shape,
           Fill fill, const std::string& companion_name, Companion companion) {
  hook h(dir, collect::collections<everything>{});
  for (int s = 0; s < steps; ++s) {
    h.begin_step();
    const std::vector<float> v = fill(s);
    h.save(name, std::span<const float>(v), std::span<const std::int64_t>(shape));
    if (!companion_name.empty()) {
      const std::vector<float> c = companion(s);
      h.save(companion_name, std::span<const float>(c), std::span<const std::int64_t>(shape));
    }
    h.end_step();
  }
  h.close();
}

const auto& first_finding(const rules::run_result& r) {
  REQUIRE(!r.findings.empty());
  return r.findings.front();
}

// --- unchanged_tensor ----------------------------------------------------------------------------

/// fc1.weight: 0, 1, 2, 2, 2, 2 (frozen from step 2 on); fc0.weight changes every step.
void write_freezing(const std::filesystem::path& dir) {
  write(dir, 6, "fc1.weight", {2, 3},
        [](int s) { return std::vector<float>(6, static_cast<float>(s < 2 ? s : 2)); }, "fc0.weight",
        [](int s) { return std::vector<float>(6, 0.5f * static_cast<float>(s)); });
}

}  // namespace

TEST_CASE("unchanged_tensor fires once num_steps saved values are equal", "[builtin][unchanged_tensor]") {
  builtin_test::scratch_dir dir("unchanged_fires");
  write_freezing(dir.path());
  const auto res = builtin_test::check(dir.path(), "unchanged_tensor", {"unchanged_tensor.tensor_regex=/weight/"});
  const auto& sum = res.summary("unchanged_tensor");
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 4);  // saved steps 2, 3, 4 hold the same values
  CHECK(first_finding(res).tensors == std::vector<std::string>{"fc1.weight"});
  CHECK(first_finding(res).message.find("fc1.weight did not change over its last 3 saved steps") != std::string::npos);
  // step 0 has no saved value before it: insufficient data; at step 1 the newest pair already
  // differs, which decides (false wins over the missing older pair): ok
  CHECK(sum.insufficient_data == 1);
}

TEST_CASE("unchanged_tensor looks back through the trial, not through its own evaluations",
          "[builtin][unchanged_tensor]") {
  // smdebug's test_unchanged: identical values saved at 0, 1, 2; invoked from step 2, it fires at 2.
  builtin_test::scratch_dir dir("unchanged_history");
  write(dir.path(), 3, "w", {4}, [](int) { return std::vector<float>{1, 2, 3, 4}; }, "", [](int) {
    return std::vector<float>{};
  });
  rules::run_options from2;
  from2.start_step = 2;
  const auto res = builtin_test::check(dir.path(), "unchanged_tensor", {"unchanged_tensor.tensor_regex=w"}, from2);
  REQUIRE(res.summary("unchanged_tensor").first_fired);
  CHECK(*res.summary("unchanged_tensor").first_fired == 2);
  rules::run_options until2;
  until2.end_step = 2;
  CHECK(builtin_test::check(dir.path(), "unchanged_tensor", {"unchanged_tensor.tensor_regex=w"}, until2).findings.empty());
}

TEST_CASE("unchanged_tensor stays quiet while the tensors change, within atol too", "[builtin][unchanged_tensor]") {
  builtin_test::scratch_dir dir("unchanged_quiet");
  write(dir.path(), 6, "fc.weight", {3}, [](int s) { return std::vector<float>(3, 1.0f + 1e-3f * static_cast<float>(s)); },
        "", [](int) { return std::vector<float>{}; });
  const auto res = builtin_test::check(dir.path(), "unchanged_tensor", {"unchanged_tensor.tensor_regex=weight"});
  CHECK(res.findings.empty());
  CHECK(res.summary("unchanged_tensor").ok == 5);
  // changes of 1e-3 are within atol = 0.01: unchanged from the third saved step on
  const auto loose = builtin_test::check(dir.path(), "unchanged_tensor",
                                         {"unchanged_tensor.tensor_regex=weight", "unchanged_tensor.atol=0.01"});
  REQUIRE(loose.summary("unchanged_tensor").first_fired);
  CHECK(*loose.summary("unchanged_tensor").first_fired == 2);
}

TEST_CASE("unchanged_tensor: infinities are close only to themselves, NaN to NaN only with equal_nan",
          "[builtin][unchanged_tensor]") {
  // "inf" flips between +inf and -inf every step: changing (|inf - -inf| <= rtol * inf would say
  // close; numpy.isclose compares infinities by ==); "nan" is NaN at every step.
  builtin_test::scratch_dir dir("unchanged_inf_nan");
  const float inf = std::numeric_limits<float>::infinity();
  write(dir.path(), 5, "inf", {2}, [inf](int s) { return std::vector<float>{s % 2 ? inf : -inf, 1.0f + static_cast<float>(s)}; },
        "nan", [](int) { return std::vector<float>{std::numeric_limits<float>::quiet_NaN(), 2.0f}; });
  const auto strict = builtin_test::check(dir.path(), "unchanged_tensor", {"unchanged_tensor.tensor_regex=/inf|nan/"});
  CHECK(strict.findings.empty());
  const auto nan_equal = builtin_test::check(
      dir.path(), "unchanged_tensor", {"unchanged_tensor.tensor_regex=/inf|nan/", "unchanged_tensor.equal_nan=true"});
  REQUIRE(nan_equal.summary("unchanged_tensor").first_fired);
  CHECK(*nan_equal.summary("unchanged_tensor").first_fired == 2);
  CHECK(first_finding(nan_equal).tensors == std::vector<std::string>{"nan"});
  // only the infinity element moving (the other frozen): still changing
  builtin_test::scratch_dir dir2("unchanged_inf_only");
  write(dir2.path(), 5, "inf", {2}, [inf](int s) { return std::vector<float>{s % 2 ? inf : -inf, 1.0f}; }, "",
        [](int) { return std::vector<float>{}; });
  CHECK(builtin_test::check(dir2.path(), "unchanged_tensor", {"unchanged_tensor.tensor_regex=inf"}).findings.empty());
}

TEST_CASE("unchanged_tensor's num_steps can be overridden", "[builtin][unchanged_tensor]") {
  builtin_test::scratch_dir dir("unchanged_override");
  write_freezing(dir.path());
  const auto res = builtin_test::check(dir.path(), "unchanged_tensor",
                                       {"unchanged_tensor.tensor_regex=weight", "unchanged_tensor.num_steps=2"});
  REQUIRE(res.summary("unchanged_tensor").first_fired);
  CHECK(*res.summary("unchanged_tensor").first_fired == 3);  // steps 2 and 3
}

// --- dead_relu -------------------------------------------------------------------------------------

namespace {
/// layer1_relu_output [8 samples, 10 units]: 3 * step units output 0 for every sample; unit 9 is
/// active in 1 sample of 8 (12.5%, alive); the others in all. layer0 is healthy.
void write_relus(const std::filesystem::path& dir) {
  write(dir, 4, "layer1_relu_output", {8, 10},
        [](int s) {
          std::vector<float> v(80, 1.0f);
          for (int n = 0; n < 8; ++n) {
            for (int u = 0; u < 3 * s; ++u) v[static_cast<std::size_t>(n * 10 + u)] = 0.0f;
            if (n > 0) v[static_cast<std::size_t>(n * 10 + 9)] = 0.0f;
          }
          return v;
        },
        "layer0_relu_output", [](int) { return std::vector<float>(80, 0.25f); });
}
}  // namespace

TEST_CASE("dead_relu fires when more than half of a layer's units are dead", "[builtin][dead_relu]") {
  builtin_test::scratch_dir dir("dead_relu_fires");
  write_relus(dir.path());
  const auto res = builtin_test::check(dir.path(), "dead_relu");
  const auto& sum = res.summary("dead_relu");
  CHECK(sum.evaluated == 4);
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 2);  // 6 of 10 units dead: 60% > 50%
  CHECK(first_finding(res).tensors == std::vector<std::string>{"layer1_relu_output"});
  CHECK(first_finding(res).values.front() == Approx(60));
}

TEST_CASE("dead_relu stays quiet on a mostly active layer", "[builtin][dead_relu]") {
  builtin_test::scratch_dir dir("dead_relu_quiet");
  write_relus(dir.path());
  rules::run_options o;
  o.end_step = 2;  // at most 3 dead units of 10
  const auto res = builtin_test::check(dir.path(), "dead_relu", {}, o);
  CHECK(res.findings.empty());
  CHECK(res.summary("dead_relu").status() == "NoIssuesFound");
}

TEST_CASE("dead_relu's thresholds can be overridden", "[builtin][dead_relu]") {
  builtin_test::scratch_dir dir("dead_relu_override");
  write_relus(dir.path());
  const auto layer = builtin_test::check(dir.path(), "dead_relu", {"dead_relu.threshold_layer=20"});
  REQUIRE(layer.summary("dead_relu").first_fired);
  CHECK(*layer.summary("dead_relu").first_fired == 1);  // 30% > 20%
  // unit 9 (active in 12.5% of the samples) counts as dead below 20% activity: 4 of 10 at step 1
  const auto inactive = builtin_test::check(dir.path(), "dead_relu",
                                            {"dead_relu.threshold_layer=35", "dead_relu.threshold_inactivity=20"});
  REQUIRE(inactive.summary("dead_relu").first_fired);
  CHECK(*inactive.summary("dead_relu").first_fired == 1);
  CHECK(first_finding(inactive).values.front() == Approx(40));
}

// --- saturated_activation ---------------------------------------------------------------------------

namespace {
/// dense_tanh_input [8, 4]: `step` of the 4 nodes get 20 (beyond ±9.4999) for every sample.
void write_tanh(const std::filesystem::path& dir, int steps) {
  write(dir, steps, "dense_tanh_input", {8, 4},
        [](int s) {
          std::vector<float> v(32, 0.5f);
          for (int n = 0; n < 8; ++n)
            for (int u = 0; u < s && u < 4; ++u) v[static_cast<std::size_t>(n * 4 + u)] = n % 2 ? 20.0f : -20.0f;
          return v;
        },
        "", [](int) { return std::vector<float>{}; });
}
}  // namespace

TEST_CASE("saturated_activation fires when most tanh nodes are saturated", "[builtin][saturated_activation]") {
  builtin_test::scratch_dir dir("saturated_fires");
  write_tanh(dir.path(), 5);
  const auto res = builtin_test::check(dir.path(), "saturated_activation");
  const auto& sum = res.summary("saturated_activation");
  CHECK(sum.insufficient_data == 0);  // no sigmoid in the model: that half is left out, not unknown
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 3);  // 3 of 4 nodes: 75% > 50% (2 of 4 is not > 50%)
  // the evidence is exists()'s observation, then the saturated tensor's
  CHECK(first_finding(res).tensors.back() == "dense_tanh_input");
  CHECK(first_finding(res).values.back() == Approx(75));
}

TEST_CASE("saturated_activation stays quiet on sigmoid inputs inside their wider bounds", "[builtin][saturated_activation]") {
  builtin_test::scratch_dir dir("saturated_quiet");
  // 16 is saturated for tanh but inside sigmoid's [-23, 16.99999]
  write(dir.path(), 4, "out_sigmoid_input", {8, 4}, [](int) { return std::vector<float>(32, 16.0f); }, "",
        [](int) { return std::vector<float>{}; });
  const auto res = builtin_test::check(dir.path(), "saturated_activation");
  CHECK(res.findings.empty());
  CHECK(res.summary("saturated_activation").status() == "NoIssuesFound");
  const auto tight = builtin_test::check(dir.path(), "saturated_activation", {"saturated_activation.threshold_sigmoid_max=15"});
  REQUIRE(tight.summary("saturated_activation").first_fired);
  CHECK(*tight.summary("saturated_activation").first_fired == 0);
  CHECK(first_finding(tight).tensors.back() == "out_sigmoid_input");
}

TEST_CASE("saturated_activation's bounds and layer threshold can be overridden", "[builtin][saturated_activation]") {
  builtin_test::scratch_dir dir("saturated_override");
  write_tanh(dir.path(), 5);
  const auto wide = builtin_test::check(dir.path(), "saturated_activation",
                                        {"saturated_activation.threshold_tanh_min=-30", "saturated_activation.threshold_tanh_max=30"});
  CHECK(wide.findings.empty());
  const auto layer = builtin_test::check(dir.path(), "saturated_activation", {"saturated_activation.threshold_layer=20"});
  REQUIRE(layer.summary("saturated_activation").first_fired);
  CHECK(*layer.summary("saturated_activation").first_fired == 1);  // 25% > 20%
}

// --- check_input_images ----------------------------------------------------------------------------

namespace {
/// hybridsequential0_input_0 [100 images, 3 channels, 2, 2] per step; channel 2 has mean `shift`
/// (values shift ± 1), the others mean 0.
void write_images(const std::filesystem::path& dir, float shift) {
  struct fill {
    float shift;
    std::vector<float> operator()(int) const {
      std::vector<float> v(100 * 3 * 4);
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::size_t c = (i / 4) % 3;
        const float noise = i % 2 ? 1.0f : -1.0f;
        v[i] = (c == 2 ? shift : 0.0f) + noise;
      }
      return v;
    }
  };
  write(dir, 8, "hybridsequential0_input_0", {100, 3, 2, 2}, fill{shift}, "", [](int) { return std::vector<float>{}; });
}
}  // namespace

TEST_CASE("check_input_images fires on an unnormalized channel once 500 images were seen", "[builtin][check_input_images]") {
  builtin_test::scratch_dir dir("images_fires");
  write_images(dir.path(), 0.5f);
  const auto res = builtin_test::check(dir.path(), "check_input_images");
  REQUIRE(res.summary("check_input_images").first_fired);
  CHECK(*res.summary("check_input_images").first_fired == 4);  // 5 batches of 100
  // the evidence is the images seen (running_sum), then the tensor with its largest |mean|
  CHECK(first_finding(res).values.front() == 500);
  CHECK(first_finding(res).tensors.back() == "hybridsequential0_input_0");
  CHECK(first_finding(res).values.back() == Approx(0.5));
}

TEST_CASE("check_input_images stays quiet on normalized images", "[builtin][check_input_images]") {
  builtin_test::scratch_dir dir("images_quiet");
  write_images(dir.path(), 0.1f);
  const auto res = builtin_test::check(dir.path(), "check_input_images");
  CHECK(res.findings.empty());
  CHECK(res.summary("check_input_images").status() == "NoIssuesFound");
}

TEST_CASE("check_input_images' samples, threshold and channel axis can be overridden", "[builtin][check_input_images]") {
  builtin_test::scratch_dir dir("images_override");
  write_images(dir.path(), 0.5f);
  const auto early = builtin_test::check(dir.path(), "check_input_images", {"check_input_images.threshold_samples=100"});
  REQUIRE(early.summary("check_input_images").first_fired);
  CHECK(*early.summary("check_input_images").first_fired == 0);
  CHECK(builtin_test::check(dir.path(), "check_input_images", {"check_input_images.threshold_mean=0.6"}).findings.empty());
  // axis 0 as the "channel": one mean per image, mixing the channels: 0.5 / 3 < 0.2
  CHECK(builtin_test::check(dir.path(), "check_input_images", {"check_input_images.channel=0"}).findings.empty());
}

// --- nlp_sequence_ratio ----------------------------------------------------------------------------

namespace {
/// embedding0_input_0 [4 sequences, 10 tokens]: the last `step` tokens of each are padding (0).
void write_sequences(const std::filesystem::path& dir) {
  hook h(dir, collect::collections<everything>{});
  for (int s = 0; s < 8; ++s) {
    h.begin_step();
    std::vector<std::int64_t> v(40);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<int>(i % 10) >= 10 - s) ? 0 : 7 + static_cast<std::int64_t>(i);
    h.save("embedding0_input_0", std::span<const std::int64_t>(v), {4, 10});
    h.end_step();
  }
  h.close();
}
}  // namespace

TEST_CASE("nlp_sequence_ratio fires when padding exceeds half the tokens", "[builtin][nlp_sequence_ratio]") {
  builtin_test::scratch_dir dir("nlp_fires");
  write_sequences(dir.path());
  const auto res = builtin_test::check(dir.path(), "nlp_sequence_ratio");
  REQUIRE(res.summary("nlp_sequence_ratio").first_fired);
  CHECK(*res.summary("nlp_sequence_ratio").first_fired == 6);  // 60% > 50%
  CHECK(first_finding(res).tensors == std::vector<std::string>{"embedding0_input_0"});
  CHECK(first_finding(res).values.front() == Approx(60));
}

TEST_CASE("nlp_sequence_ratio stays quiet below the threshold and counts the given token", "[builtin][nlp_sequence_ratio]") {
  builtin_test::scratch_dir dir("nlp_quiet");
  write_sequences(dir.path());
  rules::run_options o;
  o.end_step = 6;  // at most 50%
  CHECK(builtin_test::check(dir.path(), "nlp_sequence_ratio", {}, o).findings.empty());
  // token 7 occurs once per batch (2.5%)
  CHECK(builtin_test::check(dir.path(), "nlp_sequence_ratio", {"nlp_sequence_ratio.token_value=7"}).findings.empty());
}

TEST_CASE("nlp_sequence_ratio's threshold can be overridden", "[builtin][nlp_sequence_ratio]") {
  builtin_test::scratch_dir dir("nlp_override");
  write_sequences(dir.path());
  const auto res = builtin_test::check(dir.path(), "nlp_sequence_ratio", {"nlp_sequence_ratio.token_threshold_percent=30"});
  REQUIRE(res.summary("nlp_sequence_ratio").first_fired);
  CHECK(*res.summary("nlp_sequence_ratio").first_fired == 4);  // 40% > 30%
}

// --- similar_across_runs ---------------------------------------------------------------------------

namespace {
/// Two tensors over 5 steps; with `diverge`, fc.weight differs by 1e-3 from step 3 on.
void write_run(const std::filesystem::path& dir, bool diverge) {
  hook h(dir, collect::collections<everything>{});
  for (int s = 0; s < 5; ++s) {
    h.begin_step();
    std::vector<float> w(6, 0.1f * static_cast<float>(s)), b(2, 1.0f);
    if (diverge && s >= 3) w[4] += 1e-3f;
    h.save("fc.weight", std::span<const float>(w), {2, 3});
    h.save("fc.bias", std::span<const float>(b));
    h.end_step();
  }
  h.close();
}

rules::run_result compare(const std::filesystem::path& base, const std::filesystem::path& other,
                          const std::vector<std::string>& overrides = {}) {
  auto rs = builtin_test::load("similar_across_runs", overrides);
  auto other_trial = std::make_shared<const trial::trial>(other);
  for (auto& r : rs) r.bind_source("other", std::make_shared<rules::trial_source>(other_trial));
  const trial::trial t(base);
  return rules::run(rs, rules::trial_source(t));
}
}  // namespace

TEST_CASE("similar_across_runs fires at the first step where the runs differ", "[builtin][similar_across_runs]") {
  builtin_test::scratch_dir a("similar_a"), b("similar_b");
  write_run(a.path(), false);
  write_run(b.path(), true);
  const auto res = compare(a.path(), b.path());
  REQUIRE(res.summary("similar_across_runs").first_fired);
  CHECK(*res.summary("similar_across_runs").first_fired == 3);
  CHECK(first_finding(res).tensors == std::vector<std::string>{"fc.weight"});
  CHECK(first_finding(res).values.front() == 1);  // one element differs
}

TEST_CASE("similar_across_runs stays quiet on identical runs", "[builtin][similar_across_runs]") {
  builtin_test::scratch_dir a("similar_same_a"), b("similar_same_b");
  write_run(a.path(), false);
  write_run(b.path(), false);
  const auto res = compare(a.path(), b.path());
  CHECK(res.findings.empty());
  CHECK(res.summary("similar_across_runs").status() == "NoIssuesFound");
}

TEST_CASE("similar_across_runs' tolerance can be overridden", "[builtin][similar_across_runs]") {
  builtin_test::scratch_dir a("similar_tol_a"), b("similar_tol_b");
  write_run(a.path(), false);
  write_run(b.path(), true);
  CHECK(compare(a.path(), b.path(), {"similar_across_runs.atol=0.01"}).findings.empty());
  // only the bias compared: identical
  CHECK(compare(a.path(), b.path(), {"similar_across_runs.tensor_regex=bias"}).findings.empty());
}
