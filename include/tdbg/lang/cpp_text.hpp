// tdbg/lang/cpp_text.hpp — spelling `.rule` names and values as C++ source text: what the
// generated headers of `tdbg compile` (codegen.hpp) and the generated test sources use.
// Layer: lang (fmt only; no X3).
#pragma once

#include <cmath>
#include <set>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace tdbg::lang::detail {

/// C++ keywords (and names the generated structs use) that a `.rule` name may spell: such a
/// name gets a trailing underscore in C++.
inline bool cpp_reserved(std::string_view n) {
  static const std::set<std::string_view> words = {
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
      "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
      "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
      "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
      "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
      "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
      "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
      "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
      // names of the generated code itself
      "all_rules", "std", "tdbg", "params", "condition", "options", "make", "values", "name", "p", "s"};
  return words.count(n) != 0;
}

/// The C++ spelling of a `.rule` name.
inline std::string cpp_name(const std::string& n) { return cpp_reserved(n) ? n + "_" : n; }

/// A C++ string literal holding `s` exactly (octal escapes for anything not printable ASCII).
inline std::string cpp_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f && c != '?') {  // '?': no trigraphs
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\{:03o}", c);
    }
  }
  return out + '"';
}

/// A C++ double literal that reads back as exactly `v` (shortest round-trip form).
inline std::string cpp_double(double v) {
  if (std::isnan(v)) return "std::numeric_limits<double>::quiet_NaN()";
  if (std::isinf(v)) return v > 0 ? "std::numeric_limits<double>::infinity()" : "-std::numeric_limits<double>::infinity()";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace tdbg::lang::detail
