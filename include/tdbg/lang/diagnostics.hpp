// tdbg/lang/diagnostics.hpp — what the `.rule` front end reports: positioned diagnostics.
// Layer: lang (core and the standard library only; no Spirit X3 here, so tools can print
// diagnostics without the grammar).
//
// A diagnostic renders like a compiler's:
//
//   losses.rule:3:15: error: unknown function 'meen'; did you mean 'mean'?
//     fire when any(meen(abs(g)) < t)
//                   ^
//
// Lines and columns are 1-based; a column counts characters (UTF-8 code points), and the caret
// line repeats the tabs of the source line so the caret lines up in a terminal.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"

namespace tdbg::lang {

/// How bad a diagnostic is: an error makes the file unusable; a note explains the error before it.
enum class severity : unsigned char { error, note };

/// "error" or "note".
[[nodiscard]] constexpr std::string_view severity_name(severity s) noexcept {
  return s == severity::error ? "error" : "note";
}

/// One message about a place in a source file.
struct diagnostic {
  lang::severity level = severity::error;
  std::string file;         ///< name shown before the position
  std::size_t line = 1;     ///< 1-based line
  std::size_t column = 1;   ///< 1-based column, in characters
  std::string message;      ///< one line, no trailing period
  std::string source_line;  ///< the text of that line (no newline)

  /// "file:line:col: error: message\n<source line>\n<caret line>\n".
  [[nodiscard]] std::string str() const {
    std::string out = file + ':' + std::to_string(line) + ':' + std::to_string(column) + ": " +
                      std::string(severity_name(level)) + ": " + message + '\n';
    out += source_line;
    out += '\n';
    std::size_t col = 1;
    for (std::size_t i = 0; i < source_line.size() && col < column; ++i) {
      const auto c = static_cast<unsigned char>(source_line[i]);
      if ((c & 0xC0U) == 0x80U) continue;  // UTF-8 continuation byte: same character
      out += c == '\t' ? '\t' : ' ';
      ++col;
    }
    for (; col < column; ++col) out += ' ';  // a position past the end of the line
    out += "^\n";
    return out;
  }
  friend bool operator==(const diagnostic&, const diagnostic&) = default;
};

/// All diagnostics, rendered one after the other in the order given.
[[nodiscard]] inline std::string format_diagnostics(const std::vector<diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.str();
  return out;
}

/// The number of errors (notes not counted).
[[nodiscard]] inline std::size_t error_count(const std::vector<diagnostic>& ds) noexcept {
  std::size_t n = 0;
  for (const auto& d : ds) n += d.level == severity::error ? 1 : 0;
  return n;
}

/// A `.rule` text (or a `--param` value) that has errors; what() holds every diagnostic, rendered.
class parse_error : public tdbg::error {
 public:
  explicit parse_error(std::vector<diagnostic> ds)
      : tdbg::error(format_diagnostics(ds)), diagnostics_(std::move(ds)) {}
  [[nodiscard]] const std::vector<diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  std::vector<diagnostic> diagnostics_;
};

/// A source text with its name; maps byte offsets to positioned diagnostics.
/// The text lives on the heap and never moves, so pointers into it (the parser's iterators and
/// the AST's position cache) stay valid while any copy of the `source_file` lives.
class source_file {
 public:
  source_file(std::string name, std::string text)
      : name_(std::move(name)), text_(std::make_shared<const std::string>(std::move(text))) {
    auto starts = std::make_shared<std::vector<std::size_t>>(1, 0);
    for (std::size_t i = 0; i < text_->size(); ++i)
      if ((*text_)[i] == '\n') starts->push_back(i + 1);
    line_starts_ = std::move(starts);
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::string_view text() const noexcept { return *text_; }
  [[nodiscard]] const char* begin() const noexcept { return text_->data(); }
  [[nodiscard]] const char* end() const noexcept { return text_->data() + text_->size(); }

  /// A diagnostic at byte `offset` (clamped to the text).
  [[nodiscard]] diagnostic at(std::size_t offset, std::string message,
                              severity level = severity::error) const {
    const std::string_view t = text();
    if (offset > t.size()) offset = t.size();
    // the last line start <= offset (binary search: many diagnostics in a big file stay cheap)
    const auto& starts = *line_starts_;
    const auto it = std::upper_bound(starts.begin(), starts.end(), offset);
    const std::size_t line = static_cast<std::size_t>(it - starts.begin());
    const std::size_t line_start = *(it - 1);
    std::size_t line_end = t.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = t.size();
    std::size_t column = 1;
    for (std::size_t i = line_start; i < offset; ++i)
      if ((static_cast<unsigned char>(t[i]) & 0xC0U) != 0x80U) ++column;
    std::string src(t.substr(line_start, line_end - line_start));
    if (!src.empty() && src.back() == '\r') src.pop_back();
    return diagnostic{level, name_, line, column, std::move(message), std::move(src)};
  }
  /// A diagnostic at a pointer into the text.
  [[nodiscard]] diagnostic at(const char* where, std::string message,
                              severity level = severity::error) const {
    const bool inside = std::less_equal<>()(begin(), where) && std::less_equal<>()(where, end());
    const std::size_t offset = inside ? static_cast<std::size_t>(where - begin()) : 0;
    return at(offset, std::move(message), level);
  }

 private:
  std::string name_;
  std::shared_ptr<const std::string> text_;
  std::shared_ptr<const std::vector<std::size_t>> line_starts_;  // offsets of each line's start
};

}  // namespace tdbg::lang
