// `tdbg check`, `tdbg rules` and `tdbg watch`, run as separate processes like a user runs them,
// over trials written by tdbg's hook (tdbg_train_program, train_program.cpp): exit codes, JSON
// lines, golden human output and diagnostics; a watch that stops a training running in another
// process; in-process rules (attach) equal to `tdbg check`; the hook's stop-request polling.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tdbg/collect/config.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/storage/memory.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct result {
  int code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string rules_dir() { return TDBG_RULES_DIR; }
std::string rule(const std::string& stem) { return rules_dir() + "/" + stem + ".rule"; }

/// A fresh directory under the test's binary directory.
fs::path scratch(const std::string& name) {
  const fs::path p = fs::path(TDBG_TEST_BINARY_DIR) / "rule_cli" / name;
  fs::remove_all(p);
  fs::create_directories(p.parent_path());
  return p;
}

/// Runs a shell command line; `env` is prepended (e.g. "TDBG_RULES_PATH=x").
result sh(const std::string& cmdline) {
  static int n = 0;
  const fs::path dir = fs::path(TDBG_TEST_BINARY_DIR) / "rule_cli";
  fs::create_directories(dir);
  const fs::path out = dir / ("out" + std::to_string(++n) + ".txt");
  const fs::path err = dir / ("err" + std::to_string(n) + ".txt");
  const std::string full = cmdline + " >" + q(out.string()) + " 2>" + q(err.string());
  const int status = std::system(full.c_str());
  result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

/// `tdbg ARGS` with TDBG_RULES_PATH unset (the build-tree tool finds the source tree's rules/).
result run_tdbg(const std::string& args) { return sh("env -u TDBG_RULES_PATH " + std::string(TDBG_CLI) + " " + args); }

/// Writes a trial with the training program; returns its stdout lines as JSON.
std::vector<json> train(const fs::path& dir, const std::string& args) {
  const auto r = sh(std::string(TDBG_TRAIN_PROGRAM) + " " + q(dir.string()) + " " + args);
  INFO(r.err);
  REQUIRE(r.code == 0);
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.push_back(json::parse(l));
  return lines;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    INFO(l);
    out.push_back(json::parse(l));
  }
  return out;
}

/// A child process running a shell command line (stdout/stderr to files); killed if still
/// running when destroyed.
class background {
 public:
  explicit background(const std::string& cmdline) {
    std::string sh = "/bin/sh", c = "-c", cmd = cmdline;
    char* argv[] = {sh.data(), c.data(), cmd.data(), nullptr};
    REQUIRE(posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, argv, environ) == 0);
  }
  ~background() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  background(const background&) = delete;
  background& operator=(const background&) = delete;

  /// The exit code, or -1 if it did not end within `limit`.
  int wait(std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

/// The trial path in outputs, replaced for golden comparisons.
std::string normalize(std::string text, const std::string& trial, const std::string& what) {
  for (std::size_t p; (p = text.find(trial)) != std::string::npos;) text.replace(p, trial.size(), what);
  return text;
}

void check_golden(const std::string& name, const std::string& got) {
  const fs::path golden = fs::path(TDBG_TEST_SOURCE_DIR) / "golden" / name;
  if (std::getenv("TDBG_UPDATE_GOLDEN")) {
    std::ofstream(golden, std::ios::binary) << got;
    return;
  }
  INFO("golden file " << golden << " (TDBG_UPDATE_GOLDEN=1 rewrites it)");
  CHECK(got == slurp(golden));
}

/// The fields of a finding that both sides report.
json finding_fields(const json& f) {
  return {{"rule", f["rule"]},       {"step", f["step"]},         {"mode", f["mode"]},
          {"mode_step", f["mode_step"]}, {"worker", f["worker"]}, {"tensors", f["tensors"]},
          {"values", f["values"]},   {"thresholds", f["thresholds"]}, {"message", f["message"]}};
}

}  // namespace

// ---- tdbg check --------------------------------------------------------------------------

TEST_CASE("tdbg check: exit codes, findings and summary", "[cli][check]") {
  const auto dir = scratch("check_basic");
  train(dir, "--steps 30 --vanish-at 20 --loss-flat-at 8");
  const std::string t = q(dir.string());

  SECTION("a rule fires: exit 1, JSON lines, one finding per fired step, then the summary") {
    const auto r = run_tdbg("check " + t + " " + q(rule("vanishing_gradient")) + " " + q(rule("loss_not_decreasing")) +
                        " --json");
    INFO(r.err);
    REQUIRE(r.code == 1);
    const auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 10 + 1 + 1);  // vanishing 20..29, loss_not_decreasing at 20, summary
    std::vector<std::pair<std::string, int>> fired;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
      const auto& f = lines[i];
      CHECK(f["type"] == "finding");
      fired.emplace_back(f["rule"], f["step"]);
      CHECK(f["mode"] == "TRAIN");
      CHECK(f["mode_step"] == f["step"]);
      if (f["rule"] == "vanishing_gradient") {
        CHECK(f["worker"] == "");  // not worker-specific: the rule reads every worker
        CHECK(f["tensor"] == "gradient/fc1.weight");
        CHECK(f["value"].get<double>() == Approx(1e-9));
        CHECK(f["threshold"] == 1e-7);
        CHECK(f["tensors"] == json({"gradient/fc1.weight", "gradient/fc2.weight"}));
        CHECK(f["message"].get<std::string>().find("gradient/fc1.weight: mean |gradient|") == 0);
      }
    }
    CHECK(fired.front() == std::pair<std::string, int>{"vanishing_gradient", 20});
    CHECK(fired[1] == std::pair<std::string, int>{"loss_not_decreasing", 20});
    CHECK(fired.back() == std::pair<std::string, int>{"vanishing_gradient", 29});
    const json& s = lines.back();
    CHECK(s["type"] == "summary");
    CHECK(s["complete"] == true);
    CHECK(s["steps"] == 30);
    CHECK(s["exit_code"] == 1);
    REQUIRE(s["rules"].size() == 2);
    CHECK(s["rules"][0] == json({{"rule", "vanishing_gradient"}, {"status", "IssuesFound"}, {"evaluated", 30},
                                 {"fired", 10}, {"ok", 20}, {"insufficient_data", 0}, {"findings", 10},
                                 {"first_fired", 20}}));
    CHECK(s["rules"][1]["status"] == "IssuesFound");
    CHECK(s["rules"][1]["insufficient_data"] == 1);  // step 0: no loss 10 steps back
    // key order is part of the contract
    CHECK(r.out.rfind("{\"type\": \"finding\", \"rule\": \"vanishing_gradient\", \"step\": 20, \"mode\": \"TRAIN\", "
                      "\"mode_step\": 20, \"worker\": \"\", \"tensor\": ",
                      0) == 0);
    check_golden("check_vanishing.jsonl", normalize(r.out, dir.string(), "<TRIAL>"));
  }

  SECTION("human output: one line per finding, a summary table") {
    const auto r = run_tdbg("check " + t + " vanishing_gradient loss_not_decreasing --start-step 18 --end-step 23");
    REQUIRE(r.code == 1);
    check_golden("check_vanishing.txt", normalize(r.out, dir.string(), "<TRIAL>"));
  }

  SECTION("no rule fires: exit 0") {
    const auto r = run_tdbg("check " + t + " vanishing_gradient --param vanishing_gradient.threshold=1e-10 --json");
    REQUIRE(r.code == 0);
    const auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["rules"][0]["status"] == "NoIssuesFound");
    CHECK(lines[0]["exit_code"] == 0);
  }

  SECTION("--end-step is exclusive, --start-step inclusive") {
    auto r = run_tdbg("check " + t + " vanishing_gradient --end-step 20 --json");
    CHECK(r.code == 0);
    CHECK(json_lines(r.out).back()["rules"][0]["evaluated"] == 20);
    r = run_tdbg("check " + t + " vanishing_gradient --start-step 20 --end-step 21 --json");
    CHECK(r.code == 1);
    const auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0]["step"] == 20);
    CHECK(lines[1]["rules"][0]["evaluated"] == 1);
    r = run_tdbg("check " + t + " vanishing_gradient --start-step 21 --end-step 20");
    CHECK(r.code == 2);
    CHECK(r.err.find("--end-step 20 is before --start-step 21") != std::string::npos);
  }

  SECTION("--param overrides are routed to the file declaring the rule") {
    const auto r = run_tdbg("check " + t + " loss_not_decreasing vanishing_gradient --json"
                        " --param loss_not_decreasing.num_steps=5 --param vanishing_gradient.threshold=1e-10");
    REQUIRE(r.code == 1);
    const auto lines = json_lines(r.out);
    const json& s = lines.back();
    CHECK(s["rules"][0]["rule"] == "loss_not_decreasing");
    CHECK(s["rules"][0]["evaluated"] == 6);  // every 5 steps: 0, 5, ..., 25
    CHECK(s["rules"][0]["first_fired"] == 15);
    CHECK(s["rules"][1]["status"] == "NoIssuesFound");
  }
}

TEST_CASE("tdbg check: usage, rule-file and data errors", "[cli][check]") {
  const auto dir = scratch("check_errors");
  train(dir, "--steps 5");
  const std::string t = q(dir.string());

  SECTION("a bad --param: exit 2 with a positioned diagnostic") {
    auto r = run_tdbg("check " + t + " vanishing_gradient --param nope.threshold=1");
    CHECK(r.code == 2);
    CHECK(r.err.find("--param:1:1: error: unknown rule 'nope'\nnope.threshold=1\n^\n") != std::string::npos);
    r = run_tdbg("check " + t + " vanishing_gradient --param vanishing_gradient.threshold=abc");
    CHECK(r.code == 2);
    CHECK(r.err.find("--param:1:30: error: parameter 'threshold' of rule 'vanishing_gradient' is a number, got "
                     "'abc'\nvanishing_gradient.threshold=abc\n                             ^\n") != std::string::npos);
    r = run_tdbg("check " + t + " vanishing_gradient --param vanishing_gradient.tresh=1");
    CHECK(r.code == 2);
    CHECK(r.err.find("rule 'vanishing_gradient' has no parameter 'tresh'") != std::string::npos);
  }

  SECTION("a broken rule file: exit 2, every diagnostic with source line and caret (golden)") {
    const auto file = scratch("broken.rule");
    std::ofstream(file) << "# broken on purpose\n"
                           "rule too_small(threshold = 1e-7) {\n"
                           "  g = collection(\"gradients\")\n"
                           "  fire when any(meen(abs(g)) < threshold)\n"
                           "}\n"
                           "rule other(n = 2) {\n"
                           "  fire when mean(tensor(\"loss\")) > \n"
                           "}\n";
    const auto r = run_tdbg("check " + t + " " + q(file.string()));
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    check_golden("check_broken_rule.txt", normalize(r.err, file.string(), "broken.rule"));
  }

  SECTION("unknown rule name, missing file, duplicate rule, unbound or unused --trial") {
    auto r = run_tdbg("check " + t + " no_such_rule");
    CHECK(r.code == 2);
    CHECK(r.err.find("'no_such_rule' is neither a rule file nor a built-in rule") != std::string::npos);
    r = run_tdbg("check " + t + " /nonexistent/x.rule");
    CHECK(r.code == 2);
    CHECK(r.err.find("rule file '/nonexistent/x.rule' does not exist") != std::string::npos);
    r = run_tdbg("check " + t + " vanishing_gradient " + q(rule("vanishing_gradient")));
    CHECK(r.code == 2);
    CHECK(r.err.find("rule 'vanishing_gradient' is declared in both") != std::string::npos);
    r = run_tdbg("check " + t + " vanishing_gradient --trial baseline=" + t);
    CHECK(r.code == 2);
    CHECK(r.err.find("no rule reads a trial named 'baseline'") != std::string::npos);
    r = run_tdbg("check " + t);
    CHECK(r.code == 2);
  }

  SECTION("a missing or corrupt trial: exit 3") {
    auto r = run_tdbg("check /nonexistent/trial vanishing_gradient");
    CHECK(r.code == 3);
    CHECK(r.err.find("'/nonexistent/trial' is not a trial directory") != std::string::npos);
    const auto bad = scratch("check_corrupt");
    fs::copy(dir, bad, fs::copy_options::recursive);
    for (const auto& e : fs::recursive_directory_iterator(bad / "events")) {
      if (!e.is_regular_file()) continue;
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(20);
      f.write("garbage!", 8);  // inside the first record's payload: CRC mismatch
    }
    r = run_tdbg("check " + q(bad.string()) + " vanishing_gradient");
    CHECK(r.code == 3);
    CHECK(r.err.find("tdbg: error: ") == 0);
  }
}

TEST_CASE("tdbg check: in_trial rules read another trial bound with --trial", "[cli][check]") {
  const auto a = scratch("baseline_a");
  const auto b = scratch("baseline_b");
  train(a, "--steps 10 --vanish-at 6");
  train(b, "--steps 10");
  const auto file = scratch("drift.rule");
  std::ofstream(file) << "rule drifted(tol = 1e-4) {\n"
                         "  g = collection(\"gradients\")\n"
                         "  fire when any(abs(mean(abs(g)) - mean(abs(in_trial(g, \"baseline\")))) > tol)\n"
                         "}\n";
  auto r = run_tdbg("check " + q(a.string()) + " " + q(file.string()));
  CHECK(r.code == 2);
  CHECK(r.err.find("rule 'drifted' reads trial 'baseline' (in_trial): give it with --trial baseline=PATH") !=
        std::string::npos);
  r = run_tdbg("check " + q(a.string()) + " " + q(file.string()) + " --trial baseline=/nonexistent --json");
  CHECK(r.code == 3);
  r = run_tdbg("check " + q(a.string()) + " " + q(file.string()) + " --trial baseline=" + q(b.string()) + " --json");
  INFO(r.err);
  REQUIRE(r.code == 1);
  const auto lines = json_lines(r.out);
  REQUIRE(lines.size() == 5);  // steps 6..9, summary
  CHECK(lines[0]["step"] == 6);
  CHECK(lines.back()["rules"][0]["first_fired"] == 6);
}

// ---- tdbg rules --------------------------------------------------------------------------

TEST_CASE("tdbg rules lists the built-in rules with parameters and descriptions", "[cli][rules]") {
  SECTION("the source tree's rules/ (build-tree tool), as JSON") {
    const auto r = run_tdbg("rules --json");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const json j = json::parse(r.out);
    CHECK(j["format"] == "tdbg.rules/1");
    CHECK(j["directories"] == json({rules_dir()}));
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(rules_dir())) files += e.path().extension() == ".rule" ? 1 : 0;
    CHECK(j["rules"].size() >= files);
    bool vg = false, lnd = false;
    for (const auto& x : j["rules"]) {
      CHECK(!x["description"].get<std::string>().empty());
      if (x["name"] == "vanishing_gradient") {
        vg = true;
        CHECK(x["description"] == "gradients too small for the weights to learn (smdebug's VanishingGradient).");
        CHECK(x["parameters"] == json::parse(R"([{"name": "threshold", "type": "number", "default": 1e-07}])"));
        CHECK(x["file"] == rule("vanishing_gradient"));
      }
      if (x["name"] == "loss_not_decreasing") {
        lnd = true;
        CHECK(x["parameters"].size() == 3);  // num_steps, diff_percent, loss_mode
        CHECK(x["parameters"][0]["name"] == "num_steps");
        CHECK(x["parameters"][0]["default"] == 10);
      }
    }
    CHECK(vg);
    CHECK(lnd);
  }

  SECTION("human output, and TDBG_RULES_PATH (several directories, the first one wins)") {
    const auto d1 = scratch("rules_path_1");
    const auto d2 = scratch("rules_path_2");
    fs::create_directories(d1);
    fs::create_directories(d2);
    std::ofstream(d1 / "tiny.rule") << "# tiny — a loss above a bound\nrule tiny(bound = 2, m = TRAIN) {\n"
                                        "  fire when any(max(tensor(\"loss\")) > bound)\n}\n";
    std::ofstream(d2 / "tiny.rule") << "# tiny — hidden by the first directory\nrule tiny() {\n"
                                        "  fire when any(max(tensor(\"loss\")) > 1)\n}\n";
    std::ofstream(d2 / "other.rule") << "rule other(re = /^grad/, s = \"x\", b = true) {\n"
                                         "  fire when any(max(tensors(re)) > 1)\n}\n";
    const auto r = sh("TDBG_RULES_PATH=" + q(d1.string() + ":/nonexistent:" + d2.string()) + " " + TDBG_CLI + " rules");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out == "other(re = /^grad/, s = \"x\", b = true)\n"
                   "tiny(bound = 2, m = TRAIN)\n"
                   "    a loss above a bound\n"
                   "2 rules in " + d1.string() + ":" + d2.string() + " (TDBG_RULES_PATH)\n");
    // a built-in name resolves through the same path
    const auto dir = scratch("rules_path_trial");
    train(dir, "--steps 3");
    const auto c = sh("TDBG_RULES_PATH=" + q(d1.string()) + " " + TDBG_CLI + " check " + q(dir.string()) +
                      " tiny --param tiny.bound=0.4 --json");
    CHECK(c.code == 1);
    CHECK(json_lines(c.out).front()["rule"] == "tiny");
  }

  SECTION("a broken file: the others are listed, the diagnostics printed, exit 2") {
    const auto d = scratch("rules_path_broken");
    fs::create_directories(d);
    fs::copy_file(rule("vanishing_gradient"), d / "vanishing_gradient.rule");
    std::ofstream(d / "bad.rule") << "rule bad( {\n}\n";
    const auto r = sh("TDBG_RULES_PATH=" + q(d.string()) + " " + TDBG_CLI + " rules");
    CHECK(r.code == 2);
    CHECK(r.out.find("vanishing_gradient(threshold = 1e-07)\n") == 0);
    CHECK(r.err.find((d / "bad.rule").string() + ":1:") == 0);
  }
}

// ---- tdbg watch --------------------------------------------------------------------------

TEST_CASE("tdbg watch over a finished trial gives check's findings; timeouts; --on-fire commands",
          "[cli][watch]") {
  const auto dir = scratch("watch_done");
  train(dir, "--steps 25 --vanish-at 20");  // loss 1/(s+1): under 0.051 from step 19 on
  const std::string t = q(dir.string());

  SECTION("the end marker ends the watch; findings and summary equal check's") {
    const auto c = run_tdbg("check " + t + " vanishing_gradient loss_not_decreasing --json");
    const auto w = run_tdbg("watch " + t + " vanishing_gradient loss_not_decreasing --json --poll-ms 10 --timeout 60");
    REQUIRE(c.code == 1);
    REQUIRE(w.code == 1);
    auto cl = json_lines(c.out);
    auto wl = json_lines(w.out);
    REQUIRE(cl.size() == wl.size());
    CHECK(wl.back()["end"] == "end_marker");
    wl.back().erase("end");
    CHECK(cl == wl);
  }

  SECTION("--on-fire COMMAND: the finding in environment variables, never interpolated") {
    const auto rule_file = scratch("quoting.rule");
    std::ofstream(rule_file) << "rule quoting() {\n  fire when any(max(tensor(\"loss\")) < 0.051)\n"
                                "  message \"$(touch PWNED) `touch PWNED` ' \\\" at {step}\"\n}\n";
    const auto log = scratch("on_fire.log");
    const std::string cmd = "printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' \"$TDBG_RULE\" \"$TDBG_STEP\" \"$TDBG_MODE\" "
                            "\"$TDBG_MODE_STEP\" \"$TDBG_WORKER\" \"$TDBG_TENSOR\" \"$TDBG_VALUE\" \"$TDBG_THRESHOLD\" "
                            "\"$TDBG_MESSAGE\" \"$TDBG_TRIAL\" >> " + q(log.string()) + "; echo on-stdout";
    const auto w = sh("cd " + q(dir.parent_path().string()) + " && env -u TDBG_RULES_PATH " + TDBG_CLI + " watch " +
                      t + " " + q(rule_file.string()) + " --poll-ms 10 --timeout 60 --json --on-fire " + q(cmd));
    INFO(w.err);
    CHECK(w.code == 1);
    const std::string got = slurp(log);
    CHECK(got.rfind("quoting|19|TRAIN|19||loss|0.05000000074505806|0.051|$(touch PWNED) `touch PWNED` ' \" at 19|" +
                        dir.string() + "\n",
                    0) == 0);
    std::size_t lines = 0;
    for (char ch : got) lines += ch == '\n' ? 1 : 0;
    CHECK(lines == 6);  // steps 19..24
    CHECK_FALSE(fs::exists(dir.parent_path() / "PWNED"));
    CHECK(w.out.find("on-stdout") == std::string::npos);  // the command's stdout goes to stderr
    CHECK(w.err.find("on-stdout") != std::string::npos);
    for (const auto& l : json_lines(w.out)) CHECK(l.contains("type"));
  }

  SECTION("a failing --on-fire command is reported, the watch goes on") {
    const auto w = run_tdbg("watch " + t + " vanishing_gradient --poll-ms 10 --timeout 60 --on-fire 'exit 3'");
    CHECK(w.code == 1);
    CHECK(w.err.find("--on-fire command for vanishing_gradient at step 20: exited with status 3") != std::string::npos);
  }

  SECTION("--timeout: on a trial that never appears, and on one still in progress: exit 4") {
    auto w = run_tdbg("watch " + q((dir.parent_path() / "never").string()) + " vanishing_gradient --timeout 0.3 --json");
    CHECK(w.code == 4);
    CHECK(json_lines(w.out).back()["end"] == "timeout");
    CHECK(w.err.find("did not appear before the timeout") != std::string::npos);
    const auto running = scratch("watch_running");
    train(running, "--steps 5 --no-end-marker");
    w = run_tdbg("watch " + q(running.string()) + " vanishing_gradient --timeout 0.3 --poll-ms 20 --json");
    CHECK(w.code == 4);
    const auto s = json_lines(w.out).back();
    CHECK(s["end"] == "timeout");
    CHECK(s["complete"] == false);
    CHECK(s["rules"][0]["evaluated"] >= 4);  // step 4 may still wait for a later step to be complete
    w = run_tdbg("watch " + t + " vanishing_gradient --poll-ms 0");
    CHECK(w.code == 2);
    w = run_tdbg("watch " + t + " vanishing_gradient --on-fire ' '");
    CHECK(w.code == 2);
  }
}

TEST_CASE("two processes: tdbg watch --on-fire stop stops a training that is running", "[cli][watch][stop]") {
  const auto dir = scratch("two_process");
  const auto watch_out = scratch("two_process_watch.out");
  const auto train_out = scratch("two_process_train.out");
  constexpr int vanish_at = 15;
  constexpr int max_steps = 400;
  // The watch starts first: the trial directory does not exist yet.
  background watch("env -u TDBG_RULES_PATH " + std::string(TDBG_CLI) + " watch " + q(dir.string()) +
                   " vanishing_gradient loss_not_decreasing --json --poll-ms 10 --timeout 120 --on-fire stop >" +
                   q(watch_out.string()) + " 2>&1");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  background training(std::string(TDBG_TRAIN_PROGRAM) + " " + q(dir.string()) + " --steps " +
                      std::to_string(max_steps) + " --vanish-at " + std::to_string(vanish_at) +
                      " --sleep-ms 25 --stop-poll-ms 0 >" + q(train_out.string()) + " 2>&1");
  const int watch_code = watch.wait(std::chrono::seconds(150));
  const int train_code = training.wait(std::chrono::seconds(150));
  const std::string wout = slurp(watch_out);
  const std::string tout = slurp(train_out);
  INFO("watch:\n" << wout << "training:\n" << tout);
  REQUIRE(watch_code == 1);
  REQUIRE(train_code == 0);

  // The rule fired within one saved step of the gradients vanishing (every step is saved).
  json first;
  json summary;
  std::istringstream in(wout);
  for (std::string l; std::getline(in, l);) {
    if (l.empty() || l[0] != '{') continue;  // stderr lines (the stop notice)
    const json j = json::parse(l);
    if (j["type"] == "finding" && first.is_null()) first = j;
    if (j["type"] == "summary") summary = j;
  }
  REQUIRE(first.is_object());
  CHECK(first["rule"] == "vanishing_gradient");
  CHECK(first["step"].get<int>() >= vanish_at);
  CHECK(first["step"].get<int>() <= vanish_at + 1);
  CHECK(summary["end"] == "stopped");
  CHECK(summary["exit_code"] == 1);

  // The stop request is in the trial, and the training stopped by itself.
  const json request = json::parse(slurp(dir / "tdbg_stop_request.json"));
  CHECK(request["format"] == "tdbg.stop_request/1");
  CHECK(request["rule"] == "vanishing_gradient");
  CHECK(request["step"] == first["step"]);
  const json t = json::parse(tout.substr(tout.rfind('{')));
  CHECK(t["stopped"] == true);
  CHECK(t["stopped_at"].get<int>() >= first["step"].get<int>());
  CHECK(t["stopped_at"].get<int>() < max_steps - 1);
  CHECK(fs::exists(dir / "training_job_end.ts"));  // it closed its hook normally
}

TEST_CASE("tdbg watch re-evaluates a clock rule while no step appears (stalled_training)", "[cli][watch][clock]") {
  const auto dir = scratch("watch_stalled");
  train(dir, "--steps 3 --no-end-marker");  // it stopped saving without ending its trial
  const std::string t = q(dir.string());
  const std::string fast = " --param stalled_training.threshold=1";

  SECTION("fired once the newest step is older than the threshold, once per stall; no new step needed") {
    const auto w = run_tdbg("watch " + t + " stalled_training" + fast + " --json --poll-ms 50 --timeout 2.5");
    INFO(w.err);
    CHECK(w.code == 1);
    const auto lines = json_lines(w.out);
    REQUIRE(!lines.empty());
    std::size_t findings = 0;
    for (const auto& l : lines) {
      if (l["type"] != "finding") continue;
      ++findings;
      CHECK(l["rule"] == "stalled_training");
      CHECK(l["step"] == 2);
      CHECK(l["value"].get<double>() > 1.0);
      CHECK(l["threshold"] == 1.0);
    }
    CHECK(findings == 1);  // polled ~50 times: one stall, one finding
    CHECK(lines.back()["end"] == "timeout");
    CHECK(lines.back()["rules"][0]["fired"] == 1);
  }

  SECTION("--on-fire stop ends the watch at the stall") {
    const auto w = run_tdbg("watch " + t + " stalled_training" + fast + " --json --poll-ms 50 --timeout 30 --on-fire stop");
    INFO(w.err);
    CHECK(w.code == 1);
    CHECK(json_lines(w.out).back()["end"] == "stopped");
    CHECK(fs::exists(dir / "tdbg_stop_request.json"));
  }

  SECTION("tdbg check: evaluated once, at the newest step, with the time it read the trial") {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    auto c = run_tdbg("check " + t + " stalled_training" + fast + " --json");
    CHECK(c.code == 1);
    const auto lines = json_lines(c.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines.front()["step"] == 2);
    CHECK(lines.back()["rules"][0]["evaluated"] == 1);
    c = run_tdbg("check " + t + " stalled_training --json");  // 1800 s: not yet
    CHECK(c.code == 0);
  }
}

TEST_CASE("in process: rules attached to the hook give the findings of tdbg check", "[cli][inprocess]") {
  const auto dir = scratch("inprocess");
  const auto lines = train(dir, "--steps 40 --vanish-at 25 --loss-flat-at 8 --rules " + q(rule("vanishing_gradient")) +
                                    " --rules " + q(rule("loss_not_decreasing")));
  REQUIRE(lines.size() >= 2);
  std::vector<json> live(lines.begin(), lines.end() - 1);
  CHECK(lines.back()["stopped"] == false);
  const auto c = run_tdbg("check " + q(dir.string()) + " " + q(rule("vanishing_gradient")) + " " +
                      q(rule("loss_not_decreasing")) + " --json");
  REQUIRE(c.code == 1);
  auto offline = json_lines(c.out);
  offline.pop_back();  // the summary
  REQUIRE(live.size() == offline.size());
  REQUIRE(live.size() == 15 + 2);  // vanishing at 25..39; loss_not_decreasing at 20 and 30
  for (std::size_t i = 0; i < live.size(); ++i) {
    INFO("finding " << i);
    CHECK(finding_fields(live[i]) == finding_fields(offline[i]));
  }
}

// ---- the hook's side of a stop request ---------------------------------------------------

TEST_CASE("the hook looks for a stop request in its trial at step ends, at most once per interval",
          "[cli][hook][stop]") {
  constexpr auto everything = tdbg::collect::collection_config{"all"}.include(".*").every(1);
  auto mem = std::make_shared<tdbg::storage::memory_backend>();
  const std::byte body[] = {std::byte{'{'}, std::byte{'}'}};

  SECTION("interval 0: seen at the end of the step during which it appeared") {
    tdbg::hook_options o;
    o.stop_poll_interval = std::chrono::milliseconds(0);
    tdbg::hook h(mem, tdbg::collect::collections<everything>{}, o);
    h.begin_step();
    h.save("x", std::vector<float>{1});
    h.end_step();
    CHECK_FALSE(h.should_stop());
    h.begin_step();
    mem->put(tdbg::stop_request_key, body);
    CHECK_FALSE(h.should_stop());  // looked for at step ends only
    h.end_step();
    CHECK(h.should_stop());
  }

  SECTION("a long interval: not looked for again until due; poll_stop_request() looks now") {
    tdbg::hook_options o;
    o.stop_poll_interval = std::chrono::hours(1);
    tdbg::hook h(mem, tdbg::collect::collections<everything>{}, o);
    h.begin_step();
    h.end_step();  // the first step end looks
    mem->put(tdbg::stop_request_key, body);
    h.begin_step();
    h.end_step();
    CHECK_FALSE(h.should_stop());
    CHECK(h.poll_stop_request());
    CHECK(h.should_stop());
  }

  SECTION("a negative interval is a config error") {
    tdbg::hook_options o;
    o.stop_poll_interval = std::chrono::milliseconds(-1);
    CHECK_THROWS_AS(tdbg::hook(mem, tdbg::collect::collections<everything>{}, o), tdbg::config_error);
  }
}
