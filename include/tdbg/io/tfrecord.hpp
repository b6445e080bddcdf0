// tdbg/io/tfrecord.hpp — TFRecord framing of event files (spec §2).
// Layer: io. Includes tdbg/core/error.hpp, tdbg/io/{crc32c,wire}.hpp and the standard library.
//
// A record is: u64 LE payload length, u32 LE masked CRC-32C of those 8 bytes, the payload,
// and a u32 LE footer. smdebug's footer is the constant smdebug_footer; TensorBoard-style files
// carry the masked payload CRC. tdbg writes the constant and reads both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/io/crc32c.hpp"
#include "tdbg/io/wire.hpp"

namespace tdbg::io {

/// Bytes a record adds around its payload (8 length + 4 length CRC + 4 footer).
inline constexpr std::uint64_t record_overhead = 16;

/// The largest payload read_record accepts. Protobuf messages cannot exceed 2 GiB, so a
/// longer length is corruption, not a big tensor.
inline constexpr std::uint64_t max_record_payload = std::uint64_t{1} << 31;

namespace detail {
inline void put_le32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffu));
}
[[nodiscard]] inline std::uint32_t get_le32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}
[[nodiscard]] inline std::string hex32(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int i = 7; i >= 0; --i) s += digits[(v >> (4 * i)) & 0xfu];
  return s;
}
}  // namespace detail

/// Framing in place, for a payload encoded straight into `out` (no copy of it): begin_record
/// reserves the 12 header bytes at the end of `out` and returns where the record starts; the
/// caller appends the payload; end_record writes the header (length, masked CRC of the length)
/// and appends smdebug's constant footer.
[[nodiscard]] inline std::size_t begin_record(std::vector<std::byte>& out) {
  const std::size_t start = out.size();
  out.resize(start + 12);
  return start;
}
inline void end_record(std::vector<std::byte>& out, std::size_t start) {
  const std::uint64_t length = out.size() - start - 12;
  for (int i = 0; i < 8; ++i) out[start + static_cast<std::size_t>(i)] = static_cast<std::byte>((length >> (8 * i)) & 0xffu);
  const std::uint32_t len_crc = masked_crc32c(std::span<const std::byte>(out.data() + start, 8));
  for (int i = 0; i < 4; ++i) out[start + 8 + static_cast<std::size_t>(i)] = static_cast<std::byte>((len_crc >> (8 * i)) & 0xffu);
  detail::put_le32(out, smdebug_footer);
}

/// Appends one record framing `payload` to `out`, with smdebug's constant footer.
inline void append_record(std::vector<std::byte>& out, std::span<const std::byte> payload) {
  detail::reserve_more(out, payload.size() + record_overhead);
  const std::size_t start = begin_record(out);
  out.insert(out.end(), payload.begin(), payload.end());
  end_record(out, start);
}

/// A record parsed in place: `payload` points into the bytes given to read_record.
struct record_view {
  std::span<const std::byte> payload;
  std::uint64_t size = 0;             ///< whole record: payload + 16 (the index `length`)
  bool footer_is_payload_crc = false; ///< true: a TensorBoard-style footer, false: smdebug's constant
};

/// Parses the record at the start of `bytes`, which starts at byte `offset` of `file` (both
/// only used in messages).
/// Returns nullopt when `bytes` ends before the record does (a record still being written: "not
/// yet", not an error). Throws format_error("<file>: offset N: ...") on a bad length CRC, a
/// length above max_record_payload, or a footer that is neither smdebug_footer nor the masked
/// payload CRC.
[[nodiscard]] inline std::optional<record_view> read_record(std::span<const std::byte> bytes,
                                                            std::string_view file,
                                                            std::uint64_t offset) {
  auto fail = [&](const std::string& what) -> format_error {
    return format_error(std::string(file) + ": offset " + std::to_string(offset) + ": " + what);
  };
  if (bytes.size() < 12) return std::nullopt;
  const std::uint64_t len = detail::load_le64(bytes.data());
  const std::uint32_t stored_len_crc = detail::get_le32(bytes.data() + 8);
  const std::uint32_t len_crc = masked_crc32c(bytes.first(8));
  if (stored_len_crc != len_crc)
    throw fail("bad record length CRC (stored " + detail::hex32(stored_len_crc) + ", computed " +
               detail::hex32(len_crc) + "): not a TFRecord or corrupt");
  if (len > max_record_payload)
    throw fail("record payload length " + std::to_string(len) + " exceeds " +
               std::to_string(max_record_payload) + " bytes");
  const std::uint64_t size = len + record_overhead;
  if (bytes.size() < size) return std::nullopt;
  const auto payload = bytes.subspan(12, static_cast<std::size_t>(len));
  const std::uint32_t footer = detail::get_le32(bytes.data() + 12 + len);
  if (footer == smdebug_footer) return record_view{payload, size, false};
  const std::uint32_t payload_crc = masked_crc32c(payload);
  if (footer == payload_crc) return record_view{payload, size, true};
  throw fail("bad record footer " + detail::hex32(footer) + " (expected smdebug's " +
             detail::hex32(smdebug_footer) + " or the payload CRC " + detail::hex32(payload_crc) +
             ")");
}

}  // namespace tdbg::io
