// tdbg/rules/trial_source.hpp — a data_source reading a trial (offline, or while it is written).
// Layer: rules (trial, core). The adapter between the engine's global-step view and the trial's
// per-mode reader.
//
// Snapshots. A trial_source answers from a *snapshot* of the trial's index: the complete steps,
// tensor names and, per tensor (read lazily on first use), the stored (step, worker) entries at
// those complete steps. The snapshot is taken at construction and by refresh() (which refreshes
// the trial first). Between two refreshes the answers do not change, even if the trial itself
// auto-refreshes underneath: the trial only ever grows, and entries are filtered by the
// snapshot's complete steps. A follower (runner.hpp) calls refresh() once per poll.
//
// Values. value() and stored_reduction() decode one record each (one ranged read) and keep the
// decoded tensors in a small LRU keyed by (tensor, global step, worker, raw value or which
// reduction), so that a rule looking at prev(...) or at several reductions of one step decodes
// each record once. The LRU is bounded by trial_source_options (entries and bytes; the most
// recently used value always stays). Values of complete steps never change, so refresh() keeps it.
//
// Time. wall_time(step) is the trial's step_wall_time() of a snapshot step (one small read per
// worker, cached by the trial). now() is the time the snapshot was taken — read from the
// options' clock (the system clock unless a test injects one) at construction and by each
// refresh() — so every evaluation over one snapshot sees the same time (rules/clock.hpp).
//
// Save order. save_order(tensor, step, worker) is the trial's trial_tensor::save_order, kept in
// the snapshot's per-tensor entries (from the index files: no event file is read).
//
// Errors. A step, tensor or worker that has no entry in the index answers "absent" (nullptr,
// nullopt, {}). An entry that exists but cannot be read (cut or corrupt record, missing event
// file, CRC mismatch) propagates the trial's tdbg::error (format_error names file, offset, tensor
// and step).
//
// Thread safety: like the trial, a trial_source is used by one thread at a time (its const
// functions fill caches).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/rules/source.hpp"
#include "tdbg/trial/trial.hpp"

namespace tdbg::rules {

/// Bounds of a trial_source's cache of decoded values.
struct trial_source_options {
  /// At most this many decoded tensors (raw values and stored reductions) are kept.
  std::size_t cache_entries = 64;
  /// At most this many bytes of decoded tensor data are kept (the most recent value always is).
  std::uint64_t cache_bytes = std::uint64_t{256} << 20;
  /// The clock whose time a snapshot records (now()), in seconds since the epoch; empty: the
  /// system clock. Tests inject a fixed or stepping clock here.
  std::function<double()> clock{};
};

namespace detail {

/// A least-recently-used map from a key string to a decoded tensor, bounded in entries and bytes.
class value_cache {
 public:
  explicit value_cache(std::size_t max_entries, std::uint64_t max_bytes)
      : max_entries_(std::max<std::size_t>(max_entries, 1)), max_bytes_(max_bytes) {}

  /// The cached tensor (now the most recent), or nullptr.
  [[nodiscard]] std::shared_ptr<const tdbg::tensor> find(const std::string& key) {
    const auto it = index_.find(key);
    if (it == index_.end()) {
      ++misses_;
      return nullptr;
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  /// Inserts (or replaces) `key` as the most recent entry, then evicts the oldest entries
  /// beyond the bounds.
  void put(const std::string& key, std::shared_ptr<const tdbg::tensor> v) {
    if (const auto it = index_.find(key); it != index_.end()) erase(it->second);
    const std::uint64_t b = bytes_of(*v);
    order_.push_front(entry{key, std::move(v), b});
    index_.emplace(key, order_.begin());
    bytes_ += b;
    while (order_.size() > 1 && (order_.size() > max_entries_ || bytes_ > max_bytes_))
      erase(std::prev(order_.end()));
  }

  void clear() {
    order_.clear();
    index_.clear();
    bytes_ = 0;
  }

  [[nodiscard]] std::size_t size() const noexcept { return order_.size(); }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::uint64_t hits() const noexcept { return hits_; }
  [[nodiscard]] std::uint64_t misses() const noexcept { return misses_; }

 private:
  struct entry {
    std::string key;
    std::shared_ptr<const tdbg::tensor> value;
    std::uint64_t bytes = 0;
  };

  static std::uint64_t bytes_of(const tdbg::tensor& t) {
    std::uint64_t n = t.bytes().size();
    for (const auto& s : t.strings()) n += s.size();
    return n;
  }

  void erase(std::list<entry>::iterator it) {
    bytes_ -= it->bytes;
    index_.erase(it->key);
    order_.erase(it);
  }

  std::size_t max_entries_;
  std::uint64_t max_bytes_;
  std::list<entry> order_;  // most recent first
  std::unordered_map<std::string, std::list<entry>::iterator> index_;
  std::uint64_t bytes_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace detail

/// A data_source over a tdbg::trial::trial (see the header comment for snapshots and caching).
class trial_source final : public data_source {
 public:
  /// Reads `t`, which must outlive the source.
  explicit trial_source(const tdbg::trial::trial& t, trial_source_options o = {})
      : trial_(&t), cache_(o.cache_entries, o.cache_bytes), clock_(std::move(o.clock)) {
    snapshot();
  }
  /// Reads and co-owns `t`. usage_error for a null pointer.
  explicit trial_source(std::shared_ptr<const tdbg::trial::trial> t, trial_source_options o = {})
      : owner_(std::move(t)), trial_(owner_.get()), cache_(o.cache_entries, o.cache_bytes), clock_(std::move(o.clock)) {
    if (!trial_) throw usage_error("trial_source: null trial");
    snapshot();
  }

  /// Refreshes the trial and takes a new snapshot. Returns whether the snapshot gained steps
  /// (or became complete). Throws what trial::refresh() throws (e.g. a corrupt index file).
  bool refresh() {
    const auto before = points_.size();
    const bool was_complete = complete_;
    trial_->refresh();
    snapshot();
    return points_.size() != before || complete_ != was_complete;
  }

  /// The trial read.
  [[nodiscard]] const tdbg::trial::trial& trial() const noexcept { return *trial_; }

  /// Cache statistics (tests check that a value is decoded once).
  [[nodiscard]] std::uint64_t cache_hits() const noexcept { return cache_.hits(); }
  [[nodiscard]] std::uint64_t cache_misses() const noexcept { return cache_.misses(); }
  [[nodiscard]] std::size_t cache_size() const noexcept { return cache_.size(); }
  [[nodiscard]] std::uint64_t cache_bytes() const noexcept { return cache_.bytes(); }

  // ---- data_source -------------------------------------------------------------------------

  [[nodiscard]] std::vector<std::string> tensor_names() const override { return names_; }

  [[nodiscard]] std::vector<std::string> collection_tensor_names(std::string_view collection) const override {
    tdbg::trial::name_query q;
    q.collection = std::string(collection);
    auto all = trial_->tensor_names(q);
    // Only the names of the snapshot (the trial may have refreshed since).
    std::erase_if(all, [&](const std::string& n) { return !std::binary_search(names_.begin(), names_.end(), n); });
    return all;
  }

  [[nodiscard]] std::vector<step_t> tensor_steps(std::string_view tensor, tdbg::mode m) const override {
    std::vector<step_t> out;
    const auto* idx = index_of(tensor);
    if (!idx) return out;
    for (const auto& [g, entries] : *idx)
      if (m == tdbg::mode::global || entries.front().mode == m) out.push_back(g);
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
    if (const auto* entries = entries_at(tensor, global_step))
      for (const auto& e : *entries) out.push_back(e.worker);
    return out;
  }

  [[nodiscard]] std::shared_ptr<const tdbg::tensor> value(std::string_view tensor, step_t global_step,
                                                          std::string_view worker = {}) const override {
    const auto* e = entry(tensor, global_step, worker);
    if (!e || !e->has_value) return nullptr;
    const std::string key = cache_key(tensor, global_step, e->worker, "raw");
    if (auto v = cache_.find(key)) return v;
    auto v = std::make_shared<const tdbg::tensor>(
        trial_->tensor(tensor).value(e->mode_step, e->mode, e->worker));
    cache_.put(key, v);
    return v;
  }

  [[nodiscard]] std::optional<double> stored_reduction(std::string_view tensor, step_t global_step, reduction r,
                                                       std::string_view worker = {}) const override {
    const auto* e = entry(tensor, global_step, worker);
    if (!e || std::find(e->reductions.begin(), e->reductions.end(), r) == e->reductions.end())
      return std::nullopt;
    const std::string key = cache_key(tensor, global_step, e->worker, reduction_name(r));
    auto v = cache_.find(key);
    if (!v) {
      v = std::make_shared<const tdbg::tensor>(
          trial_->tensor(tensor).reduction_value(e->mode_step, r, e->mode, e->worker));
      cache_.put(key, v);
    }
    if (v->dtype() == tdbg::dtype::string || v->size() != 1)
      throw format_error(trial_->describe() + ": stored reduction " + reduction_name(r) + " of tensor '" +
                         std::string(tensor) + "' at step " + std::to_string(global_step) +
                         " is not one number (shape " + shape_string(v->shape()) + ", dtype " +
                         std::string(dtype_name(v->dtype())) + ")");
    return v->as_double(0);
  }

  [[nodiscard]] bool complete() const override { return complete_; }

  [[nodiscard]] std::optional<double> wall_time(step_t global_step) const override {
    if (!points_.count(global_step)) return std::nullopt;
    return trial_->step_wall_time(global_step);
  }

  [[nodiscard]] std::optional<std::size_t> save_order(std::string_view tensor, step_t global_step,
                                                      std::string_view worker = {}) const override {
    const auto* e = entry(tensor, global_step, worker);
    return e ? e->save_order : std::nullopt;
  }

  [[nodiscard]] double now() const override { return now_; }

  [[nodiscard]] std::string describe() const override { return "trial " + trial_->describe(); }

 private:
  // Per tensor: complete global step -> stored entries there, sorted by worker.
  using tensor_index = std::map<step_t, std::vector<tdbg::trial::stored_step>>;

  void snapshot() {
    // Steps first: the names read after them (the trial may auto-refresh in between) include
    // every tensor of those steps.
    points_.clear();
    const auto complete_steps = trial_->steps(tdbg::mode::global);
    complete_ = trial_->loaded_all_steps();  // read right after: no refresh in between
    for (const step_t g : complete_steps) {
      const auto mm = trial_->mode_modestep(g);
      if (!mm) continue;
      points_.emplace(g, step_point{g, mm->first, mm->second});
    }
    names_ = trial_->tensor_names();
    tensors_.clear();
    now_ = clock_ ? clock_() : system_seconds();
  }

  [[nodiscard]] const tensor_index* index_of(std::string_view tensor) const {
    if (const auto it = tensors_.find(tensor); it != tensors_.end()) return &it->second;
    if (!std::binary_search(names_.begin(), names_.end(), tensor)) return nullptr;
    tensor_index idx;
    for (auto& s : trial_->tensor(tensor).stored_steps())
      if (points_.count(s.global_step)) idx[s.global_step].push_back(std::move(s));
    // stored_steps() is sorted by (global step, worker): each vector is sorted by worker.
    return &tensors_.emplace(std::string(tensor), std::move(idx)).first->second;
  }

  [[nodiscard]] const std::vector<tdbg::trial::stored_step>* entries_at(std::string_view tensor,
                                                                        step_t global_step) const {
    const auto* idx = index_of(tensor);
    if (!idx) return nullptr;
    const auto it = idx->find(global_step);
    return it == idx->end() || it->second.empty() ? nullptr : &it->second;
  }

  [[nodiscard]] const tdbg::trial::stored_step* entry(std::string_view tensor, step_t global_step,
                                                      std::string_view worker) const {
    const auto* entries = entries_at(tensor, global_step);
    if (!entries) return nullptr;
    if (worker.empty()) return &entries->front();  // the smallest worker name, as the trial
    for (const auto& e : *entries)
      if (e.worker == worker) return &e;
    return nullptr;
  }

  [[nodiscard]] static std::string cache_key(std::string_view tensor, step_t step, std::string_view worker,
                                             std::string_view what) {
    std::string k(tensor);
    k += '\0';
    k += std::to_string(step);
    k += '\0';
    k += worker;
    k += '\0';
    k += what;
    return k;
  }

  std::shared_ptr<const tdbg::trial::trial> owner_;
  const tdbg::trial::trial* trial_;
  bool complete_ = false;
  std::vector<std::string> names_;
  std::map<step_t, step_point> points_;
  mutable std::map<std::string, tensor_index, std::less<>> tensors_;
  mutable detail::value_cache cache_;
  std::function<double()> clock_;
  double now_ = 0;
};

}  // namespace tdbg::rules
