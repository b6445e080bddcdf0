// tools/tdbg/json_writer.hpp — a small streaming JSON writer for the CLI's output contracts.
// Key order is the order of calls; floats print as the shortest text that reads back to the
// same value of their own type (float32 stays "0.1", not "0.10000000149011612"); non-finite
// values, which JSON cannot hold, print as the strings "NaN", "Infinity", "-Infinity".
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tdbg::cli {

class json_writer {
 public:
  std::string& str() noexcept { return out_; }

  json_writer& begin_object() { value_prefix(); out_ += '{'; stack_.push_back(true); return *this; }
  json_writer& end_object() { out_ += '}'; stack_.pop_back(); return *this; }
  json_writer& begin_array() { value_prefix(); out_ += '['; stack_.push_back(true); return *this; }
  json_writer& end_array() { out_ += ']'; stack_.pop_back(); return *this; }

  json_writer& key(std::string_view k) {
    comma();
    string_literal(k);
    out_ += ": ";
    after_key_ = true;
    return *this;
  }

  json_writer& value(std::string_view s) { value_prefix(); string_literal(s); return *this; }
  json_writer& value(const char* s) { return value(std::string_view(s)); }
  json_writer& value(bool b) { value_prefix(); out_ += b ? "true" : "false"; return *this; }
  json_writer& value(std::int64_t v) { value_prefix(); out_ += fmt::format("{}", v); return *this; }
  json_writer& value(std::uint64_t v) { value_prefix(); out_ += fmt::format("{}", v); return *this; }
  json_writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
  json_writer& null() { value_prefix(); out_ += "null"; return *this; }

  template <class F>
    requires std::is_floating_point_v<F>
  json_writer& value(F v) {
    value_prefix();
    if (std::isnan(v)) out_ += "\"NaN\"";
    else if (std::isinf(v)) out_ += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    else out_ += fmt::format("{}", v);
    return *this;
  }

 private:
  void comma() {
    if (stack_.empty()) return;
    if (!stack_.back()) out_ += ", ";
    stack_.back() = false;
  }
  void value_prefix() {
    if (after_key_) { after_key_ = false; return; }
    comma();
  }
  void string_literal(std::string_view s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        default:
          if (c < 0x20) out_ += fmt::format("\\u{:04x}", c);
          else out_ += static_cast<char>(c);  // UTF-8 passes through
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> stack_;  // per open container: "no element written yet"
  bool after_key_ = false;
};

}  // namespace tdbg::cli
