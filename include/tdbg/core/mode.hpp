// tdbg/core/mode.hpp — training modes and steps.
// Layer: core. smdebug's ModeKeys: TRAIN = 1, EVAL = 2, PREDICT = 3, GLOBAL = 4 (spec §6).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tdbg {

/// A step number: global step, or the step within one mode.
using step_t = std::int64_t;

/// The phase of training a step belongs to. The numeric values are smdebug's and appear on disk.
enum class mode : std::uint8_t { train = 1, eval = 2, predict = 3, global = 4 };

/// All modes, in smdebug's order.
inline constexpr std::array<mode, 4> all_modes{mode::train, mode::eval, mode::predict,
                                               mode::global};

/// "TRAIN", "EVAL", "PREDICT", "GLOBAL".
[[nodiscard]] constexpr std::string_view mode_name(mode m) noexcept {
  switch (m) {
    case mode::train: return "TRAIN";
    case mode::eval: return "EVAL";
    case mode::predict: return "PREDICT";
    case mode::global: return "GLOBAL";
  }
  return "GLOBAL";
}

/// Parses "TRAIN"/"EVAL"/"PREDICT"/"GLOBAL" (also lower case); nullopt otherwise.
[[nodiscard]] constexpr std::optional<mode> parse_mode(std::string_view s) noexcept {
  auto eq = [](std::string_view a, std::string_view upper) {
    if (a.size() != upper.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      char c = a[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c != upper[i]) return false;
    }
    return true;
  };
  for (mode m : all_modes)
    if (eq(s, mode_name(m))) return m;
  return std::nullopt;
}

/// The mode with smdebug's integer value v (1..4); nullopt otherwise.
[[nodiscard]] constexpr std::optional<mode> mode_from_int(std::int64_t v) noexcept {
  if (v >= 1 && v <= 4) return static_cast<mode>(v);
  return std::nullopt;
}

/// Index 0..3 of a mode in arrays indexed by mode.
[[nodiscard]] constexpr std::size_t mode_index(mode m) noexcept {
  return static_cast<std::size_t>(m) - 1;
}

}  // namespace tdbg
