// tdbg/rules/requirements.hpp — what a rule reads: its tensor selections, modes and look-back.
// Layer: rules (core and the standard library only). The third interpretation of an expression
// tree (after evaluate and describe): a trial_source uses it to read only the tensors, steps and
// stored reductions a rule needs, and an S3 backend to prefetch them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "tdbg/core/mode.hpp"
#include "tdbg/core/reduction.hpp"

namespace tdbg::rules {

/// How a selection picks tensor names.
enum class selection_kind : std::uint8_t {
  name,        ///< exactly this tensor name
  regex,       ///< names in which a Boost.Regex (perl syntax) matches somewhere (search semantics)
  collection,  ///< the tensors of a collection (data_source::collection_tensor_names)
};

/// A tensor selection as data: which names, read in which mode.
struct selection_spec {
  selection_kind kind = selection_kind::name;
  std::string pattern;               ///< the name, regex or collection name
  std::optional<tdbg::mode> mode;    ///< pinned by `.in(mode)`; nullopt: the evaluated step's mode
  bool only_saved = false;           ///< `.only_saved()`: tensors without data at the step are left out
  friend bool operator==(const selection_spec&, const selection_spec&) = default;
};

/// One selection an expression reads, with the context it is read in.
struct tensor_need {
  selection_spec selection;
  /// "" for the rule's own data source; otherwise the name of a source given to the rule
  /// (across trials, see across.hpp).
  std::string source;
  /// True when the selection decides the rule's default steps (not inside in_mode/in_trial).
  bool primary = true;
  /// True when raw values are read; false when every read is a reduction that a stored
  /// reduction can replace (then `reductions` lists them).
  bool raw = true;
  /// Stored reductions that replace a missing raw value (smdebug's reductions-only saves).
  std::vector<reduction> reductions;
  /// How many saved steps before the evaluated one it reads (prev, delta, ratio: 1).
  std::size_t saved_steps_back = 0;
  /// How many steps (mode steps; global steps in mode GLOBAL) before the evaluated one it may
  /// read (at_steps_back(x, k): k).
  step_t steps_back = 0;
  /// True when it reads in other modes / at the nearest step at or before (in_mode, `.in()`).
  bool nearest_before = false;
  /// True when it reads every worker (across_workers), not only the first one.
  bool all_workers = false;
  friend bool operator==(const tensor_need&, const tensor_need&) = default;
};

/// Everything an expression (or a rule) reads and keeps.
struct requirements {
  std::vector<tensor_need> tensors;
  /// Names of the other data sources it reads (across trials).
  std::vector<std::string> sources;
  /// The largest number of past evaluations a stateful node keeps (windows: n; patience: 0;
  /// then: 0). Memory is bounded by this, not by the length of training.
  std::size_t evaluations_kept = 0;
  /// True when it reads the wall clock (clock.hpp): the rule is then a *clock rule*, evaluated
  /// at its newest step only, and again as time passes (rule.hpp, runner.hpp).
  bool reads_clock = false;

  /// Adds a need, merging it with an equal one already present.
  void add(tensor_need n) {
    if (std::find(tensors.begin(), tensors.end(), n) == tensors.end()) tensors.push_back(std::move(n));
  }
  void add_source(const std::string& s) {
    if (std::find(sources.begin(), sources.end(), s) == sources.end()) sources.push_back(s);
  }
};

/// The context in which a subexpression's selections are read (passed down by needs()).
struct need_scope {
  std::string source;
  bool primary = true;
  std::size_t saved_steps_back = 0;
  step_t steps_back = 0;
  bool nearest_before = false;
  bool all_workers = false;
  /// Set by a reduction over a plain selection (or abs of one) that a stored reduction can
  /// replace; nullopt otherwise (raw values needed).
  std::optional<reduction> stored;
};

}  // namespace tdbg::rules
