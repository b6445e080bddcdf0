// tools/tdbg/rules_command.hpp — `tdbg rules [--json]`: the built-in rule library (rules/*.rule)
// with each rule's parameters, defaults and one-line description; and where that library is
// found, which `tdbg check` / `tdbg watch` also use to accept a built-in rule by name.
//
// Where the built-in rules are (docs/cli.md, "Built-in rules"):
//  1. $TDBG_RULES_PATH — one or more directories separated by ':', searched in order (a rule
//     found in an earlier directory hides one of the same name in a later one);
//  2. otherwise the installed share directory, relative to the executable:
//     <bin>/../<datadir>/tdbg/rules (CMake installs rules/ there);
//  3. otherwise the source tree's rules/ (a tool run from its build tree).
// The description of a file is its first comment line, without the "# <name> — " prefix.
#pragma once

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "command.hpp"
#include "commands.hpp"
#include "json_writer.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/model.hpp"
#include "tdbg/lang/lang.hpp"

#ifndef TDBG_INSTALL_DATADIR
#define TDBG_INSTALL_DATADIR "share"
#endif

namespace tdbg::cli {

struct rules_args {
  bool json = false;
};

namespace detail {

/// The directories searched for built-in rules, in order (see the header comment); only
/// directories that exist. `source` says where they came from.
struct rules_search_path {
  std::vector<std::filesystem::path> dirs;
  std::string source;  ///< "TDBG_RULES_PATH", "installed" or "source tree"
};

inline rules_search_path find_rules_search_path() {
  namespace fs = std::filesystem;
  std::error_code ec;
  rules_search_path out;
  if (const char* env = std::getenv("TDBG_RULES_PATH"); env && *env) {
    out.source = "TDBG_RULES_PATH";
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string dir(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      if (!dir.empty() && fs::is_directory(dir, ec)) out.dirs.emplace_back(dir);
    }
    return out;
  }
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / TDBG_INSTALL_DATADIR / "tdbg" / "rules";
    if (fs::is_directory(installed, ec)) {
      out.source = "installed";
      out.dirs.push_back(installed);
      return out;
    }
  }
#ifdef TDBG_SOURCE_RULES_DIR
  if (fs::is_directory(TDBG_SOURCE_RULES_DIR, ec)) {
    out.source = "source tree";
    out.dirs.emplace_back(TDBG_SOURCE_RULES_DIR);
  }
#endif
  return out;
}

/// The built-in rule files by stem (the first directory of the search path that has it).
inline std::map<std::string, std::filesystem::path> builtin_rule_files(const rules_search_path& sp) {
  namespace fs = std::filesystem;
  std::map<std::string, fs::path> out;
  for (const auto& dir : sp.dirs) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const auto& p = it->path();
      std::error_code fec;
      if (p.extension() == ".rule" && it->is_regular_file(fec)) out.emplace(p.stem().string(), p);
    }
  }
  return out;
}

/// The file of built-in rule `name` (rules/<name>.rule), or nullopt.
inline std::optional<std::filesystem::path> find_builtin_rule(std::string_view name) {
  const auto files = builtin_rule_files(find_rules_search_path());
  if (const auto it = files.find(std::string(name)); it != files.end()) return it->second;
  return std::nullopt;
}

/// A rule argument of check/watch: an existing file, else a built-in rule's name.
/// usage_error when it is neither.
inline std::filesystem::path resolve_rule_argument(const std::string& arg) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(arg, ec)) return arg;
  const bool name_like = arg.find('/') == std::string::npos && !arg.ends_with(".rule") && !arg.empty();
  if (name_like)
    if (auto p = find_builtin_rule(arg)) return *p;
  if (std::filesystem::exists(arg, ec)) throw usage_error("rule file '" + arg + "' is not a regular file");
  throw usage_error(name_like ? "'" + arg + "' is neither a rule file nor a built-in rule ('tdbg rules' lists them)"
                              : "rule file '" + arg + "' does not exist");
}

/// Reads a whole text file; io_error if it cannot be read.
inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw io_error("cannot read rule file '" + p.string() + "'");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw io_error("error reading rule file '" + p.string() + "'");
  return text;
}

/// The first comment line of a rule file, without "#", surrounding blanks and a leading
/// "<stem> — " / "<stem> - " / "<stem>: ".
inline std::string rule_file_description(std::string_view text, std::string_view stem) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty()) continue;
    if (line.front() != '#') return {};
    line.remove_prefix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t' || line.front() == '#')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.starts_with(stem)) {
      std::string_view rest = line.substr(stem.size());
      for (std::string_view sep : {" \u2014 ", " - ", " -- ", ": "})
        if (rest.starts_with(sep)) return std::string(rest.substr(sep.size()));
    }
    return std::string(line);
  }
  return {};
}

/// A parameter value as written in a .rule file.
inline std::string value_text(const lang::value& v) {
  if (const double* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const std::string* s = std::get_if<std::string>(&v)) return "\"" + *s + "\"";
  if (const lang::regex_value* r = std::get_if<lang::regex_value>(&v)) return "/" + r->pattern + "/";
  return std::string(mode_name(std::get<tdbg::mode>(v)));
}

inline void write_value_json(json_writer& w, const lang::value& v) {
  if (const double* d = std::get_if<double>(&v)) w.value(*d);
  else if (const bool* b = std::get_if<bool>(&v)) w.value(*b);
  else if (const std::string* s = std::get_if<std::string>(&v)) w.value(*s);
  else if (const lang::regex_value* r = std::get_if<lang::regex_value>(&v)) w.value(r->pattern);
  else w.value(mode_name(std::get<tdbg::mode>(v)));
}

}  // namespace detail

/// `tdbg rules [--json]`. Exit 0; 2 when a built-in file has errors (the others are listed,
/// the diagnostics go to `err`) or no rule directory is found.
inline int run_rules(const rules_args& a, std::ostream& out, std::ostream& err) {
  const auto sp = detail::find_rules_search_path();
  if (sp.dirs.empty())
    throw usage_error(sp.source == "TDBG_RULES_PATH"
                          ? "no directory of TDBG_RULES_PATH exists"
                          : "no built-in rule directory found (set TDBG_RULES_PATH to the directory of the .rule files)");
  const auto files = detail::builtin_rule_files(sp);

  struct entry {
    std::string name, file, description;
    std::vector<lang::parameter_info> parameters;
  };
  std::vector<entry> entries;
  bool broken = false;
  for (const auto& [stem, path] : files) {
    const std::string text = detail::read_text_file(path);
    const lang::program p = lang::parse(text, path.string());
    if (!p.ok()) {
      err << lang::format_diagnostics(p.diagnostics);
      broken = true;
    }
    const std::string description = detail::rule_file_description(text, stem);
    for (const auto& r : p.checked) entries.push_back(entry{r.name, path.string(), description, r.parameters});
  }

  if (a.json) {
    json_writer w;
    w.begin_object();
    w.key("format").value("tdbg.rules/1");
    w.key("directories").begin_array();
    for (const auto& d : sp.dirs) w.value(d.string());
    w.end_array();
    w.key("rules").begin_array();
    for (const auto& e : entries) {
      w.begin_object();
      w.key("name").value(e.name);
      w.key("file").value(e.file);
      w.key("description").value(e.description);
      w.key("parameters").begin_array();
      for (const auto& p : e.parameters) {
        w.begin_object();
        w.key("name").value(p.name);
        w.key("type").value(lang::value_kind_name(p.kind));
        w.key("default");
        if (p.default_value) detail::write_value_json(w, *p.default_value);
        else w.null();
        w.end_object();
      }
      w.end_array();
      w.end_object();
    }
    w.end_array();
    w.end_object();
    out << w.str() << '\n';
  } else {
    for (const auto& e : entries) {
      std::string head = e.name + "(";
      for (std::size_t i = 0; i < e.parameters.size(); ++i) {
        const auto& p = e.parameters[i];
        head += (i ? ", " : "") + p.name;
        head += p.default_value ? " = " + detail::value_text(*p.default_value)
                                : std::string(": ") + std::string(lang::value_kind_name(p.kind));
      }
      head += ")";
      out << head << '\n';
      if (!e.description.empty()) out << "    " << e.description << '\n';
    }
    std::string dirs;
    for (const auto& d : sp.dirs) dirs += (dirs.empty() ? "" : ":") + d.string();
    out << fmt::format("{} rule{} in {} ({})\n", entries.size(), entries.size() == 1 ? "" : "s", dirs, sp.source);
  }
  return broken ? exit_usage : exit_ok;
}

/// `tdbg rules [--json]`.
inline void add_rules_command(CLI::App& app, command_list& commands) {
  auto a = std::make_shared<rules_args>();
  auto* sub = app.add_subcommand("rules", "List the built-in rules with their parameters and descriptions");
  sub->add_flag("--json", a->json, "Print the tdbg.rules/1 JSON document");
  commands.add(sub, [a] { return run_rules(*a, std::cout, std::cerr); });
}

}  // namespace tdbg::cli
