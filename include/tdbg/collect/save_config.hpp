// tdbg/collect/save_config.hpp — when a collection is saved: per-mode save configs (spec §7.1).
// Layer: collect (core and the standard library only).
//
// A mode step s is saved  ⇔  s ∈ save_steps
//                         or (start_step ≤ s and (no end_step or s < end_step) and s % save_interval == 0).
// save_steps *adds* to the interval rule; with start_step 0 mode step 0 is always saved; end_step is
// exclusive; start_step filters but does not shift the phase. This is smdebug's SaveConfigMode.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"

namespace tdbg::collect {

/// smdebug's DEFAULT_SAVE_CONFIG_INTERVAL.
inline constexpr step_t default_save_interval = 500;

/// How one mode of a collection is saved (smdebug's SaveConfigMode).
struct save_config_mode {
  step_t save_interval = default_save_interval;
  std::vector<step_t> save_steps{};  ///< OR-ed with the interval rule
  step_t start_step = 0;
  std::optional<step_t> end_step{};  ///< exclusive

  /// Whether mode step `s` is saved.
  [[nodiscard]] bool should_save(step_t s) const noexcept {
    if (std::find(save_steps.begin(), save_steps.end(), s) != save_steps.end()) return true;
    return save_interval > 0 && start_step <= s && (!end_step || s < *end_step) &&
           s % save_interval == 0;
  }

  /// Throws config_error naming `context` when the interval is not positive, a step is negative
  /// or the end step is before the start step.
  void validate(std::string_view context) const {
    const std::string where(context);
    if (save_interval <= 0)
      throw config_error(where + ": save_interval must be > 0, got " + std::to_string(save_interval));
    if (start_step < 0)
      throw config_error(where + ": start_step must be >= 0, got " + std::to_string(start_step));
    if (end_step && *end_step < start_step)
      throw config_error(where + ": end_step " + std::to_string(*end_step) +
                         " is before start_step " + std::to_string(start_step));
    for (step_t s : save_steps)
      if (s < 0) throw config_error(where + ": save_steps must be >= 0, got " + std::to_string(s));
  }

  friend bool operator==(const save_config_mode&, const save_config_mode&) = default;
};

/// A save config for each mode (smdebug's SaveConfig); an empty mode is never saved.
struct save_config {
  std::array<std::optional<save_config_mode>, 4> modes;  ///< indexed by mode_index()

  /// The same config for all four modes (smdebug's `SaveConfig(save_interval=...)`).
  [[nodiscard]] static save_config all(const save_config_mode& m) {
    save_config c;
    for (auto& x : c.modes) x = m;
    return c;
  }
  /// Every `interval` mode steps in all modes.
  [[nodiscard]] static save_config every(step_t interval) {
    save_config_mode m;
    m.save_interval = interval;
    return all(m);
  }

  [[nodiscard]] const std::optional<save_config_mode>& operator[](mode m) const noexcept {
    return modes[mode_index(m)];
  }
  [[nodiscard]] std::optional<save_config_mode>& operator[](mode m) noexcept {
    return modes[mode_index(m)];
  }

  /// Whether mode step `s` of mode `m` is saved (never for a mode without config).
  [[nodiscard]] bool should_save(mode m, step_t s) const noexcept {
    const auto& c = modes[mode_index(m)];
    return c && c->should_save(s);
  }

  /// Validates every mode's config (see save_config_mode::validate).
  void validate(std::string_view context) const {
    for (mode m : all_modes)
      if (const auto& c = modes[mode_index(m)])
        c->validate(std::string(context) + " (" + std::string(mode_name(m)) + ")");
  }

  friend bool operator==(const save_config&, const save_config&) = default;
};

}  // namespace tdbg::collect
