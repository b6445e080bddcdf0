// Several workers writing one trial (spec §10), built with the io layer in a memory backend:
// two workers, one lagging. Completeness, has_passed_step, the default worker, invalid workers,
// and tensor.steps() without smdebug's completeness bugs (§9.6).
#include <catch2/catch.hpp>

#include <array>
#include <memory>

#include "tdbg/io/collections_file.hpp"
#include "tdbg/io/event.hpp"
#include "tdbg/io/index_file.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/io/tfrecord.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"

using tdbg::mode;
using tdbg::step_t;
using tdbg::storage::memory_backend;
using tdbg::trial::step_state;
using tdbg::trial::trial;

namespace {

// "worker_10" sorts before "worker_2": the default worker is worker_10.
const std::string w_a = "worker_10";
const std::string w_b = "worker_2";

// A worker's value of "w" at a global step: 4 floats that identify both.
std::array<float, 4> value_of(const std::string& worker, step_t g) {
  const float base = worker == w_a ? 100.0f : 200.0f;
  const float s = static_cast<float>(g);
  return {base + s, base + s + 0.25f, base + s + 0.5f, base + s + 0.75f};
}

// Writes one saved step of one worker the way the hook does: event file, then index file.
// "w" is saved raw; "g" only as reductions and a shape (reduction-only collection).
void write_step(memory_backend& b, const std::string& worker, step_t g, mode m, step_t ms) {
  std::vector<std::byte> events;
  tdbg::io::index_file idx;
  idx.mode = m;
  idx.mode_step = ms;
  idx.event_file_name = tdbg::io::event_file_key(g, worker);
  auto add = [&](const std::string& tag, const tdbg::tensor_ref& v) {
    std::vector<std::byte> payload;
    tdbg::io::encode_tensor_event(payload, 1.0e9, g, tag, v, m, ms);
    const auto start = events.size();
    tdbg::io::append_record(events, payload);
    idx.tensor_payload.push_back({tag, start, events.size() - start});
  };
  const auto w = value_of(worker, g);
  const std::array<std::int64_t, 1> shape{4};
  add("w", tdbg::make_tensor_ref(std::span<const float>(w), shape));
  if (m == mode::train) {
    const float mean = static_cast<float>(g) / 10.0f;
    const std::array<std::int64_t, 0> scalar{};
    add(tdbg::io::reduction_tensor_name("g", {tdbg::reduction_op::mean, false}),
        tdbg::make_tensor_ref(std::span<const float>(&mean, 1), scalar));
    idx.shape_payload.push_back({"g", "g", {3, 2}});
  }
  b.put(tdbg::io::event_file_key(g, worker), events);
  const std::string json = tdbg::io::to_json(idx);
  b.put(tdbg::io::index_file_key(g, worker),
        std::as_bytes(std::span<const char>(json.data(), json.size())));
}

void write_collections(memory_backend& b, const std::string& worker) {
  tdbg::io::collections_file f;
  f.num_workers = 2;
  tdbg::io::collection_record weights;
  weights.name = "weights";
  weights.include_regex = {"^w$"};
  tdbg::io::collection_record grads;
  grads.name = "grads";
  grads.tensor_names = {"g"};
  grads.reduction_config = tdbg::io::reduction_config_record{false, "mean", true};
  f.collections = {weights, grads};
  const std::string json = tdbg::io::to_json(f);
  b.put(tdbg::io::collections_file_key(worker), std::as_bytes(std::span<const char>(json.data(), json.size())));
}

std::vector<float> floats(const tdbg::tensor& t) {
  const auto v = t.values<float>();
  return {v.begin(), v.end()};
}

std::vector<float> floats(const std::array<float, 4>& a) { return {a.begin(), a.end()}; }

}  // namespace

TEST_CASE("two workers, one lagging", "[trial][workers]") {
  auto b = std::make_shared<memory_backend>();
  // Global steps: 0 (TRAIN 0), 1 (TRAIN 1), 2 (EVAL 0), 3 (EVAL 1).
  const std::array<std::pair<mode, step_t>, 4> plan{{{mode::train, 0}, {mode::train, 1}, {mode::eval, 0}, {mode::eval, 1}}};
  for (step_t g = 0; g < 4; ++g) write_step(*b, w_a, g, plan[g].first, plan[g].second);
  for (step_t g = 0; g < 2; ++g) write_step(*b, w_b, g, plan[g].first, plan[g].second);

  trial t(b);
  // No collections file yet: num_workers comes from the index file names.
  CHECK(t.collections().empty());
  CHECK(t.num_workers() == 2);
  CHECK(t.workers() == std::vector<std::string>{w_a, w_b});

  write_collections(*b, w_a);
  write_collections(*b, w_b);
  t.refresh();
  CHECK(t.num_workers() == 2);
  CHECK(t.workers() == std::vector<std::string>{w_a, w_b});
  CHECK(t.tensor_names({.collection = "weights"}) == std::vector<std::string>{"w"});
  CHECK(t.tensor_names({.collection = "grads"}) == std::vector<std::string>{"g"});
  CHECK(t.tensor_names() == std::vector<std::string>{"g", "w"});

  // Completeness: steps 2 and 3 lack worker_2.
  CHECK(t.last_complete_step() == 1);
  CHECK(t.steps() == std::vector<step_t>{0, 1});
  CHECK(t.steps(mode::global, true) == std::vector<step_t>{0, 1, 2, 3});
  CHECK(t.steps(mode::train) == std::vector<step_t>{0, 1});
  CHECK(t.steps(mode::eval).empty());
  CHECK(t.steps(mode::eval, true) == std::vector<step_t>{0, 1});
  CHECK(t.has_passed_step(1) == step_state::available);
  CHECK(t.has_passed_step(2) == step_state::not_yet_available);
  CHECK(t.has_passed_step(0, mode::eval) == step_state::not_yet_available);
  CHECK(t.has_passed_step(4) == step_state::not_yet_available);

  // tensor.steps uses the same completeness. smdebug's reader returns [0, 1] for
  // tensor('w').steps(mode=EVAL) here, because its filter compares a list of workers with an
  // int (always false) and the EVAL mode steps 0, 1 with the global last_complete_step 1 [§9.6].
  const auto w = t.tensor("w");
  CHECK(w.steps(mode::eval).empty());
  CHECK(w.steps(mode::eval, true) == std::vector<step_t>{0, 1});
  CHECK(w.steps() == std::vector<step_t>{0, 1});
  CHECK(w.steps(mode::global, true) == std::vector<step_t>{0, 1, 2, 3});
  CHECK(w.prev_steps(3) == std::vector<step_t>{0, 1});
  CHECK(w.prev_steps(1, 1) == std::vector<step_t>{1});

  // Values: the default worker is the lexicographically smallest; each worker's own value.
  CHECK(floats(w.value(0)) == floats(value_of(w_a, 0)));
  CHECK(floats(w.value(0, mode::global, w_b)) == floats(value_of(w_b, 0)));
  CHECK(floats(w.value(1, mode::train, w_b)) == floats(value_of(w_b, 1)));
  CHECK(w.workers(0) == std::vector<std::string>{w_a, w_b});
  // An incomplete step is still returned for the worker that has it.
  CHECK(floats(w.value(2)) == floats(value_of(w_a, 2)));
  CHECK(floats(w.value(0, mode::eval)) == floats(value_of(w_a, 2)));
  CHECK(w.workers(2) == std::vector<std::string>{w_a});
  CHECK_THROWS_AS(w.value(2, mode::global, w_b), tdbg::invalid_worker_error);
  CHECK_THROWS_WITH(w.value(2, mode::global, w_b),
                    Catch::Contains(w_b) && Catch::Contains("'w'") && Catch::Contains("step 2"));
  CHECK_THROWS_AS(w.value(0, mode::global, "worker_99"), tdbg::invalid_worker_error);
  CHECK_THROWS_AS(w.value(4), tdbg::step_not_yet_available_error);

  // A reduction-only tensor: shape and stored reductions, no value.
  const auto gt = t.tensor("g");
  CHECK(gt.shape(1, mode::global, w_b) == tdbg::shape_t{3, 2});
  CHECK_THROWS_AS(gt.value(1), tdbg::tensor_unavailable_for_step_error);
  CHECK(gt.reduction_value(1, "mean").as_double(0) == Approx(0.1));
  CHECK_THROWS_WITH(gt.reduction_value(1, "max"), Catch::Contains("max") && Catch::Contains("'g'"));
  // Computed from the raw value when not stored (sample variance of 4 values 0.25 apart).
  CHECK(w.reduction_value(0, {tdbg::reduction_op::variance, false}).as_double(0) ==
        Approx(0.25 * 0.25 * 5.0 / 3.0));
  CHECK(w.reduction_values(0).empty());
  const auto stored = gt.reduction_values(0, mode::global, w_b);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].first == tdbg::reduction{tdbg::reduction_op::mean, false});

  // stored_steps: sorted by global step, then worker.
  std::vector<std::pair<step_t, std::string>> listed;
  for (const auto& s : w.stored_steps()) listed.emplace_back(s.global_step, s.worker);
  CHECK(listed == std::vector<std::pair<step_t, std::string>>{
                      {0, w_a}, {0, w_b}, {1, w_a}, {1, w_b}, {2, w_a}, {3, w_a}});
  const auto gs = gt.stored_steps();
  REQUIRE(gs.size() == 4);
  CHECK_FALSE(gs[0].has_value);
  CHECK(gs[0].shape == tdbg::shape_t{3, 2});
  CHECK(gs[0].mode == mode::train);

  // The lagging worker catches up with step 2.
  write_step(*b, w_b, 2, mode::eval, 0);
  CHECK(t.steps() == std::vector<step_t>{0, 1, 2});
  CHECK(t.last_complete_step() == 2);
  CHECK(t.has_passed_step(0, mode::eval) == step_state::available);
  CHECK(t.has_passed_step(1, mode::eval) == step_state::not_yet_available);

  // The job ends (every worker writes the marker): all steps complete.
  b->put(tdbg::io::end_marker_key, {});
  CHECK(t.steps() == std::vector<step_t>{0, 1, 2, 3});
  CHECK(t.loaded_all_steps());
  CHECK(t.last_complete_step() == 3);
  CHECK(t.has_passed_step(1, mode::eval) == step_state::available);
  CHECK(t.has_passed_step(4) == step_state::unavailable);
  CHECK(w.steps(mode::eval) == std::vector<step_t>{0, 1});
  CHECK_THROWS_AS(w.value(3, mode::global, w_b), tdbg::invalid_worker_error);
  CHECK_THROWS_AS(t.wait_for_steps({4}), tdbg::no_more_data_error);
}

TEST_CASE("a finished multi-worker job with a missing collections file", "[trial][workers]") {
  auto b = std::make_shared<memory_backend>();
  write_step(*b, w_a, 0, mode::train, 0);
  write_step(*b, w_b, 0, mode::train, 0);
  write_collections(*b, w_a);  // says num_workers = 2, but worker_2's file is missing
  b->put(tdbg::io::end_marker_key, {});
  CHECK_THROWS_AS(trial(b), tdbg::missing_collection_files_error);
  write_collections(*b, w_b);
  const trial t(b);
  CHECK(t.workers() == std::vector<std::string>{w_a, w_b});
}

TEST_CASE("objects not yet committed to a memory backend are invisible to the trial", "[trial][workers]") {
  auto b = std::make_shared<memory_backend>();
  write_collections(*b, w_a);
  auto pending = b->create(tdbg::io::index_file_key(7, w_a));
  const trial t(b);
  CHECK(t.steps(mode::global, true).empty());
  CHECK(t.has_passed_step(7) == step_state::not_yet_available);
  CHECK_THROWS_AS(trial(std::shared_ptr<tdbg::storage::backend>{}), tdbg::usage_error);
}
