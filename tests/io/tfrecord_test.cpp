// Tests of tdbg/io/tfrecord.hpp: the byte layout of a record, both footers, truncation
// ("not yet") and corruption (format_error naming file and offset).
#include <catch2/catch.hpp>

#include <optional>

#include "io_test_util.hpp"
#include "tdbg/io/crc32c.hpp"
#include "tdbg/io/tfrecord.hpp"

using namespace io_test;
namespace tio = tdbg::io;

TEST_CASE("append_record writes length, length CRC, payload and smdebug's footer", "[io][tfrecord]") {
  bytes out = of("prefix");
  const bytes payload(81, std::byte{0x5a});
  tio::append_record(out, payload);
  REQUIRE(out.size() == 6 + 81 + 16);
  // 81 = 51 00 .. 00, its masked CRC 0xBCD9A19C (spec §2), footer b3 c0 2d 06.
  CHECK(bytes(out.begin() + 6, out.begin() + 18) == hex("51 00 00 00 00 00 00 00 9c a1 d9 bc"));
  CHECK(bytes(out.begin() + 18, out.begin() + 99) == payload);
  CHECK(bytes(out.end() - 4, out.end()) == hex("b3 c0 2d 06"));

  bytes empty;
  tio::append_record(empty, {});
  CHECK(empty == hex("00 00 00 00 00 00 00 00 29 03 98 07 b3 c0 2d 06"));
}

TEST_CASE("read_record parses consecutive records", "[io][tfrecord]") {
  bytes file;
  const bytes a = of("first payload"), b = of(""), c(1000, std::byte{7});
  for (const auto* p : {&a, &b, &c}) tio::append_record(file, *p);
  std::uint64_t off = 0;
  for (const auto* p : {&a, &b, &c}) {
    const auto r = tio::read_record(std::span<const std::byte>(file).subspan(off), "f", off);
    REQUIRE(r);
    CHECK(bytes(r->payload.begin(), r->payload.end()) == *p);
    CHECK(r->size == p->size() + 16);
    CHECK_FALSE(r->footer_is_payload_crc);
    off += r->size;
  }
  CHECK(off == file.size());
  CHECK_FALSE(tio::read_record(std::span<const std::byte>(file).subspan(off), "f", off));
}

TEST_CASE("read_record accepts a real payload CRC footer (TensorBoard style)", "[io][tfrecord]") {
  const bytes payload = of("tensorboard record");
  const bytes rec = cat({le(payload.size(), 8), le(tio::masked_crc32c(le(payload.size(), 8)), 4),
                         payload, le(tio::masked_crc32c(payload), 4)});
  const auto r = tio::read_record(rec, "tb", 0);
  REQUIRE(r);
  CHECK(r->footer_is_payload_crc);
  CHECK(r->size == rec.size());
}

TEST_CASE("read_record: every truncation is 'not yet'", "[io][tfrecord]") {
  bytes rec;
  tio::append_record(rec, of("a payload of some length"));
  for (std::size_t n = 0; n < rec.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(tio::read_record(std::span<const std::byte>(rec).first(n), "f", 0).has_value());
  }
  CHECK(tio::read_record(rec, "f", 0).has_value());
}

TEST_CASE("read_record: corruption is a format_error naming file and offset", "[io][tfrecord]") {
  bytes rec;
  tio::append_record(rec, of("payload"));
  SECTION("bad footer") {
    rec.back() ^= std::byte{1};
    CHECK_THROWS_MATCHES(tio::read_record(rec, "events/x.tfevents", 1234), tdbg::format_error,
                         io_test::what(Catch::Contains("events/x.tfevents: offset 1234:") &&
                                                  Catch::Contains("footer")));
  }
  SECTION("bad length CRC") {
    rec[9] ^= std::byte{0x10};
    CHECK_THROWS_MATCHES(tio::read_record(rec, "events/x.tfevents", 99), tdbg::format_error,
                         io_test::what(Catch::Contains("events/x.tfevents: offset 99:") &&
                                                  Catch::Contains("length CRC")));
  }
  SECTION("length changed (CRC no longer matches)") {
    rec[0] ^= std::byte{0x01};
    CHECK_THROWS_AS(tio::read_record(rec, "f", 0), tdbg::format_error);
  }
  SECTION("payload changed under the magic footer is not detected (smdebug's check=minimal)") {
    rec[12] ^= std::byte{0x01};
    CHECK(tio::read_record(rec, "f", 0).has_value());
  }
  SECTION("an absurd length with a valid length CRC") {
    for (std::uint64_t len : {std::uint64_t{1} << 40, ~std::uint64_t{0}, ~std::uint64_t{0} - 15}) {
      const bytes huge = cat({le(len, 8), le(tio::masked_crc32c(le(len, 8)), 4), bytes(64)});
      CHECK_THROWS_WITH(tio::read_record(huge, "f", 0), Catch::Contains("exceeds"));
    }
  }
}

TEST_CASE("appending many records to one buffer grows it geometrically", "[io][tfrecord]") {
  bytes out;
  const bytes payload(100, std::byte{1});
  int reallocations = 0;
  const std::byte* data = nullptr;
  for (int i = 0; i < 20000; ++i) {
    tio::append_record(out, payload);
    if (out.data() != data) ++reallocations, data = out.data();
  }
  CHECK(out.size() == 20000u * 116u);
  CHECK(reallocations < 40);
}
