// The vocabulary on a real smdebug trial: tests/data/smdebug/reductions_only saved only stored
// reductions (no raw values), so every reduction a rule asks for must come from them. The
// oracle is the fixture's expected.json (written by smdebug's reader).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "tdbg/rules/rules.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

using namespace tdbg::rules;

namespace {

const std::string fixture = std::string(TDBG_TEST_DATA) + "/smdebug/reductions_only";

nlohmann::json expected() {
  std::ifstream in(fixture + "/expected.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

/// Evaluates reduction `name` (with abs) of tensor t at global step g through the vocabulary.
double reduce_at(const data_source& src, const std::string& t, tdbg::step_t g, const std::string& name, bool abs_) {
  detail::step_cache cache;
  context c;
  c.src = &src;
  c.step = g;
  const auto p = src.point(g);
  REQUIRE(p);
  c.mode = p->mode;
  c.mode_step = p->mode_step;
  c.cache = &cache;
  auto run = [&](auto expr) {
    typename decltype(expr)::evaluator ev(expr);
    tensor_values v = ev.eval(c);
    REQUIRE(v.known);
    REQUIRE(v.items.size() == 1);
    INFO(v.items[0].reason);
    REQUIRE(v.items[0].known);
    return v.items[0].v;
  };
  const auto sel = tensor_named(t);
  if (abs_) {
    if (name == "mean") return run(mean(abs(sel)));
    if (name == "max") return run(max(abs(sel)));
    if (name == "l2") return run(l2(abs(sel)));
  } else {
    if (name == "mean") return run(mean(sel));
    if (name == "min") return run(min(sel));
    if (name == "max") return run(max(sel));
    if (name == "sum") return run(sum(sel));
    if (name == "prod") return run(prod(sel));
    if (name == "std") return run(std_sample(sel));
    if (name == "variance") return run(var_sample(sel));
    if (name == "l1") return run(l1(sel));
    if (name == "l2") return run(l2(sel));
  }
  FAIL("unexpected reduction " << name);
  return 0;
}

}  // namespace

TEST_CASE("reductions of a reductions-only smdebug trial come from its stored reductions", "[rules][fixture]") {
  const auto exp = expected();
  tdbg::trial::trial t(fixture);
  trial_source src(t);
  std::size_t checked = 0;
  for (const auto& r : exp["stored_reductions"]) {
    const std::string tensor = r["tensor"];
    const tdbg::step_t g = r["global_step"];
    const double want = r["value"];
    INFO(tensor << " step " << g << " " << r["reduction"] << " abs=" << r["abs"]);
    CHECK(reduce_at(src, tensor, g, r["reduction"], r["abs"]) == want);
    ++checked;
  }
  CHECK(checked == exp["stored_reductions"].size());
  CHECK(checked > 100);
}

TEST_CASE("a VanishingGradient-style rule over the reductions-only trial", "[rules][fixture]") {
  const auto exp = expected();
  // Oracle: per global step, the smallest stored abs_mean among gradient tensors.
  std::map<tdbg::step_t, double> smallest;
  for (const auto& r : exp["stored_reductions"]) {
    const std::string tensor = r["tensor"];
    if (tensor.rfind("gradient/", 0) != 0 || r["reduction"] != "mean" || !r["abs"].get<bool>()) continue;
    const tdbg::step_t g = r["global_step"];
    const double v = r["value"];
    auto [it, fresh] = smallest.emplace(g, v);
    if (!fresh) it->second = std::min(it->second, v);
  }
  REQUIRE(!smallest.empty());
  // a threshold between the smallest values, so that the rule fires at some steps only
  std::vector<double> values;
  for (auto& [g, v] : smallest) values.push_back(v);
  std::sort(values.begin(), values.end());
  const double threshold = (values.front() + values.back()) / 2;

  tdbg::trial::trial t(fixture);
  trial_source src(t);
  any_rule rule = make_rule("VanishingGradient", any(mean(abs(collection("gradients"))) < threshold));
  const auto steps = rule.steps(src);
  std::vector<tdbg::step_t> oracle_steps;
  for (auto& [g, v] : smallest) oracle_steps.push_back(g);
  CHECK(steps == oracle_steps);
  std::size_t fired = 0;
  for (tdbg::step_t g : steps) {
    evaluation e = rule.evaluate(src, g);
    INFO("step " << g << ": " << e.reason);
    REQUIRE(e.result != verdict::insufficient_data);
    CHECK((e.result == verdict::fired) == (smallest.at(g) < threshold));
    if (e.result == verdict::fired) {
      ++fired;
      REQUIRE(e.findings.size() == 1);
      for (double v : e.findings[0].values) CHECK(v < threshold);
      for (const auto& name : e.findings[0].tensors) CHECK(name.rfind("gradient/", 0) == 0);
    }
  }
  CHECK(fired > 0);
  CHECK(fired < steps.size());
}

TEST_CASE("a reduction smdebug did not store is insufficient data, naming tensor and step", "[rules][fixture]") {
  tdbg::trial::trial t(fixture);
  trial_source src(t);
  any_rule rule = make_rule("Median", any(quantile(collection("gradients"), 0.5) > 0.0));
  const auto steps = rule.steps(src);
  REQUIRE(!steps.empty());
  evaluation e = rule.evaluate(src, steps.front());
  CHECK(e.result == verdict::insufficient_data);
  CHECK_THAT(e.reason, Catch::Contains("gradient/") && Catch::Contains("step " + std::to_string(steps.front())));
}
