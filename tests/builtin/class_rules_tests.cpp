// rules/{class_imbalance,confusion}.rule on hook-written trials of synthetic classifier outputs:
// each fires at the expected step on the labels tensor, stays quiet on a healthy classifier, and
// honours an overridden parameter. Labels and predictions are class indices (int64), saved every
// step as smdebug's hooks save them; probabilities (for class_imbalance's argmax) are float32.
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "support.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/hook/hook.hpp"

using namespace tdbg;

namespace {

constexpr auto everything = collect::collection_config{"all"}.include(".*").every(1);

/// One step's batch: labels and predicted classes, paired by position.
struct batch {
  std::vector<std::int64_t> labels;
  std::vector<std::int64_t> predictions;
};

/// `n_label` samples of class `label`, predicted as `predicted` — appended to b.
void add(batch& b, std::size_t n_label, std::int64_t label, std::int64_t predicted) {
  b.labels.insert(b.labels.end(), n_label, label);
  b.predictions.insert(b.predictions.end(), n_label, predicted);
}

/// Writes `steps` steps of "labels" and "predictions" (or, with probabilities, "predictions" as
/// one-hot-ish probability vectors [N, classes] whose argmax is the predicted class).
void write(const std::filesystem::path& dir, int steps, const std::function<batch(int)>& make,
           bool probabilities = false, int classes = 2) {
  hook h(dir, collect::collections<everything>{});
  for (int s = 0; s < steps; ++s) {
    h.begin_step();
    const batch b = make(s);
    const std::int64_t n = static_cast<std::int64_t>(b.labels.size());
    h.save("labels", std::span<const std::int64_t>(b.labels), {n});
    if (probabilities) {
      std::vector<float> p(b.predictions.size() * static_cast<std::size_t>(classes), 0.1f);
      for (std::size_t i = 0; i < b.predictions.size(); ++i)
        p[i * static_cast<std::size_t>(classes) + static_cast<std::size_t>(b.predictions[i])] = 0.8f;
      h.save("predictions", std::span<const float>(p), {n, static_cast<std::int64_t>(classes)});
    } else {
      h.save("predictions", std::span<const std::int64_t>(b.predictions), {n});
    }
    h.end_step();
  }
  h.close();
}

/// 100 samples per step: 95 of class 0 and 5 of class 1 (ratio 19), all predicted right.
batch skewed(int) {
  batch b;
  add(b, 95, 0, 0);
  add(b, 5, 1, 1);
  return b;
}

/// 100 samples per step, 50 per class, all predicted right.
batch balanced(int) {
  batch b;
  add(b, 50, 0, 0);
  add(b, 50, 1, 1);
  return b;
}

/// 100 samples per step, 50 per class; class 1 is predicted right only 20 times in 50 (a
/// misprediction share of 0.6 — under class_imbalance's 0.7 — and 30 wrong predictions of class
/// 0 among its 80 predictions: a diagonal share of 50/80 for confusion).
batch mispredicting(int) {
  batch b;
  add(b, 50, 0, 0);
  add(b, 20, 1, 1);
  add(b, 30, 1, 0);
  return b;
}

/// Class 1 is never predicted right (misprediction share 1.0).
batch blind_to_class_1(int) {
  batch b;
  add(b, 50, 0, 0);
  add(b, 50, 1, 0);
  return b;
}

const rules::finding& first_finding(const rules::run_result& r) {
  REQUIRE(!r.findings.empty());
  return r.findings.front();
}

}  // namespace

// --- class_imbalance -------------------------------------------------------------------------------

TEST_CASE("class_imbalance fires once `samples` labels show a class ratio above the threshold",
          "[builtin][class_imbalance]") {
  builtin_test::scratch_dir dir("class_imbalance_skewed");
  write(dir.path(), 8, skewed);
  const auto res = builtin_test::check(dir.path(), "class_imbalance");
  const auto& sum = res.summary("class_imbalance");
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 4);  // 5 steps of 100 labels reach samples = 500
  CHECK(sum.ok == 4);            // before that the verdict is ok (not enough labels to judge)
  CHECK(first_finding(res).tensors == std::vector<std::string>{"labels"});
  CHECK(first_finding(res).message.find("after 500 labels at step 4") != std::string::npos);
}

TEST_CASE("class_imbalance stays quiet on balanced, well-predicted classes", "[builtin][class_imbalance]") {
  builtin_test::scratch_dir dir("class_imbalance_balanced");
  write(dir.path(), 12, balanced);
  const auto res = builtin_test::check(dir.path(), "class_imbalance");
  const auto& sum = res.summary("class_imbalance");
  CHECK(sum.evaluated == 12);
  CHECK(sum.fired == 0);
  CHECK(res.findings.empty());
}

TEST_CASE("class_imbalance fires on a class mispredicted more often than threshold_misprediction",
          "[builtin][class_imbalance]") {
  builtin_test::scratch_dir dir("class_imbalance_blind");
  write(dir.path(), 6, blind_to_class_1);
  const auto res = builtin_test::check(dir.path(), "class_imbalance");
  REQUIRE(res.summary("class_imbalance").first_fired);
  CHECK(*res.summary("class_imbalance").first_fired == 4);

  // 0.6 of class 1 mispredicted: under the default 0.7, over an overridden 0.5
  builtin_test::scratch_dir dir2("class_imbalance_mispredicting");
  write(dir2.path(), 6, mispredicting);
  CHECK(builtin_test::check(dir2.path(), "class_imbalance").summary("class_imbalance").fired == 0);
  const auto strict =
      builtin_test::check(dir2.path(), "class_imbalance", {"class_imbalance.threshold_misprediction=0.5"});
  REQUIRE(strict.summary("class_imbalance").first_fired);
  CHECK(*strict.summary("class_imbalance").first_fired == 4);
}

TEST_CASE("class_imbalance honours samples and threshold_imbalance overrides", "[builtin][class_imbalance]") {
  builtin_test::scratch_dir dir("class_imbalance_overrides");
  write(dir.path(), 8, skewed);
  const auto early = builtin_test::check(dir.path(), "class_imbalance", {"class_imbalance.samples=200"});
  REQUIRE(early.summary("class_imbalance").first_fired);
  CHECK(*early.summary("class_imbalance").first_fired == 1);
  // a ratio of 19 is acceptable under threshold_imbalance = 20
  const auto lenient = builtin_test::check(dir.path(), "class_imbalance", {"class_imbalance.threshold_imbalance=20"});
  CHECK(lenient.summary("class_imbalance").fired == 0);
  CHECK(lenient.summary("class_imbalance").evaluated == 8);
}

TEST_CASE("class_imbalance with argmax takes the predicted class from probability vectors",
          "[builtin][class_imbalance]") {
  builtin_test::scratch_dir dir("class_imbalance_argmax");
  write(dir.path(), 6, blind_to_class_1, /*probabilities=*/true);
  const auto res = builtin_test::check(dir.path(), "class_imbalance", {"class_imbalance.argmax=true"});
  REQUIRE(res.summary("class_imbalance").first_fired);
  CHECK(*res.summary("class_imbalance").first_fired == 4);

  builtin_test::scratch_dir dir2("class_imbalance_argmax_balanced");
  write(dir2.path(), 6, balanced, /*probabilities=*/true);
  const auto quiet = builtin_test::check(dir2.path(), "class_imbalance", {"class_imbalance.argmax=true"});
  CHECK(quiet.summary("class_imbalance").fired == 0);
  CHECK(quiet.summary("class_imbalance").evaluated == 6);
}

// --- confusion -------------------------------------------------------------------------------------

TEST_CASE("confusion fires at every step whose predictions of a class are mostly wrong", "[builtin][confusion]") {
  builtin_test::scratch_dir dir("confusion_fires");
  write(dir.path(), 3, mispredicting);
  const auto res = builtin_test::check(dir.path(), "confusion");
  const auto& sum = res.summary("confusion");
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 0);  // each step's batch is judged on its own
  CHECK(sum.fired == 3);
  const auto& f = first_finding(res);
  CHECK(f.tensors == std::vector<std::string>{"labels"});
  // column 0: 50 right of 80 (diagonal share 0.625 < 0.9) and 30 of label 1 (0.375 > 0.1):
  // two failing checks; column 1: 20 of 20 right, none failing
  REQUIRE(f.values.size() == 1);
  CHECK(f.values[0] == 2);
}

TEST_CASE("confusion stays quiet on a perfect classifier", "[builtin][confusion]") {
  builtin_test::scratch_dir dir("confusion_quiet");
  write(dir.path(), 4, balanced);
  const auto res = builtin_test::check(dir.path(), "confusion");
  CHECK(res.summary("confusion").evaluated == 4);
  CHECK(res.summary("confusion").fired == 0);
}

TEST_CASE("confusion honours min_diag and max_off_diag overrides", "[builtin][confusion]") {
  builtin_test::scratch_dir dir("confusion_overrides");
  write(dir.path(), 3, mispredicting);
  // 0.625 >= 0.6 and 0.375 <= 0.4: both checks pass
  const auto lenient = builtin_test::check(dir.path(), "confusion", {"confusion.min_diag=0.6", "confusion.max_off_diag=0.4"});
  CHECK(lenient.summary("confusion").fired == 0);
  CHECK(lenient.summary("confusion").evaluated == 3);
  // only the off-diagonal check fails
  const auto one = builtin_test::check(dir.path(), "confusion", {"confusion.min_diag=0.6"});
  REQUIRE(one.summary("confusion").fired == 3);
  CHECK(first_finding(one).values[0] == 1);
}
