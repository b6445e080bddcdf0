// Tests of tdbg/io/crc32c.hpp: the portable and the hardware CRC-32C against published vectors
// (RFC 3720 B.4, the "123456789" check value), the TFRecord masked vectors of spec §2, and
// against each other and a bit-at-a-time reference on random unaligned buffers.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string_view>

#include "io_test_util.hpp"
#include "tdbg/io/crc32c.hpp"

using namespace io_test;
namespace tio = tdbg::io;

namespace {

/// CRC-32C one bit at a time, straight from the definition (reflected 0x82F63B78).
std::uint32_t crc_reference(std::span<const std::byte> data) {
  std::uint32_t c = 0xffffffffu;
  for (std::byte b : data) {
    c ^= static_cast<std::uint8_t>(b);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
  }
  return ~c;
}

bytes filled(std::size_t n, int (*f)(std::size_t)) {
  bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(f(i));
  return b;
}

}  // namespace

TEST_CASE("the hardware CRC is available on x86-64", "[io][crc32c]") {
#if defined(__x86_64__)
  CHECK(tio::crc32c_hardware_available());
#else
  CHECK_FALSE(tio::crc32c_hardware_available());
#endif
}

TEST_CASE("CRC-32C known vectors, portable and hardware", "[io][crc32c]") {
  struct vec {
    bytes data;
    std::uint32_t crc;
  };
  const vec vectors[] = {
      {of("123456789"), 0xE3069283u},
      {bytes{}, 0u},
      {filled(32, [](std::size_t) { return 0; }), 0x8A9136AAu},  // RFC 3720 B.4
      {filled(32, [](std::size_t) { return 0xff; }), 0x62A8AB43u},
      {filled(32, [](std::size_t i) { return static_cast<int>(i); }), 0x46DD794Eu},
      {filled(32, [](std::size_t i) { return static_cast<int>(31 - i); }), 0x113FDB5Cu},
  };
  for (const auto& v : vectors) {
    CAPTURE(v.data.size());
    CHECK(tio::crc32c_portable(v.data) == v.crc);
    CHECK(tio::crc32c(v.data) == v.crc);
    CHECK(crc_reference(v.data) == v.crc);
    if (tio::crc32c_hardware_available()) CHECK(tio::crc32c_hardware(v.data) == v.crc);
  }
}

TEST_CASE("masked CRCs of TFRecord length fields (spec §2)", "[io][crc32c]") {
  CHECK(tio::masked_crc32c(le(0, 8)) == 0x07980329u);
  CHECK(tio::masked_crc32c(le(81, 8)) == 0xBCD9A19Cu);
  CHECK(tio::masked_crc32c(le(308, 8)) == 0x82878358u);
  // smdebug's constant footer is the masked CRC of the ASCII text "0x12345678".
  CHECK(tio::masked_crc32c(of("0x12345678")) == tio::smdebug_footer);
  CHECK(tio::smdebug_footer == 0x062DC0B3u);
  CHECK(tio::mask_crc(0) == 0xA282EAD8u);
  CHECK(tio::mask_crc(0x00008000u) == 0xA282EAD9u);  // bit 15 rotates to bit 0
}

TEST_CASE("hardware == portable == reference on random unaligned buffers", "[io][crc32c]") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  bytes pool(300 + 16);
  for (auto& b : pool) b = static_cast<std::byte>(byte(rng));
  const bool hw = tio::crc32c_hardware_available();
  for (std::size_t len = 0; len <= 300; ++len) {
    for (std::size_t off = 0; off < 8; ++off) {
      const std::span<const std::byte> s(pool.data() + off, len);
      const std::uint32_t ref = crc_reference(s);
      CAPTURE(len, off);
      REQUIRE(tio::crc32c_portable(s) == ref);
      if (hw) REQUIRE(tio::crc32c_hardware(s) == ref);
      REQUIRE(tio::crc32c(s) == ref);
    }
  }
}

TEST_CASE("CRCs continue across chunks", "[io][crc32c]") {
  const bytes all = of("The quick brown fox jumps over the lazy dog, twice: the quick brown fox.");
  const std::span<const std::byte> s(all);
  for (std::size_t cut = 0; cut <= all.size(); ++cut) {
    const std::uint32_t first = tio::crc32c_portable(s.first(cut));
    CHECK(tio::crc32c_portable(s.subspan(cut), first) == tio::crc32c(s));
    if (tio::crc32c_hardware_available())
      CHECK(tio::crc32c_hardware(s.subspan(cut), tio::crc32c_hardware(s.first(cut))) == tio::crc32c(s));
  }
}
