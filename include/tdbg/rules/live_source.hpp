// tdbg/rules/live_source.hpp — a data_source fed in process, tensor by tensor, while training runs.
// Layer: rules (core, io's collection records, rules/{source,requirements,resolve}.hpp). The hook
// feeds it through rules/attach.hpp; tests and other producers can feed it directly.
//
// Feeding. add(name, point, value, saved) hands over the producer's own shared, immutable copy
// of a tensor (never copied here); end_step(point) declares the step complete. Tensors added
// in a step become visible (names, steps, values) only when that step ends, like the index
// file of a trial. A step in which nothing was added is not a step of the source (a trial has
// no index file for it either).
//
// What a query answers matches a trial written by the same hook (the equivalence contract of
// source.hpp): value() is the tensor only when it was saved raw; stored_reduction() answers only
// the reductions the hook stored, computed on first request with core/reduce.hpp from the live
// value and rounded to the dtype the hook stores them in (reduction_tensor), so the numbers are
// bit-identical to the trial's; collections follow the hook's collections (explicit names and
// include_regex, search semantics).
//
// Time. end_step(point, wall_time) records when the step was saved (default: the clock when the
// step ends; rules/attach.hpp passes nothing, so in process a step's time is the moment the hook
// ended it, a little after its last save); wall_time(step) answers it for the steps listed.
// now() reads the clock at each call: the system clock unless set_clock() injects another.
//
// Save order. The tensors added in a step are numbered per worker in the order of add() (the
// hook's saves), counting only those that wrote a record (a raw value or reductions; a tensor
// added again in the step keeps its first number): save_order() answers that number, as a trial
// written by the same hook numbers its records (trial_tensor::save_order). Shape-only tensors
// have none.
//
// Retention (memory is bounded by the rules, not by the length of training). retain(reqs)
// declares what the attached rules read (any_rule::needs()). Per tensor a selection of those
// needs matches (by name, regex or collection), and per mode, the source keeps
//   * the last saved_steps_back + 1 saved steps (prev, delta, ratio; the latest one also serves
//     "nearest step at or before" across modes),
//   * every saved step in the last steps_back steps (mode steps of that mode, or global steps,
//     whichever keeps more), plus the one saved step just before them (nearest at or before);
// and forgets the rest at the end of each step. Tensors no rule reads keep no value at all
// (their names and steps are still listed while they are recent). Step points are kept while a
// retained value refers to them (and the latest one). retained_values()/retained_bytes() report it.
//
// Thread safety: one thread (the training thread) feeds and queries it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
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
#include "tdbg/core/reduce.hpp"
#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/io/collections_file.hpp"
#include "tdbg/rules/requirements.hpp"
#include "tdbg/rules/resolve.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules {

/// What the producer stored of a tensor (the hook's decision for it).
struct live_saved {
  bool raw = true;                    ///< the raw value was written
  bool shape = false;                 ///< the shape was written
  std::vector<reduction> reductions;  ///< the reductions written
};

/// How much of one tensor a live_source keeps (derived from requirements; see the header).
struct live_retention {
  bool needed = false;             ///< false: no value is kept
  std::size_t saved_steps_back = 0;
  step_t steps_back = 0;
};

/// A data_source fed in process (see the header comment).
class live_source final : public data_source {
 public:
  /// A source for one producer; `worker` is the worker name its values are reported under.
  explicit live_source(std::string worker = "worker_0") : worker_(std::move(worker)) {}

  // ---- configuration ---------------------------------------------------------------------

  /// Adds what a rule reads (its needs() on this source: needs of other sources are ignored).
  /// Retention only grows; tensors already forgotten do not come back.
  void retain(const requirements& r) {
    for (const auto& n : r.tensors) {
      if (!n.source.empty()) continue;
      need_entry e{n.selection, n.saved_steps_back, n.steps_back, nullptr};
      if (n.selection.kind == selection_kind::regex) e.regex = compile_selection_regex(n.selection.pattern);
      needs_.push_back(std::move(e));
    }
    recompute_retention();
  }

  /// The collections (name, explicit tensor names, include_regex) collection_tensor_names uses.
  /// config_error for an invalid include_regex.
  void set_collections(std::vector<io::collection_record> cs) {
    std::vector<collection_entry> out;
    for (auto& c : cs) {
      collection_entry e;
      for (const auto& p : c.include_regex) {
        try {
          e.regexes.emplace_back(p, boost::regex::perl);
        } catch (const boost::regex_error& ex) {
          throw config_error("collection '" + c.name + "': invalid include_regex '" + p + "': " + ex.what());
        }
      }
      e.record = std::move(c);
      out.push_back(std::move(e));
    }
    collections_ = std::move(out);
    recompute_retention();
  }

  /// The retention of a tensor name under the current needs and collections.
  [[nodiscard]] live_retention retention(std::string_view tensor) const {
    live_retention r;
    for (const auto& n : needs_) {
      if (!selects(n, tensor)) continue;
      r.needed = true;
      r.saved_steps_back = std::max(r.saved_steps_back, n.saved_steps_back);
      r.steps_back = std::max(r.steps_back, n.steps_back);
    }
    return r;
  }

  // ---- feeding -----------------------------------------------------------------------------

  /// A tensor saved at step `p` (visible once end_step(p) is called). `value` is shared, not
  /// copied; it may be null only when nothing but the shape was saved. usage_error when `p`
  /// is not after the last ended step or differs from the open step's point, or after close().
  void add(std::string_view name, const step_point& p, std::shared_ptr<const tdbg::tensor> value,
           live_saved saved = {}, std::string_view worker = {}) {
    open(p, "add");
    if (!value && (saved.raw || !saved.reductions.empty()))
      throw usage_error("live_source: tensor '" + std::string(name) + "' at step " +
                        std::to_string(p.global_step) + " has no value");
    pending_.push_back(pending{std::string(name), worker.empty() ? worker_ : std::string(worker),
                               std::move(value), std::move(saved)});
  }

  /// Ends step `p`: its tensors become visible, then what no rule needs any more is forgotten.
  /// `wall_time` is when the step was saved (seconds since the epoch; default: now()).
  /// Returns whether the step is a step of the source (something was added in it).
  bool end_step(const step_point& p, std::optional<double> wall_time = std::nullopt) {
    if (pending_.empty()) {
      if (open_ && !(*open_ == p))
        throw usage_error("live_source: end_step(" + std::to_string(p.global_step) + ") while step " +
                          std::to_string(open_->global_step) + " is open");
      if (closed_) throw usage_error("live_source: end_step() after close()");
      open_.reset();
      return false;
    }
    open(p, "end_step");
    std::map<std::pair<std::string, std::string>, std::size_t> order;  // (worker, name) -> position
    std::map<std::string, std::size_t> next;                            // per worker
    for (const auto& t : pending_)
      if (t.saved.raw || !t.saved.reductions.empty())
        if (order.try_emplace({t.worker, t.name}, next[t.worker]).second) ++next[t.worker];
    for (auto& t : pending_) {
      const auto pos = order.find({t.worker, t.name});
      const std::optional<std::size_t> position =
          pos == order.end() ? std::nullopt : std::optional<std::size_t>(pos->second);
      const auto [it, inserted] = tensors_.try_emplace(t.name);
      if (inserted) {
        names_.insert(t.name);
        it->second.keep = retention(t.name);
        collection_names_.clear();
      }
      auto& per_mode = it->second.modes[mode_index(p.mode)];
      if (per_mode.empty() || per_mode.back().point.global_step != p.global_step)
        per_mode.push_back(step_group{p, {}});
      const bool keep_value = it->second.keep.needed && (t.saved.raw || !t.saved.reductions.empty());
      per_mode.back().entries.push_back(
          entry{std::move(t.worker), keep_value ? std::move(t.value) : nullptr, t.saved.raw,
                std::move(t.saved.reductions), position, {}});
    }
    pending_.clear();
    for (auto& [name, rec] : tensors_)
      for (auto& g : rec.modes)
        if (!g.empty() && g.back().point.global_step == p.global_step)
          std::sort(g.back().entries.begin(), g.back().entries.end(),
                    [](const entry& a, const entry& b) { return a.worker < b.worker; });
    points_.emplace(p.global_step, p);
    wall_times_[p.global_step] = wall_time ? *wall_time : now();
    latest_mode_step_[mode_index(p.mode)] = p.mode_step;
    last_ended_ = p.global_step;
    open_.reset();
    prune(p);
    return true;
  }

  /// The producer finished: complete() becomes true. Tensors of an open step are dropped.
  void close() {
    pending_.clear();
    open_.reset();
    closed_ = true;
  }

  // ---- statistics --------------------------------------------------------------------------

  /// Tensor values held now (each the producer's shared copy).
  [[nodiscard]] std::size_t retained_values() const {
    std::size_t n = 0;
    for_each_entry([&](const entry& e) { n += e.value ? 1 : 0; });
    return n;
  }
  /// Bytes of the tensor values held now.
  [[nodiscard]] std::uint64_t retained_bytes() const {
    std::uint64_t n = 0;
    for_each_entry([&](const entry& e) {
      if (e.value) n += e.value->bytes().size();
    });
    return n;
  }
  /// Saved (tensor, step, worker) entries listed now.
  [[nodiscard]] std::size_t retained_entries() const {
    std::size_t n = 0;
    for_each_entry([&](const entry&) { ++n; });
    return n;
  }
  /// Step points listed now.
  [[nodiscard]] std::size_t retained_steps() const noexcept { return points_.size(); }
  /// The last ended step that had data (nullopt before the first).
  [[nodiscard]] std::optional<step_t> last_step() const noexcept { return last_ended_; }

  // ---- data_source -------------------------------------------------------------------------

  [[nodiscard]] std::vector<std::string> tensor_names() const override { return {names_.begin(), names_.end()}; }

  [[nodiscard]] std::vector<std::string> collection_tensor_names(std::string_view collection) const override {
    if (const auto it = collection_names_.find(collection); it != collection_names_.end()) return it->second;
    std::vector<std::string> out;
    for (const auto& c : collections_) {
      if (c.record.name != collection) continue;
      for (const auto& n : names_)
        if (in_collection(c, n)) out.push_back(n);
      break;
    }
    collection_names_.emplace(std::string(collection), out);
    return out;
  }

  [[nodiscard]] std::vector<step_t> tensor_steps(std::string_view tensor, tdbg::mode m) const override {
    std::vector<step_t> out;
    const auto it = tensors_.find(tensor);
    if (it == tensors_.end()) return out;
    for (const tdbg::mode mm : all_modes) {
      if (m != tdbg::mode::global && mm != m) continue;
      for (const auto& g : it->second.modes[mode_index(mm)]) out.push_back(g.point.global_step);
    }
    if (m == tdbg::mode::global) std::sort(out.begin(), out.end());
    return out;
  }

  [[nodiscard]] std::vector<step_t> steps(tdbg::mode m) const override {
    std::vector<step_t> out;
    for (const auto& [g, p] : points_)
      if (m == tdbg::mode::global || p.mode == m) out.push_back(g);
    return out;
  }

  [[nodiscard]] std::optional<step_point> point(step_t global_step) const override {
    const auto it = points_.find(global_step);
    if (it == points_.end()) return std::nullopt;
    return it->second;
  }

  [[nodiscard]] std::vector<std::string> workers(std::string_view tensor, step_t global_step) const override {
    std::vector<std::string> out;
    if (const auto* g = group(tensor, global_step))
      for (const auto& e : g->entries) out.push_back(e.worker);
    return out;
  }

  [[nodiscard]] std::shared_ptr<const tdbg::tensor> value(std::string_view tensor, step_t global_step,
                                                          std::string_view worker = {}) const override {
    const auto* e = find_entry(tensor, global_step, worker);
    if (!e || !e->raw) return nullptr;
    return e->value;
  }

  [[nodiscard]] std::optional<double> stored_reduction(std::string_view tensor, step_t global_step, reduction r,
                                                       std::string_view worker = {}) const override {
    const auto* e = find_entry(tensor, global_step, worker);
    if (!e || !e->value || std::find(e->reductions.begin(), e->reductions.end(), r) == e->reductions.end())
      return std::nullopt;
    for (const auto& [rr, v] : e->computed)
      if (rr == r) return v;
    // As the hook's writer stores it: computed in double, kept in reduction_dtype.
    const double v = reduction_tensor(e->value->ref(), r).as_double(0);
    e->computed.emplace_back(r, v);
    return v;
  }

  [[nodiscard]] bool complete() const override { return closed_; }

  [[nodiscard]] std::optional<double> wall_time(step_t global_step) const override {
    const auto it = wall_times_.find(global_step);
    if (it == wall_times_.end()) return std::nullopt;
    return it->second;
  }

  [[nodiscard]] std::optional<std::size_t> save_order(std::string_view tensor, step_t global_step,
                                                      std::string_view worker = {}) const override {
    const auto* e = find_entry(tensor, global_step, worker);
    return e ? e->save_order : std::nullopt;
  }

  [[nodiscard]] double now() const override { return clock_ ? clock_() : system_seconds(); }

  /// Replaces the clock now() reads (seconds since the epoch); empty: the system clock.
  void set_clock(std::function<double()> clock) { clock_ = std::move(clock); }

  [[nodiscard]] std::string describe() const override { return "hook (in process, worker " + worker_ + ")"; }

 private:
  struct need_entry {
    selection_spec selection;
    std::size_t saved_steps_back = 0;
    step_t steps_back = 0;
    std::shared_ptr<const boost::regex> regex;
  };
  struct collection_entry {
    io::collection_record record;
    std::vector<boost::regex> regexes;
  };
  struct entry {
    std::string worker;
    std::shared_ptr<const tdbg::tensor> value;  // null: not kept (or only a shape was saved)
    bool raw = true;
    std::vector<reduction> reductions;
    std::optional<std::size_t> save_order;  // among the step's records of this worker
    mutable std::vector<std::pair<reduction, double>> computed;
  };
  struct step_group {
    step_point point;
    std::vector<entry> entries;  // sorted by worker
  };
  struct tensor_record {
    live_retention keep;
    std::array<std::deque<step_group>, 4> modes;  // by mode_index, increasing steps
  };
  struct pending {
    std::string name;
    std::string worker;
    std::shared_ptr<const tdbg::tensor> value;
    live_saved saved;
  };

  void open(const step_point& p, const char* what) {
    if (closed_) throw usage_error(std::string("live_source: ") + what + "() after close()");
    if (open_) {
      if (!(*open_ == p))
        throw usage_error(std::string("live_source: ") + what + " at step " + std::to_string(p.global_step) +
                          " while step " + std::to_string(open_->global_step) + " is open");
      return;
    }
    if (last_ended_ && p.global_step <= *last_ended_)
      throw usage_error(std::string("live_source: ") + what + " at step " + std::to_string(p.global_step) +
                        ", not after the last ended step " + std::to_string(*last_ended_));
    open_ = p;
  }

  [[nodiscard]] static bool in_collection(const collection_entry& c, std::string_view name) {
    if (std::find(c.record.tensor_names.begin(), c.record.tensor_names.end(), name) != c.record.tensor_names.end())
      return true;
    return std::any_of(c.regexes.begin(), c.regexes.end(), [&](const boost::regex& r) {
      return boost::regex_search(name.begin(), name.end(), r);
    });
  }

  [[nodiscard]] bool selects(const need_entry& n, std::string_view tensor) const {
    switch (n.selection.kind) {
      case selection_kind::name: return n.selection.pattern == tensor;
      case selection_kind::regex: return boost::regex_search(tensor.begin(), tensor.end(), *n.regex);
      case selection_kind::collection:
        for (const auto& c : collections_)
          if (c.record.name == n.selection.pattern) return in_collection(c, tensor);
        return false;
    }
    return false;
  }

  void recompute_retention() {
    collection_names_.clear();
    for (auto& [name, rec] : tensors_) rec.keep = retention(name);
  }

  template <class F>
  void for_each_entry(F&& f) const {
    for (const auto& [name, rec] : tensors_)
      for (const auto& q : rec.modes)
        for (const auto& g : q)
          for (const auto& e : g.entries) f(e);
  }

  [[nodiscard]] const step_group* group(std::string_view tensor, step_t global_step) const {
    const auto pit = points_.find(global_step);
    if (pit == points_.end()) return nullptr;
    const auto it = tensors_.find(tensor);
    if (it == tensors_.end()) return nullptr;
    const auto& q = it->second.modes[mode_index(pit->second.mode)];
    const auto g = std::lower_bound(q.begin(), q.end(), global_step,
                                    [](const step_group& a, step_t s) { return a.point.global_step < s; });
    if (g == q.end() || g->point.global_step != global_step) return nullptr;
    return &*g;
  }

  [[nodiscard]] const entry* find_entry(std::string_view tensor, step_t global_step, std::string_view worker) const {
    const auto* g = group(tensor, global_step);
    if (!g || g->entries.empty()) return nullptr;
    if (worker.empty()) return &g->entries.front();
    for (const auto& e : g->entries)
      if (e.worker == worker) return &e;
    return nullptr;
  }

  /// Forgets, per tensor and mode, the saved steps no rule can read any more (header comment).
  void prune(const step_point& now) {
    for (auto& [name, rec] : tensors_) {
      for (const tdbg::mode m : all_modes) {
        auto& q = rec.modes[mode_index(m)];
        if (!rec.keep.needed) {  // listed while recent: only the latest saved step stays
          while (q.size() > 1) q.pop_front();
          continue;
        }
        const std::size_t keep_last = rec.keep.saved_steps_back + 1;
        const step_t k = rec.keep.steps_back;
        const step_t window_global = now.global_step - k;
        const auto latest_ms = latest_mode_step_[mode_index(m)];
        const step_t window_mode = latest_ms ? *latest_ms - k : now.global_step - k;
        // The front is needed while it is among the last `keep_last` or is the nearest saved
        // step at or before the start of the look-back window (i.e. the next one is after it).
        while (q.size() > keep_last && q[1].point.global_step <= window_global &&
               q[1].point.mode_step <= window_mode)
          q.pop_front();
      }
    }
    // Step points: those a listed entry refers to, and the latest one.
    std::set<step_t> used{now.global_step};
    for (const auto& [name, rec] : tensors_)
      for (const auto& q : rec.modes)
        for (const auto& g : q) used.insert(g.point.global_step);
    std::erase_if(points_, [&](const auto& kv) { return used.count(kv.first) == 0; });
    std::erase_if(wall_times_, [&](const auto& kv) { return used.count(kv.first) == 0; });
  }

  std::string worker_;
  std::vector<need_entry> needs_;
  std::vector<collection_entry> collections_;
  std::map<std::string, tensor_record, std::less<>> tensors_;
  std::set<std::string, std::less<>> names_;
  std::map<step_t, step_point> points_;
  std::map<step_t, double> wall_times_;  // of the listed steps
  std::function<double()> clock_;
  std::array<std::optional<step_t>, 4> latest_mode_step_{};
  std::optional<step_t> last_ended_;
  std::optional<step_point> open_;
  std::vector<pending> pending_;
  bool closed_ = false;
  mutable std::map<std::string, std::vector<std::string>, std::less<>> collection_names_;
};

}  // namespace tdbg::rules
