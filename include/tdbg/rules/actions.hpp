// tdbg/rules/actions.hpp — what happens when a rule fires: call back, throw, or ask to stop.
// Layer: rules (core, rules/rule.hpp). Runners (runner.hpp, attach.hpp) apply a list of actions
// to the findings of each evaluated step.
//
// Contract of apply_actions (every runner uses it, so the order is the same everywhere):
//  1. every callback and stop action runs once per finding, in the order of the list, findings
//     in evaluation order (rule order within a step);
//  2. then, if the list holds a throw action and there was a finding, rule_fired_error is thrown
//     for the first finding — so callbacks and stop requests are never skipped by a throw.
// What "stop" means belongs to the runner: attached to a hook it is hook.request_stop() (the
// training loop sees hook.should_stop()); offline it ends the run after the current step.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/rule.hpp"

namespace tdbg::rules {

/// Thrown by the throw action: carries the finding; the message names rule, step, mode, tensor,
/// value and threshold, then the rule's own message.
class rule_fired_error : public error {
 public:
  explicit rule_fired_error(rules::finding f) : error(text(f)), finding_(std::move(f)) {}
  [[nodiscard]] const rules::finding& finding() const noexcept { return finding_; }

 private:
  static std::string text(const rules::finding& f) {
    std::string s = "rule '" + f.rule + "' fired at step " + std::to_string(f.step) + " (" +
                    std::string(mode_name(f.mode)) + " step " + std::to_string(f.mode_step) + ")";
    if (!f.worker.empty()) s += " on worker '" + f.worker + "'";
    for (std::size_t i = 0; i < f.tensors.size(); ++i) {
      s += i == 0 ? ": " : "; ";
      s += (f.tensors[i].empty() ? std::string("value") : "tensor '" + f.tensors[i] + "'");
      if (i < f.values.size()) s += " = " + format_number(f.values[i]);
      if (i < f.thresholds.size() && !std::isnan(f.thresholds[i]))
        s += " (threshold " + format_number(f.thresholds[i]) + ")";
    }
    if (!f.message.empty()) s += " — " + f.message;
    return s;
  }

  rules::finding finding_;
};

/// One action on findings (make them with on_finding, throw_on_finding, stop_training).
class action {
 public:
  enum class kind : std::uint8_t {
    callback,  ///< calls a function with each finding
    raise,     ///< throws rule_fired_error (after the other actions)
    stop,      ///< asks the runner to stop (hook.request_stop() in process); optional function too
  };

  /// Prefer the factories below; a callback action needs a function.
  action(kind k, std::function<void(const finding&)> f) : kind_(k), fn_(std::move(f)) {
    if (k == kind::callback && !fn_) throw usage_error("on_finding: empty callback");
  }

  [[nodiscard]] kind what() const noexcept { return kind_; }
  /// The callback (callback), or the extra stop function (stop; may be empty).
  [[nodiscard]] const std::function<void(const finding&)>& function() const noexcept { return fn_; }

 private:
  kind kind_;
  std::function<void(const finding&)> fn_;
};

/// Calls `f` once per finding. usage_error for an empty function.
[[nodiscard]] inline action on_finding(std::function<void(const finding&)> f) {
  return action(action::kind::callback, std::move(f));
}

/// Throws rule_fired_error for the first finding of an evaluated step (see apply_actions).
[[nodiscard]] inline action throw_on_finding() { return action(action::kind::raise, {}); }

/// Asks the runner to stop (in process: hook.request_stop()); `also` (optional) is called with
/// each finding as well, e.g. to stop something else.
[[nodiscard]] inline action stop_training(std::function<void(const finding&)> also = {}) {
  return action(action::kind::stop, std::move(also));
}

/// A list of actions.
using actions = std::vector<action>;

/// Applies `acts` to `findings` (the contract in the header comment). Calls `stop` once if a
/// stop action met a finding. Returns whether a stop was requested.
inline bool apply_actions(const actions& acts, const std::vector<finding>& findings,
                          const std::function<void()>& stop = {}) {
  if (findings.empty()) return false;
  bool stop_requested = false;
  bool raise = false;
  for (const auto& f : findings)
    for (const auto& a : acts) {
      switch (a.what()) {
        case action::kind::callback: a.function()(f); break;
        case action::kind::stop:
          if (a.function()) a.function()(f);
          stop_requested = true;
          break;
        case action::kind::raise: raise = true; break;
      }
    }
  if (stop_requested && stop) stop();
  if (raise) throw rule_fired_error(findings.front());
  return stop_requested;
}

}  // namespace tdbg::rules
