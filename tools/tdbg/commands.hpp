// tools/tdbg/commands.hpp — the subcommands of the tdbg CLI, kept apart from argument parsing
// so that tests can run them in process.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "command.hpp"
#include "json_writer.hpp"
#include "sha256.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/trial/trial.hpp"

namespace tdbg::cli {

inline constexpr std::string_view version = "0.1.0";
inline constexpr int exit_ok = 0;
inline constexpr int exit_usage = 2;
inline constexpr int exit_data = 3;

/// Runs a command; maps tdbg's errors to exit codes with a one-line message on stderr.
template <class F>
int run_guarded(F&& f) {
  try {
    return f();
  } catch (const tdbg::usage_error& e) {
    fmt::print(stderr, "tdbg: usage error: {}\n", e.what());
    return exit_usage;
  } catch (const tdbg::error& e) {
    fmt::print(stderr, "tdbg: error: {}\n", e.what());
    return exit_data;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "tdbg: error: out of memory\n");
    return exit_data;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tdbg: error: {}\n", e.what());
    return exit_data;
  }
}

struct ls_args {
  std::string trial;
  bool json = false;
};

struct values_args {
  std::string trial;
  std::string tensor;
  std::optional<std::string> mode;
  std::optional<std::string> worker;
  std::optional<std::int64_t> step;
  bool json = false;
  bool no_data = false;
};

namespace detail {

/// Opens a trial directory and loads everything it holds now.
inline tdbg::trial::trial open_trial(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec))
    throw tdbg::io_error("'" + path + "' is not a trial directory (it does not exist)");
  tdbg::trial::trial t{std::filesystem::path(path)};
  t.refresh();
  return t;
}

inline std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

inline std::string steps_text(const std::vector<step_t>& s, std::size_t max_shown = 12) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == max_shown && s.size() > max_shown + 1) {
      out += fmt::format(" ... {}", s.back());
      break;
    }
    out += fmt::format("{}{}", i ? " " : "", s[i]);
  }
  return out;
}

/// The tensors of each collection, sorted.
inline std::map<std::string, std::vector<std::string>> collection_members(const tdbg::trial::trial& t) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& c : t.collections()) {
    tdbg::trial::name_query q;
    q.collection = c.name;
    out[c.name] = t.tensor_names(q);
  }
  return out;
}

/// Element i of a tensor as JSON.
inline void write_element(json_writer& w, const tdbg::tensor& t, std::size_t i) {
  switch (t.dtype()) {
    case tdbg::dtype::string: w.value(t.strings()[i]); return;
    case tdbg::dtype::boolean: w.value(t.as_double(i) != 0.0); return;
    case tdbg::dtype::float32: w.value(static_cast<float>(t.as_double(i))); return;
    case tdbg::dtype::float16: w.value(static_cast<float>(t.as_double(i))); return;
    case tdbg::dtype::float64: w.value(t.as_double(i)); return;
    case tdbg::dtype::uint64: w.value(t.values<std::uint64_t>()[i]); return;
    case tdbg::dtype::int64: w.value(t.values<std::int64_t>()[i]); return;
    default: w.value(static_cast<std::int64_t>(t.as_double(i))); return;
  }
}

/// Element i as human text.
inline std::string element_text(const tdbg::tensor& t, std::size_t i) {
  switch (t.dtype()) {
    case tdbg::dtype::string: return fmt::format("\"{}\"", t.strings()[i]);
    case tdbg::dtype::boolean: return t.as_double(i) != 0.0 ? "true" : "false";
    case tdbg::dtype::float32:
    case tdbg::dtype::float16: return fmt::format("{}", static_cast<float>(t.as_double(i)));
    case tdbg::dtype::float64: return fmt::format("{}", t.as_double(i));
    case tdbg::dtype::uint64: return fmt::format("{}", t.values<std::uint64_t>()[i]);
    case tdbg::dtype::int64: return fmt::format("{}", t.values<std::int64_t>()[i]);
    default: return fmt::format("{}", static_cast<std::int64_t>(t.as_double(i)));
  }
}

}  // namespace detail

/// `tdbg ls TRIAL [--json]`
inline int run_ls(const ls_args& a, std::ostream& out) {
  const auto t = detail::open_trial(a.trial);
  const auto workers = t.workers();
  const auto names = t.tensor_names();
  const auto members = detail::collection_members(t);

  if (a.json) {
    json_writer w;
    w.begin_object();
    w.key("format").value("tdbg.ls/1");
    w.key("complete").value(t.loaded_all_steps());
    w.key("workers").begin_array();
    for (const auto& x : workers) w.value(x);
    w.end_array();
    w.key("tensors").begin_array();
    for (const auto& x : names) w.value(x);
    w.end_array();
    w.key("collections").begin_object();
    for (const auto& [c, ts] : members) {
      w.key(c).begin_array();
      for (const auto& x : ts) w.value(x);
      w.end_array();
    }
    w.end_object();
    w.key("steps").begin_object();
    for (tdbg::mode m : {mode::global, mode::train, mode::eval, mode::predict}) {
      w.key(mode_name(m)).begin_array();
      for (auto s : t.steps(m)) w.value(static_cast<std::int64_t>(s));
      w.end_array();
    }
    w.end_object();
    w.key("mode_step_to_global").begin_object();
    for (tdbg::mode m : {mode::train, mode::eval, mode::predict}) {
      w.key(mode_name(m)).begin_object();
      for (auto s : t.steps(m, true))
        if (auto g = t.global_step(m, s)) w.key(std::to_string(s)).value(static_cast<std::int64_t>(*g));
      w.end_object();
    }
    w.end_object();
    w.end_object();
    out << w.str() << '\n';
    return exit_ok;
  }

  out << fmt::format("trial        {}\n", a.trial);
  out << fmt::format("status       {}\n", t.loaded_all_steps() ? "complete (training_job_end.ts present)"
                                                              : "in progress (no end marker yet)");
  out << fmt::format("workers      {} ({} expected)\n", workers.empty() ? "-" : detail::join(workers, ", "),
                     t.num_workers());
  for (tdbg::mode m : {mode::global, mode::train, mode::eval, mode::predict}) {
    const auto s = t.steps(m);
    if (m != mode::global && s.empty()) continue;
    out << fmt::format("{:<12} {} step{}{}{}\n", m == mode::global ? "steps" : std::string("  ") + std::string(mode_name(m)),
                       s.size(), s.size() == 1 ? "" : "s", s.empty() ? "" : ": ", detail::steps_text(s));
  }
  const auto incomplete = t.steps(mode::global, true).size() - t.steps(mode::global).size();
  if (incomplete) out << fmt::format("             ({} more step{} not complete yet)\n", incomplete, incomplete == 1 ? "" : "s");

  // collections each tensor belongs to
  std::map<std::string, std::vector<std::string>> in_colls;
  for (const auto& [c, ts] : members)
    for (const auto& n : ts) in_colls[n].push_back(c);
  std::size_t width = 6;
  for (const auto& n : names) width = std::max(width, n.size());
  out << fmt::format("tensors      {}\n", names.size());
  for (const auto& n : names) {
    const auto st = t.tensor(n).steps();
    out << fmt::format("  {:<{}}  {:>3} step{}  {}\n", n, width, st.size(), st.size() == 1 ? " " : "s",
                       in_colls.count(n) ? detail::join(in_colls[n], ",") : "");
  }
  out << fmt::format("collections  {}\n", members.size());
  for (const auto& [c, ts] : members)
    out << fmt::format("  {} ({})\n", c, ts.size());
  return exit_ok;
}

/// `tdbg values TRIAL TENSOR [--mode M] [--worker W] [--step S] [--json] [--no-data]`
inline int run_values(const values_args& a, std::ostream& out) {
  std::optional<tdbg::mode> mode_filter;
  if (a.mode) {
    mode_filter = tdbg::parse_mode(*a.mode);
    if (!mode_filter)
      throw tdbg::usage_error("--mode must be TRAIN, EVAL, PREDICT or GLOBAL, not '" + *a.mode + "'");
  }
  const auto t = detail::open_trial(a.trial);
  const auto tensor = t.tensor(a.tensor);  // tensor_unavailable_error: a data error

  std::vector<tdbg::trial::stored_step> rows;
  std::set<std::string> workers_seen;
  for (auto& s : tensor.stored_steps()) {
    workers_seen.insert(s.worker);
    if (!s.has_value) continue;
    if (mode_filter && *mode_filter != mode::global && s.mode != *mode_filter) continue;
    if (a.worker && s.worker != *a.worker) continue;
    if (a.step) {
      const bool by_mode_step = mode_filter && *mode_filter != mode::global;
      if ((by_mode_step ? s.mode_step : s.global_step) != *a.step) continue;
    }
    rows.push_back(std::move(s));
  }
  if (a.worker && !workers_seen.count(*a.worker))
    throw tdbg::usage_error("tensor '" + a.tensor + "' has no worker '" + *a.worker + "' (workers: " +
                            detail::join({workers_seen.begin(), workers_seen.end()}, ", ") + ")");
  std::stable_sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
    return std::tie(x.global_step, x.worker) < std::tie(y.global_step, y.worker);
  });

  json_writer w;
  if (a.json) {
    w.begin_object();
    w.key("format").value("tdbg.values/1");
    w.key("tensor").value(a.tensor);
    w.key("values").begin_array();
  }
  for (const auto& r : rows) {
    std::optional<tdbg::tensor> value;
    try {
      value = tensor.value(r.mode_step, r.mode, r.worker);
    } catch (const tdbg::step_not_yet_available_error&) {
      // The job is still writing this record: it is not a value yet (JSON leaves it out).
      if (!a.json)
        out << fmt::format("step {} ({} {}) {}  not completely written yet\n", r.global_step, mode_name(r.mode),
                           r.mode_step, r.worker);
      continue;
    }
    const tdbg::tensor& v = *value;
    const std::string digest = sha256_hex(v);
    const std::size_t n = v.dtype() == dtype::string ? v.strings().size() : static_cast<std::size_t>(v.size());
    if (a.json) {
      w.begin_object();
      w.key("global_step").value(static_cast<std::int64_t>(r.global_step));
      w.key("mode").value(mode_name(r.mode));
      w.key("mode_step").value(static_cast<std::int64_t>(r.mode_step));
      w.key("worker").value(r.worker);
      w.key("dtype").value(dtype_name(v.dtype()));
      w.key("shape").begin_array();
      for (auto d : v.shape()) w.value(static_cast<std::int64_t>(d));
      w.end_array();
      w.key("sha256").value(digest);
      if (!a.no_data) {
        w.key("data").begin_array();
        for (std::size_t i = 0; i < n; ++i) detail::write_element(w, v, i);
        w.end_array();
      }
      w.end_object();
    } else {
      out << fmt::format("step {} ({} {}) {}  {} {}  sha256 {}\n", r.global_step, mode_name(r.mode), r.mode_step,
                         r.worker, dtype_name(v.dtype()), shape_string(v.shape()), digest.substr(0, 16));
      if (!a.no_data) {
        constexpr std::size_t shown = 8;
        std::string line = "  [";
        for (std::size_t i = 0; i < n && i < shown; ++i) line += (i ? ", " : "") + detail::element_text(v, i);
        if (n > shown) line += fmt::format(", ... ({} more)", n - shown);
        out << line << "]\n";
      }
    }
  }
  if (a.json) {
    w.end_array();
    w.end_object();
    out << w.str() << '\n';
  } else {
    // Steps that hold only a shape and/or stored reductions (reductions-only collections).
    std::size_t summaries = 0;
    for (const auto& s : tensor.stored_steps()) {
      if (s.has_value || (s.reductions.empty() && !s.shape)) continue;
      if (mode_filter && *mode_filter != mode::global && s.mode != *mode_filter) continue;
      if (a.worker && s.worker != *a.worker) continue;
      if (a.step && ((mode_filter && *mode_filter != mode::global) ? s.mode_step : s.global_step) != *a.step)
        continue;
      ++summaries;
      out << fmt::format("step {} ({} {}) {}  {}(no raw value)\n", s.global_step, mode_name(s.mode), s.mode_step,
                         s.worker, s.shape ? "shape " + shape_string(*s.shape) + "  " : std::string());
      std::string line;
      for (const auto& [red, val] : tensor.reduction_values(s.mode_step, s.mode, s.worker))
        line += fmt::format("  {}={}", reduction_name(red), detail::element_text(val, 0));
      if (!line.empty()) out << line << '\n';
    }
    if (rows.empty() && summaries == 0) out << fmt::format("no values of '{}' match\n", a.tensor);
  }
  return exit_ok;
}

/// `tdbg ls TRIAL [--json]`.
inline void add_ls_command(CLI::App& app, command_list& commands) {
  auto a = std::make_shared<ls_args>();
  auto* sub = app.add_subcommand("ls", "List a trial: workers, steps per mode, tensors, collections");
  sub->add_option("TRIAL", a->trial, "Trial directory")->required();
  sub->add_flag("--json", a->json, "Print the tdbg.ls/1 JSON document");
  commands.add(sub, [a] { return run_ls(*a, std::cout); });
}

/// `tdbg values TRIAL TENSOR [--mode M] [--worker W] [--step S] [--json] [--no-data]`.
inline void add_values_command(CLI::App& app, command_list& commands) {
  auto a = std::make_shared<values_args>();
  auto* sub = app.add_subcommand("values", "Print the saved values of one tensor");
  sub->add_option("TRIAL", a->trial, "Trial directory")->required();
  sub->add_option("TENSOR", a->tensor, "Tensor name")->required();
  sub->add_option("--mode", a->mode, "Only this mode (TRAIN, EVAL, PREDICT, GLOBAL)");
  sub->add_option("--worker", a->worker, "Only this worker");
  sub->add_option("--step", a->step, "Only this step: a mode step with --mode, else a global step");
  sub->add_flag("--json", a->json, "Print the tdbg.values/1 JSON document");
  sub->add_flag("--no-data", a->no_data, "Leave the element values out");
  commands.add(sub, [a] { return run_values(*a, std::cout); });
}

}  // namespace tdbg::cli
