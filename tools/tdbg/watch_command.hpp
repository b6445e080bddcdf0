// tools/tdbg/watch_command.hpp — `tdbg watch TRIAL RULES... [--param ...] [--trial name=PATH]
// [--start-step N] [--end-step N] [--timeout SECONDS] [--on-fire stop|COMMAND]... [--json]
// [--poll-ms N]`: follows a trial another process is writing (rules::follower), evaluates each
// step once it is complete, prints findings as they happen, and ends at the trial's end marker,
// after a stop request, at --timeout, or on Ctrl-C. Clock rules (seconds_since_last_save, e.g.
// stalled_training) are evaluated again at each poll while no new step appears (the follower
// does it; one finding per stall), so a training that stopped saving is noticed.
//
// Actions (--on-fire, repeatable, applied per finding in the order given, after the finding
// was printed):
//  * `stop` writes a stop request into the trial (tdbg::stop_request_key, JSON naming the first
//    finding); the training's hook sees it (hook.should_stop()) and the watch ends after the step.
//  * anything else is a shell command run with /bin/sh -c, once per finding, with the finding in
//    environment variables only (TDBG_RULE, TDBG_STEP, TDBG_MODE, TDBG_MODE_STEP, TDBG_WORKER,
//    TDBG_TENSOR, TDBG_VALUE, TDBG_THRESHOLD, TDBG_MESSAGE, TDBG_TRIAL) — never interpolated into
//    the command text. Its standard output goes to tdbg's standard error (stdout carries the
//    findings); tdbg waits for it, and a failing command is reported on stderr.
// A status line (steps seen, rules ok / fired / insufficient data) is drawn on stderr only when
// stderr is a terminal.
//
// Exit codes: as check (0 no rule fired, 1 a rule fired, 2 usage or rule-file error, 3 data
// error), plus 4: the timeout expired before the end marker and no rule fired, and 130: Ctrl-C
// (SIGINT) before the end marker and no rule fired. A rule that fired makes it 1 in every case.
#pragma once

#include <fmt/format.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "check_command.hpp"
#include "command.hpp"
#include "commands.hpp"
#include "json_writer.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/storage/local.hpp"

extern char** environ;

namespace tdbg::cli {

inline constexpr int exit_timeout = 4;
inline constexpr int exit_interrupted = 130;

struct watch_args : rule_run_args {
  std::optional<double> timeout;     ///< seconds
  std::vector<std::string> on_fire;  ///< "stop" or shell commands
  int poll_ms = 500;
  bool status = true;                ///< draw the status line (when stderr is a terminal)
};

namespace detail {

inline volatile std::sig_atomic_t watch_interrupted = 0;
extern "C" inline void watch_on_sigint(int) { watch_interrupted = 1; }

/// The environment of an --on-fire command: ours, minus TDBG_* finding variables, plus the finding.
inline std::vector<std::string> finding_environment(const rules::finding& f, const std::string& trial) {
  const std::pair<const char*, std::string> vars[] = {
      {"TDBG_RULE", f.rule},
      {"TDBG_STEP", std::to_string(f.step)},
      {"TDBG_MODE", std::string(mode_name(f.mode))},
      {"TDBG_MODE_STEP", std::to_string(f.mode_step)},
      {"TDBG_WORKER", f.worker},
      {"TDBG_TENSOR", f.tensors.empty() ? std::string() : f.tensors.front()},
      {"TDBG_VALUE", f.values.empty() ? std::string() : rules::format_number(f.values.front())},
      {"TDBG_THRESHOLD", f.thresholds.empty() || std::isnan(f.thresholds.front())
                             ? std::string()
                             : rules::format_number(f.thresholds.front())},
      {"TDBG_MESSAGE", f.message},
      {"TDBG_TRIAL", trial},
  };
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view kv(*e);
    bool ours = false;
    for (const auto& [k, v] : vars)
      if (kv.starts_with(k) && kv.size() > std::strlen(k) && kv[std::strlen(k)] == '=') ours = true;
    if (!ours) env.emplace_back(kv);
  }
  for (const auto& [k, v] : vars) env.push_back(std::string(k) + "=" + v);
  return env;
}

/// Runs `command` with /bin/sh -c and the finding's environment; its stdout goes to stderr.
/// Waits for it. Returns a problem to report, or "" when it exited with status 0.
inline std::string run_finding_command(const std::string& command, const rules::finding& f,
                                       const std::string& trial) {
  std::vector<std::string> env = finding_environment(f, trial);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/bin/sh", &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return fmt::format("cannot run /bin/sh: {}", std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return fmt::format("waiting for the command failed: {}", std::strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return "ended abnormally";
}

/// The stop request's content: who asked, and the finding that made it ask.
inline std::string stop_request_json(const rules::finding& f) {
  json_writer w;
  w.begin_object();
  w.key("format").value("tdbg.stop_request/1");
  w.key("requested_by").value("tdbg watch");
  w.key("time").value(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  w.key("rule").value(f.rule);
  w.key("step").value(static_cast<std::int64_t>(f.step));
  w.key("mode").value(mode_name(f.mode));
  w.key("mode_step").value(static_cast<std::int64_t>(f.mode_step));
  w.key("tensor").value(f.tensors.empty() ? std::string() : f.tensors.front());
  w.key("message").value(f.message);
  w.end_object();
  return w.str() + '\n';
}

/// The status line on stderr (a terminal): redrawn in place, cleared before other output.
class status_line {
 public:
  explicit status_line(bool enabled) : on_(enabled) {}
  void clear() {
    if (on_ && drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }
  void draw(const std::string& text) {
    if (!on_) return;
    std::cerr << "\r\033[K" << text << std::flush;
    drawn_ = true;
  }

 private:
  bool on_;
  bool drawn_ = false;
};

inline std::string status_text(const rules::follower& f, std::size_t steps) {
  std::size_t fired = 0, ok = 0, insufficient = 0, findings = 0;
  for (const auto& s : f.result().summaries) {
    if (s.fired) ++fired;
    else if (s.ok) ++ok;
    else ++insufficient;
    findings += s.findings;
  }
  return fmt::format("tdbg watch: {} step{} seen | rules: {} ok, {} fired, {} insufficient data | {} finding{}", steps,
                     steps == 1 ? "" : "s", ok, fired, insufficient, findings, findings == 1 ? "" : "s");
}

}  // namespace detail

/// `tdbg watch ...` (see the header comment). Findings and the summary go to `out`.
inline int run_watch(const watch_args& a, std::ostream& out, std::ostream& err) {
  return detail::with_rule_files(err, [&] {
    namespace fs = std::filesystem;
    detail::check_step_range(a);
    if (a.poll_ms < 1) throw usage_error(fmt::format("--poll-ms must be >= 1, got {}", a.poll_ms));
    if (a.timeout && !(*a.timeout >= 0 && *a.timeout <= 1e9))
      throw usage_error("--timeout must be between 0 and 1e9 seconds");
    bool stop_action = false;
    std::vector<std::string> commands;
    for (const auto& o : a.on_fire) {
      if (o == "stop") stop_action = true;
      else if (o.find_first_not_of(" \t") == std::string::npos) throw usage_error("--on-fire: empty command");
      else commands.push_back(o);
    }
    auto rs = detail::load_rule_arguments(a.rules, a.params);
    detail::bind_trials(rs, a.trials);

    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    // (not std::optional: g++ 12 -O2 warns maybe-uninitialized on an optional time_point)
    const bool has_deadline = a.timeout.has_value();
    const clock::time_point deadline =
        start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(a.timeout.value_or(0.0)));
    detail::watch_interrupted = 0;
    const auto previous = std::signal(SIGINT, detail::watch_on_sigint);
    struct restore {
      decltype(previous) p;
      ~restore() { std::signal(SIGINT, p); }
    } restore_sigint{previous};
    detail::status_line status(a.status && isatty(STDERR_FILENO) == 1);

    auto sleep_poll = [&] {
      auto until = clock::now() + std::chrono::milliseconds(a.poll_ms);
      if (has_deadline && until > deadline) until = deadline;
      while (clock::now() < until && !detail::watch_interrupted)
        std::this_thread::sleep_for(std::min<clock::duration>(until - clock::now(), std::chrono::milliseconds(50)));
    };
    auto timed_out = [&] { return has_deadline && clock::now() >= deadline; };

    detail::summary_info info;
    info.trial = a.trial;
    // The training may not have created its directory yet: wait for it.
    std::error_code ec;
    bool waited = false;
    while (!fs::is_directory(a.trial, ec)) {
      if (fs::exists(a.trial, ec)) throw io_error("'" + a.trial + "' is not a directory");
      if (!waited) status.draw(fmt::format("tdbg watch: waiting for '{}' to appear", a.trial));
      waited = true;
      if (timed_out() || detail::watch_interrupted) {
        status.clear();
        info.end = detail::watch_interrupted ? "interrupted" : "timeout";
        info.exit_code = detail::watch_interrupted ? exit_interrupted : exit_timeout;
        err << fmt::format("tdbg: watch: the trial '{}' did not appear{}\n", a.trial,
                           detail::watch_interrupted ? "" : " before the timeout");
        detail::print_summary(out, rules::detail::step_evaluator(std::move(rs)).summaries(), info, a.json);
        return info.exit_code;
      }
      sleep_poll();
    }

    auto t = std::make_shared<tdbg::trial::trial>(fs::path(a.trial));
    storage::local_backend trial_dir{fs::path(a.trial)};
    bool stop_written = false;
    rules::follow_options fo;
    fo.start_step = a.start_step;
    fo.end_step = a.end_step;
    fo.actions.push_back(rules::on_finding([&](const rules::finding& f) {
      status.clear();
      detail::print_finding(out, f, a.json);
      for (const auto& c : commands)
        if (auto problem = detail::run_finding_command(c, f, a.trial); !problem.empty())
          err << fmt::format("tdbg: watch: --on-fire command for {} at step {}: {}\n", f.rule, f.step, problem)
              << std::flush;
    }));
    if (stop_action)
      fo.actions.push_back(rules::stop_training([&](const rules::finding& f) {
        if (stop_written) return;
        stop_written = true;
        const std::string body = detail::stop_request_json(f);
        trial_dir.put(stop_request_key, std::as_bytes(std::span<const char>(body.data(), body.size())));
        err << fmt::format("tdbg: watch: {} fired at step {}: stop request written to {}\n", f.rule, f.step,
                           trial_dir.describe(stop_request_key))
            << std::flush;
      }));
    rules::follower follower(std::move(rs), t, std::move(fo));

    for (;;) {
      (void)follower.poll();
      const std::size_t steps = follower.source().steps(tdbg::mode::global).size();
      status.draw(detail::status_text(follower, steps));
      if (follower.stopped()) info.end = "stopped";
      else if (follower.finished()) info.end = "end_marker";
      else if (detail::watch_interrupted) info.end = "interrupted";
      else if (timed_out()) info.end = "timeout";
      if (!info.end.empty()) {
        info.steps = steps;
        break;
      }
      sleep_poll();
    }
    status.clear();
    info.complete = follower.source().complete();
    const bool fired = follower.result().fired();
    info.exit_code = fired                        ? exit_fired
                     : info.end == "timeout"      ? exit_timeout
                     : info.end == "interrupted"  ? exit_interrupted
                                                  : exit_ok;
    detail::print_summary(out, follower.result().summaries, info, a.json);
    return info.exit_code;
  });
}

/// `tdbg watch TRIAL RULES... [options]`.
inline void add_watch_command(CLI::App& app, command_list& commands) {
  auto a = std::make_shared<watch_args>();
  auto* sub = app.add_subcommand("watch", "Follow a trial while it is written; evaluate rules as steps complete");
  detail::add_rule_run_options(sub, *a);
  sub->add_option("--timeout", a->timeout, "Stop watching after this many seconds (exit 4 if no rule fired)");
  sub->add_option("--on-fire", a->on_fire,
                  "Per finding: 'stop' writes a stop request into the trial; anything else is a shell command "
                  "run with the finding in TDBG_* environment variables (repeatable)");
  sub->add_option("--poll-ms", a->poll_ms, "Milliseconds between looks at the trial (default 500)");
  sub->add_flag_function("--no-status", [a](std::int64_t) { a->status = false; }, "Never draw the status line");
  commands.add(sub, [a] { return run_watch(*a, std::cout, std::cerr); });
}

}  // namespace tdbg::cli
