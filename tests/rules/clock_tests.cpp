// Tests of rules/clock.hpp (seconds_since_last_save) and clock rules: the wall times the
// sources answer (trial::step_wall_time through trial_source, live_source), the injectable
// clocks, the newest-step schedule, a follower re-evaluating as time passes (one finding per
// stall), and the in-process runner evaluating clock rules when the hook closes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tdbg/hook/hook.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/attach.hpp"
#include "tdbg/rules/clock.hpp"
#include "tdbg/rules/live_source.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/select.hpp"
#include "tdbg/rules/sets.hpp"
#include "tdbg/rules/time.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/rules/window.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"
#include "test_source.hpp"

using namespace tdbg;
using namespace tdbg::rules;

namespace {

std::vector<collect::collection> losses() {
  return {{"losses", {"^loss$"}, {}, {}, collect::save_config::every(1)}};
}

/// Saves `n` steps of a loss (global steps from h's current step).
void save_steps(hook& h, int n) {
  for (int i = 0; i < n; ++i) {
    h.begin_step();
    h.save("loss", std::vector<float>{1.0f / static_cast<float>(i + 1)});
    h.end_step();
  }
}

/// A live source with one saved tensor at steps 0..n-1, step g saved at time 1000 + 10 g (every
/// step retained: a rule reading 10 saved steps back is declared).
live_source live_steps(int n) {
  live_source src;
  src.retain(make_rule("keep", any(max(prev(tensor_named("loss"), 10)) > 0.0)).needs());
  for (int g = 0; g < n; ++g) {
    const step_point p{g, mode::train, g};
    src.add("loss", p, std::make_shared<const tdbg::tensor>(test::make<float>({1.0f})));
    src.end_step(p, 1000.0 + 10.0 * g);
  }
  return src;
}

}  // namespace

// ---- the node ---------------------------------------------------------------------------------

TEST_CASE("seconds_since_last_save is now minus the evaluated step's wall time", "[rules][clock]") {
  live_source src = live_steps(3);
  double now = 1100.0;
  src.set_clock([&] { return now; });
  const auto x = seconds_since_last_save();
  CHECK(x.describe() == "seconds_since_last_save()");
  auto v = evaluate_at(x, src, 2);
  REQUIRE(v.known);
  CHECK(v.v == 80.0);  // 1100 - 1020
  CHECK(evaluate_at(x, src, 1).v == 90.0);
  now = 1500.0;  // read at each evaluation
  CHECK(evaluate_at(x, src, 2).v == 480.0);
  now = 900.0;  // a reader clock behind the writer's: 0, never negative
  CHECK(evaluate_at(x, src, 2).v == 0.0);
  // a finished training is not stalled
  now = 1e9;
  src.close();
  v = evaluate_at(x, src, 2);
  REQUIRE(v.known);
  CHECK(v.v == 0.0);
}

TEST_CASE("seconds_since_last_save is unknown where the source knows no wall time", "[rules][clock]") {
  test::memory_source src;  // keeps no times (data_source's default)
  src.put("loss", 3, std::vector<float>{1.0f}).set_complete(false);
  const auto v = evaluate_at(seconds_since_last_save(), src, 3);
  CHECK_FALSE(v.known);
  CHECK(v.reason.find("no wall time is known for step 3") != std::string::npos);
  // a comparison carries the value and the threshold as evidence
  live_source live = live_steps(1);
  live.set_clock([] { return 4000.0; });
  auto r = make_rule("Stalled", seconds_since_last_save() > param_("threshold", 1800.0));
  const auto e = r.evaluate(live, 0);
  REQUIRE(e.result == verdict::fired);
  REQUIRE(e.findings.size() == 1);
  CHECK(e.findings[0].values == std::vector<double>{3000.0});
  CHECK(e.findings[0].thresholds == std::vector<double>{1800.0});
}

TEST_CASE("a clock rule evaluates only the newest step its schedule admits", "[rules][clock]") {
  live_source src = live_steps(6);
  auto r = make_rule("Stalled", seconds_since_last_save() > 100.0);
  CHECK(r.reads_clock());
  CHECK(r.needs().reads_clock);
  CHECK(r.steps(src) == std::vector<step_t>{5});
  rule_options o;
  o.when.end = 3;
  o.when.every = 2;
  auto bounded = make_rule("Stalled", seconds_since_last_save() > 100.0, o);
  CHECK(bounded.steps(src) == std::vector<step_t>{2});  // 0, 2 admitted (every 2, until 3): the newest
  // with a selection, the newest step of the selection
  auto sel = make_rule("LossStalled", seconds_since_last_save() > 100.0 && any(max(tensor_named("loss")) > 0.0));
  CHECK(sel.reads_clock());
  CHECK(sel.steps(src) == std::vector<step_t>{5});
  // rules without the clock keep every step
  CHECK(make_rule("Any", any(max(tensor_named("loss")) > 0.0)).steps(src).size() == 6);
  CHECK_FALSE(make_rule("Any", any(max(tensor_named("loss")) > 0.0)).reads_clock());
}

TEST_CASE("a clock rule cannot keep state across evaluations", "[rules][clock]") {
  CHECK_THROWS_WITH(make_rule("P", patience(seconds_since_last_save() > 1.0, 2)),
                    Catch::Contains("reads the clock") && Catch::Contains("patience"));
  CHECK_THROWS_AS(make_rule("W", window_max(seconds_since_last_save(), 3) > 1.0), usage_error);
}

// ---- wall times of trials ---------------------------------------------------------------------

TEST_CASE("a trial knows when each step was saved; a trial_source snapshots its clock", "[rules][clock][trial]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, losses());
  const double before = data_source::system_seconds();
  h.set_mode(mode::train);
  save_steps(h, 3);
  h.flush();
  const double after = data_source::system_seconds();
  auto t = std::make_shared<trial::trial>(b);
  std::vector<double> times;
  for (step_t g = 0; g < 3; ++g) {
    const auto w = t->step_wall_time(g);
    REQUIRE(w);
    CHECK(*w >= before);
    CHECK(*w <= after);
    times.push_back(*w);
  }
  CHECK(times[0] <= times[1]);
  CHECK(times[1] <= times[2]);
  CHECK_FALSE(t->step_wall_time(7));

  double clock = 5000.0;
  trial_source_options so;
  so.clock = [&] { return clock; };
  trial_source src(t, so);
  CHECK(src.now() == 5000.0);
  CHECK(src.wall_time(2) == times[2]);
  CHECK_FALSE(src.wall_time(3));
  clock = 6000.0;
  CHECK(src.now() == 5000.0);  // the snapshot's time
  h.begin_step();
  h.save("loss", std::vector<float>{0.1f});
  h.end_step();
  h.flush();
  CHECK_FALSE(src.wall_time(3));  // not in the snapshot yet
  src.refresh();
  CHECK(src.now() == 6000.0);
  REQUIRE(src.wall_time(3));
  CHECK(*src.wall_time(3) >= times[2]);
  // without a clock: the system clock at the snapshot
  const trial_source sys(t);
  CHECK(sys.now() >= after);
  CHECK(sys.now() <= data_source::system_seconds());
}

TEST_CASE("a trial's step wall time is the newest of its workers' last records", "[rules][clock][trial]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook_options o0, o1;
  o0.worker = "worker_0";
  o1.worker = "worker_1";
  o0.num_workers = o1.num_workers = 2;
  hook h0(b, losses(), o0);
  hook h1(b, losses(), o1);
  h0.set_mode(mode::train);
  h1.set_mode(mode::train);
  save_steps(h0, 1);
  h0.flush();
  auto t = std::make_shared<trial::trial>(b);
  const auto first = t->step_wall_time(0);  // worker_0 only (the step is not complete yet)
  REQUIRE(first);
  const double mid = data_source::system_seconds();
  save_steps(h1, 1);
  h1.flush();
  t->refresh();
  const auto both = t->step_wall_time(0);
  REQUIRE(both);
  CHECK(*both >= mid);  // worker_1 saved later
  CHECK(*both >= *first);
}

TEST_CASE("a step whose event file is still being written has the time of its first record", "[rules][clock][trial]") {
  // smdebug's in_progress fixture: the event file of step 45 is cut inside its records
  const auto t = std::make_shared<trial::trial>(std::filesystem::path(TDBG_TEST_DATA) / "smdebug" / "in_progress");
  REQUIRE_FALSE(t->loaded_all_steps());
  const auto w40 = t->step_wall_time(40);
  const auto w45 = t->step_wall_time(45);
  REQUIRE(w40);
  REQUIRE(w45);
  CHECK(*w45 >= *w40);
  // a clock rule over it is judged, not aborted
  trial_source_options so;
  so.clock = [&] { return *w45 + 10.0; };
  const auto res = run(make_rule("Stalled", seconds_since_last_save() > 5.0), trial_source(t, so));
  REQUIRE(res.evaluations.size() == 1);
  CHECK(res.evaluations[0].step == 45);
  CHECK(res.evaluations[0].result == verdict::fired);
}

// ---- runners ----------------------------------------------------------------------------------

TEST_CASE("offline, a clock rule is evaluated once, at the newest step, with the snapshot's time", "[rules][clock][runner]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook_options ho;
  ho.write_end_marker = false;  // a job that died without ending its trial
  {
    hook h(b, losses(), ho);
    h.set_mode(mode::train);
    save_steps(h, 4);
  }
  auto t = std::make_shared<trial::trial>(b);
  const double last = *t->step_wall_time(3);
  trial_source_options so;
  so.clock = [&] { return last + 2000.0; };
  const trial_source src(t, so);
  auto stalled = make_rule("Stalled", seconds_since_last_save() > param_("threshold", 1800.0));
  const auto res = run(stalled, src);
  REQUIRE(res.evaluations.size() == 1);
  CHECK(res.evaluations[0].step == 3);
  CHECK(res.evaluations[0].result == verdict::fired);
  REQUIRE(res.findings.size() == 1);
  CHECK(res.findings[0].values[0] == Approx(2000.0).margin(1e-3));
  // the same trial with an end marker: the training ended, nothing is stalled
  b->put(io::end_marker_key, {});
  const trial_source ended(std::make_shared<trial::trial>(b), so);
  const auto done = run(stalled, ended);
  REQUIRE(done.evaluations.size() == 1);
  CHECK(done.evaluations[0].result == verdict::ok);
  CHECK(done.summary("Stalled").status() == "NoIssuesFound");
}

TEST_CASE("a follower re-evaluates a clock rule as time passes, one finding per stall", "[rules][clock][follower]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, losses());
  auto t = std::make_shared<trial::trial>(b);
  double now = 0;
  follow_options fo;
  fo.source.clock = [&] { return now; };
  std::size_t reported = 0;
  fo.actions.push_back(on_finding([&](const finding&) { ++reported; }));
  auto stalled = make_rule("Stalled", seconds_since_last_save() > param_("threshold", 100.0));
  auto loss_high = make_rule("LossHigh", any(max(tensor_named("loss")) > 10.0));
  follower f({stalled, loss_high}, std::shared_ptr<const trial::trial>(t), fo);
  h.set_mode(mode::train);
  save_steps(h, 3);
  h.flush();
  t->refresh();
  const double w2 = *t->step_wall_time(2);

  now = w2 + 10;
  auto news = f.poll();  // LossHigh at 0, 1, 2; Stalled at its newest step only (step-major, rule order)
  REQUIRE(news.size() == 4);
  CHECK(news[2].rule == "Stalled");
  CHECK(news[2].step == 2);
  CHECK(news[2].result == verdict::ok);

  now = w2 + 50;  // no new step, still ok: re-evaluated, nothing recorded
  CHECK(f.poll().empty());
  now = w2 + 150;  // the stall is seen without any new step
  news = f.poll();
  REQUIRE(news.size() == 1);
  CHECK(news[0].rule == "Stalled");
  CHECK(news[0].step == 2);
  CHECK(news[0].result == verdict::fired);
  REQUIRE(news[0].findings.size() == 1);
  CHECK(news[0].findings[0].values[0] == Approx(150.0).margin(1e-3));
  CHECK(reported == 1);
  now = w2 + 500;  // the same stall is reported once
  CHECK(f.poll().empty());
  CHECK(reported == 1);

  save_steps(h, 1);  // training resumes: a new step ends the stall
  h.flush();
  t->refresh();
  const double w3 = *t->step_wall_time(3);
  now = w3 + 1;
  news = f.poll();
  REQUIRE(news.size() == 2);
  CHECK(news[0].rule == "Stalled");
  CHECK(news[0].step == 3);
  CHECK(news[0].result == verdict::ok);
  now = w3 + 1000;  // a second stall is a second finding
  news = f.poll();
  REQUIRE(news.size() == 1);
  CHECK(news[0].result == verdict::fired);
  CHECK(reported == 2);

  h.close();  // the end marker: finished (the stall at step 3 was reported already)
  CHECK(f.poll().empty());
  CHECK(f.finished());
  CHECK(f.result().summary("Stalled").fired == 2);
  CHECK(f.result().summary("Stalled").first_fired == 2);
  CHECK(f.findings().size() == 2);
}

TEST_CASE("a stop action on a clock rule's finding stops the follower", "[rules][clock][follower]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, losses());
  auto t = std::make_shared<trial::trial>(b);
  double now = 0;
  follow_options fo;
  fo.source.clock = [&] { return now; };
  fo.actions.push_back(stop_training());
  follower f({make_rule("Stalled", seconds_since_last_save() > 100.0)}, std::shared_ptr<const trial::trial>(t), fo);
  h.set_mode(mode::train);
  save_steps(h, 2);
  h.flush();
  t->refresh();
  now = *t->step_wall_time(1) + 1;
  CHECK(f.poll().size() == 1);
  CHECK_FALSE(f.stopped());
  now += 1000;
  CHECK(f.poll().size() == 1);
  CHECK(f.stopped());
  CHECK(f.poll().empty());
}

TEST_CASE("in process, a clock rule is evaluated when the hook closes, as offline over the trial", "[rules][clock][inprocess]") {
  auto b = std::make_shared<storage::memory_backend>();
  auto stalled = make_rule("Stalled", seconds_since_last_save() > 100.0);
  std::vector<evaluation> in_process;
  {
    hook h(b, losses());
    auto s = attach(h, {stalled});
    h.set_mode(mode::train);
    save_steps(h, 3);
    CHECK(s.evaluations().empty());  // never at a step end
    h.close();
    in_process = s.evaluations();
    CHECK(s.source().wall_time(2).has_value());
  }
  REQUIRE(in_process.size() == 1);
  CHECK(in_process[0].step == 2);
  CHECK(in_process[0].result == verdict::ok);
  const trial_source src(std::make_shared<trial::trial>(b));
  const auto offline = run(stalled, src);
  REQUIRE(offline.evaluations.size() == 1);
  CHECK(offline.evaluations[0].step == in_process[0].step);
  CHECK(offline.evaluations[0].result == in_process[0].result);
  CHECK(offline.evaluations[0].mode_step == in_process[0].mode_step);
}

TEST_CASE("a live source records when each step was saved, or when it ended", "[rules][clock][live]") {
  live_source src;
  double now = 42.0;
  src.set_clock([&] { return now; });
  const step_point p0{0, mode::train, 0}, p1{1, mode::train, 1};
  src.add("loss", p0, std::make_shared<const tdbg::tensor>(test::make<float>({1.0f})));
  src.end_step(p0);
  CHECK(src.wall_time(0) == 42.0);
  src.add("loss", p1, std::make_shared<const tdbg::tensor>(test::make<float>({1.0f})));
  src.end_step(p1, 7.5);
  CHECK(src.wall_time(1) == 7.5);
  CHECK_FALSE(src.wall_time(9));
  CHECK(src.now() == 42.0);
}
