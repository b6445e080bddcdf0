// tools/tdbg/check_command.hpp — `tdbg check TRIAL RULES... [--param rule.name=value]...
// [--trial name=PATH]... [--start-step N] [--end-step N] [--json]`: loads `.rule` files (or
// built-in rules by name), evaluates them offline over a trial and prints the findings and a
// summary per rule. Also the loading, binding and printing that `tdbg watch` shares.
//
// Exit codes (docs/cli.md): 0 no rule fired; 1 a rule fired; 2 usage or rule-file error (every
// diagnostic printed: file:line:col, source line, caret); 3 data error (missing or corrupt trial).
// --end-step is exclusive, as smdebug's end_step and rules::run_options.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "command.hpp"
#include "commands.hpp"
#include "json_writer.hpp"
#include "rules_command.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/lang.hpp"
#include "tdbg/lang/overrides.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

namespace tdbg::cli {

inline constexpr int exit_fired = 1;

/// What check and watch share: the trial, the rules and how they are set up.
struct rule_run_args {
  std::string trial;
  std::vector<std::string> rules;   ///< rule files or built-in rule names
  std::vector<std::string> params;  ///< "rule.parameter=value"
  std::vector<std::string> trials;  ///< "name=PATH" for in_trial(x, "name")
  std::optional<step_t> start_step;
  std::optional<step_t> end_step;  ///< exclusive
  bool json = false;
};

struct check_args : rule_run_args {};

/// Rule files with errors: the diagnostics of every file (exit 2).
class rule_files_error : public tdbg::error {
 public:
  explicit rule_files_error(std::string rendered) : tdbg::error(std::move(rendered)) {}
};

namespace detail {

/// Loads the rules of `rule_args` (files or built-in names) with `params` routed to the file
/// that declares each rule. Throws rule_files_error with every diagnostic of every file and
/// every bad --param; usage_error for a missing file or a rule name declared twice.
inline std::vector<rules::any_rule> load_rule_arguments(const std::vector<std::string>& rule_args,
                                                        const std::vector<std::string>& params) {
  struct file {
    std::string name;
    std::string text;
    std::vector<lang::rule_info> rules;
    std::vector<std::string> overrides;
  };
  std::vector<file> files;
  std::string diagnostics;
  std::map<std::string, std::string> declared_in;  // rule name -> file
  for (const auto& arg : rule_args) {
    const auto path = resolve_rule_argument(arg);
    file f{path.string(), read_text_file(path), {}, {}};
    const lang::program p = lang::parse(f.text, f.name);
    if (!p.ok()) diagnostics += lang::format_diagnostics(p.diagnostics);
    for (const auto& r : p.checked) {
      if (const auto [it, fresh] = declared_in.emplace(r.name, f.name); !fresh)
        throw usage_error("rule '" + r.name + "' is declared in both '" + it->second + "' and '" + f.name + "'");
      f.rules.push_back(r);
    }
    files.push_back(std::move(f));
  }
  // Each override is checked against every loaded rule, then given to the file declaring it.
  std::vector<lang::rule_info> all;
  for (const auto& f : files) all.insert(all.end(), f.rules.begin(), f.rules.end());
  for (const auto& o : params) {
    try {
      const auto v = lang::validate_override(all, o);
      for (auto& f : files)
        for (const auto& r : f.rules)
          if (r.name == v.rule) f.overrides.push_back(o);
    } catch (const lang::parse_error& e) {
      diagnostics += e.what();
    }
  }
  if (!diagnostics.empty()) throw rule_files_error(std::move(diagnostics));
  std::vector<rules::any_rule> out;
  for (auto& f : files) {
    try {
      auto rs = lang::load_rules_text(std::move(f.text), f.name, f.overrides);
      for (auto& r : rs) out.push_back(std::move(r));
    } catch (const lang::parse_error& e) {
      diagnostics += e.what();
    }
  }
  if (!diagnostics.empty()) throw rule_files_error(std::move(diagnostics));
  if (out.empty()) throw usage_error("the rule files declare no rule");
  return out;
}

/// Opens a trial directory as a shared trial (io_error: a data error, when it does not exist).
inline std::shared_ptr<tdbg::trial::trial> open_shared_trial(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec))
    throw io_error("'" + path + "' is not a trial directory (it does not exist)");
  auto t = std::make_shared<tdbg::trial::trial>(std::filesystem::path(path));
  t->refresh();
  return t;
}

/// Binds `--trial name=PATH` to the rules that read `in_trial(x, "name")`. usage_error for a
/// malformed argument, a name bound twice or read by no rule, and a name a rule reads that is
/// not bound; io_error (data) for a missing trial.
inline void bind_trials(std::vector<rules::any_rule>& rs, const std::vector<std::string>& trial_args) {
  std::map<std::string, std::string> paths;
  for (const auto& a : trial_args) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == a.size())
      throw usage_error("--trial expects name=PATH, got '" + a + "'");
    if (!paths.emplace(a.substr(0, eq), a.substr(eq + 1)).second)
      throw usage_error("--trial: trial '" + a.substr(0, eq) + "' is given twice");
  }
  std::set<std::string> used;
  for (const auto& r : rs)
    for (const auto& s : r.needs().sources) {
      if (!paths.count(s))
        throw usage_error("rule '" + r.name() + "' reads trial '" + s + "' (in_trial): give it with --trial " + s +
                          "=PATH");
      used.insert(s);
    }
  for (const auto& [name, path] : paths)
    if (!used.count(name)) throw usage_error("--trial " + name + "=...: no rule reads a trial named '" + name + "'");
  // Usage is checked before any trial is opened: a bad command line is a usage error (exit 2).
  std::map<std::string, std::shared_ptr<const rules::data_source>> sources;
  for (const auto& [name, path] : paths) sources[name] = std::make_shared<rules::trial_source>(open_shared_trial(path));
  for (auto& r : rs)
    for (const auto& s : r.needs().sources) r.bind_source(s, sources.at(s));
}

/// `rule: step S (MODE step M) [worker W]: message`
inline std::string finding_text(const rules::finding& f) {
  return fmt::format("{}: step {} ({} step {}){}: {}\n", f.rule, f.step, mode_name(f.mode), f.mode_step,
                     f.worker.empty() ? std::string() : " worker " + f.worker, f.message);
}

/// One JSON line (docs/cli.md, "JSON lines"). NaN thresholds (no threshold) are null;
/// non-finite values are "NaN", "Infinity", "-Infinity".
inline std::string finding_json(const rules::finding& f) {
  json_writer w;
  w.begin_object();
  w.key("type").value("finding");
  w.key("rule").value(f.rule);
  w.key("step").value(static_cast<std::int64_t>(f.step));
  w.key("mode").value(mode_name(f.mode));
  w.key("mode_step").value(static_cast<std::int64_t>(f.mode_step));
  w.key("worker").value(f.worker);
  w.key("tensor").value(f.tensors.empty() ? std::string() : f.tensors.front());
  w.key("value");
  if (f.values.empty()) w.null();
  else w.value(f.values.front());
  w.key("threshold");
  if (f.thresholds.empty() || std::isnan(f.thresholds.front())) w.null();
  else w.value(f.thresholds.front());
  w.key("tensors").begin_array();
  for (const auto& t : f.tensors) w.value(t);
  w.end_array();
  w.key("values").begin_array();
  for (const double v : f.values) w.value(v);
  w.end_array();
  w.key("thresholds").begin_array();
  for (const double v : f.thresholds) {
    if (std::isnan(v)) w.null();
    else w.value(v);
  }
  w.end_array();
  w.key("message").value(f.message);
  w.end_object();
  return w.str() + '\n';
}

inline void print_finding(std::ostream& out, const rules::finding& f, bool json) {
  out << (json ? finding_json(f) : finding_text(f));
  out.flush();
}

/// What the summary reports besides the rules.
struct summary_info {
  std::string trial;
  bool complete = false;
  std::size_t steps = 0;  ///< complete global steps of the trial
  std::string end;        ///< watch only: "end_marker", "stopped", "timeout", "interrupted"
  int exit_code = 0;
};

inline void print_summary(std::ostream& out, const std::vector<rules::rule_summary>& ss, const summary_info& i,
                          bool json) {
  if (json) {
    json_writer w;
    w.begin_object();
    w.key("type").value("summary");
    w.key("trial").value(i.trial);
    w.key("complete").value(i.complete);
    w.key("steps").value(static_cast<std::uint64_t>(i.steps));
    if (!i.end.empty()) w.key("end").value(i.end);
    w.key("rules").begin_array();
    for (const auto& s : ss) {
      w.begin_object();
      w.key("rule").value(s.rule);
      w.key("status").value(s.status());
      w.key("evaluated").value(static_cast<std::uint64_t>(s.evaluated));
      w.key("fired").value(static_cast<std::uint64_t>(s.fired));
      w.key("ok").value(static_cast<std::uint64_t>(s.ok));
      w.key("insufficient_data").value(static_cast<std::uint64_t>(s.insufficient_data));
      w.key("findings").value(static_cast<std::uint64_t>(s.findings));
      w.key("first_fired");
      if (s.first_fired) w.value(static_cast<std::int64_t>(*s.first_fired));
      else w.null();
      w.end_object();
    }
    w.end_array();
    w.key("exit_code").value(i.exit_code);
    w.end_object();
    out << w.str() << '\n';
    out.flush();
    return;
  }
  std::size_t width = 4;
  for (const auto& s : ss) width = std::max(width, s.rule.size());
  out << fmt::format("{:<{}}  {:<16} {:>9} {:>6} {:>6} {:>12}  {}\n", "rule", width, "status", "evaluated", "fired",
                     "ok", "insufficient", "first fired");
  std::size_t issues = 0;
  for (const auto& s : ss) {
    issues += s.fired > 0 ? 1 : 0;
    out << fmt::format("{:<{}}  {:<16} {:>9} {:>6} {:>6} {:>12}  {}\n", s.rule, width, s.status(), s.evaluated,
                       s.fired, s.ok, s.insufficient_data,
                       s.first_fired ? std::to_string(*s.first_fired) : std::string("-"));
  }
  std::string how = i.complete ? "complete" : "in progress";
  if (i.end == "timeout") how += ", watch timed out";
  else if (i.end == "stopped") how += ", stop requested";
  else if (i.end == "interrupted") how += ", watch interrupted";
  out << fmt::format("{} of {} rule{} found issues; {} step{} ({})\n", issues, ss.size(), ss.size() == 1 ? "" : "s",
                     i.steps, i.steps == 1 ? "" : "s", how);
  out.flush();
}

/// Runs `f`, mapping rule-file errors to exit 2 with their diagnostics on `err`.
template <class F>
int with_rule_files(std::ostream& err, F&& f) {
  try {
    return f();
  } catch (const rule_files_error& e) {
    err << e.what();
    err << "tdbg: error: the rule files or --param values above have errors\n";
    err.flush();
    return exit_usage;
  } catch (const lang::parse_error& e) {
    err << e.what();
    err.flush();
    return exit_usage;
  }
}

inline void check_step_range(const rule_run_args& a) {
  if (a.start_step && a.end_step && *a.end_step < *a.start_step)
    throw usage_error(fmt::format("--end-step {} is before --start-step {}", *a.end_step, *a.start_step));
}

}  // namespace detail

/// `tdbg check ...` (see the header comment). Findings and the summary go to `out`.
inline int run_check(const check_args& a, std::ostream& out, std::ostream& err) {
  return detail::with_rule_files(err, [&] {
    detail::check_step_range(a);
    auto rs = detail::load_rule_arguments(a.rules, a.params);
    detail::bind_trials(rs, a.trials);
    const auto t = detail::open_shared_trial(a.trial);
    const rules::trial_source src(t);
    rules::run_options o;
    o.start_step = a.start_step;
    o.end_step = a.end_step;
    const auto r = rules::run(std::move(rs), src, o);
    for (const auto& f : r.findings) detail::print_finding(out, f, a.json);
    detail::summary_info info;
    info.trial = a.trial;
    info.complete = src.complete();
    info.steps = src.steps(tdbg::mode::global).size();
    info.exit_code = r.fired() ? exit_fired : exit_ok;
    detail::print_summary(out, r.summaries, info, a.json);
    return info.exit_code;
  });
}

namespace detail {

/// The options check and watch share.
inline void add_rule_run_options(CLI::App* sub, rule_run_args& a) {
  sub->add_option("TRIAL", a.trial, "Trial directory")->required();
  sub->add_option("RULES", a.rules, "Rule files (.rule), or names of built-in rules ('tdbg rules')")->required();
  sub->add_option("--param", a.params, "Override a rule parameter: rule.parameter=value (repeatable)");
  sub->add_option("--trial", a.trials, "Bind another trial read by in_trial(x, \"name\"): name=PATH (repeatable)");
  sub->add_option("--start-step", a.start_step, "First global step evaluated (inclusive)");
  sub->add_option("--end-step", a.end_step, "Global step where evaluation ends (exclusive, as smdebug's end_step)");
  sub->add_flag("--json", a.json, "Print JSON lines: one per finding, then a summary line");
}

}  // namespace detail

/// `tdbg check TRIAL RULES... [options]`.
inline void add_check_command(CLI::App& app, command_list& commands) {
  auto a = std::make_shared<check_args>();
  auto* sub = app.add_subcommand("check", "Evaluate rules over a trial and print their findings");
  detail::add_rule_run_options(sub, *a);
  commands.add(sub, [a] { return run_check(*a, std::cout, std::cerr); });
}

}  // namespace tdbg::cli
