// tdbg/rules/rule.hpp — a rule: a named boolean condition, its schedule and its findings, and
// the type-erased any_rule that runners evaluate.
// Layer: rules (core, fmt, rules/{source,context,requirements,resolve,expr}.hpp). It does not
// need the vocabulary headers: make_rule takes any node (expr.hpp's protocol).
//
// Semantics (docs/rules.md has the long form):
//  * Steps. A rule evaluates the complete saved steps of its primary selections (those not
//    inside in_mode/in_trial) in its schedule's mode (mode::global: every mode); a rule without
//    selections evaluates every complete step of the source in that mode. The schedule then
//    keeps the steps in [start, end], drops the first `warmup` of them, and keeps a step only if
//    it is at least `every` steps after the last kept one (greedy from the first). Step numbers
//    of start/end/every are mode steps of the schedule's mode (global steps for mode::global).
//    A clock rule (its condition reads the wall clock: needs().reads_clock, clock.hpp) keeps
//    only the newest of those steps; runners re-evaluate it there as time passes (runner.hpp).
//  * Tri-state. An evaluation is fired (the condition is true), ok (false) or
//    insufficient_data (a tensor, step, worker or source it reads is missing; `reason` names it).
//  * Findings. A fired evaluation has findings: one with all the condition's evidence
//    (findings_per::evaluation, the default) or one per observation (findings_per::observation).
//    Each records rule, step, mode, mode step, worker (when all evidence shares one), the
//    tensors, observed values and thresholds, and a message made from the rule's template.
//  * Message templates are fmt format strings with named fields: {rule} {expr} {step} {mode}
//    {mode_step} {worker} {tensor} {value} {threshold} (the first observation's; value and
//    threshold are numbers, so "{value:.3g}" works) {tensors} {values} {thresholds} (all,
//    comma separated, shortest exact form) and {evidence} ("t = v (threshold x); ..." with 6
//    significant digits). A bad template is a
//    usage_error when the rule is made.
//  * State. Windows, patience and then keep state across evaluations: evaluate() must be called
//    once per step, in increasing step order. Copies of an any_rule start with fresh state.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/rules/context.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/requirements.hpp"
#include "tdbg/rules/resolve.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules {

/// The result of one evaluation.
enum class verdict : std::uint8_t { ok, fired, insufficient_data };

/// "ok", "fired", "insufficient_data".
[[nodiscard]] constexpr std::string_view verdict_name(verdict v) noexcept {
  switch (v) {
    case verdict::ok: return "ok";
    case verdict::fired: return "fired";
    case verdict::insufficient_data: return "insufficient_data";
  }
  return "?";
}

/// What a fired rule reports.
struct finding {
  std::string rule;                  ///< rule name
  step_t step = 0;                   ///< global step
  tdbg::mode mode = tdbg::mode::global;
  step_t mode_step = 0;
  std::string worker;                ///< "" when not worker-specific
  std::vector<std::string> tensors;  ///< tensor(s) involved (evidence)
  std::vector<double> values;        ///< observed value(s), parallel to tensors
  std::vector<double> thresholds;    ///< threshold(s), parallel to tensors (NaN: none)
  std::string message;               ///< from the rule's message template
  friend bool operator==(const finding& a, const finding& b) {
    // NaN thresholds ("no threshold") compare equal to each other.
    auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
      return true;
    };
    return a.rule == b.rule && a.step == b.step && a.mode == b.mode && a.mode_step == b.mode_step &&
           a.worker == b.worker && a.tensors == b.tensors && same(a.values, b.values) &&
           same(a.thresholds, b.thresholds) && a.message == b.message;
  }
};

/// One evaluation of one rule at one step.
struct evaluation {
  std::string rule;
  step_t step = 0;
  tdbg::mode mode = tdbg::mode::global;
  step_t mode_step = 0;
  verdict result = verdict::ok;
  std::vector<finding> findings;  ///< non-empty iff fired
  std::string reason;             ///< for insufficient_data: what was missing
};

/// Which steps a rule evaluates (see the header comment for the exact order of the filters).
struct schedule {
  tdbg::mode mode = tdbg::mode::global;  ///< steps of this mode; global: of every mode
  step_t every = 1;                      ///< at least this many steps between evaluations
  std::size_t warmup = 0;                ///< the first `warmup` candidate steps are skipped
  std::optional<step_t> start;           ///< first step evaluated (inclusive)
  std::optional<step_t> end;             ///< last step evaluated (inclusive)
};

/// The stateful part of a schedule — range, warm-up, every k — applied to candidate steps in
/// increasing order. any_rule::steps() (over all steps at once) and the in-process runner (one
/// step at a time) both decide through it, so offline and in-process schedules cannot drift.
class schedule_cursor {
 public:
  explicit schedule_cursor(const schedule& when) : when_(when) {}

  /// Whether the candidate step numbered `u` (a mode step of the schedule's mode; a global step
  /// for mode::global) is evaluated. Call once per candidate, in increasing order.
  bool admit(step_t u) {
    if (when_.start && u < *when_.start) return false;
    if (when_.end && u > *when_.end) return false;
    if (skipped_ < when_.warmup) {
      ++skipped_;
      return false;
    }
    if (has_last_ && u - last_ < std::max<step_t>(when_.every, 1)) return false;
    has_last_ = true;
    last_ = u;
    return true;
  }

 private:
  schedule when_;
  std::size_t skipped_ = 0;
  bool has_last_ = false;  // (not std::optional: g++ 12 -O3 warns maybe-uninitialized on it)
  step_t last_ = 0;
};

/// How findings of a fired evaluation are split.
enum class findings_per : std::uint8_t {
  evaluation,   ///< one finding with all the evidence
  observation,  ///< one finding per piece of evidence
};

/// The default message template.
inline constexpr std::string_view default_message_template =
    "{rule} fired at step {step} ({mode} step {mode_step}): {evidence}";

/// Options of a rule.
struct rule_options {
  struct schedule when;
  std::string message{default_message_template};
  findings_per findings = findings_per::evaluation;
  /// Other data sources the rule reads by name (in_trial(x, "baseline")); more can be bound
  /// later with any_rule::bind_source.
  named_sources sources;
};

namespace detail {

struct rule_concept {
  virtual ~rule_concept() = default;
  [[nodiscard]] virtual std::unique_ptr<rule_concept> fresh_copy() const = 0;
  [[nodiscard]] virtual std::string describe() const = 0;
  [[nodiscard]] virtual const requirements& needs() const = 0;
  [[nodiscard]] virtual scalar_value eval(const context&) = 0;
  virtual void reset() = 0;
  [[nodiscard]] virtual std::size_t state_size() const = 0;
};

template <class Expr>
struct rule_model final : rule_concept {
  explicit rule_model(Expr e) : expr(std::move(e)), ev(expr) { expr.needs(reqs, need_scope{}); }
  rule_model(const rule_model&) = delete;
  rule_model& operator=(const rule_model&) = delete;

  [[nodiscard]] std::unique_ptr<rule_concept> fresh_copy() const override {
    return std::make_unique<rule_model>(expr);
  }
  [[nodiscard]] std::string describe() const override { return expr.describe(); }
  [[nodiscard]] const requirements& needs() const override { return reqs; }
  [[nodiscard]] scalar_value eval(const context& c) override { return ev.eval(c); }
  void reset() override { ev.reset(); }
  [[nodiscard]] std::size_t state_size() const override { return ev.state_size(); }

  Expr expr;  // the evaluator points into it: a model never moves (it lives behind a unique_ptr)
  typename Expr::evaluator ev;
  requirements reqs;
};

inline std::string join_strings(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += sep;
    s += v[i];
  }
  return s;
}

/// 6 significant digits: readable in messages (findings keep the exact values).
inline std::string short_number(double v) {
  if (std::isnan(v) || std::isinf(v)) return format_number(v);
  return fmt::format("{:.6g}", v);
}

inline std::string evidence_text(const std::vector<observation>& ev) {
  std::string s;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    if (i) s += "; ";
    s += (ev[i].tensor.empty() ? std::string("value") : ev[i].tensor) + " = " + short_number(ev[i].value);
    if (!std::isnan(ev[i].threshold)) s += " (threshold " + short_number(ev[i].threshold) + ")";
    if (!ev[i].worker.empty()) s += " [worker " + ev[i].worker + "]";
  }
  return s.empty() ? std::string("no evidence") : s;
}

}  // namespace detail

/// A rule with its type erased: value semantics, copyable (copies have fresh state).
class any_rule {
 public:
  any_rule(std::string name, std::unique_ptr<detail::rule_concept> impl, rule_options opts)
      : name_(std::move(name)), opts_(std::move(opts)), impl_(std::move(impl)) {
    if (name_.empty()) throw usage_error("a rule needs a name");
    check_template();
  }
  any_rule(const any_rule& o) : name_(o.name_), opts_(o.opts_), impl_(o.impl_->fresh_copy()) {}
  any_rule& operator=(const any_rule& o) {
    if (this != &o) {
      name_ = o.name_;
      opts_ = o.opts_;
      impl_ = o.impl_->fresh_copy();
      cache_.clear();
    }
    return *this;
  }
  any_rule(any_rule&&) noexcept = default;
  any_rule& operator=(any_rule&&) noexcept = default;
  ~any_rule() = default;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const rule_options& options() const noexcept { return opts_; }

  /// The condition's text.
  [[nodiscard]] std::string expression() const { return impl_->describe(); }
  /// "VanishingGradient: any(mean(abs(collection(\"gradients\"))) < 1e-07)"
  [[nodiscard]] std::string describe() const { return name_ + ": " + impl_->describe(); }
  /// The selections it reads, with modes, look-back, workers and sources.
  [[nodiscard]] requirements needs() const { return impl_->needs(); }
  /// Whether its condition reads the wall clock (a clock rule: see the header comment).
  [[nodiscard]] bool reads_clock() const { return impl_->needs().reads_clock; }

  /// Binds (or replaces) a named data source read by in_trial(x, name).
  void bind_source(const std::string& name, std::shared_ptr<const data_source> src) {
    opts_.sources[name] = std::move(src);
  }

  /// The global steps it evaluates, per its schedule, given what `src` holds now (sorted).
  [[nodiscard]] std::vector<step_t> steps(const data_source& src) const {
    const schedule& w = opts_.when;
    std::set<step_t> cand;
    bool any_primary = false;
    for (const auto& n : impl_->needs().tensors) {
      if (!n.primary || !n.source.empty()) continue;
      any_primary = true;
      const tdbg::mode m = n.selection.mode.value_or(w.mode);
      for (const auto& t : resolve_names(src, n.selection))
        for (step_t s : src.tensor_steps(t, m)) cand.insert(s);
    }
    if (!any_primary)
      for (step_t s : src.steps(w.mode)) cand.insert(s);
    std::vector<step_t> out;
    schedule_cursor cursor(w);
    for (step_t g : cand) {
      step_t u = g;
      if (w.mode != tdbg::mode::global) {
        const auto p = src.point(g);
        if (!p || p->mode != w.mode) continue;
        u = p->mode_step;
      }
      if (cursor.admit(u)) out.push_back(g);
    }
    if (impl_->needs().reads_clock && out.size() > 1) out.erase(out.begin(), out.end() - 1);
    return out;
  }

  /// Evaluates the condition at `global_step`. Call once per step in increasing order: windows,
  /// patience and then update their state. Corrupt data propagates as tdbg::error.
  evaluation evaluate(const data_source& src, step_t global_step) {
    evaluation e;
    e.rule = name_;
    e.step = global_step;
    const auto p = src.point(global_step);
    if (!p) {
      e.result = verdict::insufficient_data;
      e.reason = "step " + std::to_string(global_step) + " is not a complete step of " + src.describe();
      return e;
    }
    e.mode = p->mode;
    e.mode_step = p->mode_step;
    context c;
    c.src = &src;
    c.step = global_step;
    c.mode = p->mode;
    c.mode_step = p->mode_step;
    c.sources = &opts_.sources;
    c.cache = &cache_;
    scalar_value r = impl_->eval(c);
    if (!r.known) {
      e.result = verdict::insufficient_data;
      e.reason = std::move(r.reason);
      return e;
    }
    if (r.v == 0) return e;
    e.result = verdict::fired;
    if (opts_.findings == findings_per::observation && !r.evidence.empty()) {
      for (const auto& o : r.evidence) e.findings.push_back(make_finding(e, {o}));
    } else {
      e.findings.push_back(make_finding(e, r.evidence));
    }
    return e;
  }

  /// Clears the state of windows, patience and then.
  void reset() {
    impl_->reset();
    cache_.clear();
  }

  /// Number of past values the rule keeps now (bounded by needs().evaluations_kept).
  [[nodiscard]] std::size_t state_size() const { return impl_->state_size(); }

 private:
  finding make_finding(const evaluation& e, const std::vector<observation>& ev) const {
    finding f;
    f.rule = name_;
    f.step = e.step;
    f.mode = e.mode;
    f.mode_step = e.mode_step;
    bool one_worker = !ev.empty();
    for (const auto& o : ev) {
      f.tensors.push_back(o.tensor);
      f.values.push_back(o.value);
      f.thresholds.push_back(o.threshold);
      if (o.worker.empty() || o.worker != ev.front().worker) one_worker = false;
    }
    if (one_worker) f.worker = ev.front().worker;
    f.message = format_message(f, ev);
    return f;
  }

  std::string format_message(const finding& f, const std::vector<observation>& ev) const {
    std::vector<std::string> vals, ths;
    for (std::size_t i = 0; i < f.values.size(); ++i) {
      vals.push_back(format_number(f.values[i]));
      ths.push_back(format_number(f.thresholds[i]));
    }
    const double nan = no_threshold;
    return fmt::format(fmt::runtime(opts_.message), fmt::arg("rule", name_), fmt::arg("expr", impl_->describe()),
                       fmt::arg("step", f.step), fmt::arg("mode", mode_name(f.mode)),
                       fmt::arg("mode_step", f.mode_step), fmt::arg("worker", f.worker),
                       fmt::arg("tensor", f.tensors.empty() ? std::string() : f.tensors.front()),
                       fmt::arg("value", f.values.empty() ? nan : f.values.front()),
                       fmt::arg("threshold", f.thresholds.empty() ? nan : f.thresholds.front()),
                       fmt::arg("tensors", detail::join_strings(f.tensors)),
                       fmt::arg("values", detail::join_strings(vals)),
                       fmt::arg("thresholds", detail::join_strings(ths)),
                       fmt::arg("evidence", detail::evidence_text(ev)));
  }

  void check_template() const {
    finding f;
    f.tensors = {"t"};
    f.values = {1.0};
    f.thresholds = {2.0};
    try {
      (void)format_message(f, {observation{"t", "", 1.0, 2.0}});
    } catch (const fmt::format_error& e) {
      throw usage_error("rule '" + name_ + "': invalid message template '" + opts_.message + "': " + e.what());
    }
  }

  std::string name_;
  rule_options opts_;
  std::unique_ptr<detail::rule_concept> impl_;
  detail::step_cache cache_;
};

/// Evaluates a scalar expression once at global step g of src, with fresh state (a window is
/// therefore unknown). For inspection, examples and tests; rules keep state across steps.
template <class Expr>
[[nodiscard]] scalar_value evaluate_at(const Expr& e, const data_source& src, step_t g,
                                       const named_sources* sources = nullptr) {
  static_assert(is_node_v<Expr> && kind_of<Expr> == expr_kind::scalar,
                "evaluate_at: takes a scalar expression (quantify tensor sets first)");
  const auto p = src.point(g);
  if (!p) return scalar_value::missing("step " + std::to_string(g) + " is not a complete step of " + src.describe());
  detail::step_cache cache;
  context c;
  c.src = &src;
  c.step = g;
  c.mode = p->mode;
  c.mode_step = p->mode_step;
  c.sources = sources;
  c.cache = &cache;
  typename Expr::evaluator ev(e);
  return ev.eval(c);
}

/// Makes a rule from a boolean scalar condition.
template <class Expr>
[[nodiscard]] any_rule make_rule(std::string name, Expr condition, rule_options options = {}) {
  static_assert(is_node_v<Expr>, "make_rule: the condition must be a rule expression (a node of tdbg::rules)");
  if constexpr (is_node_v<Expr>) {
    static_assert(kind_of<Expr> == expr_kind::scalar,
                  "make_rule: the condition must be a scalar; quantify a tensor set first with any(...), "
                  "all(...), count(...) or fraction(...)");
    static_assert(value_of<Expr> == value_type::boolean,
                  "make_rule: the condition must be boolean (a comparison, &&, ||, !, any/all, patience, "
                  "then ...), not a number");
    auto impl = std::make_unique<detail::rule_model<Expr>>(std::move(condition));
    if constexpr (stateful_of<Expr>)
      if (impl->reqs.reads_clock)
        throw usage_error("rule '" + name +
                          "': a condition that reads the clock (seconds_since_last_save) cannot contain a window, "
                          "running value, patience, then or accumulate: it is evaluated again at the same step as "
                          "time passes");
    return any_rule(std::move(name), std::move(impl), std::move(options));
  } else {
    return any_rule(std::move(name), nullptr, std::move(options));
  }
}

}  // namespace tdbg::rules
