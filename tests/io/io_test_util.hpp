// Helpers shared by the io tests: file reading, byte literals, and a tiny protobuf builder that is
// independent of tdbg's own encoder (so tests of the decoder do not trust the code under test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace io_test {

/// Matches an exception whose what() satisfies a string matcher (Catch2 2.13's Message()
/// only compares whole strings).
template <class M>
struct what_matcher : Catch::MatcherBase<std::exception> {
  M m;
  explicit what_matcher(M matcher) : m(std::move(matcher)) {}
  bool match(const std::exception& e) const override { return m.match(e.what()); }
  std::string describe() const override { return "has a message that " + m.toString(); }
};
template <class M>
what_matcher<M> what(M m) {
  return what_matcher<M>(std::move(m));
}

using bytes = std::vector<std::byte>;

inline bytes read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

inline std::string read_text(const std::filesystem::path& p) {
  const bytes b = read_file(p);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

inline void write_file(const std::filesystem::path& p, const bytes& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline bytes of(std::string_view s) {
  bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

inline bytes of(std::initializer_list<int> v) {
  bytes b;
  for (int x : v) b.push_back(static_cast<std::byte>(x));
  return b;
}

/// "0a 0c 4d ..." → bytes (spaces ignored).
inline bytes hex(std::string_view h) {
  bytes b;
  int nibble = -1;
  for (char c : h) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      b.push_back(static_cast<std::byte>(nibble * 16 + v));
      nibble = -1;
    }
  }
  return b;
}

inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// --- an independent protobuf builder -------------------------------------------------------
inline bytes varint(std::uint64_t v) {
  bytes b;
  do {
    std::uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v) byte |= 0x80;
    b.push_back(static_cast<std::byte>(byte));
  } while (v);
  return b;
}
inline bytes key(std::uint32_t field, int wire) { return varint((std::uint64_t{field} << 3) | static_cast<unsigned>(wire)); }
inline bytes f_varint(std::uint32_t field, std::uint64_t v) { return cat({key(field, 0), varint(v)}); }
inline bytes f_bytes(std::uint32_t field, const bytes& body) {
  return cat({key(field, 2), varint(body.size()), body});
}
inline bytes f_str(std::uint32_t field, std::string_view s) { return f_bytes(field, of(s)); }
inline bytes le(std::uint64_t v, int n) {
  bytes b;
  for (int i = 0; i < n; ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  return b;
}
inline bytes f_fixed64(std::uint32_t field, std::uint64_t v) { return cat({key(field, 1), le(v, 8)}); }
inline bytes f_fixed32(std::uint32_t field, std::uint32_t v) { return cat({key(field, 5), le(v, 4)}); }
inline bytes f_group(std::uint32_t field, const bytes& inner) {
  return cat({key(field, 3), inner, key(field, 4)});
}
/// One unknown field of every wire type (numbers 1000+), including a nested group.
inline bytes unknown_fields() {
  return cat({f_varint(1000, 300), f_fixed64(1001, 0x1122334455667788ull), f_str(1002, "junk"),
              f_group(1003, cat({f_varint(1, 1), f_group(2, f_str(3, "x")), f_fixed32(4, 7)})),
              f_fixed32(1004, 0xdeadbeef)});
}

/// Event{wall_time, step, summary{value{tag, tensor, metadata{mode_step, mode}}}} around a
/// TensorProto body.
inline bytes event_with_tensor(const bytes& tensor, std::string_view tag = "t",
                               std::string_view mode_step = "3", std::string_view mode = "2",
                               std::uint64_t step = 7) {
  const bytes meta = cat({f_bytes(1, cat({f_str(1, "mode_step"), f_str(2, mode_step)})),
                          f_bytes(1, cat({f_str(1, "mode"), f_str(2, mode)}))});
  const bytes value = cat({f_str(1, tag), f_bytes(8, tensor), f_bytes(9, meta)});
  return cat({f_fixed64(1, 0x3ff8000000000000ull), f_varint(2, step), f_bytes(5, f_bytes(1, value))});
}

inline bytes shape_of(std::initializer_list<std::int64_t> dims) {
  bytes s;
  for (auto d : dims) s = cat({s, f_bytes(2, f_varint(1, static_cast<std::uint64_t>(d)))});
  return s;
}

}  // namespace io_test
