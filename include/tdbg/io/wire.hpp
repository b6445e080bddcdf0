// tdbg/io/wire.hpp — protobuf wire-format primitives (internal to the io layer).
// Layer: io, namespace tdbg::io::detail. Includes tdbg/core/error.hpp and the standard library.
//
// The writer side appends varints, tags and length-delimited fields to a byte vector. The
// reader side walks one message's fields with every length checked against the message's
// bounds, so corrupt input gives a format_error naming the byte offset, never an out-of-bounds
// read. Offsets are relative to the outermost buffer (the record payload).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/error.hpp"

namespace tdbg::io::detail {

enum class wire_type : std::uint8_t {
  varint = 0,
  fixed64 = 1,
  length_delimited = 2,
  start_group = 3,
  end_group = 4,
  fixed32 = 5,
};

/// Makes room for `extra` more bytes, growing geometrically: an exact reserve per append would
/// reallocate on every record written into one buffer (quadratic time).
inline void reserve_more(std::vector<std::byte>& out, std::size_t extra) {
  const std::size_t need = out.size() + extra;
  if (need > out.capacity()) out.reserve(need > 2 * out.capacity() ? need : 2 * out.capacity());
}

/// Bytes the varint encoding of v takes (1..10).
[[nodiscard]] constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline void put_varint(std::vector<std::byte>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::byte>((v & 0x7fu) | 0x80u));
    v >>= 7;
  }
  out.push_back(static_cast<std::byte>(v));
}

[[nodiscard]] constexpr std::uint64_t make_tag(std::uint32_t field, wire_type t) noexcept {
  return (static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(t);
}

inline void put_tag(std::vector<std::byte>& out, std::uint32_t field, wire_type t) {
  put_varint(out, make_tag(field, t));
}

inline void put_fixed64(std::vector<std::byte>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffu));
}

/// Size of a length-delimited field (tag + length + body) with a body of `body` bytes.
[[nodiscard]] constexpr std::size_t delimited_field_size(std::uint32_t field,
                                                         std::size_t body) noexcept {
  return varint_size(make_tag(field, wire_type::length_delimited)) + varint_size(body) + body;
}

/// Writes the tag and length of a length-delimited field; the caller appends the body.
inline void put_delimited_header(std::vector<std::byte>& out, std::uint32_t field,
                                 std::size_t body) {
  put_tag(out, field, wire_type::length_delimited);
  put_varint(out, body);
}

inline void put_bytes_field(std::vector<std::byte>& out, std::uint32_t field,
                            std::span<const std::byte> body) {
  put_delimited_header(out, field, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

inline void put_string_field(std::vector<std::byte>& out, std::uint32_t field,
                             std::string_view s) {
  put_bytes_field(out, field, std::as_bytes(std::span<const char>(s.data(), s.size())));
}

/// One field read by wire_reader. Exactly one of `value` (varint, fixed32, fixed64) and
/// `bytes` (length-delimited) is meaningful, depending on `type`.
struct wire_field {
  std::uint32_t number = 0;
  wire_type type = wire_type::varint;
  std::uint64_t value = 0;
  std::span<const std::byte> bytes;
  std::size_t offset = 0;       ///< offset of the field's tag in the outermost buffer
  std::size_t body_offset = 0;  ///< offset of `bytes` in the outermost buffer
};

/// Reads the fields of one message in order. Groups (wire types 3/4) are skipped whole.
class wire_reader {
 public:
  /// `data` is the message; `base` its offset in the outermost buffer; `context` prefixes
  /// every error message; `message` names the message type in errors.
  wire_reader(std::span<const std::byte> data, std::size_t base, std::string_view context,
              std::string_view message) noexcept
      : data_(data), base_(base), context_(context), message_(message) {}

  [[nodiscard]] bool done() const noexcept { return pos_ >= data_.size(); }

  /// Reads the next field; nullopt at the end of the message. Use: `while (auto f = r.next())`.
  [[nodiscard]] std::optional<wire_field> next() {
    for (;;) {
      if (done()) return std::nullopt;
      wire_field f;
      f.offset = base_ + pos_;
      const std::uint64_t tag = read_varint("field tag");
      const std::uint64_t number = tag >> 3;
      const auto wt = static_cast<std::uint8_t>(tag & 7u);
      if (number == 0 || number > 0x1fffffffu)
        fail("invalid field number " + std::to_string(number), f.offset);
      f.number = static_cast<std::uint32_t>(number);
      switch (wt) {
        case 0:
          f.type = wire_type::varint;
          f.value = read_varint("varint field");
          return f;
        case 1:
          f.type = wire_type::fixed64;
          f.value = read_fixed(8);
          return f;
        case 5:
          f.type = wire_type::fixed32;
          f.value = read_fixed(4);
          return f;
        case 2: {
          f.type = wire_type::length_delimited;
          const std::uint64_t len = read_varint("field length");
          if (len > data_.size() - pos_)
            fail("field " + std::to_string(number) + " claims " + std::to_string(len) +
                     " bytes but only " + std::to_string(data_.size() - pos_) + " remain",
                 f.offset);
          f.body_offset = base_ + pos_;
          f.bytes = data_.subspan(pos_, static_cast<std::size_t>(len));
          pos_ += static_cast<std::size_t>(len);
          return f;
        }
        case 3:
          skip_group(f.number, f.offset);
          continue;  // a group is not a field anyone here reads: move on to the next one
        case 4:
          fail("unexpected end-group marker for field " + std::to_string(number), f.offset);
        default:
          fail("invalid wire type " + std::to_string(wt) + " for field " + std::to_string(number),
               f.offset);
      }
    }
  }

  /// Throws the format_error for `what` at byte `offset` of the outermost buffer.
  [[noreturn]] void fail(const std::string& what, std::size_t offset) const {
    throw format_error(std::string(context_) + ": malformed " + std::string(message_) + ": " +
                       what + " (at payload byte " + std::to_string(offset) + ")");
  }

  /// A reader over a nested message held in a length-delimited field.
  [[nodiscard]] wire_reader nested(const wire_field& f, std::string_view message) const noexcept {
    return wire_reader(f.bytes, f.body_offset, context_, message);
  }

  /// Requires `f` to have wire type `t`.
  void expect(const wire_field& f, wire_type t, std::string_view field_name) const {
    if (f.type != t)
      fail("field " + std::to_string(f.number) + " (" + std::string(field_name) +
               ") has wire type " + std::to_string(static_cast<int>(f.type)) + ", expected " +
               std::to_string(static_cast<int>(t)),
           f.offset);
  }

  [[nodiscard]] std::string_view context() const noexcept { return context_; }

  /// Reads a varint from `bytes` at `pos` (advanced), bounds- and overflow-checked; used for
  /// packed repeated fields. `base` is the offset of `bytes` in the outermost buffer.
  [[nodiscard]] std::uint64_t read_varint_in(std::span<const std::byte> bytes, std::size_t& pos,
                                             std::size_t base, std::string_view what) const {
    std::uint64_t v = 0;
    const std::size_t start = pos;
    for (int i = 0; i < 10; ++i) {
      if (pos >= bytes.size()) fail("truncated " + std::string(what), base + start);
      const auto b = static_cast<std::uint8_t>(bytes[pos++]);
      if (i == 9 && b > 1) fail("varint overflows 64 bits in " + std::string(what), base + start);
      v |= static_cast<std::uint64_t>(b & 0x7fu) << (7 * i);
      if ((b & 0x80u) == 0) return v;
    }
    fail("varint longer than 10 bytes in " + std::string(what), base + start);
  }

 private:
  std::uint64_t read_varint(std::string_view what) {
    return read_varint_in(data_, pos_, base_, what);
  }

  std::uint64_t read_fixed(int n) {
    if (data_.size() - pos_ < static_cast<std::size_t>(n))
      fail("truncated fixed" + std::to_string(8 * n) + " field", base_ + pos_);
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i)
      v = (v << 8) | static_cast<std::uint8_t>(data_[pos_ + static_cast<std::size_t>(i)]);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }

  // Skips up to the end-group marker of `number`. Nesting is tracked with a counter, not
  // recursion, so deeply nested garbage cannot exhaust the stack.
  void skip_group(std::uint32_t number, std::size_t offset) {
    std::vector<std::uint64_t> open{number};
    while (!open.empty()) {
      if (done()) fail("unterminated group " + std::to_string(number), offset);
      const std::size_t at = base_ + pos_;
      const std::uint64_t tag = read_varint("field tag");
      const std::uint64_t n = tag >> 3;
      switch (tag & 7u) {
        case 0: (void)read_varint("varint field"); break;
        case 1: (void)read_fixed(8); break;
        case 5: (void)read_fixed(4); break;
        case 2: {
          const std::uint64_t len = read_varint("field length");
          if (len > data_.size() - pos_)
            fail("field " + std::to_string(n) + " claims " + std::to_string(len) +
                     " bytes but only " + std::to_string(data_.size() - pos_) + " remain",
                 at);
          pos_ += static_cast<std::size_t>(len);
          break;
        }
        case 3: open.push_back(n); break;
        case 4:
          if (open.back() != n)
            fail("end-group " + std::to_string(n) + " does not close group " +
                     std::to_string(open.back()),
                 at);
          open.pop_back();
          break;
        default:
          fail("invalid wire type " + std::to_string(tag & 7u), at);
      }
    }
  }

  std::span<const std::byte> data_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
  std::string_view context_;
  std::string_view message_;
};

}  // namespace tdbg::io::detail
