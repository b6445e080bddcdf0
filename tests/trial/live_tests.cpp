// The trial while a job writes: a fixture copied into a temporary directory piece by piece, the
// way smdebug writes it (".tmp" files renamed, the index after its event file, a record cut
// mid-write), refreshing in between. Also late index files, missing event files, corrupt files.
#include <catch2/catch.hpp>

#include <chrono>

#include "tdbg/io/paths.hpp"
#include "tdbg/trial/trial.hpp"
#include "trial_test_util.hpp"

using tdbg::mode;
using tdbg::step_t;
using tdbg::trial::step_state;
using tdbg::trial::trial;
using tdbg::trial::trial_options;
using namespace tdbg_test;

namespace {

const std::vector<step_t> mlp_steps = {0, 5, 8, 12, 17, 24, 29, 31, 36, 40, 45};

std::string event_key(step_t s) { return tdbg::io::event_file_key(s, "worker_0"); }
std::string index_key(step_t s) { return tdbg::io::index_file_key(s, "worker_0"); }
const std::string collections_key = "collections/000000000/worker_0_collections.json";

// Copies one key of a fixture into `dir`, optionally under "<key>.tmp".
void copy_key(const std::string& fixture, const fs::path& dir, const std::string& key,
              bool as_tmp = false) {
  copy_file_to(fixture_dir(fixture) / key, dir / (as_tmp ? key + ".tmp" : key));
}

void rename_tmp(const fs::path& dir, const std::string& key) {
  fs::rename(dir / (key + ".tmp"), dir / key);
}

// Copies a whole fixture step (event then index, as the writer publishes them).
void copy_step(const std::string& fixture, const fs::path& dir, step_t s) {
  copy_key(fixture, dir, event_key(s));
  copy_key(fixture, dir, index_key(s));
}

}  // namespace

TEST_CASE("a trial follows a job step by step", "[trial][live]") {
  temp_dir d;
  const trial reference(fixture_dir("mlp_train_eval"));

  // An empty trial directory: usable at once (smdebug blocks until a collections file exists).
  trial t(d.path);
  CHECK(t.workers().empty());
  CHECK(t.num_workers() == 1);
  CHECK(t.collections().empty());
  CHECK(t.steps().empty());
  CHECK(t.tensor_names().empty());
  CHECK(t.has_passed_step(0) == step_state::not_yet_available);
  CHECK_THROWS_AS(t.tensor("MLP_fc1.weight"), tdbg::tensor_unavailable_error);
  CHECK_FALSE(t.loaded_all_steps());

  // Step 0 being written: both files are still ".tmp" — invisible.
  copy_key("mlp_train_eval", d.path, event_key(0), true);
  copy_key("mlp_train_eval", d.path, index_key(0), true);
  t.refresh();
  CHECK(t.steps().empty());
  // The event file is renamed first: still nothing, the trial is index-driven.
  rename_tmp(d.path, event_key(0));
  t.refresh();
  CHECK(t.steps(mode::global, true).empty());
  CHECK(t.has_passed_step(0) == step_state::not_yet_available);
  // The index is renamed: step 0 appears, without any collections file yet.
  rename_tmp(d.path, index_key(0));
  CHECK(t.steps() == std::vector<step_t>{0});  // automatic refresh
  CHECK(t.workers() == std::vector<std::string>{"worker_0"});  // from the index file names
  CHECK(t.num_workers() == 1);
  CHECK(t.collections().empty());
  CHECK(t.tensor_names({.collection = "weights"}).empty());
  CHECK(t.has_passed_step(0) == step_state::available);
  CHECK(t.tensor("MLP_fc1.weight").value(0) == reference.tensor("MLP_fc1.weight").value(0));
  CHECK(t.mode_modestep(0) == std::pair{mode::train, step_t{0}});

  // The collections file arrives (smdebug writes it at the first forward pass after step 0).
  copy_key("mlp_train_eval", d.path, collections_key, true);
  t.refresh();
  CHECK(t.collections().empty());
  rename_tmp(d.path, collections_key);
  t.refresh();
  CHECK(t.collection("weights") != nullptr);
  CHECK(t.tensor_names({.collection = "weights"}) ==
        std::vector<std::string>{"MLP_fc1.weight", "MLP_fc2.weight", "MLP_out.weight"});

  // Step 5: its event file is published while the last record is still cut (a reader of a
  // non-atomic store, or a truncated copy), with a complete index.
  const std::string full5 = read_file(fixture_dir("mlp_train_eval") / event_key(5));
  write_file(d.path / event_key(5), full5.substr(0, full5.size() - 50));
  copy_key("mlp_train_eval", d.path, index_key(5));
  t.refresh();
  CHECK(t.steps() == std::vector<step_t>{0, 5});
  // The record at the end of the file: "not yet", because the job has not ended.
  const auto last5 = t.tensor("gradient/MLP_fc1.weight");
  CHECK_THROWS_AS(last5.value(5), tdbg::step_not_yet_available_error);
  CHECK_THROWS_WITH(last5.value(5), Catch::Contains("gradient/MLP_fc1.weight") && Catch::Contains("step 5"));
  // Earlier records of the same file read fine.
  CHECK(t.tensor("MLP_fc1.weight").value(5) == reference.tensor("MLP_fc1.weight").value(5));
  // The writer finishes the file: the value is there (nothing was cached).
  write_file(d.path / event_key(5), full5);
  CHECK(last5.value(5) == reference.tensor("gradient/MLP_fc1.weight").value(5));

  // The rest of the job, except the end marker.
  for (step_t s : mlp_steps)
    if (s > 5) copy_step("mlp_train_eval", d.path, s);
  CHECK(t.steps() == mlp_steps);
  CHECK(t.has_passed_step(45) == step_state::available);
  CHECK(t.has_passed_step(46) == step_state::not_yet_available);
  CHECK(t.has_passed_step(3) == step_state::unavailable);  // a later step is complete
  CHECK_THROWS_AS(t.tensor("MLP_fc1.weight").value(46), tdbg::step_not_yet_available_error);
  CHECK_THROWS_AS(t.wait_for_steps({46}, mode::global, std::chrono::milliseconds(30)),
                  tdbg::step_not_yet_available_error);
  CHECK_FALSE(t.loaded_all_steps());
  CHECK(t.last_complete_step() == 45);

  // The end marker: one more refresh, then everything is final.
  write_file(d.path / std::string(tdbg::io::end_marker_key), "");
  CHECK(t.has_passed_step(46) == step_state::unavailable);
  CHECK(t.loaded_all_steps());
  CHECK(t.last_complete_step() == 45);
  CHECK_THROWS_AS(t.tensor("MLP_fc1.weight").value(46), tdbg::step_unavailable_error);
  CHECK_THROWS_AS(t.wait_for_steps({46}), tdbg::no_more_data_error);
  t.wait_for_steps({0, 45});
  CHECK(t.tensor_names() == reference.tensor_names());
  for (mode m : tdbg::all_modes) CHECK(t.steps(m) == reference.steps(m));
}

TEST_CASE("refresh is explicit when auto refresh is off", "[trial][live]") {
  temp_dir d;
  copy_key("mlp_train_eval", d.path, collections_key);
  copy_step("mlp_train_eval", d.path, 0);
  trial t(d.path, trial_options{.auto_refresh = false});
  CHECK_FALSE(t.auto_refresh());
  copy_step("mlp_train_eval", d.path, 5);
  CHECK(t.steps() == std::vector<step_t>{0});
  CHECK_FALSE(t.has_tensor("no/such"));
  t.refresh();
  CHECK(t.steps() == std::vector<step_t>{0, 5});
  t.set_auto_refresh(true);
  copy_step("mlp_train_eval", d.path, 8);
  CHECK(t.steps(mode::eval) == std::vector<step_t>{0});
}

TEST_CASE("index files of earlier steps that appear late are read", "[trial][live]") {
  // smdebug's index token skips index files of steps before the last complete step once that
  // step is complete [quirk §9.2]: step 5 below would never appear there. tdbg reads it.
  temp_dir d;
  copy_key("mlp_train_eval", d.path, collections_key);
  for (step_t s : mlp_steps)
    if (s != 5) copy_step("mlp_train_eval", d.path, s);
  copy_key("mlp_train_eval", d.path, event_key(5));
  trial t(d.path);
  CHECK(t.last_complete_step() == 45);
  CHECK(t.has_passed_step(5) == step_state::unavailable);
  CHECK(t.steps(mode::train) == std::vector<step_t>{0, 10, 15, 20, 25, 30});
  copy_key("mlp_train_eval", d.path, index_key(5));
  CHECK(t.steps() == mlp_steps);
  CHECK(t.steps(mode::train) == std::vector<step_t>{0, 5, 10, 15, 20, 25, 30});
  CHECK(t.has_passed_step(5) == step_state::available);
  CHECK(t.tensor("MLP_fc1.weight").value(5, mode::train) ==
        trial(fixture_dir("mlp_train_eval")).tensor("MLP_fc1.weight").value(5));
}

TEST_CASE("a missing event file is 'not yet' while the job runs", "[trial][live]") {
  temp_dir d;
  copy_key("mlp_train_eval", d.path, collections_key);
  copy_key("mlp_train_eval", d.path, index_key(0));
  {
    const trial t(d.path);
    CHECK_THROWS_AS(t.tensor("MLP_fc1.weight").value(0), tdbg::step_not_yet_available_error);
  }
  write_file(d.path / std::string(tdbg::io::end_marker_key), "");
  const trial t(d.path);
  CHECK(t.loaded_all_steps());
  CHECK_THROWS_AS(t.tensor("MLP_fc1.weight").value(0), tdbg::tensor_unavailable_for_step_error);
  CHECK_THROWS_WITH(t.tensor("MLP_fc1.weight").value(0),
                    Catch::Contains("000000000000_worker_0.tfevents") && Catch::Contains("MLP_fc1.weight"));
}

TEST_CASE("a cut record after the job ended is a format_error naming file and offset", "[trial][live]") {
  temp_dir d;
  fs::copy(fixture_dir("in_progress"), d.path, fs::copy_options::recursive);
  {
    // Before the end: "not yet" (smdebug: struct.error / IndexError).
    const trial t(d.path);
    CHECK_THROWS_AS(t.tensor("MLP_out.weight").value(45), tdbg::step_not_yet_available_error);
  }
  write_file(d.path / std::string(tdbg::io::end_marker_key), "");
  const trial t(d.path);
  CHECK_THROWS_AS(t.tensor("MLP_out.weight").value(45), tdbg::format_error);
  CHECK_THROWS_WITH(t.tensor("MLP_out.weight").value(45),
                    Catch::Contains("000000000045_worker_0.tfevents") && Catch::Contains("offset 5280") &&
                        Catch::Contains("MLP_out.weight") && Catch::Contains("step 45"));
  // A record wholly past the end of the file: the same.
  CHECK_THROWS_AS(t.tensor("MLP_out.bias").value(45), tdbg::format_error);
  // Records before the cut are intact.
  CHECK(sha256_hex(t.tensor("MLP_fc1.weight").value(45)) ==
        "d6bc36a7f760312a05fc9f55eead3bb500513c9442c90766ec8d75a30e31ef48");
}

TEST_CASE("corrupt index files are reported, naming the file", "[trial][live]") {
  temp_dir d;
  fs::copy(fixture_dir("mlp_train_eval"), d.path, fs::copy_options::recursive);
  write_file(d.path / index_key(5), "{\"meta\": {\"mode\": \"TRAIN\"");
  CHECK_THROWS_AS(trial(d.path), tdbg::index_reader_error);
  CHECK_THROWS_WITH(trial(d.path), Catch::Contains("000000000005_worker_0.json"));

  // Opting in to skipping: the other files stay readable and the error is kept.
  const trial t(d.path, trial_options{.skip_corrupt_index_files = true});
  REQUIRE(t.index_errors().size() == 1);
  CHECK_THAT(t.index_errors()[0], Catch::Contains("000000000005_worker_0.json"));
  CHECK(t.steps() == std::vector<step_t>{0, 8, 12, 17, 24, 29, 31, 36, 40, 45});
  CHECK(t.tensor("MLP_fc1.weight").value(0).shape() == tdbg::shape_t{32, 20});
}

TEST_CASE("a corrupt index file met by a later refresh is thrown once", "[trial][live]") {
  temp_dir d;
  copy_key("mlp_train_eval", d.path, collections_key);
  copy_step("mlp_train_eval", d.path, 0);
  trial t(d.path);
  write_file(d.path / index_key(5), "[1, 2");
  copy_step("mlp_train_eval", d.path, 8);
  CHECK_THROWS_AS(t.refresh(), tdbg::index_reader_error);
  // The good file of the same refresh was read; the bad one is not re-read.
  CHECK(t.steps() == std::vector<step_t>{0, 8});
  CHECK(t.index_errors().size() == 1);
  // An index file name without step and worker is corrupt too; other names are ignored.
  write_file(d.path / "index/000000000/garbage.json", "{}");
  write_file(d.path / "index/000000000/notes.txt", "ignored");
  CHECK_THROWS_WITH(t.refresh(), Catch::Contains("garbage.json"));
  CHECK(t.index_errors().size() == 2);
  t.refresh();
}

TEST_CASE("index entries must match their records", "[trial][live]") {
  temp_dir d;
  fs::copy(fixture_dir("mlp_train_eval"), d.path, fs::copy_options::recursive);
  auto j = nlohmann::json::parse(read_file(d.path / index_key(0)));
  // Point MLP_fc1.weight at the record of MLP_fc1.bias: the tag check catches it.
  auto& payload = j["tensor_payload"];
  REQUIRE(payload[0]["tensorname"] == "MLP_fc1.weight");
  REQUIRE(payload[1]["tensorname"] == "MLP_fc1.bias");
  std::swap(payload[0]["tensorname"], payload[1]["tensorname"]);
  write_file(d.path / index_key(0), j.dump());
  // A wrong length.
  auto j5 = nlohmann::json::parse(read_file(d.path / index_key(5)));
  REQUIRE(j5["tensor_payload"][0]["tensorname"] == "MLP_fc1.weight");
  j5["tensor_payload"][0]["length"] = j5["tensor_payload"][0]["length"].get<int>() - 4;
  write_file(d.path / index_key(5), j5.dump());
  // An event file path leaving the trial.
  auto j8 = nlohmann::json::parse(read_file(d.path / index_key(8)));
  j8["meta"]["event_file_name"] = "../../../etc/passwd";
  write_file(d.path / index_key(8), j8.dump());

  const trial t(d.path, trial_options{.skip_corrupt_index_files = true});
  CHECK_THROWS_AS(t.tensor("MLP_fc1.weight").value(0), tdbg::format_error);
  CHECK_THROWS_WITH(t.tensor("MLP_fc1.weight").value(0),
                    Catch::Contains("tag 'MLP_fc1.bias'") && Catch::Contains("MLP_fc1.weight") &&
                        Catch::Contains("offset 2692"));
  CHECK_THROWS_AS(t.tensor("MLP_fc1.weight").value(5), tdbg::format_error);
  CHECK_THROWS_WITH(t.tensor("MLP_fc1.weight").value(5), Catch::Contains("step 5"));
  REQUIRE(t.index_errors().size() == 1);
  CHECK_THAT(t.index_errors()[0], Catch::Contains("000000000008_worker_0.json") && Catch::Contains("etc/passwd"));
  CHECK(t.has_passed_step(8) == step_state::unavailable);
}

TEST_CASE("a finished job without collections files", "[trial][live]") {
  temp_dir d;
  copy_step("mlp_train_eval", d.path, 0);
  {
    const trial t(d.path);  // still running: usable
    CHECK(t.steps() == std::vector<step_t>{0});
  }
  write_file(d.path / std::string(tdbg::io::end_marker_key), "");
  CHECK_THROWS_AS(trial(d.path), tdbg::missing_collection_files_error);
}

TEST_CASE("the end marker triggers a second refresh after the configured delay", "[trial][live]") {
  temp_dir d;
  fs::copy(fixture_dir("mlp_train_eval"), d.path, fs::copy_options::recursive);
  const auto start = std::chrono::steady_clock::now();
  const trial t(d.path, trial_options{.end_refresh_delay = std::chrono::milliseconds(40)});
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(40));
  CHECK(t.loaded_all_steps());
}
