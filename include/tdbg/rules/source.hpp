// tdbg/rules/source.hpp — where a rule reads its data: the pluggable reader backend of the engine.
// Layer: rules (core only here; trial_source.hpp adapts a trial, live_source.hpp feeds it from a
// hook in process). A data_source answers in *global* steps; modes are attributes of steps.
//
// Contract shared by every implementation (so offline and in-process evaluation of one rule over
// one training give identical findings):
//  * steps(...) list only steps that are complete (every worker wrote them, or the job ended);
//    a live source lists a step once the hook ended it.
//  * value(...) returns nullptr when the tensor was not saved raw at that step/worker (it may
//    still have stored reductions); it throws tdbg::error for data that exists but is corrupt.
//  * Values are immutable and shared: the engine maps them with Eigen without copying.
//  * Time: wall_time(step) is when a complete step was saved, now() the time the source answers
//    as of; both in seconds since the epoch. Only rules reading the clock use them (clock.hpp).
//  * Save order: save_order(tensor, step, worker) is the position (0: first) at which that
//    worker saved the tensor among the tensors it saved at that step — the order of the saves in
//    the training loop, which tensor names (sorted) do not give. Tensors of which only a shape
//    was saved have none. Only rules/save_order.hpp reads it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/mode.hpp"
#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"

namespace tdbg::rules {

/// A global step with its mode and mode step.
struct step_point {
  step_t global_step = 0;
  tdbg::mode mode = tdbg::mode::global;
  step_t mode_step = 0;
  friend bool operator==(const step_point&, const step_point&) = default;
};

/// Read access to one training's saved tensors, for rule evaluation.
class data_source {
 public:
  virtual ~data_source() = default;

  /// Every tensor name known so far, sorted.
  [[nodiscard]] virtual std::vector<std::string> tensor_names() const = 0;

  /// The tensors of a collection (its tensor_names and its include_regex matches among the known
  /// names), sorted; empty for an unknown collection.
  [[nodiscard]] virtual std::vector<std::string> collection_tensor_names(std::string_view collection) const = 0;

  /// Complete global steps at which `tensor` has data (raw value, stored reduction or shape) in
  /// mode `m` (mode::global: in any mode), sorted.
  [[nodiscard]] virtual std::vector<step_t> tensor_steps(std::string_view tensor, tdbg::mode m) const = 0;

  /// Complete global steps of the whole source in mode `m` (mode::global: all), sorted.
  [[nodiscard]] virtual std::vector<step_t> steps(tdbg::mode m) const = 0;

  /// The mode and mode step of a global step; nullopt if the step is unknown.
  [[nodiscard]] virtual std::optional<step_point> point(step_t global_step) const = 0;

  /// The workers that have `tensor` at `global_step`, sorted (lexicographically).
  [[nodiscard]] virtual std::vector<std::string> workers(std::string_view tensor, step_t global_step) const = 0;

  /// The raw value of `tensor` at `global_step` from `worker` (empty: the smallest worker name),
  /// or nullptr when no raw value was saved there.
  [[nodiscard]] virtual std::shared_ptr<const tdbg::tensor> value(std::string_view tensor, step_t global_step,
                                                                  std::string_view worker = {}) const = 0;

  /// A reduction stored by the writer (smdebug's stored reductions: sample std/variance,
  /// vector norms), or nullopt.
  [[nodiscard]] virtual std::optional<double> stored_reduction(std::string_view tensor, step_t global_step,
                                                               reduction r, std::string_view worker = {}) const = 0;

  /// False while the training may still add steps (a live trial, an in-process hook).
  [[nodiscard]] virtual bool complete() const = 0;

  /// When complete step `global_step` was saved, in seconds since the epoch (smdebug's
  /// Event.wall_time; see the implementation for which record of the step it is read from), or
  /// nullopt when the source does not know (an unknown step, a step without records, a source
  /// that keeps no times). The default knows no times.
  [[nodiscard]] virtual std::optional<double> wall_time(step_t /*global_step*/) const { return std::nullopt; }

  /// The position (0: first) at which `worker` (empty: the smallest worker name) saved `tensor`
  /// among the tensors it saved at `global_step`, or nullopt when the source does not know (an
  /// unknown tensor, step or worker; only a shape was saved; a source that keeps no order). The
  /// default knows no order. trial_source: the order of the records in the worker's event file
  /// of the step (trial_tensor::save_order); live_source: the order of the hook's saves.
  [[nodiscard]] virtual std::optional<std::size_t> save_order(std::string_view /*tensor*/, step_t /*global_step*/,
                                                              std::string_view /*worker*/ = {}) const {
    return std::nullopt;
  }

  /// The current time as the source answers, in seconds since the epoch (what the rules'
  /// clock reads: rules/clock.hpp). A snapshot source answers the time of its snapshot, so
  /// that every evaluation over one snapshot sees one time. Sources take an injectable clock
  /// (tests); the default is the system clock, read at each call.
  [[nodiscard]] virtual double now() const { return system_seconds(); }

  /// The system clock, in seconds since the epoch.
  [[nodiscard]] static double system_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  /// "trial /runs/exp1", "hook (in process)" — for messages.
  [[nodiscard]] virtual std::string describe() const = 0;
};

}  // namespace tdbg::rules
