// tdbg/rules/clock.hpp — the wall clock: how long ago the data was saved.
// Layer: rules (rules/{expr,context,source}.hpp).
//
//   seconds_since_last_save()   now − the time step s was saved, in seconds, at the evaluated
//                               step s (a scalar number): data_source::now() minus
//                               data_source::wall_time(s) (trial_source: the Event.wall_time of
//                               the step's last records; live_source: when the step ended).
// A rule whose condition reads the clock (needs().reads_clock) is a *clock rule*, scheduled
// as time requires (rule.hpp, runner.hpp):
//  * it is evaluated at the newest step its schedule admits only: the time since an older
//    step's save says nothing about now. Offline (`tdbg check`, rules::run) that is one
//    evaluation, at the trial's newest step, with now = when the trial was read;
//  * a follower (`tdbg watch`) evaluates it again at each poll while that step stays the
//    newest — time passes without new steps, which is the whole point — until it fires there
//    (one finding per stall: a newer step starts a new one) or the trial completes;
//    re-evaluations whose verdict did not change are not recorded;
//  * in process (rules::attach) it is evaluated once, when the hook closes: at a step end the
//    training is by definition not stalled, and a stalled training thread cannot evaluate
//    anything. Watching for a stall takes a process outside the training (`tdbg watch`).
// Value at step s:
//  * 0 when the source is complete (the training ended — end marker, closed hook — so nothing
//    is stalled any more);
//  * unknown ("no wall time is known for step ...") when the source has no time for s (a
//    source that keeps none, a step that saved only shapes);
//  * otherwise max(0, now − wall_time(s)): a reader whose clock is behind the writer's (clock
//    skew between machines) reads 0, never a negative time.
// It has no evidence of its own (a comparison records its value and threshold) and ignores
// time shifts (prev/at move tensor reads; the clock has none). A clock rule may not contain a
// window, running value, patience, then or accumulate: it is re-evaluated at one step, which
// would feed them twice (make_rule refuses with a usage_error).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include "tdbg/rules/context.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/requirements.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules {

/// Seconds between the save of the evaluated step and now (see the header comment).
struct seconds_since_last_save_node {
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  [[nodiscard]] std::string describe() const { return "seconds_since_last_save()"; }
  void needs(requirements& r, const need_scope&) const { r.reads_clock = true; }

  struct evaluator {
    explicit evaluator(const seconds_since_last_save_node&) {}
    [[nodiscard]] scalar_value eval(const context& c) const {
      const data_source& src = *c.src;
      if (src.complete()) return scalar_value::of(0);
      const auto saved = src.wall_time(c.step);
      if (!saved) return scalar_value::missing("no wall time is known for " + c.where() + " of " + src.describe());
      return scalar_value::of(std::max(0.0, src.now() - *saved));
    }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }
  };
};

/// The seconds since the evaluated step was saved (a scalar number; makes the rule a clock rule).
[[nodiscard]] inline seconds_since_last_save_node seconds_since_last_save() { return {}; }

}  // namespace tdbg::rules
