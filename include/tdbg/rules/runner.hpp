// tdbg/rules/runner.hpp — running rules: offline over a data source, following a trial while it
// is written, and step by step in process (the engine behind rules/attach.hpp).
// Layer: rules (core, trial, rules/{rule,actions,source,trial_source,live_source,resolve}.hpp).
//
// Semantics shared by the three runners (so they produce identical evaluations and findings
// for one training):
//  * Order. Steps are evaluated in increasing global step order; within a step, rules in the
//    order given. Each rule is evaluated at each of its scheduled steps (any_rule::steps) once.
//  * Causality. An evaluation at step s sees what was known when step s ended: a tensor first
//    saved after s is not among the names a selection resolves to at s (offline runners read
//    through a view that hides such names; in process they are not known yet). Expressions only
//    read steps at or before s.
//  * Actions apply after all rules of a step were evaluated (actions.hpp's contract); a stop
//    action ends an offline run or a follower after that step, and in process calls the stop
//    function (hook.request_stop()).
//  * Clock rules (their condition reads the wall clock, clock.hpp) evaluate their newest
//    scheduled step only (any_rule::steps). run() evaluates it once, with the source's now();
//    a follower evaluates it again at each poll while it stays the newest step (until it fired
//    there, or the trial is complete), recording a re-evaluation only when its verdict changed;
//    the in-process runner evaluates it once, at close() (see clock.hpp for why).
//  * Status per rule (SageMaker Debugger's words): "IssuesFound" if it fired at least once, else
//    "NoIssuesFound" if at least one evaluation was ok, else "InsufficientData".
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/regex.hpp>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/live_source.hpp"
#include "tdbg/rules/resolve.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/source.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

namespace tdbg::rules {

/// What one rule did over a run.
struct rule_summary {
  std::string rule;
  std::size_t evaluated = 0;
  std::size_t fired = 0;
  std::size_t ok = 0;
  std::size_t insufficient_data = 0;
  std::size_t findings = 0;
  std::optional<step_t> first_fired;  ///< global step of the first fired evaluation

  /// "IssuesFound", "NoIssuesFound" or "InsufficientData" (see the header comment).
  [[nodiscard]] std::string_view status() const noexcept {
    if (fired > 0) return "IssuesFound";
    if (ok > 0) return "NoIssuesFound";
    return "InsufficientData";
  }
};

/// Options of an offline run.
struct run_options {
  std::optional<step_t> start_step;  ///< first global step evaluated (inclusive)
  std::optional<step_t> end_step;    ///< global step where evaluation ends (exclusive)
  rules::actions actions;            ///< applied to the findings of each step
};

/// Everything an offline run (or a follower so far) produced.
struct run_result {
  std::vector<evaluation> evaluations;  ///< in step order, then rule order
  std::vector<finding> findings;        ///< the findings of those evaluations, same order
  std::vector<rule_summary> summaries;  ///< one per rule, in rule order
  bool stopped = false;                 ///< a stop action ended the run early

  /// Whether any rule fired.
  [[nodiscard]] bool fired() const noexcept { return !findings.empty(); }
  /// The summary of the rule of that name; usage_error if there is none.
  [[nodiscard]] const rule_summary& summary(std::string_view rule) const {
    for (const auto& s : summaries)
      if (s.rule == rule) return s;
    throw usage_error("run_result: no rule named '" + std::string(rule) + "'");
  }
};

namespace detail {

/// A view of a source as it was when step `horizon` ended: tensor names (and collection
/// members) first saved after it are hidden. Everything else passes through (expressions only
/// read steps at or before the evaluated one).
class horizon_source final : public data_source {
 public:
  explicit horizon_source(const data_source& src) : src_(&src) {}

  void set_horizon(step_t h) noexcept { horizon_ = h; }

  [[nodiscard]] std::vector<std::string> tensor_names() const override { return visible(src_->tensor_names()); }
  [[nodiscard]] std::vector<std::string> collection_tensor_names(std::string_view c) const override {
    return visible(src_->collection_tensor_names(c));
  }
  [[nodiscard]] std::vector<step_t> tensor_steps(std::string_view t, tdbg::mode m) const override {
    return src_->tensor_steps(t, m);
  }
  [[nodiscard]] std::vector<step_t> steps(tdbg::mode m) const override { return src_->steps(m); }
  [[nodiscard]] std::optional<step_point> point(step_t g) const override { return src_->point(g); }
  [[nodiscard]] std::vector<std::string> workers(std::string_view t, step_t g) const override {
    return src_->workers(t, g);
  }
  [[nodiscard]] std::shared_ptr<const tdbg::tensor> value(std::string_view t, step_t g,
                                                          std::string_view w = {}) const override {
    return src_->value(t, g, w);
  }
  [[nodiscard]] std::optional<double> stored_reduction(std::string_view t, step_t g, reduction r,
                                                       std::string_view w = {}) const override {
    return src_->stored_reduction(t, g, r, w);
  }
  [[nodiscard]] bool complete() const override { return src_->complete(); }
  [[nodiscard]] std::optional<double> wall_time(step_t g) const override { return src_->wall_time(g); }
  [[nodiscard]] std::optional<std::size_t> save_order(std::string_view t, step_t g,
                                                      std::string_view w = {}) const override {
    return src_->save_order(t, g, w);
  }
  [[nodiscard]] double now() const override { return src_->now(); }
  [[nodiscard]] std::string describe() const override { return src_->describe(); }

 private:
  [[nodiscard]] std::vector<std::string> visible(std::vector<std::string> names) const {
    std::erase_if(names, [&](const std::string& n) {
      auto it = first_step_.find(n);
      if (it == first_step_.end()) {
        const auto steps = src_->tensor_steps(n, tdbg::mode::global);
        if (steps.empty()) return true;  // no complete step yet: not known at any horizon
        it = first_step_.emplace(n, steps.front()).first;
      }
      return it->second > horizon_;
    });
    return names;
  }

  const data_source* src_;
  step_t horizon_ = 0;
  mutable std::map<std::string, step_t, std::less<>> first_step_;
};

/// Adds an evaluation to a summary.
inline void count(rule_summary& s, const evaluation& e) {
  ++s.evaluated;
  switch (e.result) {
    case verdict::ok: ++s.ok; break;
    case verdict::fired:
      ++s.fired;
      s.findings += e.findings.size();
      if (!s.first_fired) s.first_fired = e.step;
      break;
    case verdict::insufficient_data: ++s.insufficient_data; break;
  }
}

/// The rules of a runner with their summaries, evaluating step-major through a horizon view.
class step_evaluator {
 public:
  explicit step_evaluator(std::vector<any_rule> rules) : rules_(std::move(rules)) {
    for (const auto& r : rules_) summaries_.push_back(rule_summary{r.name(), 0, 0, 0, 0, 0, std::nullopt});
  }

  [[nodiscard]] std::vector<any_rule>& rules() noexcept { return rules_; }
  [[nodiscard]] const std::vector<any_rule>& rules() const noexcept { return rules_; }
  [[nodiscard]] const std::vector<rule_summary>& summaries() const noexcept { return summaries_; }

  /// Evaluates the rules `which` (indices, increasing) at step `s` of `src`; appends to `out`.
  void evaluate(const data_source& src, step_t s, const std::vector<std::size_t>& which,
                std::vector<evaluation>& out) {
    for (const std::size_t i : which) {
      out.push_back(rules_[i].evaluate(src, s));
      count(summaries_[i], out.back());
    }
  }

  /// Evaluates clock rule `i` again at step `s`; appends (and counts) the evaluation only when
  /// its verdict differs from `previous`. Returns whether it was appended.
  bool evaluate_again(const data_source& src, step_t s, std::size_t i, verdict previous,
                      std::vector<evaluation>& out) {
    evaluation e = rules_[i].evaluate(src, s);
    if (e.result == previous) return false;
    out.push_back(std::move(e));
    count(summaries_[i], out.back());
    return true;
  }

 private:
  std::vector<any_rule> rules_;
  std::vector<rule_summary> summaries_;
};

/// The findings of some evaluations, in order.
[[nodiscard]] inline std::vector<finding> findings_of(const std::vector<evaluation>& es, std::size_t from = 0) {
  std::vector<finding> out;
  for (std::size_t i = from; i < es.size(); ++i)
    out.insert(out.end(), es[i].findings.begin(), es[i].findings.end());
  return out;
}

/// Evaluates the rules at the steps of `per_rule` (sorted, per rule), step-major, through
/// `view` (a horizon view of the source; the same object across calls, since rules cache step
/// lists per source object). Appends to `result`; stops after a step whose findings met a stop
/// action. `done(rule index, evaluation)` is called after each step's evaluations.
inline void evaluate_steps(step_evaluator& ev, horizon_source& view,
                           const std::vector<std::vector<step_t>>& per_rule, const actions& acts,
                           run_result& result,
                           const std::function<void(std::size_t, const evaluation&)>& done = {}) {
  std::map<step_t, std::vector<std::size_t>> by_step;
  for (std::size_t i = 0; i < per_rule.size(); ++i)
    for (const step_t s : per_rule[i]) by_step[s].push_back(i);
  for (const auto& [s, which] : by_step) {
    view.set_horizon(s);
    const std::size_t first = result.evaluations.size();
    ev.evaluate(view, s, which, result.evaluations);
    if (done)
      for (std::size_t k = 0; k < which.size(); ++k) done(which[k], result.evaluations[first + k]);
    auto step_findings = findings_of(result.evaluations, first);
    result.findings.insert(result.findings.end(), step_findings.begin(), step_findings.end());
    if (apply_actions(acts, step_findings)) {
      result.stopped = true;
      break;
    }
  }
  result.summaries = ev.summaries();
}

}  // namespace detail

/// Evaluates `rules` (copies: fresh state) over `src` at their scheduled steps in
/// [start_step, end_step), in increasing step order (see the header comment). Throws what the
/// source throws for corrupt data, and rule_fired_error for a throw action.
[[nodiscard]] inline run_result run(std::vector<any_rule> rules, const data_source& src, const run_options& o = {}) {
  if (o.start_step && o.end_step && *o.end_step < *o.start_step)
    throw usage_error("run: end_step " + std::to_string(*o.end_step) + " is before start_step " +
                      std::to_string(*o.start_step));
  detail::step_evaluator ev(std::move(rules));
  std::vector<std::vector<step_t>> per_rule;
  for (const auto& r : ev.rules()) {
    auto steps = r.steps(src);
    std::erase_if(steps, [&](step_t s) {
      return (o.start_step && s < *o.start_step) || (o.end_step && s >= *o.end_step);
    });
    per_rule.push_back(std::move(steps));
  }
  run_result result;
  detail::horizon_source view(src);
  detail::evaluate_steps(ev, view, per_rule, o.actions, result);
  return result;
}

/// One rule.
[[nodiscard]] inline run_result run(const any_rule& rule, const data_source& src, const run_options& o = {}) {
  return run(std::vector<any_rule>{rule}, src, o);
}

/// Options of a follower.
struct follow_options {
  std::optional<step_t> start_step;  ///< first global step evaluated (inclusive)
  std::optional<step_t> end_step;    ///< global step where evaluation ends (exclusive)
  rules::actions actions;            ///< applied to the findings of each step
  trial_source_options source{};     ///< cache bounds of the trial_source
};

/// Follows a trial while it is written: each poll() refreshes the trial and evaluates every
/// rule at its scheduled steps that became complete since the last poll — each step once, in
/// increasing order, rule state kept across polls. finished() once the trial is complete (its
/// end marker was seen) and everything was evaluated. A step that appears only after a later
/// step was evaluated for a rule (a late index file) is not evaluated for that rule.
class follower {
 public:
  /// Follows `t` (which must outlive the follower).
  follower(std::vector<any_rule> rules, const tdbg::trial::trial& t, follow_options o = {})
      : follower(std::move(rules), std::move(o),
                 [&t](const trial_source_options& so) { return std::make_unique<trial_source>(t, so); }) {}
  /// Follows and co-owns `t`.
  follower(std::vector<any_rule> rules, std::shared_ptr<const tdbg::trial::trial> t, follow_options o = {})
      : follower(std::move(rules), std::move(o), [&t](const trial_source_options& so) {
          return std::make_unique<trial_source>(std::move(t), so);
        }) {}

  /// Refreshes the trial and evaluates what became complete. Returns the new evaluations.
  /// Does nothing once finished() or stopped(). Errors of the trial (a corrupt index file or
  /// record) propagate; the steps evaluated before stay evaluated.
  std::vector<evaluation> poll() {
    if (finished_ || result_.stopped) return {};
    src_->refresh();
    const bool complete = src_->complete();
    std::vector<std::vector<step_t>> per_rule;
    std::vector<std::size_t> again;  // clock rules whose newest step is the one evaluated last
    for (std::size_t i = 0; i < ev_.rules().size(); ++i) {
      auto steps = ev_.rules()[i].steps(*src_);
      std::erase_if(steps, [&](step_t s) {
        return (opts_.start_step && s < *opts_.start_step) || (opts_.end_step && s >= *opts_.end_step);
      });
      if (ev_.rules()[i].reads_clock() && !steps.empty() && last_[i] && steps.back() == *last_[i] &&
          last_verdict_[i] != verdict::fired)
        again.push_back(i);
      std::erase_if(steps, [&](step_t s) { return last_[i] && s <= *last_[i]; });
      per_rule.push_back(std::move(steps));
    }
    const std::size_t first = result_.evaluations.size();
    detail::evaluate_steps(ev_, view_, per_rule, opts_.actions, result_, [&](std::size_t i, const evaluation& e) {
      last_[i] = e.step;
      last_verdict_[i] = e.result;
    });
    if (!result_.stopped && !again.empty()) reevaluate(again);
    finished_ = complete && !result_.stopped;
    return {result_.evaluations.begin() + static_cast<std::ptrdiff_t>(first), result_.evaluations.end()};
  }

  /// True once a poll saw the complete trial and evaluated everything.
  [[nodiscard]] bool finished() const noexcept { return finished_; }
  /// True once a stop action met a finding (no further evaluation).
  [[nodiscard]] bool stopped() const noexcept { return result_.stopped; }
  /// Everything evaluated so far.
  [[nodiscard]] const run_result& result() const noexcept { return result_; }
  [[nodiscard]] const std::vector<finding>& findings() const noexcept { return result_.findings; }
  [[nodiscard]] const std::vector<evaluation>& evaluations() const noexcept { return result_.evaluations; }
  /// The source read (its cache statistics, its snapshot).
  [[nodiscard]] const trial_source& source() const noexcept { return *src_; }

 private:
  /// Clock rules `which` again at their last evaluated step (the newest): time passed. One
  /// step's worth of evaluations for the actions, recorded only where the verdict changed.
  void reevaluate(const std::vector<std::size_t>& which) {
    std::map<step_t, std::vector<std::size_t>> by_step;
    for (const std::size_t i : which) by_step[*last_[i]].push_back(i);
    for (const auto& [s, rules] : by_step) {
      view_.set_horizon(s);
      const std::size_t first = result_.evaluations.size();
      for (const std::size_t i : rules)
        if (ev_.evaluate_again(view_, s, i, last_verdict_[i], result_.evaluations))
          last_verdict_[i] = result_.evaluations.back().result;
      auto step_findings = detail::findings_of(result_.evaluations, first);
      result_.findings.insert(result_.findings.end(), step_findings.begin(), step_findings.end());
      if (apply_actions(opts_.actions, step_findings)) {
        result_.stopped = true;
        break;
      }
    }
    result_.summaries = ev_.summaries();
  }

  template <class MakeSource>
  follower(std::vector<any_rule> rules, follow_options o, MakeSource&& make_source)
      : opts_(std::move(o)), src_(make_source(opts_.source)), view_(*src_), ev_(std::move(rules)),
        last_(ev_.rules().size()), last_verdict_(ev_.rules().size(), verdict::ok) {
    if (opts_.start_step && opts_.end_step && *opts_.end_step < *opts_.start_step)
      throw usage_error("follower: end_step is before start_step");
    result_.summaries = ev_.summaries();
  }

  follow_options opts_;
  std::unique_ptr<trial_source> src_;
  detail::horizon_source view_;
  detail::step_evaluator ev_;
  std::vector<std::optional<step_t>> last_;
  std::vector<verdict> last_verdict_;  // of the evaluation at last_ (clock rules)
  run_result result_;
  bool finished_ = false;
};

/// Evaluates rules in process as steps end (used by rules/attach.hpp; usable with any producer
/// that feeds its live_source). A step is evaluated for a rule when its schedule admits it —
/// the same decision as any_rule::steps, taken incrementally, since the live source forgets
/// what no rule needs.
class inprocess_runner {
 public:
  /// `stop` is called when a stop action meets a finding; `keep_evaluations` = false keeps only
  /// findings and summaries (memory then stays bounded however long training runs).
  inprocess_runner(std::vector<any_rule> rules, rules::actions acts, std::function<void()> stop = {},
                   std::string worker = "worker_0", bool keep_evaluations = true)
      : source_(std::move(worker)), ev_(std::move(rules)), acts_(std::move(acts)), stop_(std::move(stop)),
        keep_(keep_evaluations) {
    for (const auto& r : ev_.rules()) {
      const auto reqs = r.needs();
      source_.retain(reqs);
      sched s;
      s.when = r.options().when;
      s.clock = reqs.reads_clock;
      s.cursor = schedule_cursor(s.when);
      for (const auto& n : reqs.tensors) {
        if (!n.primary || !n.source.empty()) continue;
        s.primary.push_back(n.selection);
        s.regexes.push_back(n.selection.kind == selection_kind::regex ? compile_selection_regex(n.selection.pattern)
                                                                      : nullptr);
      }
      scheds_.push_back(std::move(s));
    }
  }

  /// The source the producer feeds.
  [[nodiscard]] live_source& source() noexcept { return source_; }
  [[nodiscard]] const live_source& source() const noexcept { return source_; }

  /// Ends step `p` in the source and evaluates the rules scheduled there; applies the actions
  /// (a throw action throws from here, after the evaluations were recorded). Returns the step's
  /// evaluations.
  std::vector<evaluation> end_step(const step_point& p) {
    if (!source_.end_step(p)) return {};
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < scheds_.size(); ++i) {
      if (!admit(scheds_[i], p)) continue;
      if (scheds_[i].clock) {  // evaluated at close(): see the header comment
        scheds_[i].has_newest = true;
        scheds_[i].newest = p.global_step;
      } else {
        which.push_back(i);
      }
    }
    return evaluate(p.global_step, which);
  }

  /// The producer finished (the source becomes complete); clock rules are evaluated now, at
  /// the newest step their schedule admitted. Returns those evaluations (a throw action throws).
  std::vector<evaluation> close() {
    if (source_.complete()) return {};
    source_.close();
    std::map<step_t, std::vector<std::size_t>> by_step;
    for (std::size_t i = 0; i < scheds_.size(); ++i)
      if (scheds_[i].clock && scheds_[i].has_newest) by_step[scheds_[i].newest].push_back(i);
    std::vector<evaluation> out;
    for (const auto& [s, which] : by_step) {
      auto e = evaluate(s, which);
      out.insert(out.end(), e.begin(), e.end());
    }
    return out;
  }

  [[nodiscard]] const std::vector<finding>& findings() const noexcept { return findings_; }
  /// Every evaluation so far (empty when keep_evaluations is false).
  [[nodiscard]] const std::vector<evaluation>& evaluations() const noexcept { return evaluations_; }
  [[nodiscard]] const std::vector<rule_summary>& summaries() const noexcept { return ev_.summaries(); }
  /// Whether a stop action met a finding.
  [[nodiscard]] bool stop_requested() const noexcept { return stopped_; }
  /// The rules (with their state).
  [[nodiscard]] const std::vector<any_rule>& rules() const noexcept { return ev_.rules(); }

 private:
  /// Evaluates rules `which` at step `g`, records, applies the actions.
  std::vector<evaluation> evaluate(step_t g, const std::vector<std::size_t>& which) {
    std::vector<evaluation> step_evals;
    ev_.evaluate(source_, g, which, step_evals);
    auto step_findings = detail::findings_of(step_evals);
    findings_.insert(findings_.end(), step_findings.begin(), step_findings.end());
    if (keep_) evaluations_.insert(evaluations_.end(), step_evals.begin(), step_evals.end());
    if (apply_actions(acts_, step_findings, stop_)) stopped_ = true;
    return step_evals;
  }

  struct sched {
    schedule when;
    bool clock = false;       // a clock rule: evaluated at close()
    bool has_newest = false;  // (not std::optional: g++ 12 -O3 warns maybe-uninitialized on it)
    step_t newest = 0;        // its newest admitted step
    std::vector<selection_spec> primary;
    std::vector<std::shared_ptr<const boost::regex>> regexes;
    schedule_cursor cursor{when};
  };

  /// any_rule::steps' decision for the newest step, with the schedule's state.
  bool admit(sched& s, const step_point& p) {
    bool candidate = false;
    if (s.primary.empty()) {
      candidate = s.when.mode == tdbg::mode::global || p.mode == s.when.mode;
    } else {
      for (std::size_t k = 0; k < s.primary.size() && !candidate; ++k) {
        const tdbg::mode m = s.primary[k].mode.value_or(s.when.mode);
        if (m != tdbg::mode::global && m != p.mode) continue;
        for (const auto& t : resolve_names(source_, s.primary[k], s.regexes[k].get()))
          if (!source_.workers(t, p.global_step).empty()) {
            candidate = true;
            break;
          }
      }
    }
    if (!candidate) return false;
    step_t u = p.global_step;
    if (s.when.mode != tdbg::mode::global) {
      if (p.mode != s.when.mode) return false;
      u = p.mode_step;
    }
    return s.cursor.admit(u);
  }

  live_source source_;
  detail::step_evaluator ev_;
  rules::actions acts_;
  std::function<void()> stop_;
  bool keep_;
  std::vector<sched> scheds_;
  std::vector<finding> findings_;
  std::vector<evaluation> evaluations_;
  bool stopped_ = false;
};

}  // namespace tdbg::rules
