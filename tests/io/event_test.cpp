// Tests of tdbg/io/event.hpp: the exact bytes of spec §3.2, round trips of every dtype and shape
// through encode → frame → read → decode, the decoder's acceptance of encodings smdebug never
// writes (built here with an independent protobuf builder), and its errors.
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "tdbg/io/event.hpp"
#include "tdbg/io/tfrecord.hpp"

using namespace io_test;
namespace tio = tdbg::io;
using tdbg::dtype;
using tdbg::shape_t;

namespace {

tio::tensor_event roundtrip(double wall, tdbg::step_t step, std::string_view tag,
                            const tdbg::tensor& v, tdbg::mode m, tdbg::step_t ms) {
  bytes payload;
  tio::encode_tensor_event(payload, wall, step, tag, v.ref(), m, ms);
  bytes file = of("xx");  // the record does not start at offset 0 of its buffer
  tio::append_record(file, payload);
  const auto rec = tio::read_record(std::span<const std::byte>(file).subspan(2), "mem", 2);
  REQUIRE(rec);
  REQUIRE(rec->size == payload.size() + 16);
  return tio::decode_tensor_event(rec->payload, "mem: offset 2");
}

tdbg::tensor random_tensor(dtype t, const shape_t& shape, std::mt19937& rng) {
  const std::uint64_t n = tdbg::element_count(shape);
  if (t == dtype::string) {
    const std::string samples[] = {"", "a", "weights", "caf\xc3\xa9", std::string("nul\0in", 6),
                                   "\xf0\x9f\x98\x80"};
    std::vector<std::string> s;
    for (std::uint64_t i = 0; i < n; ++i) s.push_back(samples[rng() % 6]);
    return tdbg::tensor(shape, s);
  }
  bytes b(n * tdbg::dtype_size(t));
  for (auto& x : b) x = static_cast<std::byte>(rng());
  if (t == dtype::boolean)
    for (auto& x : b) x &= std::byte{1};
  return tdbg::tensor(t, shape, b);
}

}  // namespace

TEST_CASE("encoding reproduces the annotated record of spec §3.2 byte for byte", "[io][event]") {
  const double wall = std::bit_cast<double>(std::uint64_t{0x41dac09e74abd67f});
  const tdbg::tensor bias(dtype::float32, shape_t{4}, hex("b2c1193e 5987c73c 806657be a07b30bd"));
  bytes rec;
  bytes payload;
  tio::encode_tensor_event(payload, wall, 5, "MLP_out.bias", bias.ref(), tdbg::mode::train, 5);
  tio::append_record(rec, payload);
  const bytes expected = cat({
      hex("66 00 00 00 00 00 00 00  72 3b 87 6a"),
      hex("09 7f d6 ab 74 9e c0 da 41  10 05  2a 59  0a 57  0a 0c"), of("MLP_out.bias"),
      hex("42 2a  08 01  12 14 12 12 08 04 12 0e"), of("MLP_out.bias_4"),
      hex("22 10 b2c1193e 5987c73c 806657be a07b30bd"),
      hex("4a 1b  0a 0e 0a 09"), of("mode_step"), hex("12 01"), of("5"),
      hex("0a 09 0a 04"), of("mode"), hex("12 01"), of("1"),
      hex("b3 c0 2d 06")});
  CHECK(rec == expected);

  const auto ev = tio::decode_tensor_event(payload, "ctx");
  CHECK(ev.wall_time == wall);
  CHECK(ev.step == 5);
  CHECK(ev.tag == "MLP_out.bias");
  CHECK(ev.value == bias);
  CHECK(ev.mode == tdbg::mode::train);
  CHECK(ev.mode_step == 5);
}

TEST_CASE("0-d tensors keep an empty shape; step 0 has no step field", "[io][event]") {
  const auto loss = tdbg::tensor::scalar(2.25f);
  bytes payload;
  tio::encode_tensor_event(payload, 1.0, 0, "loss", loss.ref(), tdbg::mode::eval, 0);
  // 09 <double 1.0> then straight to the summary (2a): no 10 <step>.
  CHECK(bytes(payload.begin(), payload.begin() + 10) == hex("09 00 00 00 00 00 00 f0 3f 2a"));
  // Tensor = 08 01 12 00 22 04 <4 bytes> (spec §3.2).
  const bytes tensor = cat({hex("42 0a 08 01 12 00 22 04"), le(std::bit_cast<std::uint32_t>(2.25f), 4)});
  CHECK(std::search(payload.begin(), payload.end(), tensor.begin(), tensor.end()) != payload.end());
  const auto ev = tio::decode_tensor_event(payload, "ctx");
  CHECK(ev.step == 0);
  CHECK(ev.value.shape().empty());
  CHECK(ev.value == loss);
}

TEST_CASE("string tensors: no dtype, one string_val per element", "[io][event]") {
  const tdbg::tensor s(shape_t{2}, std::vector<std::string>{"ab", ""});
  bytes payload;
  tio::encode_tensor_event(payload, 0.5, 3, "s", s.ref(), tdbg::mode::predict, 1);
  // Tensor = 12 <shape> 42 02 "ab" 42 00; shape = 12 07 (08 02 12 03 "s_2").
  const bytes tensor = cat({hex("42 11 12 09 12 07 08 02 12 03"), of("s_2"), hex("42 02"), of("ab"), hex("42 00")});
  CHECK(std::search(payload.begin(), payload.end(), tensor.begin(), tensor.end()) != payload.end());
  const auto ev = tio::decode_tensor_event(payload, "ctx");
  CHECK(ev.value == s);
  CHECK(ev.mode == tdbg::mode::predict);
}

TEST_CASE("round trip of every dtype and shape", "[io][event]") {
  std::mt19937 rng(7);
  const shape_t shapes[] = {{}, {1}, {5}, {2, 3}, {0}, {3, 0, 2}, {1, 1, 1, 1}, {4, 1, 3}};
  for (dtype t : tdbg::all_dtypes) {
    for (const auto& shape : shapes) {
      CAPTURE(tdbg::dtype_name(t), tdbg::shape_string(shape));
      const auto v = random_tensor(t, shape, rng);
      for (auto m : tdbg::all_modes) {
        const auto ev = roundtrip(1.7e9 + 0.25, 12345678901LL, "layer/w:0", v, m, 42);
        CHECK(ev.value == v);
        CHECK(ev.value.dtype() == t);
        CHECK(ev.value.shape() == shape);
        CHECK(ev.tag == "layer/w:0");
        CHECK(ev.step == 12345678901LL);
        CHECK(ev.wall_time == 1.7e9 + 0.25);
        CHECK(ev.mode == m);
        CHECK(ev.mode_step == 42);
      }
    }
  }
}

TEST_CASE("round trip of extreme steps, empty tags and zero wall time", "[io][event]") {
  const auto v = tdbg::tensor::scalar(std::int8_t{-5});
  for (tdbg::step_t step : {tdbg::step_t{0}, tdbg::step_t{-1}, std::numeric_limits<tdbg::step_t>::max(),
                            std::numeric_limits<tdbg::step_t>::min()}) {
    const auto ev = roundtrip(0.0, step, "", v, tdbg::mode::global, step);
    CHECK(ev.step == step);
    CHECK(ev.mode_step == step);
    CHECK(ev.tag.empty());
    CHECK(ev.wall_time == 0.0);
    CHECK(ev.value == v);
  }
}

TEST_CASE("encoding rejects a buffer that does not match the shape", "[io][event]") {
  const std::vector<float> data{1, 2, 3};
  const shape_t shape{2, 2};
  bytes out;
  CHECK_THROWS_AS(tio::encode_tensor_event(out, 1, 1, "w",
                                           tdbg::make_tensor_ref(std::span<const float>(data), shape),
                                           tdbg::mode::train, 1),
                  tdbg::usage_error);
}

TEST_CASE("decoder accepts what other writers produce", "[io][event]") {
  const bytes shape23 = f_bytes(2, shape_of({2, 3}));
  SECTION("unknown fields of every wire type, at every level, in any order") {
    const bytes dims = cat({f_bytes(2, cat({unknown_fields(), f_str(2, "ignored"), f_varint(1, 2)})),
                            unknown_fields(), f_bytes(2, f_varint(1, 3))});
    // version_number (3) and unknown fields first, content before dtype.
    const bytes tensor6 = cat({unknown_fields(), f_bytes(2, dims), f_varint(3, 9),
                               f_bytes(4, cat({le(1, 4), le(2, 4), le(3, 4), le(4, 4), le(5, 4), le(6, 4)})),
                               f_varint(1, 3)});
    const bytes meta = cat({unknown_fields(), f_bytes(1, cat({f_str(2, "4"), unknown_fields(), f_str(1, "mode_step")})),
                            f_bytes(1, cat({f_str(1, "other"), f_str(2, "zzz")})),
                            f_bytes(1, cat({f_str(1, "mode"), f_str(2, "3")}))});
    const bytes value = cat({f_bytes(9, meta), unknown_fields(), f_bytes(8, tensor6), f_str(1, "w"), f_str(7, "node")});
    const bytes event = cat({f_bytes(5, cat({unknown_fields(), f_bytes(1, value)})), unknown_fields(),
                             f_varint(2, 11), f_fixed64(1, 0x4000000000000000ull), f_str(3, "brain.Event:2")});
    const auto ev = tio::decode_tensor_event(event, "ctx");
    CHECK(ev.tag == "w");
    CHECK(ev.step == 11);
    CHECK(ev.wall_time == 2.0);
    CHECK(ev.mode == tdbg::mode::predict);
    CHECK(ev.mode_step == 4);
    CHECK(ev.value.dtype() == dtype::int32);
    CHECK(ev.value.shape() == shape_t{2, 3});
    const auto v = ev.value.values<std::int32_t>();
    CHECK(std::vector<std::int32_t>(v.begin(), v.end()) == std::vector<std::int32_t>{1, 2, 3, 4, 5, 6});
  }
  SECTION("float_val packed and unpacked") {
    const bytes packed = cat({f_varint(1, 1), shape23, f_bytes(5, cat({le(std::bit_cast<std::uint32_t>(1.5f), 4),
        le(std::bit_cast<std::uint32_t>(-2.0f), 4), le(0, 4), le(0, 4), le(0, 4), le(std::bit_cast<std::uint32_t>(9.0f), 4)}))});
    const auto ev = tio::decode_tensor_event(event_with_tensor(packed), "ctx");
    const auto v = ev.value.values<float>();
    CHECK(std::vector<float>(v.begin(), v.end()) == std::vector<float>{1.5f, -2.0f, 0, 0, 0, 9.0f});
    const bytes unpacked = cat({f_varint(1, 1), f_bytes(2, shape_of({2})), f_fixed32(5, std::bit_cast<std::uint32_t>(3.0f)),
                                f_fixed32(5, std::bit_cast<std::uint32_t>(4.0f))});
    const auto ev2 = tio::decode_tensor_event(event_with_tensor(unpacked), "ctx");
    CHECK(ev2.value.as_double(0) == 3.0);
    CHECK(ev2.value.as_double(1) == 4.0);
    CHECK(ev2.mode == tdbg::mode::eval);
    CHECK(ev2.mode_step == 3);
  }
  SECTION("int_val for int32 / int8 / uint8 / int16 / uint16 (negative values sign-extended)") {
    const std::uint64_t minus3 = static_cast<std::uint64_t>(std::int64_t{-3});
    for (auto [code, t] : {std::pair{3, dtype::int32}, std::pair{6, dtype::int8}, std::pair{5, dtype::int16}}) {
      const bytes tensor = cat({f_varint(1, static_cast<std::uint64_t>(code)), f_bytes(2, shape_of({3})),
                                f_bytes(7, cat({varint(minus3), varint(0), varint(100)}))});
      const auto ev = tio::decode_tensor_event(event_with_tensor(tensor), "ctx");
      CHECK(ev.value.dtype() == t);
      CHECK(ev.value.as_double(0) == -3.0);
      CHECK(ev.value.as_double(2) == 100.0);
    }
    for (auto [code, t] : {std::pair{4, dtype::uint8}, std::pair{17, dtype::uint16}}) {
      const bytes tensor = cat({f_varint(1, static_cast<std::uint64_t>(code)), f_bytes(2, shape_of({2})),
                                f_varint(7, 200), f_varint(7, 7)});
      const auto ev = tio::decode_tensor_event(event_with_tensor(tensor), "ctx");
      CHECK(ev.value.dtype() == t);
      CHECK(ev.value.as_double(0) == 200.0);
      CHECK(ev.value.as_double(1) == 7.0);
    }
  }
  SECTION("int64_val, uint32_val, uint64_val, double_val, bool_val, half_val") {
    auto one = [](int code, const bytes& val_field) {
      return tio::decode_tensor_event(
          event_with_tensor(cat({f_varint(1, static_cast<std::uint64_t>(code)), f_bytes(2, shape_of({1})), val_field})), "ctx");
    };
    CHECK(one(9, f_varint(10, static_cast<std::uint64_t>(std::int64_t{-5000000000}))).value.values<std::int64_t>()[0] == -5000000000);
    CHECK(one(22, f_varint(16, 4000000000u)).value.values<std::uint32_t>()[0] == 4000000000u);
    CHECK(one(23, f_varint(17, ~std::uint64_t{0})).value.values<std::uint64_t>()[0] == ~std::uint64_t{0});
    CHECK(one(2, f_fixed64(6, std::bit_cast<std::uint64_t>(-0.125))).value.values<double>()[0] == -0.125);
    CHECK(one(2, f_bytes(6, le(std::bit_cast<std::uint64_t>(8.5), 8))).value.values<double>()[0] == 8.5);
    CHECK(one(10, f_varint(11, 1)).value.values<bool>()[0] == true);
    CHECK(one(19, f_varint(13, 0x3c00)).value.as_double(0) == 1.0);
    CHECK(one(101, f_fixed32(5, std::bit_cast<std::uint32_t>(0.5f))).value.as_double(0) == 0.5);  // DT_FLOAT_REF
  }
  SECTION("DT_STRING (7) and dtype 0 with string_val") {
    for (std::uint64_t code : {0u, 7u}) {
      bytes tensor = cat({f_bytes(2, shape_of({2})), f_str(8, "x"), f_str(8, "yy")});
      if (code) tensor = cat({f_varint(1, code), tensor});
      const auto ev = tio::decode_tensor_event(event_with_tensor(tensor), "ctx");
      CHECK(ev.value.dtype() == dtype::string);
      CHECK(ev.value.strings() == std::vector<std::string>{"x", "yy"});
    }
  }
  SECTION("a missing shape is 0-d; missing plugin data leaves mode unset") {
    const bytes tensor = cat({f_varint(1, 1), f_bytes(4, le(std::bit_cast<std::uint32_t>(7.0f), 4))});
    const bytes event = f_bytes(5, f_bytes(1, cat({f_str(1, "x"), f_bytes(8, tensor)})));
    const auto ev = tio::decode_tensor_event(event, "ctx");
    CHECK(ev.value.shape().empty());
    CHECK(ev.value.as_double(0) == 7.0);
    CHECK_FALSE(ev.mode.has_value());
    CHECK_FALSE(ev.mode_step.has_value());
    CHECK(ev.step == 0);
    CHECK(ev.wall_time == 0.0);
  }
  SECTION("bool bytes other than 0/1 read as true") {
    const bytes tensor = cat({f_varint(1, 10), f_bytes(2, shape_of({3})), f_bytes(4, of({0, 1, 7}))});
    const auto ev = tio::decode_tensor_event(event_with_tensor(tensor), "ctx");
    CHECK(ev.value.as_double(0) == 0.0);
    CHECK(ev.value.as_double(2) == 1.0);
    CHECK(ev.value.bytes()[2] == std::byte{1});
  }
}

TEST_CASE("decoder errors are format_errors naming the context", "[io][event]") {
  auto fails_with = [](const bytes& payload, const std::string& what) {
    CAPTURE(what);
    CHECK_THROWS_MATCHES(tio::decode_tensor_event(payload, "trial/events/x.tfevents: offset 77"),
                         tdbg::format_error,
                         io_test::what(Catch::StartsWith("trial/events/x.tfevents: offset 77") &&
                                                  Catch::Contains(what)));
  };
  const bytes shape1 = f_bytes(2, shape_of({1}));
  fails_with(event_with_tensor(cat({f_varint(1, 8), shape1, f_bytes(4, le(0, 8))})), "unsupported dtype complex64 (code 8)");
  fails_with(event_with_tensor(cat({f_varint(1, 14), shape1, f_bytes(4, le(0, 2))})), "unsupported dtype bfloat16 (code 14)");
  fails_with(event_with_tensor(cat({f_varint(1, 55), shape1})), "(code 55)");
  fails_with(cat({f_fixed64(1, 0), f_str(3, "brain.Event:2")}), "no summary");
  fails_with(f_bytes(5, bytes{}), "0 values");
  {
    const bytes v = cat({f_str(1, "t"), f_bytes(8, cat({f_varint(1, 1), f_bytes(4, le(0, 4))}))});
    fails_with(f_bytes(5, cat({f_bytes(1, v), f_bytes(1, v)})), "2 values");
  }
  fails_with(f_bytes(5, f_bytes(1, cat({f_str(1, "scalar"), f_fixed32(2, 0)}))), "'scalar' holds no tensor (it holds simple_value)");
  fails_with(event_with_tensor(cat({f_varint(1, 1), f_bytes(2, shape_of({3})), f_bytes(4, le(0, 8))})),
             "tensor_content of 8 bytes does not match shape [3] of float32");
  fails_with(event_with_tensor(cat({f_bytes(2, shape_of({3})), f_str(8, "a")})), "1 string_val elements for shape [3]");
  fails_with(event_with_tensor(cat({f_varint(1, 3), f_bytes(2, shape_of({2})), f_varint(7, 1)})), "1 int_val elements");
  fails_with(event_with_tensor(cat({f_varint(1, 3), f_bytes(2, shape_of({1})), f_varint(10, 1)})),
             "int32 stored in int64_val, expected int_val");
  fails_with(event_with_tensor(cat({f_bytes(2, shape_of({2}))})), "no dtype (DT_INVALID)");
  fails_with(event_with_tensor(cat({f_varint(1, 1), f_bytes(2, f_bytes(2, f_varint(1, static_cast<std::uint64_t>(std::int64_t{-1}))))})),
             "has size -1");
  fails_with(event_with_tensor(cat({f_varint(1, 1), f_bytes(2, f_varint(3, 1))})), "unknown rank");
  fails_with(event_with_tensor(cat({f_varint(1, 1), f_bytes(2, shape_of({1LL << 40, 1LL << 40}))})), "overflows");
  fails_with(event_with_tensor(cat({f_varint(1, 1), f_bytes(2, shape_of({1LL << 40, 1LL << 20}))})),
             "0 float_val elements and no tensor_content for shape [1099511627776, 1048576]");
  fails_with(event_with_tensor(cat({f_varint(1, 1), shape1, f_bytes(4, le(0, 4))}), "t", "x"), "mode_step content 'x'");
  fails_with(event_with_tensor(cat({f_varint(1, 1), shape1, f_bytes(4, le(0, 4))}), "t", "1", "5"), "mode content '5'");
  fails_with(event_with_tensor(cat({f_varint(1, 1), shape1, f_bytes(4, le(0, 4))}), "t", "1", ""), "mode content ''");
  fails_with(event_with_tensor(cat({f_str(1, "wrong wire type"), shape1})), "wire type 2, expected 0");
  fails_with(event_with_tensor(cat({f_varint(1, 1), f_bytes(2, shape_of({1})), f_bytes(5, le(0, 3))})), "not a multiple of 4");
  // Malformed wire data.
  fails_with(cat({key(2, 0), hex("ff ff ff ff ff ff ff ff ff ff 01")}), "overflows 64 bits");
  fails_with(cat({key(2, 0), hex("80 80 80 80 80 80 80 80 80 80 00")}), "overflows 64 bits");
  fails_with(cat({key(2, 0), hex("ff ff ff ff ff ff ff ff ff 02")}), "overflows 64 bits");
  fails_with(cat({key(2, 0), hex("ff ff")}), "truncated");
  fails_with(cat({key(5, 2), varint(~std::uint64_t{0})}), "claims 18446744073709551615 bytes");
  fails_with(cat({key(5, 2), varint(1000), bytes(10)}), "claims 1000 bytes but only 10 remain");
  fails_with(cat({key(1, 1), le(0, 5)}), "truncated fixed64");
  fails_with(cat({key(9, 5), le(0, 3)}), "truncated fixed32");
  fails_with(cat({key(9, 6)}), "invalid wire type 6");
  fails_with(cat({key(9, 7)}), "invalid wire type 7");
  fails_with(cat({key(0, 0), varint(1)}), "invalid field number 0");
  fails_with(cat({key(9, 4)}), "unexpected end-group");
  fails_with(cat({key(9, 3), f_varint(1, 1)}), "unterminated group");
  fails_with(cat({key(9, 3), key(8, 4)}), "does not close group");
  {
    // A nested length that fits the whole payload but not its parent message.
    const bytes value = cat({f_str(1, "t"), key(8, 2), varint(50)});
    fails_with(cat({f_bytes(5, f_bytes(1, value)), f_bytes(1000, bytes(60))}),
               "claims 50 bytes but only 0 remain");
  }
}

TEST_CASE("decoder survives truncation and random corruption of real records", "[io][event][robustness]") {
  // Records of every kind: float matrix, 0-d, int64, bool, string, through tdbg's encoder.
  std::mt19937 rng(99);
  std::vector<bytes> payloads;
  for (auto [t, shape] : {std::pair{dtype::float32, shape_t{4, 3}}, std::pair{dtype::float64, shape_t{}},
                          std::pair{dtype::int64, shape_t{5}}, std::pair{dtype::boolean, shape_t{2, 2}},
                          std::pair{dtype::string, shape_t{3}}, std::pair{dtype::float16, shape_t{0, 2}}}) {
    bytes p;
    const auto v = random_tensor(t, shape, rng);
    tio::encode_tensor_event(p, 1.6e9, 17, "MLP_fc1.weight", v.ref(), tdbg::mode::train, 15);
    payloads.push_back(p);
  }
  std::size_t errors = 0, decoded = 0;
  auto attempt = [&](std::span<const std::byte> p) {
    try {
      const auto ev = tio::decode_tensor_event(p, "fuzz");
      (void)ev.value.ref();
      ++decoded;
    } catch (const tdbg::format_error&) {
      ++errors;
    }
  };
  for (const auto& p : payloads) {
    for (std::size_t n = 0; n < p.size(); ++n) attempt(std::span<const std::byte>(p).first(n));
    for (int i = 0; i < 3000; ++i) {
      bytes q = p;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) q[rng() % q.size()] ^= static_cast<std::byte>(1 + rng() % 255);
      attempt(q);
      bytes framed;
      tio::append_record(framed, p);
      framed[rng() % framed.size()] ^= static_cast<std::byte>(1 + rng() % 255);
      try {
        if (auto r = tio::read_record(framed, "fuzz", 0)) attempt(r->payload);
      } catch (const tdbg::format_error&) {
        ++errors;
      }
    }
    // Huge lengths planted at every position.
    for (std::size_t at = 0; at + 1 < p.size(); ++at) {
      bytes q(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(at));
      const bytes big = varint(std::uint64_t{1} << 62);
      q.insert(q.end(), big.begin(), big.end());
      q.insert(q.end(), p.begin() + static_cast<std::ptrdiff_t>(at) + 1, p.end());
      attempt(q);
    }
  }
  CHECK(errors > 1000);  // corruption is noticed, not silently accepted
  CHECK(decoded > 0);     // ... and the intact prefix / harmless flips still decode
}
