// Tests of rules/trial_source.hpp and rules/runner.hpp (offline runs and the follower) against
// smdebug's fixtures (expected.json is the oracle) and trials written step by step.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tdbg/hook/hook.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/select.hpp"
#include "tdbg/rules/sets.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"

namespace fs = std::filesystem;
using namespace tdbg;
using namespace tdbg::rules;
using nlohmann::json;

namespace {

fs::path fixture(const std::string& name) { return fs::path(TDBG_TEST_DATA) / "smdebug" / name; }

json expected(const std::string& name) {
  std::ifstream in(fixture(name) / "expected.json");
  REQUIRE(in);
  return json::parse(in);
}

mode mode_of(const std::string& s) {
  const auto m = parse_mode(s);
  REQUIRE(m);
  return *m;
}

std::vector<std::byte> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
  return b;
}

/// A fixture loaded into a memory backend, so that tests can corrupt it or copy it step by step.
std::shared_ptr<storage::memory_backend> load(const std::string& name,
                                              const std::function<bool(const std::string&)>& keep = {}) {
  auto b = std::make_shared<storage::memory_backend>();
  const auto root = fixture(name);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const std::string key = fs::relative(e.path(), root).generic_string();
    if (key == "expected.json" || key == "records.json" || key == "TRUNCATION.txt") continue;
    if (keep && !keep(key)) continue;
    b->assign(key, file_bytes(e.path()));
  }
  return b;
}

double mean_abs(const tdbg::tensor& t) {
  double s = 0;
  for (std::uint64_t i = 0; i < t.size(); ++i) s += std::fabs(t.as_double(i));
  return s / static_cast<double>(t.size());
}

}  // namespace

// ---- trial_source ----------------------------------------------------------------------------

TEST_CASE("trial_source lists names, steps per mode and points as smdebug does", "[rules][runner][trial_source]") {
  for (const std::string name : {"mlp_train_eval", "reductions_only"}) {
    INFO(name);
    const auto ex = expected(name);
    trial::trial t(fixture(name));
    trial_source src(t);
    CHECK(src.complete());
    CHECK(src.describe().find(name) != std::string::npos);
    CHECK(src.tensor_names() == ex["trial"]["tensor_names"].get<std::vector<std::string>>());

    // Global steps per mode, from the oracle's mode-step -> global-step maps.
    std::set<step_t> all;
    for (const auto& [m, map] : ex["trial"]["mode_step_to_global"].items()) {
      std::vector<step_t> want;
      for (const auto& [ms, g] : map.items()) want.push_back(g.get<step_t>());
      std::sort(want.begin(), want.end());
      CHECK(src.steps(mode_of(m)) == want);
      all.insert(want.begin(), want.end());
    }
    CHECK(src.steps(mode::global) == ex["trial"]["steps"]["GLOBAL"].get<std::vector<step_t>>());
    for (const auto& [g, mm] : ex["trial"]["global_step_to_mode"].items()) {
      const auto p = src.point(std::stoll(g));
      REQUIRE(p);
      CHECK(p->mode == mode_of(mm[0].get<std::string>()));
      CHECK(p->mode_step == mm[1].get<step_t>());
    }
    CHECK_FALSE(src.point(100000));

    // Per tensor and mode: the oracle's mode steps, mapped to global steps.
    for (const auto& [tensor, info] : ex["tensors"].items()) {
      for (const auto& [m, steps] : info["steps"].items()) {
        const mode md = mode_of(m);
        std::vector<step_t> want;
        for (const auto& s : steps) {
          const step_t ms = s.get<step_t>();
          want.push_back(md == mode::global ? ms : ex["trial"]["mode_step_to_global"][m][std::to_string(ms)].get<step_t>());
        }
        std::sort(want.begin(), want.end());
        INFO(tensor << " " << m);
        CHECK(src.tensor_steps(tensor, md) == want);
      }
    }
    CHECK(src.tensor_steps("no/such/tensor", mode::global).empty());

    for (const auto& [c, names] : ex["trial"]["tensor_names_by_collection"].items()) {
      INFO(c);
      CHECK(src.collection_tensor_names(c) == names.get<std::vector<std::string>>());
    }
    CHECK(src.collection_tensor_names("no_such_collection").empty());
  }
}

TEST_CASE("trial_source values match the oracle's samples; absent data is nullptr", "[rules][runner][trial_source]") {
  const auto ex = expected("mlp_train_eval");
  trial::trial t(fixture("mlp_train_eval"));
  trial_source src(t);
  std::size_t checked = 0;
  for (const auto& s : ex["samples"]) {
    if (!s.contains("sum_f64") || s["sum_f64"].is_null() || !s.contains("dtype")) continue;
    const mode m = mode_of(s["mode"].get<std::string>());
    step_t g = s["step"].get<step_t>();
    if (m != mode::global) g = ex["trial"]["mode_step_to_global"][s["mode"].get<std::string>()][std::to_string(g)].get<step_t>();
    const auto v = src.value(s["tensor"].get<std::string>(), g);
    REQUIRE(v);
    CHECK(v->shape() == s["shape"].get<shape_t>());
    CHECK(std::string(dtype_name(v->dtype())) == s["dtype"].get<std::string>());
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (std::uint64_t i = 0; i < v->size(); ++i) {
      sum += v->as_double(i);
      lo = std::min(lo, v->as_double(i));
      hi = std::max(hi, v->as_double(i));
    }
    CHECK(sum == Approx(s["sum_f64"].get<double>()).margin(1e-9));
    CHECK(lo == s["min"].get<double>());
    CHECK(hi == s["max"].get<double>());
    ++checked;
  }
  CHECK(checked >= 10);
  CHECK(src.workers("MLP_fc1.weight", 0) == std::vector<std::string>{"worker_0"});
  CHECK(src.workers("MLP_fc1.weight", 1).empty());             // not a saved step
  CHECK(src.value("MLP_fc1.weight", 1) == nullptr);
  CHECK(src.value("no/such/tensor", 0) == nullptr);
  CHECK(src.value("MLP_fc1.weight", 0, "worker_9") == nullptr);  // no such worker
  CHECK(src.value("MLP_fc1.weight", 0, "worker_0") != nullptr);
  CHECK_FALSE(src.stored_reduction("MLP_fc1.weight", 0, reduction{reduction_op::mean, false}));  // raw only
}

TEST_CASE("trial_source reads stored reductions of a reductions-only trial", "[rules][runner][trial_source]") {
  const auto ex = expected("reductions_only");
  trial::trial t(fixture("reductions_only"));
  trial_source src(t);
  std::size_t n = 0;
  for (const auto& r : ex["stored_reductions"]) {
    const auto op = parse_reduction_op(r["reduction"].get<std::string>());
    REQUIRE(op);
    const auto v = src.stored_reduction(r["tensor"].get<std::string>(), r["global_step"].get<step_t>(),
                                        reduction{*op, r["abs"].get<bool>()}, r["worker"].get<std::string>());
    REQUIRE(v);
    CHECK(*v == r["value"].get<double>());  // float32 stored, read exactly
    ++n;
  }
  CHECK(n == ex["stored_reductions"].size());
  CHECK(n > 100);
  // Only reductions and shapes were saved for the weights: no raw value, but steps are listed.
  CHECK(src.value("MLP_fc1.weight", 0) == nullptr);
  CHECK_FALSE(src.tensor_steps("MLP_fc1.weight", mode::global).empty());
  // abs_min is not among the stored reductions.
  CHECK_FALSE(src.stored_reduction("MLP_fc1.weight", 0, reduction{reduction_op::min, true}));
}

TEST_CASE("trial_source decodes a value once and bounds its cache", "[rules][runner][trial_source]") {
  trial::trial t(fixture("mlp_train_eval"));
  trial_source src(t, trial_source_options{2, std::uint64_t{1} << 30});
  const auto a = src.value("MLP_fc1.weight", 0);
  const auto b = src.value("MLP_fc1.weight", 0);
  CHECK(a.get() == b.get());  // the same decoded tensor, shared
  CHECK(src.cache_misses() == 1);
  CHECK(src.cache_hits() == 1);
  (void)src.value("MLP_fc1.weight", 5);
  (void)src.value("MLP_fc1.weight", 12);  // evicts step 0 (least recently used)
  CHECK(src.cache_size() == 2);
  const auto c = src.value("MLP_fc1.weight", 0);
  CHECK(src.cache_misses() == 4);
  CHECK(*c == *a);  // decoded again, equal

  // A byte bound: a tiny one keeps only the most recent value.
  trial_source small(t, trial_source_options{100, 16});
  (void)small.value("MLP_fc1.weight", 0);
  (void)small.value("MLP_fc1.weight", 5);
  CHECK(small.cache_size() == 1);
}

TEST_CASE("trial_source propagates corrupt data as tdbg::error", "[rules][runner][trial_source]") {
  auto b = load("mlp_train_eval");
  const std::string key = io::event_file_key(5, "worker_0");
  auto bytes = b->read_all(key);
  REQUIRE(bytes.size() > 100);
  for (std::size_t i = 20; i < 60; ++i) bytes[i] = std::byte{0x5a};  // inside the first record
  b->assign(key, bytes);
  trial::trial t(b);
  trial_source src(t);
  CHECK(src.value("MLP_fc1.weight", 0) != nullptr);  // another step is fine
  std::string what;
  bool threw = false;
  for (const auto& n : src.tensor_names()) {
    try {
      (void)src.value(n, 5);
    } catch (const format_error& e) {
      threw = true;
      what = e.what();
      break;
    }
  }
  CHECK(threw);
  CHECK(what.find("000000000005") != std::string::npos);  // names the file
}

// ---- offline run -----------------------------------------------------------------------------

TEST_CASE("run evaluates each scheduled step in order, with findings and SageMaker-style status", "[rules][runner]") {
  trial::trial t(fixture("mlp_train_eval"));
  trial_source src(t);
  // Independent oracle: mean |g| per gradient tensor and step, straight from the trial.
  std::map<step_t, double> min_mean_abs;
  for (const auto& n : t.tensor_names({.collection = "gradients"}))
    for (const step_t g : t.tensor(n).steps())
      if (const auto v = t.tensor(n).value(g); true) {
        auto [it, ins] = min_mean_abs.emplace(g, mean_abs(v));
        if (!ins) it->second = std::min(it->second, mean_abs(v));
      }
  REQUIRE(min_mean_abs.size() == 7);  // gradients exist at the 7 TRAIN steps
  std::vector<double> sorted;
  for (const auto& [g, v] : min_mean_abs) sorted.push_back(v);
  std::sort(sorted.begin(), sorted.end());
  const double threshold = (sorted[2] + sorted[3]) / 2;  // exactly 3 steps fire

  auto small = make_rule("SmallGradients", any(mean(abs(collection("gradients"))) < threshold));
  auto never = make_rule("Never", any(mean(abs(collection("gradients"))) < 0.0));
  auto missing = make_rule("Missing", any(mean(collection("no_such_collection")) > 0.0));
  // Losses exist at TRAIN and EVAL steps, gradients only at the 7 TRAIN steps: unknown at EVAL.
  auto partial = make_rule("Partial", any(mean(collection("losses")) > -1.0) &&
                                          any(mean(abs(collection("gradients"))) < 1.0));
  const auto r = run({small, never, missing, partial}, src);

  const auto& s = r.summary("SmallGradients");
  CHECK(s.evaluated == 7);
  CHECK(s.fired == 3);
  CHECK(s.ok == 4);
  CHECK(std::string(s.status()) == "IssuesFound");
  CHECK(std::string(r.summary("Never").status()) == "NoIssuesFound");
  CHECK(r.summary("Never").evaluated == 7);
  // A rule whose tensors do not exist has no step to evaluate: InsufficientData.
  CHECK(std::string(r.summary("Missing").status()) == "InsufficientData");
  CHECK(r.summary("Missing").evaluated == 0);
  const auto& p = r.summary("Partial");
  const auto loss_steps = t.tensor("CrossEntropyLoss_output_0").steps().size();
  REQUIRE(loss_steps == 9);  // TRAIN and EVAL steps (no loss when predicting)
  CHECK(p.evaluated == loss_steps);
  CHECK(p.fired == 7);
  CHECK(p.insufficient_data == loss_steps - 7);
  CHECK(std::string(p.status()) == "IssuesFound");
  for (const auto& e : r.evaluations)
    if (e.rule == "Partial" && e.result == verdict::insufficient_data) {
      CHECK(e.mode != mode::train);
      CHECK(e.reason.find("gradient/") != std::string::npos);  // names what was missing
    }
  CHECK_THROWS_AS(r.summary("Nope"), usage_error);

  // Evaluations in step order, then rule order; findings at exactly the oracle's steps.
  for (std::size_t i = 1; i < r.evaluations.size(); ++i) CHECK(r.evaluations[i - 1].step <= r.evaluations[i].step);
  std::set<step_t> fired_at;
  for (const auto& f : r.findings) {
    if (f.rule == "Partial") continue;
    CHECK(f.rule == "SmallGradients");
    CHECK(f.mode == mode::train);
    fired_at.insert(f.step);
    REQUIRE_FALSE(f.values.empty());
    for (std::size_t i = 0; i < f.values.size(); ++i) CHECK(f.values[i] < threshold);
  }
  std::set<step_t> want;
  for (const auto& [g, v] : min_mean_abs)
    if (v < threshold) want.insert(g);
  CHECK(fired_at == want);
  CHECK(r.fired());
  CHECK(s.first_fired == *want.begin());

  // A step range [start, end).
  run_options o;
  o.start_step = 5;
  o.end_step = 24;
  const auto part = run(small, src, o);
  std::vector<step_t> steps;
  for (const auto& e : part.evaluations) steps.push_back(e.step);
  CHECK(steps == std::vector<step_t>{5, 12, 17});
  o.end_step = 4;
  CHECK_THROWS_AS(run(small, src, o), usage_error);
}

TEST_CASE("run applies actions per step: callbacks, stop, throw", "[rules][runner][actions]") {
  trial::trial t(fixture("mlp_train_eval"));
  trial_source src(t);
  auto always = make_rule("Always", any(mean(abs(collection("gradients"))) >= 0.0));
  std::vector<step_t> seen;
  run_options o;
  o.actions = {on_finding([&](const finding& f) { seen.push_back(f.step); }), stop_training()};
  const auto r = run(always, src, o);
  CHECK(r.stopped);
  CHECK(seen == std::vector<step_t>{0});  // stopped after the first step with a finding
  CHECK(r.evaluations.size() == 1);

  run_options th;
  th.actions = {throw_on_finding()};
  try {
    (void)run(always, src, th);
    FAIL("no rule_fired_error");
  } catch (const rule_fired_error& e) {
    CHECK(e.finding().rule == "Always");
    CHECK(e.finding().step == 0);
    const std::string w = e.what();
    CHECK(w.find("rule 'Always' fired at step 0 (TRAIN step 0)") != std::string::npos);
    CHECK(w.find("gradient/") != std::string::npos);
  }
}

// ---- follower --------------------------------------------------------------------------------

TEST_CASE("a follower evaluates steps as a fixture trial is copied in, each once", "[rules][runner][follower]") {
  const auto ex = expected("mlp_train_eval");
  const auto full = load("mlp_train_eval");
  auto b = load("mlp_train_eval", [](const std::string& k) { return k.rfind("collections/", 0) == 0; });
  auto t = std::make_shared<trial::trial>(b);
  auto weights = make_rule("BigWeights", any(max(abs(collection("weights"))) > 0.0));  // fires everywhere
  std::vector<finding> callback_findings;
  follow_options fo;
  fo.actions = {on_finding([&](const finding& f) { callback_findings.push_back(f); })};
  follower f({weights}, std::shared_ptr<const trial::trial>(t), fo);
  CHECK(f.poll().empty());
  CHECK_FALSE(f.finished());

  const auto steps = ex["trial"]["steps"]["GLOBAL"].get<std::vector<step_t>>();
  std::vector<step_t> evaluated;
  for (const step_t s : steps) {
    const auto ev = io::event_file_key(s, "worker_0");
    const auto ix = io::index_file_key(s, "worker_0");
    b->assign(ev, full->read_all(ev));
    auto news = f.poll();
    CHECK(news.empty());  // the event file alone does not make a step
    b->assign(ix, full->read_all(ix));
    news = f.poll();
    REQUIRE(news.size() == 1);
    CHECK(news[0].step == s);
    CHECK(news[0].result == verdict::fired);
    evaluated.push_back(news[0].step);
    CHECK(f.poll().empty());  // never twice
    CHECK_FALSE(f.finished());
  }
  CHECK(evaluated == steps);
  b->assign(io::end_marker_key, full->read_all(io::end_marker_key));
  CHECK(f.poll().empty());
  CHECK(f.finished());
  CHECK(f.result().summaries.at(0).evaluated == steps.size());
  CHECK(callback_findings == f.findings());
  CHECK(f.findings().size() == steps.size());

  // The same rule offline over the finished trial gives the same evaluations.
  const auto offline = run(weights, trial_source(*t));
  REQUIRE(offline.evaluations.size() == f.evaluations().size());
  CHECK(offline.findings == f.findings());
}

TEST_CASE("a follower over a trial written by a hook keeps rule state across polls", "[rules][runner][follower]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, std::vector<collect::collection>{{"losses", {"^loss$"}, {}, {}, collect::save_config::every(1)}});
  auto t = std::make_shared<trial::trial>(b);
  // Fires when the loss is above 1 at two evaluations in a row would need a window; here a
  // stateless threshold and a count of evaluations across polls.
  auto high = make_rule("HighLoss", the(max(tensor_named("loss"))) > 1.0);
  follower f({high}, std::shared_ptr<const trial::trial>(t));
  const std::vector<double> losses{0.5, 2.0, 0.7, 3.0, 4.0, 0.1};
  std::size_t total = 0;
  h.set_mode(mode::train);
  for (std::size_t i = 0; i < losses.size(); ++i) {
    h.begin_step();
    h.save("loss", std::vector<float>{static_cast<float>(losses[i])});
    h.end_step();
    h.flush();
    const auto news = f.poll();
    REQUIRE(news.size() == 1);
    CHECK(news[0].step == static_cast<step_t>(i));
    CHECK(news[0].result == (losses[i] > 1.0 ? verdict::fired : verdict::ok));
    total += news.size();
  }
  CHECK_FALSE(f.finished());
  h.close();
  CHECK(f.poll().empty());
  CHECK(f.finished());
  CHECK(total == losses.size());
  CHECK(f.result().summaries.at(0).fired == 3);
  CHECK(f.result().summaries.at(0).first_fired == 1);
}
