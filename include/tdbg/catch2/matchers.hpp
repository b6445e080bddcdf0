// tdbg/catch2/matchers.hpp — rules as Catch2 (v2) matchers: the bridge from the rule engine to
// hand-written tests, `REQUIRE_THAT(trial, tdbg::catch2::satisfies(rule))`.
// Layer: catch2 (rules, trial, core; Catch2 2.13 through <catch2/catch.hpp>). Link the CMake
// target tdbg::catch2, which adds Catch2::Catch2 to tdbg::tdbg.
//
// Subjects. Every matcher matches a `tdbg::trial::trial`, a `std::shared_ptr<const trial>`
// (both read through a rules::trial_source) or any `rules::data_source`. Composition with
// Catch's `&&`, `||` and `!` works on a data_source subject (Catch composes matchers of one
// argument type).
//
// Semantics (each match() runs the rules afresh with rules::run: fresh state, every scheduled
// step in increasing order, the matcher's run_options):
//  * satisfies(rules): passes iff no rule fires at any of its steps. An evaluation with
//    insufficient data does not fail it, nor does a rule that was never evaluated: the rule
//    found nothing wrong in the data there is. satisfies(...).strict() — or
//    satisfies_strictly(rules) — also fails when an evaluation had insufficient data or a rule
//    was never evaluated, i.e. it passes iff every evaluation of every rule is ok.
//  * fires(rules): passes iff some rule fires at some step (non-strict satisfies, negated).
//  * fires_at(rules, step[, mode]): passes iff some rule fires at that step: a global step, or
//    with a mode, the step of that mode (mode::global means a global step). The whole run is
//    evaluated (a window or patience at that step sees the steps before it).
//
// Descriptions. Catch2 v2 calls describe() after match(), so match() keeps its run (shared by
// the copies Catch makes) and describe() prints it: the rules, the source, per rule the counts
// of evaluations, and the evidence — findings (rule, step, mode and mode step, worker, tensors,
// values, thresholds, and the message if the rule has its own template: the default one says
// nothing more), insufficient data with its reason, or, for fires_at, what
// happened at that step (ok, insufficient data, not scheduled, not a step of the source) and
// the steps where the rules did fire. At most `max_listed` items are listed, then a count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/source.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

namespace tdbg::catch2 {

/// How many findings, evaluations or steps a description lists before it only counts them.
inline constexpr std::size_t max_listed = 8;

namespace detail {

inline std::string number(double v) { return fmt::format("{:.6g}", v); }

/// "step 24 (TRAIN step 20)".
inline std::string step_text(step_t g, tdbg::mode m, step_t mode_step) {
  return fmt::format("step {} ({} step {})", g, mode_name(m), mode_step);
}

/// One line per finding: where, which rule, the evidence, and the message when the rule has its
/// own template (the default one only repeats the rest of the line).
inline std::string finding_line(const rules::finding& f, bool with_message) {
  std::string s = step_text(f.step, f.mode, f.mode_step) + " " + f.rule;
  if (!f.worker.empty()) s += " [worker " + f.worker + "]";
  s += ": ";
  for (std::size_t i = 0; i < f.tensors.size(); ++i) {
    if (i) s += "; ";
    s += (f.tensors[i].empty() ? std::string("value") : f.tensors[i]) + " = ";
    s += i < f.values.size() ? number(f.values[i]) : std::string("?");
    if (i < f.thresholds.size() && !std::isnan(f.thresholds[i])) s += " (threshold " + number(f.thresholds[i]) + ")";
  }
  if (f.tensors.empty()) s += "no evidence";
  return with_message ? s + " -- \"" + f.message + "\"" : s;
}

inline std::string insufficient_line(const rules::evaluation& e) {
  return "insufficient data at " + step_text(e.step, e.mode, e.mode_step) + " " + e.rule + ": " + e.reason;
}

/// "A: 5 evaluations: 2 fired (first at step 24), 3 ok, 0 with insufficient data".
inline std::string counts_line(const rules::rule_summary& s) {
  if (s.evaluated == 0) return s.rule + ": never evaluated (no scheduled step)";
  std::string fired = std::to_string(s.fired) + " fired";
  if (s.first_fired) fired += " (first at step " + std::to_string(*s.first_fired) + ")";
  return fmt::format("{}: {} evaluation{}: {}, {} ok, {} with insufficient data", s.rule, s.evaluated,
                     s.evaluated == 1 ? "" : "s", fired, s.ok, s.insufficient_data);
}

/// Up to max_listed lines, then "... and N more <what>".
template <class Items, class Line>
void append_listed(std::string& out, const Items& items, std::size_t total, std::string_view what, Line line) {
  std::size_t n = 0;
  for (const auto& item : items) {
    if (n == max_listed) break;
    out += "\n  " + line(item);
    ++n;
  }
  if (total > n) out += fmt::format("\n  ... and {} more {} ({} in total)", total - n, what, total);
}

inline std::string join_steps(const std::vector<step_t>& steps) {
  std::string s;
  for (std::size_t i = 0; i < steps.size() && i < max_listed; ++i) s += (i ? ", " : "") + std::to_string(steps[i]);
  if (steps.size() > max_listed) s += fmt::format(", ... ({} in total)", steps.size());
  return s;
}

/// What one match() produced.
struct run_record {
  std::string source;  ///< the subject's describe()
  rules::run_result result;
};

/// The part every rule matcher shares: the rules, the run options, the subjects it accepts.
class rule_matcher_base : public Catch::MatcherBase<rules::data_source> {
 public:
  rule_matcher_base(std::vector<rules::any_rule> rules, rules::run_options options)
      : rules_(std::move(rules)), options_(std::move(options)) {
    if (rules_.empty()) throw usage_error("tdbg::catch2: a matcher needs at least one rule");
  }
  rule_matcher_base(const rule_matcher_base&) = default;

  /// Runs the rules over `src` and decides.
  bool match(const rules::data_source& src) const override {
    m_cachedToString.clear();  // a matcher reused for another subject describes the new run
    last_ = std::make_shared<run_record>(run_record{src.describe(), rules::run(rules_, src, options_)});
    return decide(src, *last_);
  }
  /// Reads a trial (which must outlive the call) through a rules::trial_source.
  bool match(const tdbg::trial::trial& t) const {
    const rules::trial_source src(t);
    return match(static_cast<const rules::data_source&>(src));
  }
  /// Reads a shared trial; usage_error for a null pointer.
  bool match(const std::shared_ptr<const tdbg::trial::trial>& t) const {
    if (!t) throw usage_error("tdbg::catch2: the trial to match is a null pointer");
    return match(*t);
  }

  /// The rules matched (copies of those given).
  [[nodiscard]] const std::vector<rules::any_rule>& matched_rules() const noexcept { return rules_; }
  /// The last run (nullptr before the first match()).
  [[nodiscard]] std::shared_ptr<const run_record> last_run() const noexcept { return last_; }

 protected:
  virtual bool decide(const rules::data_source& src, const run_record& run) const = 0;

  /// "rule A: cond" or "3 rules:\n  A: cond\n  ...".
  [[nodiscard]] std::string rules_text() const {
    if (rules_.size() == 1) return "rule " + rules_.front().describe();
    std::string s = std::to_string(rules_.size()) + " rules:";
    for (const auto& r : rules_) s += "\n    " + r.describe();
    return s;
  }

  /// finding_line, with the message if the finding's rule has a custom template.
  [[nodiscard]] std::string finding_text(const rules::finding& f) const {
    const bool custom = std::any_of(rules_.begin(), rules_.end(), [&](const rules::any_rule& r) {
      return r.name() == f.rule && r.options().message != rules::default_message_template;
    });
    return finding_line(f, custom);
  }

  /// The source and one counts line per rule.
  [[nodiscard]] std::string counts_text() const {
    if (!last_) return "\n  (not run yet)";
    std::string s = "\n  over " + last_->source;
    for (const auto& sum : last_->result.summaries) s += "\n  " + counts_line(sum);
    if (last_->result.stopped) s += "\n  (a stop action ended the run early)";
    return s;
  }

  std::vector<rules::any_rule> rules_;
  rules::run_options options_;
  mutable std::shared_ptr<const run_record> last_;
};

}  // namespace detail

/// REQUIRE_THAT(subject, satisfies(rule)): no rule fires (see the header comment).
class satisfies_matcher final : public detail::rule_matcher_base {
 public:
  satisfies_matcher(std::vector<rules::any_rule> rules, rules::run_options options = {})
      : rule_matcher_base(std::move(rules), std::move(options)) {}

  /// A copy that also fails on insufficient data and on rules never evaluated.
  [[nodiscard]] satisfies_matcher strict() const {
    satisfies_matcher m(*this);
    m.strict_ = true;
    return m;
  }
  /// A copy that runs with these options (start/end step, actions).
  [[nodiscard]] satisfies_matcher with(rules::run_options options) const {
    satisfies_matcher m(*this);
    m.options_ = std::move(options);
    return m;
  }
  [[nodiscard]] bool is_strict() const noexcept { return strict_; }

 protected:
  bool decide(const rules::data_source&, const detail::run_record& run) const override {
    if (run.result.fired()) return false;
    if (!strict_) return true;
    return std::all_of(run.result.summaries.begin(), run.result.summaries.end(),
                       [](const rules::rule_summary& s) { return s.evaluated > 0 && s.insufficient_data == 0; });
  }

  std::string describe() const override {
    std::string s = std::string(strict_ ? "strictly satisfies " : "satisfies ") + rules_text() + counts_text();
    if (!last_) return s;
    const auto& r = last_->result;
    detail::append_listed(s, r.findings, r.findings.size(), "findings",
                          [this](const rules::finding& f) { return finding_text(f); });
    std::vector<const rules::evaluation*> short_of_data;
    for (const auto& e : r.evaluations)
      if (e.result == rules::verdict::insufficient_data) short_of_data.push_back(&e);
    if (short_of_data.empty()) return s;
    if (strict_) {
      detail::append_listed(s, short_of_data, short_of_data.size(), "evaluations with insufficient data",
                            [](const rules::evaluation* e) { return detail::insufficient_line(*e); });
    } else {
      s += fmt::format("\n  note: {} evaluation{} had insufficient data, first {}; strict() fails on them",
                       short_of_data.size(), short_of_data.size() == 1 ? "" : "s",
                       detail::insufficient_line(*short_of_data.front()));
    }
    return s;
  }

 private:
  bool strict_ = false;
};

/// REQUIRE_THAT(subject, fires(rule)): some rule fires at some step.
class fires_matcher final : public detail::rule_matcher_base {
 public:
  fires_matcher(std::vector<rules::any_rule> rules, rules::run_options options = {})
      : rule_matcher_base(std::move(rules), std::move(options)) {}

  /// A copy that runs with these options (start/end step, actions).
  [[nodiscard]] fires_matcher with(rules::run_options options) const {
    fires_matcher m(*this);
    m.options_ = std::move(options);
    return m;
  }

 protected:
  bool decide(const rules::data_source&, const detail::run_record& run) const override { return run.result.fired(); }

  std::string describe() const override {
    std::string s = "fires: " + rules_text() + counts_text();
    if (!last_) return s;
    const auto& r = last_->result;
    detail::append_listed(s, r.findings, r.findings.size(), "findings",
                          [this](const rules::finding& f) { return finding_text(f); });
    for (const auto& e : r.evaluations)
      if (e.result == rules::verdict::insufficient_data) {
        s += "\n  first " + detail::insufficient_line(e);
        break;
      }
    return s;
  }
};

/// REQUIRE_THAT(subject, fires_at(rule, step[, mode])): some rule fires at that step.
class fires_at_matcher final : public detail::rule_matcher_base {
 public:
  fires_at_matcher(std::vector<rules::any_rule> rules, step_t step, tdbg::mode m = tdbg::mode::global,
                   rules::run_options options = {})
      : rule_matcher_base(std::move(rules), std::move(options)), step_(step), mode_(m) {}

  /// A copy that runs with these options (start/end step, actions).
  [[nodiscard]] fires_at_matcher with(rules::run_options options) const {
    fires_at_matcher m(*this);
    m.options_ = std::move(options);
    return m;
  }

 protected:
  bool decide(const rules::data_source& src, const detail::run_record& run) const override {
    // What happened at the step, per rule, is worked out here: describe() has no source.
    auto at = std::make_shared<at_step>();
    at->global = global_step(src);
    if (at->global) {
      at->complete = src.point(*at->global).has_value();
      for (const auto& r : rules_) {
        at->scheduled.push_back(r.steps(src));
        const rules::evaluation* found = nullptr;
        for (const auto& e : run.result.evaluations)
          if (e.rule == r.name() && e.step == *at->global) found = &e;
        at->evaluations.push_back(found ? std::optional<rules::evaluation>(*found) : std::nullopt);
      }
    }
    at_ = at;
    return std::any_of(at->evaluations.begin(), at->evaluations.end(), [](const auto& e) {
      return e && e->result == rules::verdict::fired;
    });
  }

  std::string describe() const override {
    std::string s = "fires at " + target_text() + ": " + rules_text() + counts_text();
    if (!last_ || !at_) return s;
    if (!at_->global) {
      s += "\n  at " + target_text() + ": not evaluated: no complete " + std::string(mode_name(mode_)) +
           " step " + std::to_string(step_) + " in " + last_->source;
    } else {
      for (std::size_t i = 0; i < rules_.size(); ++i) s += "\n  " + at_text(i);
    }
    for (const auto& sum : last_->result.summaries) {
      std::vector<step_t> fired;
      for (const auto& e : last_->result.evaluations)
        if (e.rule == sum.rule && e.result == rules::verdict::fired) fired.push_back(e.step);
      s += "\n  " + sum.rule + (fired.empty()       ? std::string(" fired at no step")
                                 : fired.size() == 1 ? " fired at step " + detail::join_steps(fired)
                                                     : " fired at steps " + detail::join_steps(fired));
    }
    return s;
  }

 private:
  struct at_step {
    std::optional<step_t> global;                           ///< the global step asked about
    bool complete = false;                                  ///< a complete step of the source
    std::vector<std::vector<step_t>> scheduled;             ///< per rule
    std::vector<std::optional<rules::evaluation>> evaluations;  ///< per rule, at that step
  };

  [[nodiscard]] std::string target_text() const {
    if (mode_ == tdbg::mode::global) return "step " + std::to_string(step_);
    return std::string(mode_name(mode_)) + " step " + std::to_string(step_);
  }

  [[nodiscard]] std::optional<step_t> global_step(const rules::data_source& src) const {
    if (mode_ == tdbg::mode::global) return step_;
    for (const step_t g : src.steps(mode_))
      if (const auto p = src.point(g); p && p->mode == mode_ && p->mode_step == step_) return g;
    return std::nullopt;
  }

  /// What rule i did at the step.
  [[nodiscard]] std::string at_text(std::size_t i) const {
    const std::string& name = rules_[i].name();
    const step_t g = *at_->global;
    if (const auto& e = at_->evaluations[i]) {
      const std::string where = "at " + detail::step_text(e->step, e->mode, e->mode_step) + " " + name + ": ";
      switch (e->result) {
        case rules::verdict::ok: return where + "ok (did not fire)";
        case rules::verdict::insufficient_data: return where + "insufficient data: " + e->reason;
        case rules::verdict::fired: {
          std::string s = where + "fired";
          for (const auto& f : e->findings) s += "\n    " + finding_text(f);
          return s;
        }
      }
    }
    const std::string where = "at step " + std::to_string(g) + " " + name + ": not evaluated: ";
    if (!at_->complete) return where + "step " + std::to_string(g) + " is not a complete step of " + last_->source;
    const auto& sched = at_->scheduled[i];
    if (std::find(sched.begin(), sched.end(), g) == sched.end())
      return where + "not among the rule's scheduled steps (" +
             (sched.empty() ? std::string("none") : detail::join_steps(sched)) + ")";
    return where + "outside the run (its start/end step, or a stop action ended it before)";
  }

  step_t step_;
  tdbg::mode mode_;
  mutable std::shared_ptr<const at_step> at_;
};

/// No rule fires (insufficient data alone does not fail it; see strict()).
[[nodiscard]] inline satisfies_matcher satisfies(std::vector<rules::any_rule> rules) {
  return satisfies_matcher(std::move(rules));
}
[[nodiscard]] inline satisfies_matcher satisfies(const rules::any_rule& rule) {
  return satisfies_matcher(std::vector<rules::any_rule>{rule});
}

/// Every evaluation of every rule is ok: no finding, no insufficient data, no rule unevaluated.
[[nodiscard]] inline satisfies_matcher satisfies_strictly(std::vector<rules::any_rule> rules) {
  return satisfies(std::move(rules)).strict();
}
[[nodiscard]] inline satisfies_matcher satisfies_strictly(const rules::any_rule& rule) {
  return satisfies(rule).strict();
}

/// Some rule fires at some step.
[[nodiscard]] inline fires_matcher fires(std::vector<rules::any_rule> rules) {
  return fires_matcher(std::move(rules));
}
[[nodiscard]] inline fires_matcher fires(const rules::any_rule& rule) {
  return fires_matcher(std::vector<rules::any_rule>{rule});
}

/// Some rule fires at `step`: a global step, or with a mode other than mode::global, a step of
/// that mode.
[[nodiscard]] inline fires_at_matcher fires_at(std::vector<rules::any_rule> rules, step_t step,
                                               tdbg::mode m = tdbg::mode::global) {
  return fires_at_matcher(std::move(rules), step, m);
}
[[nodiscard]] inline fires_at_matcher fires_at(const rules::any_rule& rule, step_t step,
                                               tdbg::mode m = tdbg::mode::global) {
  return fires_at_matcher(std::vector<rules::any_rule>{rule}, step, m);
}

}  // namespace tdbg::catch2

// Subjects print as "trial <path>" in Catch's expansion (other data sources print as "{?}";
// the description names them).
namespace Catch {
template <>
struct StringMaker<tdbg::trial::trial> {
  static std::string convert(const tdbg::trial::trial& t) { return "trial " + t.describe(); }
};
template <>
struct StringMaker<std::shared_ptr<const tdbg::trial::trial>> {
  static std::string convert(const std::shared_ptr<const tdbg::trial::trial>& t) {
    return t ? "trial " + t->describe() : std::string("null trial");
  }
};
template <>
struct StringMaker<std::shared_ptr<tdbg::trial::trial>> {
  static std::string convert(const std::shared_ptr<tdbg::trial::trial>& t) {
    return StringMaker<std::shared_ptr<const tdbg::trial::trial>>::convert(t);
  }
};
template <>
struct StringMaker<tdbg::rules::trial_source> {
  static std::string convert(const tdbg::rules::trial_source& s) { return s.describe(); }
};
}  // namespace Catch
