// tdbg/trial/trial.hpp — reading a trial: tensor names, steps per mode, workers, values,
// shapes and reductions, while the job is still writing or after it ended (spec §9, §10).
// Layer: trial. May include storage, io, core, the standard library and Boost.Regex.
//
// The trial is index-driven: it reads the index JSON files (spec §4) and the collections files
// (spec §5); event files are opened only when a value is asked for, with exactly one ranged read
// of the record the index names.
//
// Differences from smdebug's reader (each one is deliberate, and the tests say so):
//  * construction never blocks: without a collections file the trial is usable (no collections,
//    num_workers = max(1, workers seen in index file names));
//  * index files of earlier steps that appear late are read (smdebug's index token skips them);
//  * tensor.steps() uses the same completeness rule as trial.steps() (smdebug compares a list
//    with an int and a mode step with a global step);
//  * tensor_names() for a mode never seen returns [] (smdebug raises KeyError);
//  * value() never sleeps: a missing event file or a record still being written gives
//    step_not_yet_available_error while the job runs;
//  * a tensor saved raw and with save_shape has both its value and its shape;
//  * computed reductions are core/reduce.hpp's (sample std/var, vector norms for any rank),
//    consistent with the stored ones; an unknown reduction name is always a usage_error;
//  * wait_for_steps() has a timeout and leaves the auto-refresh setting as it was;
//  * step_wall_time() tells when a step was saved (smdebug's reader keeps no wall times), read
//    from the first bytes of one record per worker;
//  * save_order() tells in which order a worker saved a step's tensors (smdebug's reader keeps
//    no order), from the record offsets its index file lists (no event file is read).
//
// Thread safety: a trial (and its trial_tensor handles) may be used by one thread at a time.
// Even const member functions refresh the trial's state (like smdebug's maybe_refresh), so
// concurrent calls on the same trial need external locking. Distinct trials are independent.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/regex.hpp>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/core/reduce.hpp"
#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/io/collections_file.hpp"
#include "tdbg/io/event.hpp"
#include "tdbg/io/index_file.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/io/tfrecord.hpp"
#include "tdbg/storage/backend.hpp"
#include "tdbg/storage/local.hpp"

namespace tdbg::trial {

/// Whether a step has been written (smdebug's StepState, same numeric values).
enum class step_state : std::uint8_t { unavailable = 0, available = 1, not_yet_available = 2 };

/// "UNAVAILABLE", "AVAILABLE", "NOT_YET_AVAILABLE".
[[nodiscard]] constexpr std::string_view step_state_name(step_state s) noexcept {
  switch (s) {
    case step_state::unavailable: return "UNAVAILABLE";
    case step_state::available: return "AVAILABLE";
    case step_state::not_yet_available: return "NOT_YET_AVAILABLE";
  }
  return "?";
}

/// How a trial refreshes and waits.
struct trial_options {
  /// Pause between the two refreshes done when the end marker is first seen (smdebug: 1 s,
  /// SMDEBUG_TRAINING_END_DELAY_REFRESH). 0 suits local trials, whose files are renamed
  /// atomically; a second or so suits eventually consistent object stores.
  std::chrono::milliseconds end_refresh_delay{0};
  /// Polling interval of wait_for_steps() (smdebug: 2 s).
  std::chrono::milliseconds poll_interval{2000};
  /// Refresh automatically when a lookup names something unknown (smdebug's maybe_refresh).
  bool auto_refresh = true;
  /// false (default): a corrupt index file makes the refresh that meets it (the constructor
  /// included) throw index_reader_error naming the file. true: corrupt files are skipped and
  /// only listed in trial::index_errors(), so the rest of the trial stays readable.
  bool skip_corrupt_index_files = false;
};

/// Which tensor names to list (trial::tensor_names). Designated initializers read well:
/// `t.tensor_names({.step = 8, .mode = mode::eval})`, `t.tensor_names({.regex = {"^grad"}})`.
struct name_query {
  /// Only the tensors saved at this step (a global step for mode::global, else a mode step).
  std::optional<step_t> step{};
  /// With a step: the mode of the step. Without: only the tensors seen in this mode.
  tdbg::mode mode = tdbg::mode::global;
  /// Keep names that any of these patterns (Perl syntax) matches anywhere (search semantics).
  std::vector<std::string> regex{};
  /// Keep names of this collection: its tensor_names and its include_regex matches.
  /// An unknown collection gives []. Setting both regex and collection is a usage_error.
  std::optional<std::string> collection{};
};

/// One stored (step, worker) of a tensor, as listed by trial_tensor::stored_steps().
struct stored_step {
  step_t global_step = 0;
  tdbg::mode mode = tdbg::mode::global;
  step_t mode_step = 0;
  std::string worker;
  bool has_value = false;                  ///< a raw value was saved
  std::optional<shape_t> shape;            ///< the stored shape (save_shape), if any
  std::vector<reduction> reductions;       ///< the stored reductions, in (op, abs) order
  std::optional<std::size_t> save_order;   ///< trial_tensor::save_order at this step and worker
};

namespace detail {

/// Where a record lives: event file key, record offset and size, and the tag it must carry.
struct location {
  std::string file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string tag;
};

/// What one worker stored for (tensor, mode, mode step).
struct worker_entry {
  step_t global_step = 0;
  std::optional<location> value;
  std::optional<shape_t> shape;
  std::vector<std::pair<reduction, location>> reductions;  // sorted by (op, abs)
  std::optional<std::size_t> save_order;  // see trial_tensor::save_order
};

using worker_map = std::map<std::string, worker_entry, std::less<>>;

struct tensor_record {
  std::array<std::map<step_t, worker_map>, 4> steps;  // indexed by mode_index
};

[[nodiscard]] inline bool reduction_less(reduction a, reduction b) noexcept {
  if (a.op != b.op) return a.op < b.op;
  return a.abs < b.abs;
}

[[nodiscard]] inline bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// An event file key from an index file must stay inside the trial.
[[nodiscard]] inline bool safe_key(std::string_view key) noexcept {
  if (key.empty() || key.front() == '/' || key.find('\\') != std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= key.size()) {
    const std::size_t end = std::min(key.find('/', start), key.size());
    const auto part = key.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

[[nodiscard]] inline boost::regex compile_regex(const std::string& pattern, std::string_view what) {
  try {
    return boost::regex(pattern, boost::regex::perl);
  } catch (const boost::regex_error& e) {
    throw usage_error(std::string(what) + ": invalid regex '" + pattern + "': " + e.what());
  }
}

[[nodiscard]] inline std::string mode_str(mode m) { return std::string(mode_name(m)); }

/// Little-endian integers of a record header.
[[nodiscard]] inline std::uint32_t load_le32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint32_t>(p[i]);
  return v;
}
[[nodiscard]] inline std::uint64_t load_le64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

}  // namespace detail

class trial;

/// A handle on one tensor of a trial (trial::tensor). Cheap to copy; refers to the trial,
/// which must outlive it and stay where it is (moving the trial invalidates its handles, like
/// iterators). Every lookup sees the trial's current (refreshed) state.
class trial_tensor {
 public:
  /// The tensor's name.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// The steps with data for this tensor: global steps for mode::global (data of every mode),
  /// mode steps otherwise. Incomplete steps (not every worker wrote them) only on request.
  [[nodiscard]] std::vector<step_t> steps(tdbg::mode m = tdbg::mode::global,
                                          bool show_incomplete_steps = false) const;

  /// The value saved at `step` of mode `m` by `worker` (default: the lexicographically smallest
  /// worker that has it). One ranged read of the event file.
  /// Throws step_unavailable_error / step_not_yet_available_error / no_more_data_error when the
  /// step is not there (spec §9.6), invalid_worker_error, tensor_unavailable_for_step_error
  /// (only a shape or reductions were saved; or the event file is missing after the job ended),
  /// format_error (a malformed or, after the end, cut record; names file, offset, tensor, step).
  [[nodiscard]] tdbg::tensor value(step_t step, tdbg::mode m = tdbg::mode::global,
                                   std::string_view worker = {}) const;

  /// The stored shape, else the shape of the value. shape_unavailable_error if neither exists.
  [[nodiscard]] shape_t shape(step_t step, tdbg::mode m = tdbg::mode::global,
                              std::string_view worker = {}) const;

  /// The stored reduction if there is one, else computed from the raw value (core/reduce.hpp),
  /// else tensor_unavailable_for_step_error naming the reduction. A 0-d tensor.
  [[nodiscard]] tdbg::tensor reduction_value(step_t step, reduction r,
                                             tdbg::mode m = tdbg::mode::global,
                                             std::string_view worker = {}) const;

  /// As above with smdebug's spelling: an op name ("mean", "l2", "l2_norm" ...) and an abs flag.
  /// usage_error for an unknown op name.
  [[nodiscard]] tdbg::tensor reduction_value(step_t step, std::string_view op, bool abs = false,
                                             tdbg::mode m = tdbg::mode::global,
                                             std::string_view worker = {}) const;

  /// The stored reductions only, in (op, abs) order.
  [[nodiscard]] std::vector<std::pair<reduction, tdbg::tensor>> reduction_values(
      step_t step, tdbg::mode m = tdbg::mode::global, std::string_view worker = {}) const;

  /// The sorted workers with data at the step. tensor_unavailable_for_step_error if none.
  [[nodiscard]] std::vector<std::string> workers(step_t step,
                                                 tdbg::mode m = tdbg::mode::global) const;

  /// The complete steps ≤ step, the last n of them (all if n is empty).
  [[nodiscard]] std::vector<step_t> prev_steps(step_t step, std::optional<std::size_t> n = {},
                                               tdbg::mode m = tdbg::mode::global) const;

  /// Every stored (global step, mode, mode step, worker), sorted by global step then worker.
  [[nodiscard]] std::vector<stored_step> stored_steps() const;

  /// The position (0: first) at which `worker` (default: the smallest worker name) saved this
  /// tensor among the tensors it saved at `step` of mode `m`: the tensors of the step's index
  /// file ranked by the offset of their first record in the step's event file (a tensor's
  /// stored reductions, written just before its raw value, count as its records). Each
  /// (step, worker) has one index file naming one event file, written by one writer that
  /// appends records in save order (spec §3.4, §4), so this is the order of the saves of that
  /// worker; workers write their files independently, so positions of different workers are
  /// not comparable. nullopt when only the tensor's shape was saved there (it has no record).
  /// Throws as value() when the step or worker has no entry for this tensor.
  [[nodiscard]] std::optional<std::size_t> save_order(step_t step, tdbg::mode m = tdbg::mode::global,
                                                      std::string_view worker = {}) const;

 private:
  friend class trial;
  trial_tensor(const trial& t, std::string name) : trial_(&t), name_(std::move(name)) {}

  struct found {
    const detail::worker_map* workers;
    step_t global_step;
  };
  [[nodiscard]] const detail::tensor_record& record() const;
  [[nodiscard]] std::optional<found> lookup(step_t step, tdbg::mode m) const;
  [[nodiscard]] found find_or_throw(step_t step, tdbg::mode m) const;
  [[nodiscard]] const detail::worker_entry& pick_worker(const found& f, std::string_view worker,
                                                        step_t step, tdbg::mode m) const;

  const trial* trial_;
  std::string name_;
};

/// A trial: one training job's saved tensors, read through a storage backend.
class trial {
 public:
  /// A trial in a local directory. io_error naming the path if it is not a directory.
  /// missing_collection_files_error if the job ended without (all) collections files.
  explicit trial(const std::filesystem::path& dir, trial_options options = {})
      : trial(open_local(dir), options) {}

  /// A trial read through any backend (memory, S3, a local one configured by the caller).
  explicit trial(std::shared_ptr<storage::backend> backend, trial_options options = {})
      : backend_(std::move(backend)), options_(options) {
    if (!backend_) throw usage_error("trial: null storage backend");
    refresh();
  }

  /// Reads collections and index files that appeared since the last refresh. Once the end
  /// marker has been seen (and a second refresh done), the trial is complete and this does
  /// nothing. New corrupt index files (bad JSON, bad name, unsafe event file path) are kept in
  /// index_errors() and, unless options.skip_corrupt_index_files, reported by throwing
  /// index_reader_error naming the file after every other new file has been read. Each
  /// corrupt file is reported once; later refreshes do not re-read it.
  void refresh() const {
    if (loaded_all_steps_) return;
    const bool ended = backend_->exists(io::end_marker_key);
    std::vector<std::string> errors;
    load_collections();
    read_new_index_files(errors);
    if (ended) {
      if (options_.end_refresh_delay.count() > 0) std::this_thread::sleep_for(options_.end_refresh_delay);
      load_collections();
      read_new_index_files(errors);
      loaded_all_steps_ = true;
    }
    update_completeness();
    if (ended) {
      const auto expected = static_cast<std::size_t>(num_workers_);
      if (collections_files_.empty() || collections_files_.size() < expected)
        throw missing_collection_files_error(
            backend_->describe() + ": the job ended (" + std::string(io::end_marker_key) +
            " exists) but " + std::to_string(collections_files_.size()) + " of " +
            std::to_string(std::max<std::size_t>(expected, 1)) +
            " collections files exist under collections/");
    }
    if (!errors.empty() && !options_.skip_corrupt_index_files) {
      std::string msg = errors.front();
      if (errors.size() > 1) msg += " (and " + std::to_string(errors.size() - 1) + " more corrupt index files)";
      throw index_reader_error(msg);
    }
  }

  /// Switches automatic refresh on lookups of unknown things on or off.
  void set_auto_refresh(bool on) noexcept { options_.auto_refresh = on; }
  [[nodiscard]] bool auto_refresh() const noexcept { return options_.auto_refresh; }

  /// The backend the trial reads through.
  [[nodiscard]] const storage::backend& backend() const noexcept { return *backend_; }
  /// "/runs/exp1", "memory:" ...
  [[nodiscard]] std::string describe() const { return backend_->describe(); }

  // ---- workers and collections -------------------------------------------------------------

  /// Sorted worker names from the collections files (from index file names while there are none).
  [[nodiscard]] std::vector<std::string> workers() const {
    maybe_refresh();
    const auto& src = collection_workers_.empty() ? index_workers_ : collection_workers_;
    return {src.begin(), src.end()};
  }

  /// `_meta.num_workers` of the first collections file, else max(1, workers in index names).
  [[nodiscard]] std::int64_t num_workers() const noexcept { return num_workers_; }

  /// The collections of the first collections file (in sorted key order), in file order.
  /// Empty while no collections file exists.
  [[nodiscard]] const std::vector<io::collection_record>& collections() const {
    static const std::vector<io::collection_record> none;
    return collections_files_.empty() ? none : collections_files_.begin()->second.collections;
  }

  /// The collection of that name, or nullptr.
  [[nodiscard]] const io::collection_record* collection(std::string_view name) const {
    for (const auto& c : collections())
      if (c.name == name) return &c;
    return nullptr;
  }

  // ---- tensors -----------------------------------------------------------------------------

  /// Sorted tensor names (see name_query). Reduction-only tensors appear under their base name.
  [[nodiscard]] std::vector<std::string> tensor_names(const name_query& q = {}) const {
    if (!q.regex.empty() && q.collection)
      throw usage_error("tensor_names: pass either regex or collection, not both");
    maybe_refresh();
    std::vector<std::string> base;
    if (!q.step) {
      if (q.mode == mode::global) {
        for (const auto& [name, rec] : tensors_) base.push_back(name);
      } else {
        const auto& s = mode_tensors_[mode_index(q.mode)];
        base.assign(s.begin(), s.end());
      }
    } else {
      step_t g = *q.step;
      if (q.mode != mode::global) {
        const auto& m2g = mode_to_global_[mode_index(q.mode)];
        const auto it = m2g.find(*q.step);
        if (it == m2g.end()) return {};
        g = it->second;
      }
      const auto it = global_step_tensors_.find(g);
      if (it == global_step_tensors_.end()) return {};
      base.assign(it->second.begin(), it->second.end());
    }
    if (!q.regex.empty()) {
      std::vector<boost::regex> res;
      for (const auto& p : q.regex) res.push_back(detail::compile_regex(p, "tensor_names"));
      std::erase_if(base, [&](const std::string& n) {
        return std::none_of(res.begin(), res.end(),
                            [&](const boost::regex& r) { return boost::regex_search(n, r); });
      });
    } else if (q.collection) {
      const auto* c = collection(*q.collection);
      if (!c) return {};
      std::vector<boost::regex> res;
      for (const auto& p : c->include_regex)
        res.push_back(detail::compile_regex(p, "collection '" + c->name + "'"));
      const std::set<std::string, std::less<>> names(c->tensor_names.begin(), c->tensor_names.end());
      std::erase_if(base, [&](const std::string& n) {
        if (names.count(n)) return false;
        return std::none_of(res.begin(), res.end(),
                            [&](const boost::regex& r) { return boost::regex_search(n, r); });
      });
    }
    return base;
  }

  /// Whether the trial has a tensor of that name (refreshes first if it is unknown).
  [[nodiscard]] bool has_tensor(std::string_view name) const {
    if (tensors_.find(name) != tensors_.end()) return true;
    maybe_refresh();
    return tensors_.find(name) != tensors_.end();
  }

  /// A handle on a tensor. tensor_unavailable_error if the trial has no such tensor.
  [[nodiscard]] trial_tensor tensor(std::string_view name) const {
    if (!has_tensor(name)) throw tensor_unavailable_error(std::string(name));
    return trial_tensor(*this, std::string(name));
  }

  // ---- steps -------------------------------------------------------------------------------

  /// Sorted steps of a mode (global steps for mode::global, mode steps otherwise). A step is
  /// complete when every worker wrote it, or the job ended, or a later step is complete.
  [[nodiscard]] std::vector<step_t> steps(tdbg::mode m = tdbg::mode::global,
                                          bool show_incomplete_steps = false) const {
    maybe_refresh();
    return steps_now(m, show_incomplete_steps);
  }

  /// The modes seen (never mode::global), in enum order.
  [[nodiscard]] std::vector<tdbg::mode> modes() const {
    maybe_refresh();
    std::vector<tdbg::mode> out;
    for (auto m : {mode::train, mode::eval, mode::predict})
      if (!mode_to_global_[mode_index(m)].empty()) out.push_back(m);
    return out;
  }

  /// The global step of a mode step (the argument itself for mode::global); nullopt if unknown.
  [[nodiscard]] std::optional<step_t> global_step(tdbg::mode m, step_t mode_step) const {
    if (m == mode::global) return mode_step;
    auto find = [&]() -> std::optional<step_t> {
      const auto& m2g = mode_to_global_[mode_index(m)];
      const auto it = m2g.find(mode_step);
      if (it == m2g.end()) return std::nullopt;
      return it->second;
    };
    if (auto g = find()) return g;
    maybe_refresh();
    return find();
  }

  /// The (mode, mode step) of a global step; nullopt if unknown.
  [[nodiscard]] std::optional<std::pair<tdbg::mode, step_t>> mode_modestep(step_t global) const {
    auto it = global_to_mode_.find(global);
    if (it == global_to_mode_.end()) {
      maybe_refresh();
      it = global_to_mode_.find(global);
      if (it == global_to_mode_.end()) return std::nullopt;
    }
    return it->second;
  }

  /// Whether `step` of mode `m` is written (spec §9.5).
  [[nodiscard]] step_state has_passed_step(step_t step, tdbg::mode m = tdbg::mode::global) const {
    maybe_refresh();
    return state_now(step, m);
  }

  /// True once the end marker has been seen and the trial has read everything.
  [[nodiscard]] bool loaded_all_steps() const noexcept { return loaded_all_steps_; }

  /// The highest global step known to be complete (-1 if none).
  [[nodiscard]] step_t last_complete_step() const noexcept { return last_complete_step_; }

  /// When global step `step` was saved, in seconds since the epoch: the largest Event.wall_time
  /// among the *last* records (highest offset) of the step's event files, one per worker. With
  /// tdbg's hook that is the step's newest save (records are written in save order); with
  /// smdebug's PyTorch hook the last records are save_scalar values, stamped when save_scalar was
  /// called (spec §3.4), so the time can be up to one step earlier than the newest save.
  /// nullopt for an unknown step, a step whose index files list no record (shapes only), or a
  /// last record without wall_time (proto3 omits 0). Cost: one ranged read of a record's first
  /// 21 bytes per worker (where the canonical Event keeps wall_time; the whole record otherwise),
  /// cached once the step is complete. While the job runs, an event file still shorter than its
  /// index says (being written, or cut by a writer that died) gives the time of that worker's
  /// first record of the step instead (none if that one is missing too; not cached). Errors as
  /// value(): format_error for a corrupt record.
  [[nodiscard]] std::optional<double> step_wall_time(step_t step) const {
    if (const auto it = step_wall_times_.find(step); it != step_wall_times_.end()) return it->second;
    auto files = step_records_.find(step);
    if (files == step_records_.end()) {
      maybe_refresh();
      files = step_records_.find(step);
      if (files == step_records_.end()) return std::nullopt;
    }
    std::optional<double> newest;
    bool partial = false;
    const auto mm = global_to_mode_.find(step);
    const mode m = mm == global_to_mode_.end() ? mode::global : mm->second.first;
    const step_t ms = mm == global_to_mode_.end() ? step : mm->second.second;
    for (const auto& [worker, ends] : files->second) {
      std::optional<double> w;
      try {
        w = record_wall_time(ends.last, ms, m);
      } catch (const step_not_yet_available_error&) {
        // The event file is still shorter than its index says: the step's first record tells
        // when the step began saving (a stall that cut the file is still seen); if even that
        // one is not there yet, this worker has no time.
        partial = true;
        try {
          w = record_wall_time(ends.first, ms, m);
        } catch (const step_not_yet_available_error&) {
          w.reset();
        }
      }
      if (w && (!newest || *w > *newest)) newest = w;
    }
    if (newest && !partial && complete(step)) step_wall_times_.emplace(step, *newest);
    return newest;
  }

  /// The messages of every corrupt index file met so far (each was also thrown once).
  [[nodiscard]] const std::vector<std::string>& index_errors() const noexcept { return index_errors_; }

  /// Waits until every step is available, polling every options.poll_interval (spec §9.7).
  /// step_unavailable_error for a step that will never exist; no_more_data_error for a step
  /// past the end of a finished job; step_not_yet_available_error when `timeout` passes.
  void wait_for_steps(const std::vector<step_t>& wanted, tdbg::mode m = tdbg::mode::global,
                      std::chrono::milliseconds timeout = std::chrono::minutes(10)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const step_t s : wanted) {
      for (;;) {
        refresh();
        const auto st = state_now(s, m);
        if (st == step_state::available) break;
        if (st == step_state::unavailable) {
          if (!loaded_all_steps_) throw step_unavailable_error(s, detail::mode_str(m));
          const auto all = steps_now(m, true);
          const step_t last = all.empty() ? -1 : all.back();
          if (s < last) throw step_unavailable_error(s, detail::mode_str(m));
          throw no_more_data_error(s, detail::mode_str(m), last);
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) throw step_not_yet_available_error(s, detail::mode_str(m));
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            options_.poll_interval, deadline - now));
      }
    }
  }

 private:
  friend class trial_tensor;

  static std::shared_ptr<storage::backend> open_local(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      throw io_error(dir.string() + ": no such trial directory");
    return std::make_shared<storage::local_backend>(dir);
  }

  void maybe_refresh() const {
    if (options_.auto_refresh && !loaded_all_steps_) refresh();
  }

  [[nodiscard]] bool job_ended() const {
    return loaded_all_steps_ || backend_->exists(io::end_marker_key);
  }

  void load_collections() const {
    for (const auto& key : backend_->list("collections/")) {
      if (collections_files_.count(key)) continue;
      const auto worker = io::parse_collections_file_name(key);
      if (!worker) continue;  // *.tmp and unrelated files
      auto parsed = io::parse_collections_file(storage::read_text(*backend_, key),
                                               backend_->describe(key));
      collections_files_.emplace(key, std::move(parsed));
      collection_workers_.insert(*worker);
    }
  }

  void read_new_index_files(std::vector<std::string>& errors) const {
    for (const auto& key : backend_->list("index/")) {
      if (!detail::ends_with(key, ".json")) continue;  // *.tmp (still being written) and others
      if (!index_files_read_.insert(key).second) continue;
      const auto name = io::parse_step_file_name(key);
      if (!name) {
        errors.push_back(backend_->describe(key) + ": cannot parse step and worker from the index file name");
        index_errors_.push_back(errors.back());
        continue;
      }
      const std::string where = backend_->describe(key);
      try {
        add_index_file(io::parse_index_file(storage::read_text(*backend_, key), where),
                       name->step, name->worker, where);
      } catch (const format_error& e) {
        errors.push_back(e.what());
        index_errors_.push_back(errors.back());
      }
    }
  }

  void add_index_file(const io::index_file& f, step_t step, const std::string& worker,
                      const std::string& where) const {
    if (!f.tensor_payload.empty()) {
      if (!f.event_file_name)
        throw index_reader_error(where + ": tensor_payload without meta.event_file_name");
      if (!detail::safe_key(*f.event_file_name))
        throw index_reader_error(where + ": event_file_name '" + *f.event_file_name +
                                 "' is not a path inside the trial");
    }
    const mode m = f.mode;
    global_to_mode_.try_emplace(step, m, f.mode_step);
    if (m != mode::global) mode_to_global_[mode_index(m)].try_emplace(f.mode_step, step);
    workers_for_global_step_[step].insert(worker);
    index_workers_.insert(worker);

    auto entry = [&](const std::string& tensor_name) -> detail::worker_entry& {
      auto& rec = tensors_[tensor_name];
      auto& e = rec.steps[mode_index(m)][f.mode_step][worker];
      e.global_step = step;
      global_step_tensors_[step].insert(tensor_name);
      if (m != mode::global) mode_tensors_[mode_index(m)].insert(tensor_name);
      return e;
    };
    // Save order: the file's tensors ranked by the offset of their first record. The index
    // lists records in file order (spec §4); sorting by offset does not rely on it.
    std::vector<std::size_t> by_offset(f.tensor_payload.size());
    for (std::size_t i = 0; i < by_offset.size(); ++i) by_offset[i] = i;
    std::stable_sort(by_offset.begin(), by_offset.end(), [&](std::size_t a, std::size_t b) {
      return f.tensor_payload[a].start_idx < f.tensor_payload[b].start_idx;
    });
    std::map<std::string, std::size_t, std::less<>> order;
    for (const std::size_t i : by_offset) {
      const auto& name = f.tensor_payload[i].tensorname;
      const auto red = io::parse_reduction_tensor_name(name);
      order.try_emplace(red ? red->tensor : name, order.size());
    }
    for (const auto& p : f.tensor_payload) {
      detail::location loc{*f.event_file_name, p.start_idx, p.length, p.tensorname};
      auto& ends = step_records_[step][worker];
      if (ends.last.file.empty() || loc.offset >= ends.last.offset) ends.last = loc;
      if (ends.first.file.empty() || loc.offset < ends.first.offset) ends.first = loc;
      if (auto red = io::parse_reduction_tensor_name(p.tensorname)) {
        auto& e = entry(red->tensor);
        if (!e.save_order) e.save_order = order.at(red->tensor);
        const auto pos = std::lower_bound(
            e.reductions.begin(), e.reductions.end(), red->red,
            [](const auto& a, reduction b) { return detail::reduction_less(a.first, b); });
        if (pos == e.reductions.end() || !(pos->first == red->red))
          e.reductions.insert(pos, {red->red, std::move(loc)});
      } else {
        auto& e = entry(p.tensorname);
        if (!e.save_order) e.save_order = order.at(p.tensorname);
        if (!e.value) e.value = std::move(loc);
      }
    }
    for (const auto& s : f.shape_payload) {
      auto& e = entry(s.tensorname);
      if (!e.shape) e.shape = s.shape;
    }
  }

  void update_completeness() const {
    num_workers_ = collections_files_.empty()
                       ? std::max<std::int64_t>(1, static_cast<std::int64_t>(index_workers_.size()))
                       : std::max<std::int64_t>(1, collections_files_.begin()->second.num_workers);
    last_complete_step_ = -1;
    for (const auto& [g, ws] : workers_for_global_step_)
      if (static_cast<std::int64_t>(ws.size()) >= num_workers_) last_complete_step_ = g;
    if (loaded_all_steps_ && !global_to_mode_.empty())
      last_complete_step_ = std::max(last_complete_step_, global_to_mode_.rbegin()->first);
  }

  [[nodiscard]] bool complete(step_t g) const {
    if (loaded_all_steps_ || g <= last_complete_step_) return true;
    const auto it = workers_for_global_step_.find(g);
    return it != workers_for_global_step_.end() &&
           static_cast<std::int64_t>(it->second.size()) >= num_workers_;
  }

  [[nodiscard]] std::vector<step_t> steps_now(mode m, bool incomplete) const {
    std::vector<step_t> out;
    if (m == mode::global) {
      for (const auto& [g, mm] : global_to_mode_)
        if (incomplete || complete(g)) out.push_back(g);
    } else {
      for (const auto& [s, g] : mode_to_global_[mode_index(m)])
        if (incomplete || complete(g)) out.push_back(s);
    }
    return out;
  }

  [[nodiscard]] step_t to_global(mode m, step_t s) const {
    if (m == mode::global) return s;
    return mode_to_global_[mode_index(m)].at(s);
  }

  [[nodiscard]] step_state state_now(step_t step, mode m) const {
    const auto all = steps_now(m, true);
    const auto it = std::lower_bound(all.begin(), all.end(), step);
    if (it != all.end()) {
      const step_t g = to_global(m, *it);
      if (*it > step)
        return last_complete_step_ >= g ? step_state::unavailable : step_state::not_yet_available;
      return complete(g) ? step_state::available : step_state::not_yet_available;
    }
    return loaded_all_steps_ ? step_state::unavailable : step_state::not_yet_available;
  }

  /// Reads and decodes the record at `loc` (one ranged read).
  [[nodiscard]] tdbg::tensor read_record_at(const detail::location& loc, const std::string& tensor,
                                            step_t step, mode m) const {
    return std::move(read_event_at(loc, tensor, step, m).value);
  }

  /// The Event.wall_time of the record at `loc`: from its first 21 bytes when the Event starts
  /// with wall_time (the canonical serialization, spec §3.2), else from the whole record.
  /// nullopt when the Event has no wall_time (0: proto3 omits it).
  [[nodiscard]] std::optional<double> record_wall_time(const detail::location& loc, step_t step, mode m) const {
    constexpr std::uint64_t prefix = 12 + 1 + 8;  // record header, field 1 tag (fixed64), the double
    if (loc.length > prefix + 4) {
      std::vector<std::byte> head;
      try {
        head = backend_->read(loc.file, loc.offset, prefix);
      } catch (const io_error&) {
        head.clear();  // the whole-record read below reports it properly
      }
      if (head.size() == prefix &&
          detail::load_le32(head.data() + 8) == io::masked_crc32c(std::span<const std::byte>(head.data(), 8)) &&
          detail::load_le64(head.data()) + io::record_overhead == loc.length && head[12] == std::byte{0x09}) {
        const double w = std::bit_cast<double>(detail::load_le64(head.data() + 13));
        return w == 0 ? std::nullopt : std::optional<double>(w);
      }
    }
    const auto ev = read_event_at(loc, loc.tag, step, m);
    return ev.wall_time == 0 ? std::nullopt : std::optional<double>(ev.wall_time);
  }

  /// Reads and decodes the Event at `loc` (one ranged read).
  [[nodiscard]] io::tensor_event read_event_at(const detail::location& loc, const std::string& tensor,
                                               step_t step, mode m) const {
    const std::string what = "tensor '" + tensor + "' at step " + std::to_string(step) +
                             " of mode " + detail::mode_str(m);
    std::vector<std::byte> bytes;
    try {
      bytes = backend_->read(loc.file, loc.offset, loc.length);
    } catch (const io_error&) {
      if (backend_->exists(loc.file)) throw;
      if (job_ended())
        throw tensor_unavailable_for_step_error(
            tensor, step, detail::mode_str(m), false,
            "its event file " + backend_->describe(loc.file) + " does not exist");
      throw step_not_yet_available_error(step, detail::mode_str(m), tensor);
    }
    const std::string at = backend_->describe(loc.file) + ": offset " + std::to_string(loc.offset);
    if (bytes.size() < loc.length) {
      if (job_ended())
        throw format_error(at + ": the record of " + what + " is cut: the index says " +
                           std::to_string(loc.length) + " bytes, the file has " +
                           std::to_string(bytes.size()));
      throw step_not_yet_available_error(step, detail::mode_str(m), tensor);
    }
    std::optional<io::record_view> rec;
    try {
      rec = io::read_record(bytes, backend_->describe(loc.file), loc.offset);
    } catch (const format_error& e) {
      throw format_error(std::string(e.what()) + " (" + what + ")");
    }
    if (!rec || rec->size != loc.length)
      throw format_error(at + ": the index says the record of " + what + " has " +
                         std::to_string(loc.length) + " bytes, the record " +
                         (rec ? "has " + std::to_string(rec->size) : std::string("is longer")));
    auto ev = io::decode_tensor_event(rec->payload, at + ": " + what);
    if (ev.tag != loc.tag)
      throw format_error(at + ": the record has tag '" + ev.tag + "' but the index names '" +
                         loc.tag + "' (" + what + ")");
    return ev;
  }

  std::shared_ptr<storage::backend> backend_;
  trial_options options_;

  // Everything below is refreshed by const lookups (see the thread-safety note above).
  mutable std::map<std::string, io::collections_file> collections_files_;  // sorted by key
  mutable std::set<std::string> collection_workers_;
  mutable std::set<std::string> index_workers_;
  mutable std::set<std::string> index_files_read_;
  mutable std::vector<std::string> index_errors_;
  mutable std::map<std::string, detail::tensor_record, std::less<>> tensors_;
  mutable std::map<step_t, std::pair<mode, step_t>> global_to_mode_;
  mutable std::array<std::map<step_t, step_t>, 4> mode_to_global_;
  mutable std::map<step_t, std::set<std::string>> global_step_tensors_;
  mutable std::array<std::set<std::string>, 4> mode_tensors_;
  mutable std::map<step_t, std::set<std::string>> workers_for_global_step_;
  struct first_and_last {
    detail::location first, last;  // the records at the lowest and highest offsets
  };
  mutable std::map<step_t, std::map<std::string, first_and_last, std::less<>>> step_records_;  // per worker
  mutable std::map<step_t, double> step_wall_times_;  // of complete steps
  mutable std::int64_t num_workers_ = 1;
  mutable step_t last_complete_step_ = -1;
  mutable bool loaded_all_steps_ = false;
};

// ---- trial_tensor ------------------------------------------------------------------------------

inline const detail::tensor_record& trial_tensor::record() const {
  const auto it = trial_->tensors_.find(name_);
  if (it == trial_->tensors_.end()) throw tensor_unavailable_error(name_);
  return it->second;
}

inline std::optional<trial_tensor::found> trial_tensor::lookup(step_t step, mode m) const {
  const auto& rec = record();
  auto at = [&](mode mm, step_t s) -> std::optional<found> {
    const auto& steps = rec.steps[mode_index(mm)];
    const auto it = steps.find(s);
    if (it == steps.end() || it->second.empty()) return std::nullopt;
    return found{&it->second, it->second.begin()->second.global_step};
  };
  if (m != mode::global) return at(m, step);
  if (auto f = at(mode::global, step)) return f;
  const auto g = trial_->global_to_mode_.find(step);
  if (g == trial_->global_to_mode_.end()) return std::nullopt;
  return at(g->second.first, g->second.second);
}

inline trial_tensor::found trial_tensor::find_or_throw(step_t step, mode m) const {
  if (auto f = lookup(step, m)) return *f;
  trial_->maybe_refresh();
  if (auto f = lookup(step, m)) return *f;
  switch (trial_->state_now(step, m)) {
    case step_state::available:
      throw tensor_unavailable_for_step_error(name_, step, detail::mode_str(m));
    case step_state::unavailable:
      throw step_unavailable_error(step, detail::mode_str(m), name_);
    case step_state::not_yet_available:
      break;
  }
  if (trial_->loaded_all_steps_) {
    const auto all = trial_->steps_now(m, true);
    throw no_more_data_error(step, detail::mode_str(m), all.empty() ? -1 : all.back());
  }
  throw step_not_yet_available_error(step, detail::mode_str(m), name_);
}

inline const detail::worker_entry& trial_tensor::pick_worker(const found& f, std::string_view worker,
                                                             step_t step, mode m) const {
  if (worker.empty()) return f.workers->begin()->second;  // lexicographically smallest
  const auto it = f.workers->find(worker);
  if (it == f.workers->end())
    throw invalid_worker_error(std::string(worker), name_, step, detail::mode_str(m));
  return it->second;
}

inline std::vector<step_t> trial_tensor::steps(mode m, bool show_incomplete_steps) const {
  trial_->maybe_refresh();
  const auto& rec = record();
  std::set<step_t> out;
  auto add = [&](mode mm, bool use_global) {
    for (const auto& [s, wm] : rec.steps[mode_index(mm)]) {
      if (wm.empty()) continue;
      const step_t g = wm.begin()->second.global_step;
      if (show_incomplete_steps || trial_->complete(g)) out.insert(use_global ? g : s);
    }
  };
  if (m == mode::global) {
    for (mode mm : all_modes) add(mm, true);
  } else {
    add(m, false);
  }
  return {out.begin(), out.end()};
}

inline tdbg::tensor trial_tensor::value(step_t step, mode m, std::string_view worker) const {
  const auto f = find_or_throw(step, m);
  const auto& e = pick_worker(f, worker, step, m);
  if (!e.value)
    throw tensor_unavailable_for_step_error(
        name_, step, detail::mode_str(m), !e.reductions.empty(),
        e.shape ? "only its shape was saved" : "no raw value was saved");
  return trial_->read_record_at(*e.value, name_, step, m);
}

inline shape_t trial_tensor::shape(step_t step, mode m, std::string_view worker) const {
  const auto f = find_or_throw(step, m);
  const auto& e = pick_worker(f, worker, step, m);
  if (e.shape) return *e.shape;
  if (!e.value)
    throw shape_unavailable_error("tensor '" + name_ + "' has neither a stored shape nor a value at step " +
                                  std::to_string(step) + " of mode " + detail::mode_str(m));
  return trial_->read_record_at(*e.value, name_, step, m).shape();
}

inline tdbg::tensor trial_tensor::reduction_value(step_t step, reduction r, mode m,
                                                  std::string_view worker) const {
  const auto f = find_or_throw(step, m);
  const auto& e = pick_worker(f, worker, step, m);
  for (const auto& [red, loc] : e.reductions)
    if (red == r) return trial_->read_record_at(loc, name_, step, m);
  if (e.value) {
    const auto v = trial_->read_record_at(*e.value, name_, step, m);
    return reduction_tensor(v.ref(), r);
  }
  throw tensor_unavailable_for_step_error(
      name_, step, detail::mode_str(m), !e.reductions.empty(),
      "reduction " + reduction_name(r) + " was not stored and there is no raw value to compute it from");
}

inline tdbg::tensor trial_tensor::reduction_value(step_t step, std::string_view op, bool abs, mode m,
                                                  std::string_view worker) const {
  const auto parsed = parse_reduction_op(op);
  if (!parsed)
    throw usage_error("tensor '" + name_ + "': unknown reduction '" + std::string(op) +
                      "' (allowed: min max mean std variance sum prod l1 l2)");
  return reduction_value(step, reduction{*parsed, abs}, m, worker);
}

inline std::vector<std::pair<reduction, tdbg::tensor>> trial_tensor::reduction_values(
    step_t step, mode m, std::string_view worker) const {
  const auto f = find_or_throw(step, m);
  const auto& e = pick_worker(f, worker, step, m);
  std::vector<std::pair<reduction, tdbg::tensor>> out;
  for (const auto& [red, loc] : e.reductions)
    out.emplace_back(red, trial_->read_record_at(loc, name_, step, m));
  return out;
}

inline std::optional<std::size_t> trial_tensor::save_order(step_t step, mode m, std::string_view worker) const {
  const auto f = find_or_throw(step, m);
  return pick_worker(f, worker, step, m).save_order;
}

inline std::vector<std::string> trial_tensor::workers(step_t step, mode m) const {
  auto f = lookup(step, m);
  if (!f) {
    trial_->maybe_refresh();
    f = lookup(step, m);
  }
  if (!f) throw tensor_unavailable_for_step_error(name_, step, detail::mode_str(m));
  std::vector<std::string> out;
  for (const auto& [w, e] : *f->workers) out.push_back(w);
  return out;
}

inline std::vector<step_t> trial_tensor::prev_steps(step_t step, std::optional<std::size_t> n,
                                                    mode m) const {
  auto all = steps(m);
  std::erase_if(all, [&](step_t s) { return s > step; });
  if (n && all.size() > *n) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(*n));
  return all;
}

inline std::vector<stored_step> trial_tensor::stored_steps() const {
  trial_->maybe_refresh();
  const auto& rec = record();
  std::vector<stored_step> out;
  for (mode m : all_modes)
    for (const auto& [s, wm] : rec.steps[mode_index(m)])
      for (const auto& [w, e] : wm) {
        stored_step st;
        st.global_step = e.global_step;
        st.mode = m;
        st.mode_step = s;
        st.worker = w;
        st.has_value = e.value.has_value();
        st.shape = e.shape;
        for (const auto& r : e.reductions) st.reductions.push_back(r.first);
        st.save_order = e.save_order;
        out.push_back(std::move(st));
      }
  std::sort(out.begin(), out.end(), [](const stored_step& a, const stored_step& b) {
    if (a.global_step != b.global_step) return a.global_step < b.global_step;
    if (a.worker != b.worker) return a.worker < b.worker;
    return a.mode < b.mode;
  });
  return out;
}

}  // namespace tdbg::trial
