// tdbg/io/py_json.hpp — writing JSON exactly as Python's json.dumps does by default.
// Layer: io. Includes tdbg/core/error.hpp and the standard library.
//
// smdebug writes its index and collections files with json.dumps(obj): separators ", " and
// ": ", ensure_ascii=True, no trailing newline. Byte-identical output needs Python's string
// escaping, which differs from most JSON writers (\u escapes in lower-case hex for everything
// outside printable ASCII, surrogate pairs above U+FFFF, "/" left alone).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tdbg/core/error.hpp"

namespace tdbg::io {

/// Appends `utf8` as a quoted JSON string literal with json.dumps' ensure_ascii escaping.
/// Throws usage_error if `utf8` is not valid UTF-8 (Python strings always are).
inline void append_py_json_string(std::string& out, std::string_view utf8) {
  static constexpr char hex[] = "0123456789abcdef";
  auto put_u = [&](std::uint32_t u) {
    out += "\\u";
    for (int i = 3; i >= 0; --i) out += hex[(u >> (4 * i)) & 0xfu];
  };
  auto bad = [&](std::size_t at) -> usage_error {
    return usage_error("invalid UTF-8 at byte " + std::to_string(at) + " of JSON string \"" +
                       std::string(utf8.substr(0, 64)) + "\"");
  };
  out += '"';
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7f)
            put_u(c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    std::uint32_t min;
    if ((c & 0xe0u) == 0xc0u) {
      len = 2, cp = c & 0x1fu, min = 0x80;
    } else if ((c & 0xf0u) == 0xe0u) {
      len = 3, cp = c & 0x0fu, min = 0x800;
    } else if ((c & 0xf8u) == 0xf0u) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
      throw bad(i);
    }
    if (utf8.size() - i < len) throw bad(i);
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(utf8[i + k]);
      if ((cc & 0xc0u) != 0x80u) throw bad(i);
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw bad(i);
    if (cp >= 0x10000) {
      const std::uint32_t v = cp - 0x10000;
      put_u(0xd800 + (v >> 10));
      put_u(0xdc00 + (v & 0x3ffu));
    } else {
      put_u(cp);
    }
    i += len;
  }
  out += '"';
}

}  // namespace tdbg::io
