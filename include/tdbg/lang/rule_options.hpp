// tdbg/lang/rule_options.hpp — the non-expression half of a rule built from a `.rule` file: its
// schedule, findings split and message, resolved from the rule's parameter values into
// rules::rule_options. Shared by the run-time loader (load.hpp) and the headers `tdbg compile`
// generates (codegen.hpp), so both forms of a rule schedule and word their findings identically.
// Layer: lang (model.hpp, rules/rule.hpp, fmt; no Spirit X3).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/lang/model.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/rule.hpp"

namespace tdbg::lang {

/// The parameter values of one rule, by name (every parameter of the rule, nothing else).
using parameter_values = std::map<std::string, value>;

/// A rule's schedule and findings with every parameter resolved to a number.
struct resolved_settings {
  std::optional<std::int64_t> every;
  std::optional<std::int64_t> warmup;
  std::optional<std::int64_t> from;
  std::optional<std::int64_t> until;
  tdbg::mode mode = tdbg::mode::global;            ///< `evaluate in MODE steps` (global: every mode)
  rules::findings_per findings = rules::findings_per::evaluation;
  std::optional<std::string> message;              ///< the template as written (nullopt: the default)
};

/// A whole-number argument (a count or a step) given as a number parameter's double: converts to
/// whichever integer type the engine function takes (std::size_t, step_t), as the loader does.
struct whole {
  double v = 0;
  template <class I>
    requires std::is_integral_v<I>
  constexpr operator I() const noexcept {  // NOLINT: implicit on purpose (one spelling for every count)
    return static_cast<I>(v);
  }
};

/// The message `t` with the rule's parameters substituted ({name} or {name:spec}); the other
/// fields ({tensor}, {value}, ...) stay for the engine. Substituted text has its braces doubled.
/// A parameter takes precedence over an engine field of the same name ({threshold}).
[[nodiscard]] inline std::string substitute_parameters(const std::string& t, const parameter_values& params) {
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if ((t[i] == '{' || t[i] == '}') && i + 1 < t.size() && t[i + 1] == t[i]) {
      out += t.substr(i, 2);
      ++i;
      continue;
    }
    if (t[i] != '{') {
      out += t[i];
      continue;
    }
    const auto close = t.find('}', i);
    if (close == std::string::npos) {  // the checker refuses it; keep the text for the engine's error
      out += t.substr(i);
      break;
    }
    const std::string field = t.substr(i + 1, close - i - 1);
    const auto colon = field.find(':');
    const std::string name = field.substr(0, colon);
    const auto it = params.find(name);
    if (it == params.end()) {
      out += t.substr(i, close - i + 1);
      i = close;
      continue;
    }
    const value& v = it->second;
    std::string text;
    if (const double* d = std::get_if<double>(&v))
      text = colon == std::string::npos ? rules::format_number(*d)
                                        : fmt::format(fmt::runtime("{" + field.substr(colon) + "}"), *d);
    else if (const bool* b = std::get_if<bool>(&v))
      text = *b ? "true" : "false";
    else if (const std::string* s = std::get_if<std::string>(&v))
      text = *s;
    else if (const regex_value* re = std::get_if<regex_value>(&v))
      text = re->pattern;
    else
      text = std::string(mode_name(std::get<tdbg::mode>(v)));
    for (char c : text) {
      out += c;
      if (c == '{' || c == '}') out += c;
    }
    i = close;
  }
  return out;
}

/// The settings of a checked rule with its parameters' values (a step clause naming a number
/// parameter takes that parameter's value, `evaluate in m` a mode parameter's).
[[nodiscard]] inline resolved_settings resolve_settings(const rule_info& info, const parameter_values& params) {
  auto number = [&](const step_value& v) -> std::int64_t {
    if (v.index() == 0) return std::get<0>(v);
    return static_cast<std::int64_t>(std::get<double>(params.at(std::get<1>(v))));
  };
  resolved_settings s;
  const auto& sch = info.schedule;
  if (sch.every) s.every = number(*sch.every);
  if (sch.warmup) s.warmup = number(*sch.warmup);
  if (sch.from) s.from = number(*sch.from);
  if (sch.until) s.until = number(*sch.until);
  if (sch.mode)
    s.mode = sch.mode->index() == 0 ? std::get<0>(*sch.mode) : std::get<tdbg::mode>(params.at(std::get<1>(*sch.mode)));
  if (sch.findings_per_tensor) s.findings = rules::findings_per::observation;
  s.message = info.message;
  return s;
}

/// The engine options of rule `rule` (docs/rule-language.md, "Schedule"): `every` →
/// schedule::every, `warmup` → schedule::warmup, `from`/`until` → schedule::start/end (steps of
/// the schedule's mode), the findings split, and the message with the parameters substituted.
/// Throws usage_error if `until` is before `from` or a format spec of a parameter is invalid.
[[nodiscard]] inline rules::rule_options make_rule_options(const std::string& rule, const resolved_settings& s,
                                                           const parameter_values& params) {
  rules::rule_options o;
  o.when.mode = s.mode;
  if (s.every) o.when.every = static_cast<step_t>(*s.every);
  if (s.warmup) o.when.warmup = static_cast<std::size_t>(*s.warmup);
  if (s.from) o.when.start = static_cast<step_t>(*s.from);
  if (s.until) o.when.end = static_cast<step_t>(*s.until);
  if (o.when.start && o.when.end && *o.when.end < *o.when.start)
    throw usage_error("rule '" + rule + "': the 'until' step " + std::to_string(*o.when.end) +
                      " is before the 'from' step " + std::to_string(*o.when.start));
  o.findings = s.findings;
  if (s.message) {
    try {
      o.message = substitute_parameters(*s.message, params);
    } catch (const fmt::format_error& e) {
      throw usage_error("rule '" + rule + "': invalid format of a parameter in the message: " + e.what());
    }
  }
  return o;
}

}  // namespace tdbg::lang
