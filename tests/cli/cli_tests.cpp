// The tdbg CLI, run as a separate process like a user runs it: JSON contracts checked against
// smdebug's own answers (expected.json of each fixture), human output against a golden file,
// exit codes and error messages.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct run_result {
  int code = -1;
  std::string out;
  std::string err;
};

run_result run(const std::string& args) {
  const fs::path err_file = fs::path(TDBG_TEST_BINARY_DIR) / "stderr.txt";
  const std::string cmd = std::string(TDBG_CLI) + " " + args + " 2>" + err_file.string();
  run_result r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

std::string fixture(const std::string& name) { return std::string(TDBG_TEST_DATA) + "/smdebug/" + name; }

json expected(const std::string& name) {
  std::ifstream in(fixture(name) + "/expected.json");
  return json::parse(in);
}

std::string q(const std::string& s) { return "'" + s + "'"; }

const char* const fixtures[] = {"mlp_train_eval", "reductions_only", "in_progress", "in_progress_live"};

}  // namespace

TEST_CASE("tdbg ls --json follows the tdbg.ls/1 contract and agrees with smdebug", "[cli]") {
  for (const std::string name : fixtures) {
    INFO("fixture " << name);
    const auto r = run("ls --json " + q(fixture(name)));
    REQUIRE(r.code == 0);
    const json got = json::parse(r.out);
    const json exp = expected(name)["trial"];
    CHECK(got["format"] == "tdbg.ls/1");
    CHECK(got["complete"] == exp["loaded_all_steps_at_end"]);
    CHECK(got["workers"] == exp["workers"]);
    CHECK(got["tensors"] == exp["tensor_names"]);
    CHECK(got["collections"] == exp["tensor_names_by_collection"]);
    for (const char* m : {"GLOBAL", "TRAIN", "EVAL", "PREDICT"}) CHECK(got["steps"][m] == exp["steps"][m]);
    for (const char* m : {"TRAIN", "EVAL", "PREDICT"}) {
      const json e = exp["mode_step_to_global"].contains(m) ? exp["mode_step_to_global"][m] : json::object();
      CHECK(got["mode_step_to_global"][m] == e);
    }
    // key order is part of the contract
    std::vector<std::string> keys;
    for (auto it = got.begin(); it != got.end(); ++it) keys.push_back(it.key());
    std::vector<std::string> sorted_keys = {"collections", "complete", "format", "mode_step_to_global", "steps",
                                            "tensors", "workers"};
    CHECK(keys == sorted_keys);  // nlohmann sorts keys: the set of keys is exact
    CHECK(r.out.rfind("{\"format\": \"tdbg.ls/1\", \"complete\": ", 0) == 0);
  }
}

TEST_CASE("tdbg values --json returns every value smdebug returns, with the same digests", "[cli]") {
  for (const std::string name : fixtures) {
    INFO("fixture " << name);
    const json exp = expected(name);
    std::map<std::string, std::vector<json>> by_tensor;
    for (const auto& v : exp["all_values"])
      if (!v.contains("value_raises")) by_tensor[v["tensor"]].push_back(v);  // raw values only
    REQUIRE(!by_tensor.empty());
    for (const auto& [tensor, values] : by_tensor) {
      INFO("tensor " << tensor);
      const auto r = run("values --json --no-data " + q(fixture(name)) + " " + q(tensor));
      REQUIRE(r.code == 0);
      const json got = json::parse(r.out);
      CHECK(got["format"] == "tdbg.values/1");
      CHECK(got["tensor"] == tensor);
      REQUIRE(got["values"].size() == values.size());
      for (std::size_t i = 0; i < values.size(); ++i) {
        const auto& g = got["values"][i];
        const auto& e = values[i];
        CHECK(g["global_step"] == e["global_step"]);
        CHECK(g["mode"] == e["mode"]);
        CHECK(g["mode_step"] == e["mode_step"]);
        CHECK(g["worker"] == e["worker"]);
        // smdebug reports numpy's "str" for string tensors; tdbg's dtype name is "string".
        CHECK(g["dtype"] == (e["dtype"] == "str" ? json("string") : e["dtype"]));
        CHECK(g["shape"] == e["shape"]);
        CHECK(g["sha256"] == e["sha256"]);
        CHECK(!g.contains("data"));
      }
    }
  }
}

TEST_CASE("tdbg values data is the flat C-order value", "[cli]") {
  const json exp = expected("mlp_train_eval");
  for (const auto& s : exp["samples"]) {
    if (s["mode"] != "GLOBAL" || !s.contains("first") || s["dtype"] != "float32") continue;
    const std::string tensor = s["tensor"];
    const int step = s["step"];
    INFO(tensor << " @ " << step);
    const auto r = run("values --json " + q(fixture("mlp_train_eval")) + " " + q(tensor) + " --step " +
                       std::to_string(step));
    REQUIRE(r.code == 0);
    const json got = json::parse(r.out);
    REQUIRE(got["values"].size() == 1);
    const auto& data = got["values"][0]["data"];
    const auto& first = s["first"];
    REQUIRE(data.size() >= first.size());
    for (std::size_t i = 0; i < first.size(); ++i)
      CHECK(static_cast<float>(data[i].get<double>()) == static_cast<float>(first[i].get<double>()));
    double sum = 0;
    for (const auto& x : data) sum += static_cast<float>(x.get<double>());
    CHECK(sum == Approx(s["sum_f64"].get<double>()).epsilon(1e-6));
  }
  // strings and bools keep their JSON types
  const auto r = run("values --json " + q(fixture("mlp_train_eval")) + " custom/note --step 0");
  REQUIRE(r.code == 0);
  const json got = json::parse(r.out);
  REQUIRE(got["values"].size() == 1);
  CHECK(got["values"][0]["data"] == json::array({"train", "step", "0"}));
  const auto m = run("values --json " + q(fixture("mlp_train_eval")) + " custom/mask --step 0");
  REQUIRE(m.code == 0);
  const json mask = json::parse(m.out);
  REQUIRE(mask["values"].size() == 1);
  REQUIRE(!mask["values"][0]["data"].empty());
  for (const auto& x : mask["values"][0]["data"]) CHECK(x.is_boolean());
}

TEST_CASE("tdbg values filters by mode, mode step and worker", "[cli]") {
  const auto f = q(fixture("mlp_train_eval"));
  auto got = json::parse(run("values --json --no-data " + f + " MLP_fc1.weight --mode EVAL").out);
  REQUIRE(got["values"].size() == 2);
  CHECK(got["values"][0]["global_step"] == 8);
  CHECK(got["values"][1]["global_step"] == 29);
  got = json::parse(run("values --json --no-data " + f + " MLP_fc1.weight --mode TRAIN --step 30").out);
  REQUIRE(got["values"].size() == 1);
  CHECK(got["values"][0]["global_step"] == 36);
  got = json::parse(run("values --json --no-data " + f + " MLP_fc1.weight --step 36").out);
  REQUIRE(got["values"].size() == 1);
  CHECK(got["values"][0]["mode_step"] == 30);
  got = json::parse(run("values --json --no-data " + f + " MLP_fc1.weight --worker worker_0 --step 1").out);
  CHECK(got["values"].empty());
  const auto bad_worker = run("values " + f + " MLP_fc1.weight --worker worker_9");
  CHECK(bad_worker.code == 2);
  CHECK(bad_worker.err.find("worker_9") != std::string::npos);
}

TEST_CASE("tdbg exit codes: 2 for usage errors, 3 for data errors, one line on stderr", "[cli]") {
  const auto none = run("");
  CHECK(none.code == 2);
  const auto unknown = run("frobnicate");
  CHECK(unknown.code == 2);
  const auto bad_mode = run("values " + q(fixture("mlp_train_eval")) + " MLP_fc1.weight --mode SIDEWAYS");
  CHECK(bad_mode.code == 2);
  CHECK(bad_mode.err.find("SIDEWAYS") != std::string::npos);
  const auto bad_step = run("values " + q(fixture("mlp_train_eval")) + " MLP_fc1.weight --step x");
  CHECK(bad_step.code == 2);

  const auto missing = run("ls /nonexistent/trial/dir");
  CHECK(missing.code == 3);
  CHECK(missing.err.find("/nonexistent/trial/dir") != std::string::npos);
  CHECK(std::count(missing.err.begin(), missing.err.end(), '\n') == 1);
  const auto no_tensor = run("values " + q(fixture("mlp_train_eval")) + " no/such/tensor");
  CHECK(no_tensor.code == 3);
  CHECK(no_tensor.err.find("no/such/tensor") != std::string::npos);
}

TEST_CASE("tdbg reports an unreadable file as a data error naming it", "[cli]") {
  const fs::path dir = fs::path(TDBG_TEST_BINARY_DIR) / "corrupt_trial";
  fs::remove_all(dir);
  fs::copy(fixture("mlp_train_eval"), dir, fs::copy_options::recursive);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add);
  // Flip a byte inside the length CRC of the first record of step 5.
  const fs::path ev = dir / "events/000000000005/000000000005_worker_0.tfevents";
  fs::permissions(ev, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(ev, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(9);
    f.put('\x7f');
  }
  const auto r = run("values --json " + q(dir.string()) + " MLP_fc1.weight --step 5");
  CHECK(r.code == 3);
  CHECK(r.err.find("000000000005_worker_0.tfevents") != std::string::npos);
  // Other steps still read.
  CHECK(run("values --json " + q(dir.string()) + " MLP_fc1.weight --step 0").code == 0);
  fs::remove_all(dir);
}

TEST_CASE("tdbg ls human output matches the approved golden file", "[cli]") {
  const auto r = run("ls " + q(fixture("mlp_train_eval")));
  REQUIRE(r.code == 0);
  // The trial path is printed as given; make it stable.
  std::string out = r.out;
  const std::string path = fixture("mlp_train_eval");
  for (auto pos = out.find(path); pos != std::string::npos; pos = out.find(path)) out.replace(pos, path.size(), "TRIAL");
  const fs::path golden = fs::path(TDBG_TEST_SOURCE_DIR) / "golden/ls_mlp_train_eval.txt";
  std::ifstream in(golden);
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str() != out) {
    std::ofstream(fs::path(TDBG_TEST_BINARY_DIR) / "ls_mlp_train_eval.received.txt") << out;
  }
  CHECK(ss.str() == out);
}
