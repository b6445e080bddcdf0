// tdbg/io/json_reader.hpp — typed access to parsed JSON for the io layer's file readers.
// Layer: io, namespace tdbg::io::detail. Includes nlohmann/json (parsing only) and the standard
// library. Every mismatch becomes an Error (a tdbg::format_error subclass) naming the file and
// the place in it ("collection 'weights'.save_config.TRAIN.save_interval").
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tdbg::io {

namespace detail {

/// Typed access to parsed JSON, throwing Error("<file>: <where>: ...") on a type mismatch.
template <class Error>
struct json_checker {
  std::string_view file;

  [[noreturn]] void fail(std::string_view where, const std::string& what) const {
    throw Error(std::string(file) + ": " + std::string(where) + ": " + what);
  }
  [[nodiscard]] static std::string type_of(const nlohmann::ordered_json& j) {
    return j.type_name();
  }
  const nlohmann::ordered_json& object(const nlohmann::ordered_json& j, std::string_view where) const {
    if (!j.is_object()) fail(where, "expected an object, got " + type_of(j));
    return j;
  }
  const nlohmann::ordered_json& array(const nlohmann::ordered_json& j, std::string_view where) const {
    if (!j.is_array()) fail(where, "expected an array, got " + type_of(j));
    return j;
  }
  [[nodiscard]] std::string string(const nlohmann::ordered_json& j, std::string_view where) const {
    if (!j.is_string()) fail(where, "expected a string, got " + type_of(j));
    return j.get<std::string>();
  }
  [[nodiscard]] bool boolean(const nlohmann::ordered_json& j, std::string_view where) const {
    if (!j.is_boolean()) fail(where, "expected true or false, got " + type_of(j));
    return j.get<bool>();
  }
  [[nodiscard]] std::int64_t int64(const nlohmann::ordered_json& j, std::string_view where) const {
    if (j.is_number_unsigned()) {
      const auto v = j.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail(where, "integer " + std::to_string(v) + " is too large");
      return static_cast<std::int64_t>(v);
    }
    if (!j.is_number_integer()) fail(where, "expected an integer, got " + type_of(j));
    return j.get<std::int64_t>();
  }
  [[nodiscard]] std::uint64_t uint64(const nlohmann::ordered_json& j, std::string_view where) const {
    if (j.is_number_unsigned()) return j.get<std::uint64_t>();
    if (j.is_number_integer()) fail(where, "expected a non-negative integer, got " + j.dump());
    fail(where, "expected a non-negative integer, got " + type_of(j));
  }
  /// Parses exactly one JSON value (trailing content, e.g. a second object, is an error).
  [[nodiscard]] nlohmann::ordered_json parse(std::string_view text) const {
    try {
      return nlohmann::ordered_json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
      fail("invalid JSON", e.what());
    }
  }
};

}  // namespace detail

}  // namespace tdbg::io
