// The matchers on a real smdebug trial (tests/data/smdebug/reductions_only: gradients saved as
// stored reductions at global steps 10, 14, 20, 24, 30). The oracle is the fixture's
// expected.json, written by smdebug's reader.
#include <catch2/catch.hpp>

#include <fstream>
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "tdbg/catch2/matchers.hpp"
#include "tdbg/rules/rules.hpp"
#include "tdbg/trial/trial.hpp"

using namespace tdbg::rules;
using Catch::Matchers::Contains;
namespace tc = tdbg::catch2;

namespace {

const std::string fixture = std::string(TDBG_TEST_DATA) + "/smdebug/reductions_only";

/// Per global step: the smallest stored mean(abs(.)) among the gradients (smdebug's values).
std::map<tdbg::step_t, double> smallest_gradient_abs_mean() {
  std::ifstream in(fixture + "/expected.json");
  REQUIRE(in);
  const auto exp = nlohmann::json::parse(in);
  std::map<tdbg::step_t, double> out;
  for (const auto& r : exp["stored_reductions"]) {
    const std::string tensor = r["tensor"];
    if (tensor.rfind("gradient/", 0) != 0 || r["reduction"] != "mean" || !r["abs"].get<bool>()) continue;
    const tdbg::step_t g = r["global_step"];
    const double v = r["value"];
    auto [it, fresh] = out.emplace(g, v);
    if (!fresh) it->second = std::min(it->second, v);
  }
  return out;
}

any_rule small_gradients(double threshold) {
  return make_rule("VanishingGradient", any(mean(abs(collection("gradients"))) < threshold));
}

}  // namespace

TEST_CASE("a trial satisfies VanishingGradient with threshold 1e-7", "[catch2][fixture]") {
  const auto oracle = smallest_gradient_abs_mean();
  REQUIRE(oracle.size() == 5);
  for (const auto& [g, v] : oracle) CHECK(v >= 1e-7);

  const tdbg::trial::trial t(fixture);
  REQUIRE_THAT(t, tc::satisfies(small_gradients(1e-7)));
  REQUIRE_THAT(t, tc::satisfies_strictly(small_gradients(1e-7)));  // every step had its data
  const auto shared = std::make_shared<const tdbg::trial::trial>(fixture);
  REQUIRE_THAT(shared, tc::satisfies(small_gradients(1e-7)));
  const auto mutable_shared = std::make_shared<tdbg::trial::trial>(fixture);
  REQUIRE_THAT(mutable_shared, tc::satisfies(small_gradients(1e-7)));

  // Catch prints the subject as the trial's path.
  CHECK(Catch::Detail::stringify(t) == "trial " + fixture);
  CHECK(Catch::Detail::stringify(shared) == "trial " + fixture);
  CHECK(Catch::Detail::stringify(mutable_shared) == "trial " + fixture);

  const auto m = tc::satisfies_strictly(small_gradients(1e-7));
  CHECK(m.match(t));
  const std::string text = m.toString();
  INFO(text);
  CHECK_THAT(text, Contains("strictly satisfies rule VanishingGradient: "
                            "any(mean(abs(collection(\"gradients\"))) < 1e-07)"));
  CHECK_THAT(text, Contains("over trial "));
  CHECK_THAT(text, Contains("VanishingGradient: 5 evaluations: 0 fired, 5 ok, 0 with insufficient data"));
}

TEST_CASE("a rule fires at the steps where smdebug's values cross its threshold", "[catch2][fixture]") {
  const auto oracle = smallest_gradient_abs_mean();
  const double threshold = 0.005;
  std::vector<tdbg::step_t> below, above;
  for (const auto& [g, v] : oracle) (v < threshold ? below : above).push_back(g);
  REQUIRE(!below.empty());
  REQUIRE(!above.empty());

  const tdbg::trial::trial t(fixture);
  const auto rule = small_gradients(threshold);
  REQUIRE_THAT(t, tc::fires(rule));
  for (const tdbg::step_t g : below) {
    INFO("step " << g);
    REQUIRE_THAT(t, tc::fires_at(rule, g));
  }
  for (const tdbg::step_t g : above) {
    INFO("step " << g);
    const auto m = tc::fires_at(rule, g);
    CHECK_FALSE(m.match(t));
    CHECK_THAT(m.toString(), Contains("at step " + std::to_string(g) + " (TRAIN step "));
    CHECK_THAT(m.toString(), Contains("VanishingGradient: ok (did not fire)"));
    const std::string fired_at = std::to_string(below[0]);
    CHECK_THAT(m.toString(), Contains(below.size() == 1 ? "VanishingGradient fired at step " + fired_at
                                                        : "VanishingGradient fired at steps " + fired_at + ", "));
  }

  // The first firing step as a TRAIN step (global step 24 is TRAIN step 20 in this trial).
  const auto mode_step = t.mode_modestep(below.front());
  REQUIRE(mode_step);
  REQUIRE_THAT(t, tc::fires_at(rule, mode_step->second, mode_step->first));

  // A failing satisfies shows the finding: tensor, value and threshold.
  const auto m = tc::satisfies(rule);
  CHECK_FALSE(m.match(t));
  const std::string text = m.toString();
  INFO(text);
  CHECK_THAT(text,
             Contains(std::to_string(below.size()) + " fired (first at step " + std::to_string(below.front()) + ")"));
  CHECK_THAT(text, Contains("step " + std::to_string(below.front()) + " (TRAIN step " +
                            std::to_string(mode_step->second) + ") VanishingGradient: gradient/"));
  CHECK_THAT(text, Contains("(threshold 0.005)"));
  CHECK_THAT(text, Contains(fmt::format("{:.6g}", oracle.at(below.front()))));

  // A step of the trial without gradients is not in the rule's schedule.
  const auto off = tc::fires_at(rule, 12);
  CHECK_FALSE(off.match(t));
  std::string scheduled;
  for (const auto& [g, v] : oracle) scheduled += (scheduled.empty() ? "" : ", ") + std::to_string(g);
  REQUIRE(!oracle.count(12));
  CHECK_THAT(off.toString(), Contains("at step 12 VanishingGradient: not evaluated: "
                                      "not among the rule's scheduled steps (" + scheduled + ")"));
}
