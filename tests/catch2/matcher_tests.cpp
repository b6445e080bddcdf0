// The matchers on an in-memory source: pass/fail of satisfies (and strict), fires and fires_at,
// and the text describe() prints after a match (what a failing REQUIRE_THAT shows).
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../rules/test_source.hpp"
#include "tdbg/catch2/matchers.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using tdbg::mode;
using tdbg::rules::test::memory_source;
using Catch::Matchers::Contains;
namespace tc = tdbg::catch2;

namespace {

// loss per global step: TRAIN 0..4 = 0.9 0.8 1.5 0.7 2; step 5 is EVAL step 0 (0.5); step 6 is
// TRAIN step 5 (1.25). "w" has a raw value at steps 0 and 2 and only a stored mean at step 1.
memory_source training() {
  memory_source s;
  const std::vector<float> loss{0.9f, 0.8f, 1.5f, 0.7f, 2.0f};
  for (tdbg::step_t g = 0; g < 5; ++g) s.step(g, mode::train, g).put("loss", g, std::vector<float>{loss[g]});
  s.step(5, mode::eval, 0).put("loss", 5, std::vector<float>{0.5f});
  s.step(6, mode::train, 5).put("loss", 6, std::vector<float>{1.25f});
  s.put("w", 0, std::vector<float>{1.0f, 2.0f});
  s.put_reduction("w", 1, tdbg::reduction{tdbg::reduction_op::mean, false}, 1.5);
  s.put("w", 2, std::vector<float>{3.0f});
  return s;
}

any_rule loss_above(double threshold, rule_options o = {}) {
  return make_rule("LossAbove", any(max(tensor_named("loss")) > threshold), std::move(o));
}

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')) + 1; }

}  // namespace

TEST_CASE("satisfies passes when the rule never fires", "[catch2][satisfies]") {
  const auto src = training();
  REQUIRE_THAT(src, tc::satisfies(loss_above(10.0)));
  REQUIRE_THAT(src, tc::satisfies_strictly(loss_above(10.0)));  // loss is there at every step

  const auto m = tc::satisfies(loss_above(10.0));
  CHECK(m.match(src));
  const std::string text = m.toString();
  CHECK_THAT(text, Contains("satisfies rule LossAbove: "));
  CHECK_THAT(text, Contains(loss_above(10.0).expression()));
  CHECK_THAT(text, Contains("over memory source"));
  CHECK_THAT(text, Contains("LossAbove: 7 evaluations: 0 fired, 7 ok, 0 with insufficient data"));
}

TEST_CASE("satisfies fails when the rule fires and describes the findings", "[catch2][satisfies]") {
  const auto src = training();
  REQUIRE_THAT(src, !tc::satisfies(loss_above(1.0)));

  const auto m = tc::satisfies(loss_above(1.0));
  CHECK_FALSE(m.match(src));
  const std::string text = m.toString();
  INFO(text);
  CHECK_THAT(text, Contains("3 fired (first at step 2), 4 ok"));
  // rule, step, mode and mode step, tensor, value, threshold, message
  CHECK_THAT(text, Contains("step 2 (TRAIN step 2) LossAbove: loss = 1.5 (threshold 1)"));
  CHECK_THAT(text, Contains("step 4 (TRAIN step 4) LossAbove: loss = 2 (threshold 1)"));
  CHECK_THAT(text, Contains("step 6 (TRAIN step 5) LossAbove: loss = 1.25 (threshold 1)"));
  CHECK_THAT(text, !Contains(" -- \""));  // the default message would only repeat the line
  CHECK_THAT(text, !Contains("step 3 ("));  // ok steps are only counted
  CHECK(m.last_run());
  CHECK(m.last_run()->result.findings.size() == 3);
}

TEST_CASE("satisfies shows a custom message and a worker", "[catch2][satisfies]") {
  memory_source src;
  src.step(0, mode::train, 0).put("g", 0, std::vector<float>{4.0f}, "worker_3");
  rule_options o;
  o.message = "{tensor} too large: {value}";
  // max_over_workers: the evidence names the worker
  const auto m = tc::satisfies(make_rule("Big", max_over_workers(the(max(tensor_named("g")))) > 3.0, o));
  CHECK_FALSE(m.match(src));
  const std::string text = m.toString();
  INFO(text);
  CHECK_THAT(text, Contains("step 0 (TRAIN step 0) Big [worker worker_3]: "));
  CHECK_THAT(text, Contains(" = 4 (threshold 3) -- \""));
  CHECK_THAT(text, Contains(" too large: 4\""));  // the rule's own message template
}

TEST_CASE("satisfies lists at most max_listed findings, then counts", "[catch2][satisfies]") {
  memory_source src;
  for (tdbg::step_t g = 0; g < 20; ++g) src.step(g, mode::train, g).put("loss", g, std::vector<float>{5.0f});
  const auto m = tc::satisfies(loss_above(1.0));
  CHECK_FALSE(m.match(src));
  const std::string text = m.toString();
  INFO(text);
  CHECK_THAT(text, Contains("20 fired (first at step 0)"));
  CHECK_THAT(text, Contains("step 7 (TRAIN step 7)"));
  CHECK_THAT(text, !Contains("step 8 (TRAIN step 8)"));
  CHECK_THAT(text, Contains("... and 12 more findings (20 in total)"));
  CHECK(tc::max_listed == 8);
  CHECK(lines(text) <= 13);
}

TEST_CASE("insufficient data: satisfies passes with a note, strict fails with the reason", "[catch2][satisfies]") {
  const auto src = training();
  // max(w) at step 1 is unknown: only a stored mean was saved there.
  const auto rule = make_rule("WBig", any(max(tensor_named("w")) > 10.0));
  REQUIRE_THAT(src, tc::satisfies(rule));
  REQUIRE_THAT(src, !tc::satisfies(rule).strict());
  REQUIRE_THAT(src, !tc::satisfies_strictly(rule));

  const auto loose = tc::satisfies(rule);
  CHECK(loose.match(src));
  CHECK_FALSE(loose.is_strict());
  const std::string note = loose.toString();
  INFO(note);
  CHECK_THAT(note, Contains("3 evaluations: 0 fired, 2 ok, 1 with insufficient data"));
  CHECK_THAT(note, Contains("note: 1 evaluation had insufficient data, "
                            "first insufficient data at step 1 (TRAIN step 1) WBig: "));

  const auto strict = tc::satisfies_strictly(rule);
  CHECK(strict.is_strict());
  CHECK_FALSE(strict.match(src));
  const std::string text = strict.toString();
  INFO(text);
  CHECK_THAT(text, Contains("strictly satisfies rule WBig: "));
  CHECK_THAT(text, Contains("insufficient data at step 1 (TRAIN step 1) WBig: "));
  const auto& e = strict.last_run()->result.evaluations.at(1);
  REQUIRE(e.result == verdict::insufficient_data);
  CHECK(!e.reason.empty());
  CHECK_THAT(text, Contains(e.reason));
}

TEST_CASE("a rule never evaluated satisfies, but not strictly", "[catch2][satisfies]") {
  const auto src = training();
  const auto rule = make_rule("Absent", any(max(tensor_named("no/such/tensor")) > 0.0));
  REQUIRE_THAT(src, tc::satisfies(rule));
  const auto strict = tc::satisfies(rule).strict();
  CHECK_FALSE(strict.match(src));
  CHECK_THAT(strict.toString(), Contains("Absent: never evaluated (no scheduled step)"));
}

TEST_CASE("satisfies takes several rules and run options", "[catch2][satisfies]") {
  const auto src = training();
  const std::vector<any_rule> rules{loss_above(10.0), loss_above(1.0)};
  auto renamed = rules;
  renamed[1] = make_rule("LossAboveOne", any(max(tensor_named("loss")) > 1.0));
  REQUIRE_THAT(src, !tc::satisfies(renamed));
  const auto m = tc::satisfies(renamed);
  CHECK_FALSE(m.match(src));
  const std::string text = m.toString();
  INFO(text);
  CHECK_THAT(text, Contains("satisfies 2 rules:\n    LossAbove: "));
  CHECK_THAT(text, Contains("\n    LossAboveOne: "));
  CHECK_THAT(text, Contains("LossAbove: 7 evaluations: 0 fired"));
  CHECK_THAT(text, Contains("LossAboveOne: 7 evaluations: 3 fired"));

  // Steps [0, 2) only: the first firing step (2) is outside.
  run_options o;
  o.end_step = 2;
  REQUIRE_THAT(src, tc::satisfies(renamed).with(o));
  REQUIRE_THAT(src, tc::satisfies(renamed).strict().with(o));
  CHECK(tc::satisfies(renamed).strict().with(o).is_strict());
}

TEST_CASE("fires: passes iff a rule fires somewhere", "[catch2][fires]") {
  const auto src = training();
  REQUIRE_THAT(src, tc::fires(loss_above(1.0)));
  REQUIRE_THAT(src, !tc::fires(loss_above(10.0)));
  REQUIRE_THAT(src, tc::fires({loss_above(10.0), make_rule("Other", any(max(tensor_named("loss")) > 1.9))}));

  const auto m = tc::fires(loss_above(10.0));
  CHECK_FALSE(m.match(src));
  const std::string text = m.toString();
  CHECK_THAT(text, Contains("fires: rule LossAbove: "));
  CHECK_THAT(text, Contains("LossAbove: 7 evaluations: 0 fired, 7 ok"));

  const auto hit = tc::fires(loss_above(1.9));
  CHECK(hit.match(src));
  CHECK_THAT(hit.toString(), Contains("step 4 (TRAIN step 4) LossAbove: loss = 2 (threshold 1.9)"));
}

TEST_CASE("fires_at: a global step, or a step of a mode", "[catch2][fires_at]") {
  const auto src = training();
  const auto rule = loss_above(1.0);  // fires at global steps 2, 4 and 6 (TRAIN step 5)
  REQUIRE_THAT(src, tc::fires_at(rule, 2));
  REQUIRE_THAT(src, tc::fires_at(rule, 4));
  REQUIRE_THAT(src, tc::fires_at(rule, 6));
  REQUIRE_THAT(src, !tc::fires_at(rule, 3));
  REQUIRE_THAT(src, tc::fires_at(rule, 5, mode::train));  // global step 6
  REQUIRE_THAT(src, !tc::fires_at(rule, 5));               // global step 5: EVAL, loss 0.5
  REQUIRE_THAT(src, !tc::fires_at(rule, 0, mode::eval));
  REQUIRE_THAT(src, tc::fires_at(rule, 2, mode::global));

  const auto hit = tc::fires_at(rule, 5, mode::train);
  CHECK(hit.match(src));
  const std::string text = hit.toString();
  INFO(text);
  CHECK_THAT(text, Contains("fires at TRAIN step 5: rule LossAbove: "));
  CHECK_THAT(text, Contains("at step 6 (TRAIN step 5) LossAbove: fired\n"
                            "    step 6 (TRAIN step 5) LossAbove: loss = 1.25"));
  CHECK_THAT(text, Contains("LossAbove fired at steps 2, 4, 6"));
}

TEST_CASE("fires_at describes what happened at the step", "[catch2][fires_at]") {
  const auto src = training();
  const auto rule = loss_above(1.0);

  SECTION("ok") {
    const auto m = tc::fires_at(rule, 3);
    CHECK_FALSE(m.match(src));
    const std::string text = m.toString();
    INFO(text);
    CHECK_THAT(text, Contains("fires at step 3: rule LossAbove: "));
    CHECK_THAT(text, Contains("at step 3 (TRAIN step 3) LossAbove: ok (did not fire)"));
    CHECK_THAT(text, Contains("LossAbove fired at steps 2, 4, 6"));
  }
  SECTION("insufficient data, with the reason") {
    const auto w = tc::fires_at(make_rule("WBig", any(max(tensor_named("w")) > 1.0)), 1);
    CHECK_FALSE(w.match(src));
    const std::string text = w.toString();
    INFO(text);
    CHECK_THAT(text, Contains("at step 1 (TRAIN step 1) WBig: insufficient data: "));
    CHECK_THAT(text, Contains(w.last_run()->result.evaluations.at(1).reason));
    CHECK_THAT(text, Contains("WBig fired at steps 0, 2"));  // max(w) is 2 then 3
  }
  SECTION("not in the rule's schedule") {
    rule_options o;
    o.when.every = 2;
    const auto m = tc::fires_at(loss_above(1.0, o), 3);
    CHECK_FALSE(m.match(src));
    const std::string text = m.toString();
    INFO(text);
    CHECK_THAT(text, Contains("at step 3 LossAbove: not evaluated: not among the rule's scheduled steps (0, 2, 4, 6)"));
    CHECK_THAT(text, Contains("LossAbove fired at steps 2, 4"));
  }
  SECTION("not a step of the source") {
    const auto m = tc::fires_at(rule, 99);
    CHECK_FALSE(m.match(src));
    CHECK_THAT(m.toString(),
               Contains("at step 99 LossAbove: not evaluated: step 99 is not a complete step of memory source"));
    const auto eval = tc::fires_at(rule, 3, mode::eval);
    CHECK_FALSE(eval.match(src));
    CHECK_THAT(eval.toString(), Contains("at EVAL step 3: not evaluated: no complete EVAL step 3 in memory source"));
  }
  SECTION("outside the run") {
    run_options o;
    o.end_step = 3;
    const auto m = tc::fires_at(rule, 4).with(o);
    CHECK_FALSE(m.match(src));
    CHECK_THAT(m.toString(), Contains("at step 4 LossAbove: not evaluated: outside the run"));
  }
  SECTION("a rule that fires nowhere") {
    const auto m = tc::fires_at(loss_above(10.0), 2);
    CHECK_FALSE(m.match(src));
    CHECK_THAT(m.toString(), Contains("LossAbove fired at no step"));
    const auto once = tc::fires_at(loss_above(1.9), 2);
    CHECK_FALSE(once.match(src));
    CHECK_THAT(once.toString(), Contains("LossAbove fired at step 4"));
  }
}

TEST_CASE("fires_at with several rules: one firing there is enough", "[catch2][fires_at]") {
  const auto src = training();
  const std::vector<any_rule> rules{make_rule("Huge", any(max(tensor_named("loss")) > 10.0)), loss_above(1.0)};
  REQUIRE_THAT(src, tc::fires_at(rules, 2));
  REQUIRE_THAT(src, !tc::fires_at(rules, 1));
  const auto m = tc::fires_at(rules, 2);
  CHECK(m.match(src));
  const std::string text = m.toString();
  INFO(text);
  CHECK_THAT(text, Contains("at step 2 (TRAIN step 2) Huge: ok (did not fire)"));
  CHECK_THAT(text, Contains("at step 2 (TRAIN step 2) LossAbove: fired"));
  CHECK_THAT(text, Contains("Huge fired at no step"));
}

TEST_CASE("a matcher reused on another subject describes its latest run", "[catch2]") {
  const auto src = training();
  memory_source calm;
  calm.step(0, mode::train, 0).put("loss", 0, std::vector<float>{0.1f});
  const auto m = tc::satisfies(loss_above(1.0));
  CHECK(m.toString() == "satisfies rule " + loss_above(1.0).describe() + "\n  (not run yet)");
  CHECK_FALSE(m.match(src));
  CHECK_THAT(m.toString(), Contains("3 fired"));
  CHECK(m.match(calm));
  CHECK_THAT(m.toString(), Contains("1 evaluation: 0 fired, 1 ok"));
  CHECK_THAT(m.toString(), !Contains("3 fired"));
}

TEST_CASE("matchers need a rule and a trial", "[catch2]") {
  CHECK_THROWS_AS(tc::satisfies(std::vector<any_rule>{}), tdbg::usage_error);
  CHECK_THROWS_AS(tc::fires_at(std::vector<any_rule>{}, 0), tdbg::usage_error);
  const std::shared_ptr<const tdbg::trial::trial> none;
  CHECK_THROWS_AS(tc::satisfies(loss_above(1.0)).match(none), tdbg::usage_error);
}
