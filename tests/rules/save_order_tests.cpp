// Save order: the position at which a tensor was saved among its step's saves — from a trial
// written by tdbg's hook (record offsets of its index files), from a trial_source, from a
// live_source fed by the hook (attach), and from a real smdebug trial (its event files' record
// order); the save_order(sel) node and min_over / max_over over the tensors where p holds; the
// same first-saved finding offline and in process.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tdbg/hook/hook.hpp"
#include "tdbg/io/event.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/io/tfrecord.hpp"
#include "tdbg/rules/attach.hpp"
#include "tdbg/rules/live_source.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/save_order.hpp"
#include "tdbg/rules/select.hpp"
#include "tdbg/rules/sets.hpp"
#include "tdbg/rules/time.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/storage/local.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"
#include "probe.hpp"
#include "test_source.hpp"

using namespace tdbg;
using namespace tdbg::rules;

namespace {

constexpr float f_nan = std::numeric_limits<float>::quiet_NaN();

/// "plain": z_layer, a_layer, m_layer raw; "shapes": s_shape's shape only; "reduced": r_red's
/// mean only (a record, no raw value).
std::vector<collect::collection> layers() {
  collect::reduction_config shape_only;
  shape_only.save_raw_tensor = false;
  shape_only.save_shape = true;
  collect::reduction_config mean_only;
  mean_only.save_raw_tensor = false;
  mean_only.reductions = {reduction{reduction_op::mean, false}};
  return {{"plain", {"^(z_layer|a_layer|m_layer)$"}, {}, {}, collect::save_config::every(1)},
          {"shapes", {"^s_shape$"}, {}, shape_only, collect::save_config::every(1)},
          {"reduced", {"^r_red$"}, {}, mean_only, collect::save_config::every(1)}};
}

void save(hook& h, const std::string& name, float v = 1.0f) { h.save(name, std::vector<float>{v, 2.0f}); }

/// Step 0 saves z_layer, a_layer, s_shape, r_red, m_layer; step 1 a_layer, m_layer, z_layer
/// (TRAIN); step 2 (EVAL step 0) m_layer, z_layer.
void write_three_steps(hook& h) {
  h.set_mode(mode::train);
  h.begin_step();
  for (const char* n : {"z_layer", "a_layer", "s_shape", "r_red", "m_layer"}) save(h, n);
  h.end_step();
  h.begin_step();
  for (const char* n : {"a_layer", "m_layer", "z_layer"}) save(h, n);
  h.end_step();
  h.set_mode(mode::eval);
  h.begin_step();
  for (const char* n : {"m_layer", "z_layer"}) save(h, n);
  h.end_step();
}

using order_map = std::map<std::string, std::optional<std::size_t>>;

order_map orders_of(const data_source& src, step_t g, std::string_view worker = {}) {
  order_map out;
  for (const auto& n : src.tensor_names())
    if (!src.workers(n, g).empty()) out[n] = src.save_order(n, g, worker);
  return out;
}

const order_map step0{{"a_layer", 1}, {"m_layer", 3}, {"r_red", 2}, {"s_shape", std::nullopt}, {"z_layer", 0}};
const order_map step1{{"a_layer", 0}, {"m_layer", 1}, {"z_layer", 2}};
const order_map step2{{"m_layer", 0}, {"z_layer", 1}};

}  // namespace

// ---- the trial and the sources ----------------------------------------------------------------

TEST_CASE("a trial numbers a step's tensors in the order the hook saved them", "[rules][save_order][trial]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, layers());
  write_three_steps(h);
  h.close();
  const trial::trial t(b);
  CHECK(t.tensor("z_layer").save_order(0) == 0u);
  CHECK(t.tensor("a_layer").save_order(0) == 1u);
  CHECK(t.tensor("r_red").save_order(0) == 2u);  // a reduction record counts
  CHECK(t.tensor("m_layer").save_order(0) == 3u);
  CHECK_FALSE(t.tensor("s_shape").save_order(0));  // only a shape: no record
  CHECK(t.tensor("a_layer").save_order(1, mode::train) == 0u);
  CHECK(t.tensor("z_layer").save_order(1, mode::train) == 2u);
  CHECK(t.tensor("z_layer").save_order(0, mode::eval) == 1u);  // EVAL step 0 = global step 2
  CHECK(t.tensor("z_layer").save_order(2) == 1u);
  CHECK(t.tensor("z_layer").save_order(2, mode::global, "worker_0") == 1u);
  CHECK_THROWS_AS(t.tensor("z_layer").save_order(2, mode::global, "worker_9"), invalid_worker_error);
  CHECK_THROWS(t.tensor("r_red").save_order(1));  // not saved at step 1
  CHECK_THROWS(t.tensor("z_layer").save_order(7));
  for (const auto& st : t.tensor("z_layer").stored_steps()) CHECK(st.save_order == std::vector<std::size_t>{0, 2, 1}[static_cast<std::size_t>(st.global_step)]);
}

TEST_CASE("a trial_source answers the trial's save order; unknown tensors, steps and workers have none",
          "[rules][save_order][trial]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, layers());
  write_three_steps(h);
  h.close();
  const trial_source src(std::make_shared<trial::trial>(b));
  CHECK(orders_of(src, 0) == step0);
  CHECK(orders_of(src, 1) == step1);
  CHECK(orders_of(src, 2) == step2);
  CHECK(orders_of(src, 2, "worker_0") == step2);
  CHECK_FALSE(src.save_order("z_layer", 2, "worker_9"));
  CHECK_FALSE(src.save_order("r_red", 1));
  CHECK_FALSE(src.save_order("nope", 0));
  CHECK_FALSE(src.save_order("z_layer", 3));
}

TEST_CASE("a trial_source lists only the snapshot's steps' save order", "[rules][save_order][trial]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, layers());
  h.set_mode(mode::train);
  h.begin_step();
  save(h, "m_layer");
  save(h, "a_layer");
  h.end_step();
  h.flush();
  trial_source src(std::make_shared<trial::trial>(b));
  CHECK(src.save_order("a_layer", 0) == 1u);
  h.begin_step();
  save(h, "a_layer");
  h.end_step();
  h.flush();
  CHECK_FALSE(src.save_order("a_layer", 1));  // not in the snapshot yet
  src.refresh();
  CHECK(src.save_order("a_layer", 1) == 0u);
  h.close();
}

TEST_CASE("each worker numbers its own saves", "[rules][save_order][trial][workers]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook_options o0, o1;
  o0.worker = "worker_0";
  o1.worker = "worker_1";
  o0.num_workers = o1.num_workers = 2;
  hook h0(b, layers(), o0);
  hook h1(b, layers(), o1);
  for (hook* h : {&h0, &h1}) {
    h->set_mode(mode::train);
    h->begin_step();
  }
  save(h0, "a_layer");
  save(h0, "z_layer");
  save(h1, "z_layer");
  save(h1, "m_layer");
  save(h1, "a_layer");
  h0.close();
  h1.close();
  const auto t = std::make_shared<trial::trial>(b);
  CHECK(t->tensor("z_layer").save_order(0, mode::global, "worker_0") == 1u);
  CHECK(t->tensor("z_layer").save_order(0, mode::global, "worker_1") == 0u);
  CHECK(t->tensor("z_layer").save_order(0) == 1u);  // the smallest worker name
  const trial_source src(t);
  CHECK(orders_of(src, 0, "worker_0") == order_map{{"a_layer", 0}, {"m_layer", std::nullopt}, {"z_layer", 1}});
  CHECK(orders_of(src, 0, "worker_1") == order_map{{"a_layer", 2}, {"m_layer", 1}, {"z_layer", 0}});
  CHECK(src.save_order("m_layer", 0) == 1u);  // worker_0 has none: the first worker that has it
}

TEST_CASE("a live source numbers a step's adds per worker, counting tensors that wrote a record",
          "[rules][save_order][live]") {
  live_source src;
  src.retain(make_rule("keep", any(max(prev(tensors_matching("."), 3)) > 0.0)).needs());
  auto v = std::make_shared<const tdbg::tensor>(test::make<float>({1.0f}));
  const step_point p0{0, mode::train, 0}, p1{1, mode::train, 1};
  src.add("z", p0, v);
  src.add("shape_only", p0, nullptr, live_saved{false, true, {}});
  src.add("a", p0, v, live_saved{false, false, {reduction{reduction_op::mean, false}}});
  src.add("z", p0, v);  // again: keeps its first position
  src.add("b", p0, v, {}, "worker_1");
  src.add("m", p0, v);
  CHECK_FALSE(src.save_order("z", 0));  // not visible before the step ends
  src.end_step(p0);
  CHECK(orders_of(src, 0, "worker_0") ==
        order_map{{"a", 1}, {"b", std::nullopt}, {"m", 2}, {"shape_only", std::nullopt}, {"z", 0}});
  CHECK(src.save_order("b", 0) == 0u);
  CHECK(src.save_order("b", 0, "worker_1") == 0u);
  src.add("m", p1, v);
  src.add("z", p1, v);
  src.end_step(p1);
  CHECK(src.save_order("m", 1) == 0u);
  CHECK(src.save_order("z", 1) == 1u);
  CHECK(src.save_order("z", 0) == 0u);  // earlier steps keep theirs
  CHECK_FALSE(src.save_order("z", 5));
}

TEST_CASE("attached to the hook, the live source has the trial's save order", "[rules][save_order][inprocess]") {
  auto b = std::make_shared<storage::memory_backend>();
  hook h(b, layers());
  auto s = attach(h, {make_rule("keep", any(max(prev(tensors_matching("."), 3)) > 0.0))});
  write_three_steps(h);
  CHECK(orders_of(s.source(), 0) == step0);
  CHECK(orders_of(s.source(), 1) == step1);
  CHECK(orders_of(s.source(), 2) == step2);
  h.close();
  const trial_source offline(std::make_shared<trial::trial>(b));
  for (step_t g = 0; g < 3; ++g) CHECK(orders_of(offline, g) == orders_of(s.source(), g));
}

TEST_CASE("a smdebug trial's save order is the record order of its event files", "[rules][save_order][fixture]") {
  for (const char* fixture : {"mlp_train_eval", "reductions_only"}) {
    const auto dir = std::filesystem::path(TDBG_TEST_DATA) / "smdebug" / fixture;
    const trial::trial t(dir);
    const storage::local_backend files(dir);
    std::size_t checked = 0;
    for (const step_t g : t.steps()) {
      // The tensors of the step's event file, by their first record (reductions count).
      std::vector<std::string> in_file;
      const std::string key = io::event_file_key(g, "worker_0");
      const auto bytes = files.read_all(key);
      std::uint64_t offset = 0;
      while (offset < bytes.size()) {
        const auto rec = io::read_record(std::span<const std::byte>(bytes).subspan(offset), key, offset);
        REQUIRE(rec);
        const auto ev = io::decode_tensor_event(rec->payload, key);
        const auto red = io::parse_reduction_tensor_name(ev.tag);
        const std::string base = red ? red->tensor : ev.tag;
        if (std::find(in_file.begin(), in_file.end(), base) == in_file.end()) in_file.push_back(base);
        offset += rec->size;
      }
      const auto mm = t.mode_modestep(g);
      REQUIRE(mm);
      for (std::size_t i = 0; i < in_file.size(); ++i) {
        INFO(fixture << " step " << g << " tensor " << in_file[i]);
        CHECK(t.tensor(in_file[i]).save_order(mm->second, mm->first) == i);
        ++checked;
      }
      // Every tensor of the step with a record is in the file (shape-only ones have no order).
      for (const auto& n : t.tensor_names({.step = g})) {
        const bool has_record = std::find(in_file.begin(), in_file.end(), n) != in_file.end();
        CHECK(t.tensor(n).save_order(mm->second, mm->first).has_value() == has_record);
      }
    }
    CHECK(checked > 10);
  }
}

// ---- the node ---------------------------------------------------------------------------------

TEST_CASE("save_order(sel) is each tensor's position at the step it is read", "[rules][save_order][node]") {
  test::memory_source src;
  src.step(0).step(1).step(2, mode::eval, 0);
  src.put("a", 0, {1.0f}).order("a", 0, 1).put("b", 0, {1.0f}).order("b", 0, 0);
  src.put("a", 1, {1.0f}).order("a", 1, 0).put("b", 1, {1.0f});  // b's order at step 1 is not known
  src.put("a", 2, {1.0f}).order("a", 2, 4);
  test::probe p(save_order(tensors_matching("^[ab]$")));
  CHECK(p.expr().describe() == "save_order(tensors_matching(\"^[ab]$\"))");
  auto v0 = p.at(src, 0);
  REQUIRE(v0.known);
  REQUIRE(v0.items.size() == 2);
  CHECK(v0.items[0].tensor == "a");
  CHECK(v0.items[0].v == 1);
  CHECK(v0.items[1].v == 0);
  auto v1 = p.at(src, 1);
  CHECK(v1.items[0].v == 0);
  CHECK_FALSE(v1.items[1].known);
  CHECK(v1.items[1].reason == "the save order of tensor 'b' at step 1 (TRAIN step 1) is not known to memory source");
  // read where the selection reads: prev moves back, .in(mode) reads the other mode's step
  test::probe a(save_order(tensors_matching("^a$")));
  CHECK(a.at(src, 2).items[0].v == 4);
  test::probe back(prev(save_order(tensors_matching("^a$"))));
  CHECK(back.at(src, 1).items[0].v == 1);  // at step 0
  test::probe train(save_order(tensors_matching("^a$").in(mode::train)));
  CHECK(train.at(src, 2).items[0].v == 0);  // TRAIN step 1, the newest at or before step 2
  auto missing = test::probe(save_order(tensor_named("b"))).at(src, 2);
  CHECK_FALSE(missing.items[0].known);  // b has no data at step 2
}

TEST_CASE("save_order reads no value and declares its selection", "[rules][save_order][node]") {
  test::memory_source src;
  src.put("a", 0, {1.0f}).order("a", 0, 0);
  auto r = make_rule("first", any(save_order(tensor_named("a")) == 0.0));
  CHECK(run(r, src).summary("first").fired == 1);
  CHECK(src.value_reads == 0);
  const auto n = r.needs();
  REQUIRE(n.tensors.size() == 1);
  CHECK_FALSE(n.tensors[0].raw);
}

TEST_CASE("min_over(x, p) and max_over(x, p) range over the tensors where p holds", "[rules][save_order][sets]") {
  test::memory_source src;
  src.step(0).step(1).step(2).step(3);
  // step 0: a bad (order 2), b fine (0), c bad (1). step 1: nothing bad. step 2: c's order
  // unknown, c bad. step 3: b bad and NaN-valued x.
  src.put("a", 0, {f_nan}).order("a", 0, 2).put("b", 0, {1.0f}).order("b", 0, 0).put("c", 0, {f_nan}).order("c", 0, 1);
  src.put("a", 1, {1.0f}).order("a", 1, 0).put("b", 1, {1.0f}).order("b", 1, 1);
  src.put("a", 2, {1.0f}).order("a", 2, 0).put("c", 2, {f_nan});
  src.put("b", 3, {f_nan}).order("b", 3, 0);
  const auto t = tensors_matching("^[abc]$").only_saved();
  const auto bad = fraction_nonfinite(t) > 0.0;
  test::probe lo(min_over(save_order(t), bad));
  test::probe hi(max_over(save_order(t), bad));
  CHECK(lo.expr().describe() ==
        "min_over(save_order(tensors_matching(\"^[abc]$\").only_saved()), fraction_nonfinite(tensors_matching(\"^[abc]$\").only_saved()) > 0)");
  auto v = lo.at(src, 0);
  REQUIRE(v.known);
  CHECK(v.v == 1);
  REQUIRE(v.evidence.size() == 1);
  CHECK(v.evidence[0].tensor == "c");
  CHECK(hi.at(src, 0).v == 2);
  CHECK(hi.at(src, 0).evidence[0].tensor == "a");
  // over no tensor: the identities, so that `x == min_over(x, p)` is false, not unknown
  auto none = lo.at(src, 1);
  REQUIRE(none.known);
  CHECK(none.v == std::numeric_limits<double>::infinity());
  CHECK(none.evidence.empty());
  CHECK(hi.at(src, 1).v == -std::numeric_limits<double>::infinity());
  test::probe first(any(bad && save_order(t) == min_over(save_order(t), bad)));
  REQUIRE(first.at(src, 1).known);
  CHECK(first.at(src, 1).v == 0);
  CHECK(first.at(src, 0).v == 1);
  CHECK(first.at(src, 0).evidence.at(0).tensor == "c");
  auto unknown_x = lo.at(src, 2);
  CHECK_FALSE(unknown_x.known);
  CHECK(unknown_x.reason.find("save order of tensor 'c'") != std::string::npos);
  // p unknown for a tensor (no raw value) makes it unknown
  test::memory_source red;
  red.put("a", 0, {f_nan}).order("a", 0, 0).put_reduction("b", 0, reduction{reduction_op::mean, false}, 1.0);
  CHECK_FALSE(lo.at(red, 0).known);
  // NaN wins, as in min_over(x)
  test::probe nan_x(min_over(max(t), bad));
  CHECK(std::isnan(nan_x.at(src, 3).v));
}

// ---- the first-saved tensor, offline and in process ---------------------------------------------

TEST_CASE("the first-saved bad tensor is the same offline and in process", "[rules][save_order][inprocess]") {
  const auto t = tensors_matching("_layer$").only_saved();
  const auto bad = fraction_nonfinite(t) > 0.0;
  const auto order = save_order(t);
  rule_options o;
  o.message = "{tensor} at {step}";
  auto origin = make_rule("origin", any(bad && order == min_over(order, bad)), o);
  auto b = std::make_shared<storage::memory_backend>();
  std::vector<finding> in_process;
  {
    hook h(b, layers());
    auto s = attach(h, {origin});
    h.set_mode(mode::train);
    for (int step = 0; step < 3; ++step) {
      h.begin_step();
      // z_layer is saved before a_layer; both are NaN from step 1, m_layer from step 2
      save(h, "z_layer", step >= 1 ? f_nan : 1.0f);
      save(h, "m_layer", step >= 2 ? f_nan : 1.0f);
      save(h, "a_layer", step >= 1 ? f_nan : 1.0f);
      h.end_step();
    }
    h.close();
    in_process = s.findings();
  }
  const trial_source src(std::make_shared<trial::trial>(b));
  const auto offline = run(origin, src);
  REQUIRE(offline.findings.size() == 2);
  CHECK(offline.findings[0].step == 1);
  CHECK(offline.findings[0].tensors == std::vector<std::string>{"z_layer"});
  CHECK(offline.findings[0].message == "z_layer at 1");
  CHECK(offline.findings[1].tensors == std::vector<std::string>{"z_layer"});
  CHECK(in_process == offline.findings);
}
