// tdbg/io/crc32c.hpp — CRC-32C (Castagnoli) and TensorFlow's CRC masking (spec §2).
// Layer: io. Includes only the standard library (and <nmmintrin.h> on x86-64).
//
// Two implementations with the same results: a portable slicing-by-8 table version and, on
// x86-64 CPUs with SSE4.2, the `crc32` instruction. crc32c() picks one once per process.
// All functions take and return the *finished* CRC (initial value and final xor applied), so
// crc32c(a ++ b) == crc32c_portable(b, crc32c_portable(a)).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TDBG_CRC32C_X86 1
#include <nmmintrin.h>
#else
#define TDBG_CRC32C_X86 0
#endif

namespace tdbg::io {

namespace detail {
inline constexpr std::uint32_t crc32c_poly = 0x82F63B78u;  // reflected Castagnoli polynomial

/// tables[k][b]: the CRC register after feeding byte b followed by k zero bytes.
inline constexpr auto crc32c_tables = [] {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c & 1u) ? (c >> 1) ^ crc32c_poly : c >> 1;
    t[0][b] = c;
  }
  for (std::size_t k = 1; k < 8; ++k)
    for (std::size_t b = 0; b < 256; ++b)
      t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
  return t;
}();

[[nodiscard]] inline std::uint64_t load_le64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}
}  // namespace detail

/// CRC-32C of `data` continuing from `crc` (a finished CRC; 0 to start). Table driven, any CPU.
[[nodiscard]] inline std::uint32_t crc32c_portable(std::span<const std::byte> data,
                                                   std::uint32_t crc = 0) noexcept {
  const auto& t = detail::crc32c_tables;
  std::uint32_t c = ~crc;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    const std::uint64_t v = detail::load_le64(p) ^ c;
    c = t[7][v & 0xffu] ^ t[6][(v >> 8) & 0xffu] ^ t[5][(v >> 16) & 0xffu] ^
        t[4][(v >> 24) & 0xffu] ^ t[3][(v >> 32) & 0xffu] ^ t[2][(v >> 40) & 0xffu] ^
        t[1][(v >> 48) & 0xffu] ^ t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ static_cast<std::uint8_t>(*p++)) & 0xffu];
  return ~c;
}

/// True when crc32c_hardware() may be called (x86-64 with SSE4.2).
[[nodiscard]] inline bool crc32c_hardware_available() noexcept {
#if TDBG_CRC32C_X86
  return __builtin_cpu_supports("sse4.2") != 0;
#else
  return false;
#endif
}

#if TDBG_CRC32C_X86
/// CRC-32C with the SSE4.2 `crc32` instruction. Requires crc32c_hardware_available().
[[nodiscard]] __attribute__((target("sse4.2"))) inline std::uint32_t crc32c_hardware(
    std::span<const std::byte> data, std::uint32_t crc = 0) noexcept {
  std::uint64_t c = ~crc;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);  // x86-64 is little-endian; memcpy makes the unaligned load legal
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, static_cast<std::uint8_t>(*p++));
  return ~c32;
}
#else
/// No hardware CRC on this architecture: the portable version (crc32c_hardware_available() is false).
[[nodiscard]] inline std::uint32_t crc32c_hardware(std::span<const std::byte> data,
                                                   std::uint32_t crc = 0) noexcept {
  return crc32c_portable(data, crc);
}
#endif

/// CRC-32C of `data`: the hardware version when the CPU has one (decided once), else portable.
[[nodiscard]] inline std::uint32_t crc32c(std::span<const std::byte> data) noexcept {
  static const bool hw = crc32c_hardware_available();
  return hw ? crc32c_hardware(data) : crc32c_portable(data);
}

/// TensorFlow's CRC masking: rotate right by 15 and add 0xA282EAD8 (mod 2^32).
[[nodiscard]] constexpr std::uint32_t mask_crc(std::uint32_t crc) noexcept {
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

/// mask_crc(crc32c(data)).
[[nodiscard]] inline std::uint32_t masked_crc32c(std::span<const std::byte> data) noexcept {
  return mask_crc(crc32c(data));
}

/// The footer smdebug writes after every record: the masked CRC of the 10 ASCII bytes
/// "0x12345678" (its writer passes that string instead of the payload; spec §2).
inline constexpr std::uint32_t smdebug_footer = 0x062DC0B3u;

}  // namespace tdbg::io
