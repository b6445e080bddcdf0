// Across modes (nearest step at or before), across workers, across trials (named sources).
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>

#include "probe.hpp"
#include "test_source.hpp"
#include "tdbg/rules/across.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/sets.hpp"
#include "tdbg/rules/time.hpp"

using namespace tdbg::rules;
using tdbg::mode;
using tdbg::rules::test::make;
using tdbg::rules::test::memory_source;
using tdbg::rules::test::probe;

namespace {
const auto loss = the(mean(tensor_named("loss")));

// g0 TRAIN 1.0, g1 EVAL 3.0, g2 TRAIN 2.0, g3 TRAIN 1.5, g4 EVAL 2.5, g5 TRAIN 1.0
memory_source modes() {
  memory_source s;
  s.step(0, mode::train, 0).step(1, mode::eval, 0).step(2, mode::train, 1).step(3, mode::train, 2);
  s.step(4, mode::eval, 1).step(5, mode::train, 3);
  const float v[] = {1.0f, 3.0f, 2.0f, 1.5f, 2.5f, 1.0f};
  for (tdbg::step_t g = 0; g < 6; ++g) s.put("loss", g, {v[g]});
  return s;
}
}  // namespace

TEST_CASE("in_mode: the value of another mode at the nearest step at or before", "[rules][across][modes]") {
  const auto s = modes();
  probe ev(in_mode(loss, mode::eval));
  CHECK_FALSE(ev.at(s, 0).known);
  CHECK_THAT(ev.at(s, 0).reason, Catch::Contains("EVAL") && Catch::Contains("step 0"));
  CHECK(ev.at(s, 2).v == 3.0);
  CHECK(ev.at(s, 3).v == 3.0);
  CHECK(ev.at(s, 4).v == 2.5);  // the EVAL step itself
  CHECK(ev.at(s, 5).v == 2.5);
  CHECK(probe(in_mode(loss, mode::train)).at(s, 4).v == 1.5);
  // the same through a selection pinned to a mode
  probe pinned(the(mean(tensor_named("loss").in(mode::eval))));
  CHECK(pinned.at(s, 3).v == 3.0);
  CHECK(pinned.at(s, 5).v == 2.5);
  // Overfit's core: (eval − train) / train
  probe gap((in_mode(loss, mode::eval) - loss) / loss);
  CHECK(gap.at(s, 5).v == Approx(1.5));
  CHECK(gap.at(s, 2).v == Approx(0.5));
  // prev of an in_mode value: the EVAL step before the nearest one
  CHECK(probe(prev(in_mode(loss, mode::eval))).at(s, 5).v == 3.0);
  CHECK(in_mode(loss, mode::eval).describe() == "in_mode(the(mean(tensor_named(\"loss\"))), EVAL)");
}

TEST_CASE("across workers: one value per worker, aggregated", "[rules][across][workers]") {
  memory_source s;
  s.put("w", 1, make<float>({1, 1}), "worker_0").put("w", 1, make<float>({3, 4}), "worker_1");
  s.put("w", 1, make<float>({0, 2}), "worker_2").put("v", 1, make<float>({1}), "worker_0");
  const auto norm = the(l2(tensor_named("w")));
  auto spread = probe(spread_over_workers(norm)).at(s, 1);
  CHECK(spread.v == Approx(5.0 - std::sqrt(2.0)));
  REQUIRE(spread.evidence.size() == 2);
  CHECK(spread.evidence[0].worker == "worker_1");
  CHECK(spread.evidence[1].worker == "worker_0");
  auto mx = probe(max_over_workers(norm)).at(s, 1);
  CHECK(mx.v == 5);
  CHECK(mx.evidence[0].worker == "worker_1");
  CHECK(probe(min_over_workers(norm)).at(s, 1).v == Approx(std::sqrt(2.0)));
  CHECK(probe(mean_over_workers(norm)).at(s, 1).v == Approx((std::sqrt(2.0) + 5 + 2) / 3));
  // the default worker is the first one
  CHECK(probe(norm).at(s, 1).v == Approx(std::sqrt(2.0)));
  // a comparison of the spread carries the workers into findings via evidence
  auto cmp = probe(spread_over_workers(norm) > 1.0).at(s, 1);
  CHECK(cmp.v == 1);
  // no worker has the tensor at that step: unknown
  s.step(2);
  CHECK_FALSE(probe(max_over_workers(norm)).at(s, 2).known);
  CHECK(spread_over_workers(norm).describe() == "spread_over_workers(the(l2(tensor_named(\"w\"))))");
}

TEST_CASE("across trials: the same tensor in another named source", "[rules][across][trials]") {
  memory_source main;
  main.put("loss", 1, {3.0f}).put("loss", 2, {2.0f}).put("loss", 3, {1.0f});
  auto base = std::make_shared<memory_source>();
  base->put("loss", 1, {2.0f}).put("loss", 2, {2.5f});
  named_sources sources{{"baseline", base}};
  probe d(loss - in_trial(loss, "baseline"));
  CHECK(d.at(main, 1, &sources).v == 1.0);
  CHECK(d.at(main, 2, &sources).v == -0.5);
  CHECK(d.at(main, 3, &sources).v == -1.5);  // baseline's newest step at or before 3 is 2
  memory_source late;
  late.put("loss", 0, {1.0f});
  CHECK_FALSE(d.at(late, 0, &sources).known);
  CHECK_THAT(d.at(late, 0, &sources).reason, Catch::Contains("baseline"));
  named_sources none;
  CHECK_THROWS_AS(probe(in_trial(loss, "baseline")).at(main, 1, &none), tdbg::usage_error);
  CHECK(in_trial(loss, "baseline").describe() == "in_trial(the(mean(tensor_named(\"loss\"))), \"baseline\")");
  // per-tensor comparison against the other trial
  probe per(any(abs(mean(collection("all")) - in_trial(mean(collection("all")), "baseline")) > 0.1));
  main.collection("all", {"loss"});
  base->collection("all", {"loss"});
  CHECK(per.at(main, 2, &sources).v == 1);
}
