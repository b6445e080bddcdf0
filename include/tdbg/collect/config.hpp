// tdbg/collect/config.hpp — collection configs as compile-time values.
// Layer: collect (core and the standard library only).
//
// A `collection_config` is a structural literal type, so it can be a template argument:
//
//   constexpr auto weights = tdbg::collect::collection_config{"weights"}
//       .include("^(?!gradient).*weight")
//       .every(5)
//       .in(tdbg::mode::eval, tdbg::collect::save_every(10).steps({1, 6}).start(0).end(100))
//       .reductions({{tdbg::reduction_op::mean, true}})
//       .raw(false).shape(true);
//   tdbg::collect::collections<weights, tdbg::collect::defaults::gradients> set;
//
// `collections<...>` checks every config with static_assert and a readable message: empty name,
// save interval 0, negative start step or save step, end step before start step, duplicate
// names, too many patterns/steps/reductions. Regexes are compiled (and checked) when a hook is
// built: an invalid pattern is a config_error naming it.
// Strings live in fixed-capacity arrays (structural types cannot hold std::string).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "tdbg/collect/collection.hpp"

namespace tdbg::collect {

inline constexpr std::size_t max_name_size = 63;       ///< collection name, characters
inline constexpr std::size_t max_pattern_size = 127;   ///< one regex or tensor name, characters
inline constexpr std::size_t max_patterns = 8;         ///< regexes (and, separately, names)
inline constexpr std::size_t max_save_steps = 16;      ///< explicit save steps per mode
inline constexpr std::size_t max_reductions = 18;      ///< 9 ops × {plain, abs}

/// A string of at most N characters, usable in a template argument.
template <std::size_t N>
struct fixed_string {
  char chars[N + 1]{};
  std::size_t size = 0;

  constexpr fixed_string() = default;
  template <std::size_t M>
  constexpr fixed_string(const char (&s)[M]) {  // NOLINT: implicit from a literal by design
    static_assert(M - 1 <= N, "tdbg::collect: string too long for a compile-time collection config");
    for (std::size_t i = 0; i + 1 < M; ++i) chars[i] = s[i];
    size = M - 1;
  }
  [[nodiscard]] constexpr std::string_view view() const noexcept { return {chars, size}; }
};

/// The compile-time save config of one mode (see save_config_mode for the semantics).
struct mode_save_config {
  step_t interval = default_save_interval;
  step_t save_steps[max_save_steps]{};
  std::size_t save_step_count = 0;
  bool too_many_save_steps = false;
  step_t start_step = 0;
  step_t end_step = 0;
  bool has_end = false;

  /// Explicit mode steps, saved in addition to the interval rule.
  [[nodiscard]] constexpr mode_save_config steps(std::initializer_list<step_t> s) const {
    mode_save_config c = *this;
    c.save_step_count = 0;
    for (step_t x : s) {
      if (c.save_step_count == max_save_steps) {
        c.too_many_save_steps = true;
        break;
      }
      c.save_steps[c.save_step_count++] = x;
    }
    return c;
  }
  /// First mode step of the interval rule (filters, does not shift the phase).
  [[nodiscard]] constexpr mode_save_config start(step_t s) const {
    mode_save_config c = *this;
    c.start_step = s;
    return c;
  }
  /// Exclusive end of the interval rule.
  [[nodiscard]] constexpr mode_save_config end(step_t s) const {
    mode_save_config c = *this;
    c.end_step = s;
    c.has_end = true;
    return c;
  }

  [[nodiscard]] constexpr bool interval_ok() const noexcept { return interval > 0; }
  [[nodiscard]] constexpr bool steps_ok() const noexcept {
    if (start_step < 0) return false;
    for (std::size_t i = 0; i < save_step_count; ++i)
      if (save_steps[i] < 0) return false;
    return true;
  }
  [[nodiscard]] constexpr bool range_ok() const noexcept { return !has_end || end_step >= start_step; }

  [[nodiscard]] save_config_mode to_runtime() const {
    save_config_mode m;
    m.save_interval = interval;
    m.save_steps.assign(save_steps, save_steps + save_step_count);
    m.start_step = start_step;
    if (has_end) m.end_step = end_step;
    return m;
  }
};

/// Every `interval` mode steps (smdebug's SaveConfigMode(save_interval=interval)).
[[nodiscard]] constexpr mode_save_config save_every(step_t interval) {
  mode_save_config c;
  c.interval = interval;
  return c;
}

/// A collection as a compile-time value; converts to the run-time `collection`.
struct collection_config {
  fixed_string<max_name_size> name;
  fixed_string<max_pattern_size> patterns[max_patterns]{};
  std::size_t pattern_count = 0;
  fixed_string<max_pattern_size> names[max_patterns]{};
  std::size_t name_count = 0;
  bool too_many_patterns = false;
  mode_save_config modes[4]{};
  bool has_mode[4]{};
  reduction reduction_list[max_reductions]{};
  std::size_t reduction_count = 0;
  bool too_many_reductions = false;
  bool has_reduction_config = false;
  bool save_raw = true;
  bool save_shape = false;
  bool save_histogram = true;

  template <std::size_t M>
  constexpr explicit collection_config(const char (&n)[M]) : name(n) {}

  /// Adds an include regex (matched anywhere in a tensor name, like Python re.search).
  template <std::size_t M>
  [[nodiscard]] constexpr collection_config include(const char (&pattern)[M]) const {
    collection_config c = *this;
    if (c.pattern_count == max_patterns) c.too_many_patterns = true;
    else c.patterns[c.pattern_count++] = fixed_string<max_pattern_size>(pattern);
    return c;
  }
  /// Adds a tensor by exact name (smdebug's tensor_names).
  template <std::size_t M>
  [[nodiscard]] constexpr collection_config tensor(const char (&tensor_name)[M]) const {
    collection_config c = *this;
    if (c.name_count == max_patterns) c.too_many_patterns = true;
    else c.names[c.name_count++] = fixed_string<max_pattern_size>(tensor_name);
    return c;
  }
  /// The same save config in all four modes.
  [[nodiscard]] constexpr collection_config every(const mode_save_config& m) const {
    collection_config c = *this;
    for (int i = 0; i < 4; ++i) {
      c.modes[i] = m;
      c.has_mode[i] = true;
    }
    return c;
  }
  /// Every `interval` mode steps in all four modes.
  [[nodiscard]] constexpr collection_config every(step_t interval) const {
    return every(save_every(interval));
  }
  /// The save config of one mode; modes never set take the hook's.
  [[nodiscard]] constexpr collection_config in(mode m, const mode_save_config& s) const {
    collection_config c = *this;
    c.modes[mode_index(m)] = s;
    c.has_mode[mode_index(m)] = true;
    return c;
  }
  /// The reductions to store (replaces earlier ones).
  [[nodiscard]] constexpr collection_config reductions(std::initializer_list<reduction> rs) const {
    collection_config c = *this;
    c.has_reduction_config = true;
    c.reduction_count = 0;
    for (reduction r : rs) {
      if (c.reduction_count == max_reductions) {
        c.too_many_reductions = true;
        break;
      }
      c.reduction_list[c.reduction_count++] = r;
    }
    return c;
  }
  /// Whether the raw tensor is stored (false: reductions and/or shape only).
  [[nodiscard]] constexpr collection_config raw(bool on) const {
    collection_config c = *this;
    c.has_reduction_config = true;
    c.save_raw = on;
    return c;
  }
  /// Whether the shape is stored in the index (shape_payload).
  [[nodiscard]] constexpr collection_config shape(bool on) const {
    collection_config c = *this;
    c.has_reduction_config = true;
    c.save_shape = on;
    return c;
  }
  /// smdebug's save_histogram flag (only recorded in the collections file).
  [[nodiscard]] constexpr collection_config histogram(bool on) const {
    collection_config c = *this;
    c.save_histogram = on;
    return c;
  }

  // Checks used by collections<...>'s static_asserts.
  [[nodiscard]] constexpr bool name_ok() const noexcept { return name.size > 0; }
  [[nodiscard]] constexpr bool intervals_ok() const noexcept {
    for (int i = 0; i < 4; ++i)
      if (has_mode[i] && !modes[i].interval_ok()) return false;
    return true;
  }
  [[nodiscard]] constexpr bool steps_ok() const noexcept {
    for (int i = 0; i < 4; ++i)
      if (has_mode[i] && !modes[i].steps_ok()) return false;
    return true;
  }
  [[nodiscard]] constexpr bool ranges_ok() const noexcept {
    for (int i = 0; i < 4; ++i)
      if (has_mode[i] && !modes[i].range_ok()) return false;
    return true;
  }
  [[nodiscard]] constexpr bool capacity_ok() const noexcept {
    if (too_many_patterns || too_many_reductions) return false;
    for (const auto& m : modes)
      if (m.too_many_save_steps) return false;
    return true;
  }

  /// The run-time collection.
  [[nodiscard]] collection to_runtime() const {
    collection c;
    c.name = std::string(name.view());
    for (std::size_t i = 0; i < pattern_count; ++i) c.include_regex.emplace_back(patterns[i].view());
    for (std::size_t i = 0; i < name_count; ++i) c.tensor_names.emplace_back(names[i].view());
    bool any_mode = false;
    save_config s;
    for (mode m : all_modes)
      if (has_mode[mode_index(m)]) {
        s[m] = modes[mode_index(m)].to_runtime();
        any_mode = true;
      }
    if (any_mode) c.save = s;
    if (has_reduction_config)
      c.reductions = reduction_config{save_raw,
                                      std::vector<reduction>(reduction_list, reduction_list + reduction_count),
                                      save_shape};
    c.save_histogram = save_histogram;
    return c;
  }
};

namespace detail {
template <collection_config... Cs>
constexpr bool names_unique() noexcept {
  constexpr collection_config all[] = {Cs...};
  for (std::size_t i = 0; i < sizeof...(Cs); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (all[i].name.view() == all[j].name.view()) return false;
  return true;
}
}  // namespace detail

/// A set of compile-time collection configs, checked at compile time. Pass one to a hook.
template <collection_config... Cs>
struct collections {
  static_assert((Cs.name_ok() && ...),
                "tdbg::collect: a collection_config has an empty name");
  static_assert((Cs.intervals_ok() && ...),
                "tdbg::collect: a save interval must be > 0 (interval 0 in every()/save_every())");
  static_assert((Cs.steps_ok() && ...),
                "tdbg::collect: start step and save steps must be >= 0 (negative step)");
  static_assert((Cs.ranges_ok() && ...),
                "tdbg::collect: the end step is before the start step (end() < start())");
  static_assert(detail::names_unique<Cs...>(),
                "tdbg::collect: duplicate collection names in collections<...>");
  static_assert((Cs.capacity_ok() && ...),
                "tdbg::collect: too many patterns (max 8), save steps (max 16) or reductions (max 18)");

  /// The run-time collections, in the order given.
  [[nodiscard]] static std::vector<collection> to_runtime() { return {Cs.to_runtime()...}; }
};

}  // namespace tdbg::collect
