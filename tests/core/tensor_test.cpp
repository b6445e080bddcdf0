// Tests of tdbg/core/tensor.hpp: element counts of untrusted shapes, views, owning tensors.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tdbg/core/tensor.hpp"

using tdbg::dtype;
using tdbg::shape_t;

TEST_CASE("element_count rejects negative extents and overflow", "[core][tensor]") {
  CHECK(tdbg::element_count(shape_t{}) == 1);
  CHECK(tdbg::element_count(shape_t{3, 4, 5}) == 60);
  CHECK(tdbg::element_count(shape_t{3, 0, 5}) == 0);
  CHECK(tdbg::element_count(shape_t{0, std::numeric_limits<std::int64_t>::max(),
                                    std::numeric_limits<std::int64_t>::max()}) == 0);
  CHECK_THROWS_AS(tdbg::element_count(shape_t{2, -1}), tdbg::format_error);
  CHECK_THROWS_AS(tdbg::element_count(shape_t{1LL << 32, 1LL << 32}), tdbg::format_error);
  CHECK(tdbg::element_count(shape_t{1LL << 31, 1LL << 32}) == (std::uint64_t{1} << 63));
  CHECK(tdbg::shape_string(shape_t{32, 20}) == "[32, 20]");
  CHECK(tdbg::shape_string(shape_t{}) == "[]");
}

TEST_CASE("tensor_ref validate checks the buffer against the shape", "[core][tensor]") {
  const std::vector<float> data{1, 2, 3, 4, 5, 6};
  const shape_t good{2, 3}, bad{4, 2};
  CHECK_NOTHROW(tdbg::make_tensor_ref(std::span<const float>(data), good).validate("x"));
  CHECK_THROWS_AS(tdbg::make_tensor_ref(std::span<const float>(data), bad).validate("x"),
                  tdbg::usage_error);
  const std::vector<std::string> s{"a", "b"};
  const shape_t two{2}, three{3};
  CHECK_NOTHROW(tdbg::make_tensor_ref(std::span<const std::string>(s), two).validate("s"));
  CHECK_THROWS_WITH(tdbg::make_tensor_ref(std::span<const std::string>(s), three).validate("s"),
                    Catch::Contains("'s'") && Catch::Contains("3 strings"));
}

TEST_CASE("owning tensors", "[core][tensor]") {
  const std::vector<std::int16_t> data{-1, 2, -3, 4, 5, 6};
  const shape_t shape{3, 2};
  const tdbg::tensor t(dtype::int16, shape, std::as_bytes(std::span<const std::int16_t>(data)));
  CHECK(t.dtype() == dtype::int16);
  CHECK(t.rank() == 2);
  CHECK(t.size() == 6);
  CHECK(t.bytes().size() == 12);
  CHECK(reinterpret_cast<std::uintptr_t>(t.bytes().data()) % alignof(std::max_align_t) == 0);
  const auto v = t.values<std::int16_t>();
  CHECK(std::vector<std::int16_t>(v.begin(), v.end()) == data);
  CHECK(t.as_double(2) == -3.0);
  CHECK_THROWS_AS(t.values<std::int32_t>(), tdbg::usage_error);

  const tdbg::tensor copy(t.ref());
  CHECK(copy == t);
  std::vector<std::int16_t> other = data;
  other[5] = 7;
  CHECK_FALSE(tdbg::tensor(dtype::int16, shape, std::as_bytes(std::span<const std::int16_t>(other))) == t);
  CHECK_FALSE(tdbg::tensor(dtype::uint16, shape, std::as_bytes(std::span<const std::int16_t>(data))) == t);

  CHECK_THROWS_AS(tdbg::tensor(dtype::int16, shape_t{4}, std::as_bytes(std::span<const std::int16_t>(data))),
                  tdbg::format_error);
  CHECK_THROWS_AS(tdbg::tensor(dtype::string, shape_t{}, {}), tdbg::usage_error);

  const auto s = tdbg::tensor::scalar(2.5);
  CHECK(s.dtype() == dtype::float64);
  CHECK(s.shape().empty());
  CHECK(s.size() == 1);
  CHECK(s.as_double(0) == 2.5);

  const tdbg::tensor strings(shape_t{2}, std::vector<std::string>{"x", "yz"});
  CHECK(strings.dtype() == dtype::string);
  CHECK(strings.bytes().empty());
  CHECK(strings.strings().at(1) == "yz");
  CHECK_THROWS_AS(strings.as_double(0), tdbg::usage_error);
  CHECK_THROWS_AS(tdbg::tensor(shape_t{3}, std::vector<std::string>{"x"}), tdbg::format_error);
  CHECK(tdbg::tensor(strings.ref()) == strings);

  const tdbg::tensor empty(dtype::float32, shape_t{0, 5}, {});
  CHECK(empty.size() == 0);
  CHECK(empty.bytes().empty());
  CHECK(empty.values<float>().empty());
}
