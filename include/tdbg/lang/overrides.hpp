// tdbg/lang/overrides.hpp — parameter overrides from the command line (`--param rule.name=value`),
// validated against the checked rules: unknown rule, unknown parameter, value of the wrong type.
// Layer: lang (model.hpp, diagnostics.hpp; no Spirit X3).
//
// A value is read according to the parameter's declared type:
//   number  a decimal number (exponent allowed; no nan/inf); whole numbers where the rule uses
//           the parameter as a count or a step
//   bool    true | false
//   string  the text as is
//   regex   the text as is, or /pattern/ — must compile (Boost.Regex, perl syntax)
//   mode    TRAIN | EVAL | PREDICT | GLOBAL (any case)
// Errors are diagnostics on the pseudo-file "--param", with a caret under the bad part.
#pragma once

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tdbg/core/mode.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/model.hpp"

namespace tdbg::lang {

/// A validated override: which parameter of which rule gets which value.
struct parameter_override {
  std::string rule;
  std::string parameter;
  lang::value value;
  friend bool operator==(const parameter_override&, const parameter_override&) = default;
};

/// Parses and validates `arg` ("rule.parameter=value") against `rules`.
/// Throws parse_error (one diagnostic, file "--param") when it is malformed, names an unknown
/// rule or parameter, or its value does not fit the parameter's type.
[[nodiscard]] inline parameter_override validate_override(const std::vector<rule_info>& rules,
                                                          std::string_view arg) {
  const source_file src("--param", std::string(arg));
  auto fail = [&](std::size_t offset, std::string msg) -> parameter_override {
    throw parse_error({src.at(offset, std::move(msg))});
  };
  const auto eq = arg.find('=');
  const auto dot = arg.substr(0, eq).find('.');
  if (eq == std::string_view::npos || dot == std::string_view::npos)
    return fail(0, "expected rule.parameter=value");
  const std::string rule_name(arg.substr(0, dot));
  const std::string param_name(arg.substr(dot + 1, eq - dot - 1));
  const std::string text(arg.substr(eq + 1));
  const rule_info* rule = nullptr;
  for (const auto& r : rules)
    if (r.name == rule_name) rule = &r;
  if (!rule) return fail(0, "unknown rule '" + rule_name + "'");
  const parameter_info* p = rule->parameter(param_name);
  if (!p) return fail(dot + 1, "rule '" + rule_name + "' has no parameter '" + param_name + "'");
  const std::size_t at = eq + 1;
  const std::string what = "parameter '" + param_name + "' of rule '" + rule_name + "' is a ";
  parameter_override out{rule_name, param_name, {}};
  switch (p->kind) {
    case value_kind::number: {
      double v = 0;
      const char* first = text.data();
      const char* last = text.data() + text.size();
      if (first != last && *first == '+') ++first;
      const auto [ptr, ec] = std::from_chars(first, last, v);
      const bool word = first != last && ((*first >= 'a' && *first <= 'z') || (*first >= 'A' && *first <= 'Z'));
      if (text.empty() || word || ec != std::errc() || ptr != last || !std::isfinite(v))
        return fail(at, what + "number, got '" + text + "'");
      if (p->whole_number) {
        if (auto why = whole_number_problem(v, p->minimum))
          return fail(at, "parameter '" + param_name + "' of rule '" + rule_name + "' " + *why + ", got '" + text + "'");
      }
      out.value = v;
      break;
    }
    case value_kind::boolean:
      if (text == "true") out.value = true;
      else if (text == "false") out.value = false;
      else return fail(at, what + "bool (true or false), got '" + text + "'");
      break;
    case value_kind::string: out.value = text; break;
    case value_kind::regex: {
      std::string pattern = text;
      if (pattern.size() >= 2 && pattern.front() == '/' && pattern.back() == '/')
        pattern = pattern.substr(1, pattern.size() - 2);
      if (auto why = regex_problem(pattern))
        return fail(at, "parameter '" + param_name + "' of rule '" + rule_name + "': " + *why);
      out.value = regex_value{pattern};
      break;
    }
    case value_kind::mode: {
      const auto m = parse_mode(text);
      if (!m) return fail(at, what + "mode (TRAIN, EVAL, PREDICT or GLOBAL), got '" + text + "'");
      out.value = *m;
      break;
    }
  }
  return out;
}

}  // namespace tdbg::lang
