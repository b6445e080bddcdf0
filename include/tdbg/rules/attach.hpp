// tdbg/rules/attach.hpp — rules evaluated in process, on the tensors a hook saves, with no disk
// round trip.
// Layer: rules; the one rules header that includes the hook (an accepted exception of the
// layering, tests/headers/check_layering.cmake): it implements the hook's generic
// tensor_observer, so the hook layer itself stays free of rules.
//
//   auto session = tdbg::rules::attach(hook, {vanishing, loss_stalls},
//                                      {tdbg::rules::stop_training(), tdbg::rules::on_finding(log)});
//   for (...) { hook.begin_step(); ...; hook.end_step(); if (hook.should_stop()) break; }
//   for (const auto& f : session.findings()) ...
//
// When rules run: at the end of each step — inside the hook call that ends it (end_step(), or
// begin_step()/set_mode()/close() ending an open step) — on the training thread, after the
// step's tensors (and scalars) were handed to the writer. The rules whose schedule admits that
// step are evaluated on a live_source holding the hook's own copies of the tensors (shared, not
// copied) and only as much history as the rules declare. Findings go to the actions: callbacks,
// a stop request (hook.request_stop(), so the loop sees hook.should_stop() right after the call
// that ended the step), and a throw (rule_fired_error out of that hook call; the hook stays
// usable). A rule fired in the destructor's close() is reported on stderr by the hook.
// Clock rules (rules/clock.hpp: seconds_since_last_save) are evaluated once, when the hook
// closes, at the newest step they admit: in process a stall cannot be seen (use `tdbg watch`).
//
// Equivalence: the same rules run offline over the trial the hook writes (runner.hpp) give the
// same evaluations and findings, for a single-worker hook whose queue drops nothing. (A tensor
// dropped by queue_full_policy::drop is not written and not observed either.)
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/live_source.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/runner.hpp"

namespace tdbg::rules {

/// Options of attach().
struct attach_options {
  /// Keep every evaluation (session::evaluations()). false: only findings and summaries, so
  /// memory stays bounded however long training runs.
  bool keep_evaluations = true;
};

namespace detail {

/// The hook observer that feeds a live_source and runs the rules at each step end.
class rule_observer final : public tensor_observer {
 public:
  rule_observer(tdbg::hook& h, std::vector<any_rule> rules, rules::actions acts, const attach_options& o)
      : hook_(&h),
        runner_(std::move(rules), std::move(acts), [this] { hook_->request_stop(); }, trial_worker_name(h),
                o.keep_evaluations) {
    runner_.source().set_collections(h.collections_file().collections);
  }

  void on_save(const saved_tensor_info& info, const std::shared_ptr<const tdbg::tensor>& value) override {
    if (!active_) return;
    if (seen_.insert(std::string(info.name)).second) new_names_ = true;
    live_saved saved{info.raw, info.shape, std::vector<reduction>(info.reductions.begin(), info.reductions.end())};
    runner_.source().add(info.name, step_point{info.step, info.m, info.mode_step}, value, std::move(saved));
  }

  void on_step_end(step_t step, tdbg::mode m, step_t mode_step, bool saved) override {
    if (!active_ || !saved) return;
    if (new_names_) {  // collection members by explicit name (add_to_collection) may have grown
      runner_.source().set_collections(hook_->collections_file().collections);
      new_names_ = false;
    }
    runner_.end_step(step_point{step, m, mode_step});
  }

  void on_close() override { runner_.close(); }

  void deactivate() noexcept { active_ = false; }
  [[nodiscard]] const inprocess_runner& runner() const noexcept { return runner_; }

 private:
  /// The worker name a trial reader reports for this hook's files.
  static std::string trial_worker_name(const tdbg::hook& h) {
    const auto parsed = io::parse_step_file_name(io::index_file_key(0, h.options().worker));
    return parsed ? parsed->worker : h.options().worker;
  }

  tdbg::hook* hook_;
  inprocess_runner runner_;
  std::unordered_set<std::string> seen_;
  bool new_names_ = false;
  bool active_ = true;
};

}  // namespace detail

/// A handle on rules attached to a hook: their findings, evaluations and summaries so far.
/// The rules stay attached for the hook's life (the hook co-owns them) unless detach() is
/// called; destroying the session does not detach them. Use it on the training thread.
class session {
 public:
  /// Made by attach().
  session(tdbg::hook& h, std::shared_ptr<detail::rule_observer> o) : hook_(&h), obs_(std::move(o)) {}

  /// Findings so far, in step order then rule order.
  [[nodiscard]] const std::vector<finding>& findings() const noexcept { return obs_->runner().findings(); }
  /// Evaluations so far (empty with attach_options::keep_evaluations = false).
  [[nodiscard]] const std::vector<evaluation>& evaluations() const noexcept { return obs_->runner().evaluations(); }
  /// One summary per rule, in rule order.
  [[nodiscard]] const std::vector<rule_summary>& summaries() const noexcept { return obs_->runner().summaries(); }
  /// Whether a stop action met a finding.
  [[nodiscard]] bool stop_requested() const noexcept { return obs_->runner().stop_requested(); }
  /// The live source (what it retains).
  [[nodiscard]] const live_source& source() const noexcept { return obs_->runner().source(); }

  /// Stops evaluating and removes the rules from the hook, which must still exist.
  void detach() {
    if (!hook_) return;
    obs_->deactivate();
    hook_->remove_observer(obs_.get());
    hook_ = nullptr;
  }

 private:
  tdbg::hook* hook_;
  std::shared_ptr<detail::rule_observer> obs_;
};

/// Attaches `rules` (copies: fresh state) to `h`: from now on the tensors it saves feed the
/// rules, evaluated at the end of each step, and findings go to `acts` (see the header comment).
/// usage_error if the hook is closed or inside a step (attach between steps, so that every
/// step the rules see is whole).
[[nodiscard]] inline session attach(tdbg::hook& h, std::vector<any_rule> rules, rules::actions acts = {},
                                    attach_options o = {}) {
  if (h.closed()) throw usage_error("rules::attach: the hook is closed");
  if (h.in_step()) throw usage_error("rules::attach: the hook is inside a step; attach between steps");
  auto obs = std::make_shared<detail::rule_observer>(h, std::move(rules), std::move(acts), o);
  h.add_observer(obs);
  return session(h, std::move(obs));
}

}  // namespace tdbg::rules
