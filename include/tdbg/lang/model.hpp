// tdbg/lang/model.hpp — what a checked `.rule` declaration means, without its expression:
// parameters (typed, with defaults), schedule, message template. The binding to the engine
// reads these plus the rule's AST; `--param` overrides are validated against them.
// Layer: lang (core, Boost.Regex, function_table.hpp; no Spirit X3).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/regex.hpp>

#include "tdbg/core/mode.hpp"
#include "tdbg/lang/function_table.hpp"

namespace tdbg::lang {

/// A regex parameter value (kept apart from strings: `tensors(...)` takes a regex only).
struct regex_value {
  std::string pattern;
  friend bool operator==(const regex_value&, const regex_value&) = default;
};

/// The value of a parameter: number, boolean, string, regex or mode.
using value = std::variant<double, bool, std::string, regex_value, tdbg::mode>;

/// The kind of a parameter value.
[[nodiscard]] inline value_kind kind_of(const value& v) noexcept {
  switch (v.index()) {
    case 0: return value_kind::number;
    case 1: return value_kind::boolean;
    case 2: return value_kind::string;
    case 3: return value_kind::regex;
    default: return value_kind::mode;
  }
}

/// "number", "bool", "string", "regex", "mode": the spelling of parameter types.
[[nodiscard]] constexpr std::string_view value_kind_name(value_kind k) noexcept {
  switch (k) {
    case value_kind::number: return "number";
    case value_kind::boolean: return "bool";
    case value_kind::string: return "string";
    case value_kind::regex: return "regex";
    case value_kind::mode: return "mode";
  }
  return "value";
}

/// The parameter type named `name` ("number", "bool", ...); nullopt if there is none.
[[nodiscard]] inline std::optional<value_kind> parse_value_kind(std::string_view name) noexcept {
  for (auto k : {value_kind::number, value_kind::boolean, value_kind::string, value_kind::regex,
                 value_kind::mode})
    if (value_kind_name(k) == name) return k;
  return std::nullopt;
}

/// Why `pattern` is not a usable regex (Boost.Regex, perl syntax, as the engine compiles it);
/// nullopt if it is one.
[[nodiscard]] inline std::optional<std::string> regex_problem(const std::string& pattern) {
  if (pattern.empty()) return std::string("a regex must not be empty");
  try {
    boost::regex re(pattern, boost::regex::perl);
    (void)re;
  } catch (const std::exception& e) {
    return std::string("invalid regex: ") + e.what();
  }
  return std::nullopt;
}

/// A number that must be a whole number >= minimum: nullopt if it is one, else why not.
[[nodiscard]] inline std::optional<std::string> whole_number_problem(double v, double minimum) {
  if (!std::isfinite(v) || v != std::floor(v) || v < minimum || v > 9.0e15)
    return "must be a whole number >= " + std::to_string(static_cast<long long>(minimum));
  return std::nullopt;
}

/// One declared parameter.
struct parameter_info {
  std::string name;
  value_kind kind = value_kind::number;
  std::optional<value> default_value;  ///< nullopt: must be given by an override
  bool whole_number = false;           ///< used where a whole number is required (a count, a step)
  double minimum = 0;                  ///< with whole_number: the smallest value allowed
};

/// A schedule value: a literal, or the name of a number parameter.
using step_value = std::variant<std::int64_t, std::string>;

/// A mode clause's value: a mode, or the name of a mode parameter.
using mode_value = std::variant<tdbg::mode, std::string>;

/// Which steps a rule evaluates (every clause optional; docs/rule-language.md, "Schedule"), and
/// how its findings are split.
struct schedule_info {
  std::optional<mode_value> mode;    ///< `evaluate in MODE`: the schedule's mode (none: GLOBAL)
  bool findings_per_tensor = false;  ///< `findings per tensor`
  std::optional<step_value> every;   ///< evaluate at most every k steps (k >= 1)
  std::optional<step_value> warmup;  ///< skip the first n steps the rule would evaluate
  std::optional<step_value> from;    ///< first step evaluated (inclusive; a step of the mode)
  std::optional<step_value> until;   ///< last step evaluated (inclusive; a step of the mode)
};

/// A rule declaration that passed its checks.
struct rule_info {
  std::string name;
  std::vector<parameter_info> parameters;
  schedule_info schedule;
  std::optional<std::string> message;  ///< the template, escapes resolved; nullopt: none given
  std::size_t index = 0;               ///< its position in program::rules

  /// The parameter named `n`, or nullptr.
  [[nodiscard]] const parameter_info* parameter(std::string_view n) const noexcept {
    for (const auto& p : parameters)
      if (p.name == n) return &p;
    return nullptr;
  }
};

/// Placeholders a message may use besides the rule's parameters (also reserved as parameter
/// names).
inline constexpr std::string_view message_placeholders[] = {"rule",   "tensor", "step", "mode",
                                                            "mode_step", "worker", "value"};

/// Further fields of the engine's findings a message may use (rules/rule.hpp): the condition's
/// text, the first observation's threshold, all tensors/values/thresholds, the evidence. Not
/// reserved: a rule parameter of the same name (e.g. `threshold`) takes precedence.
inline constexpr std::string_view engine_message_fields[] = {"expr",   "threshold",  "tensors",
                                                             "values", "thresholds", "evidence"};

}  // namespace tdbg::lang
