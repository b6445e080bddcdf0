// tdbg/hook/hook.hpp — the hook: saves tensors from a training loop into an smdebug trial.
// Layer: hook (collect, io, storage, core). The class is `tdbg::hook` (so the layer's public names
// live in namespace tdbg; internals in tdbg::detail).
//
//   tdbg::hook h(out_dir, tdbg::collect::collections<weights, tdbg::collect::defaults::losses>{},
//                tdbg::hook_options{.worker = "worker_0"});
//   h.set_mode(tdbg::mode::train);
//   for (...) { h.begin_step(); h.save("MLP_fc1.weight", std::span<const float>(w), shape); h.end_step(); }
//   h.close();
//
// Steps (spec §6): the global step starts at -1; each mode's counter is created at -1 by the first
// set_mode(mode); begin_step() increments both. Without set_mode the mode is GLOBAL and
// mode_step == step. Files are named by the global step; saving is decided by the mode step.
//
// The training thread never waits on disk: save() decides (one hash lookup for a known name),
// copies the tensor once and queues it; a background writer (hook/writer.hpp) encodes it,
// computes reductions and writes. Errors of the writer come back as io_error from the next
// save/begin_step/end_step/flush/close; the destructor closes and reports to stderr, never throws.
//
// Observers (tensor_observer, add_observer) see every saved tensor — the same shared copy the
// writer encodes — and the end of every step, on the training thread: this is how rules run in
// process (rules/attach.hpp) without the hook layer knowing about rules.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tdbg/collect/collection.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/collect/matcher.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/hook/collection_record.hpp"
#include "tdbg/hook/writer.hpp"
#include "tdbg/io/collections_file.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/storage/backend.hpp"
#include "tdbg/storage/local.hpp"

namespace tdbg {

/// What save() does when the writer queue is full.
enum class queue_full_policy {
  block,  ///< wait for the writer (nothing is lost)
  drop,   ///< drop the tensor and count it (dropped_count(); a warning at close)
};

/// Options of a hook.
struct hook_options {
  std::string worker = "worker_0";        ///< worker name in file names ('/'→'_', ':'→'-')
  std::int64_t num_workers = 1;           ///< _meta.num_workers of the collections file
  /// Save config of collections that have none (smdebug's hook save_config; default every 500).
  collect::save_config save_config = collect::save_config::every(collect::default_save_interval);
  /// Reduction config of collections that have none (default: raw tensors).
  collect::reduction_config reduction_config{};
  std::vector<std::string> include_regex{};  ///< added to the "default" collection (created if absent)
  bool save_all = false;                   ///< adds ".*" to the "all" collection (created if absent)
  std::uint64_t queue_capacity_bytes = std::uint64_t{256} << 20;
  queue_full_policy when_full = queue_full_policy::block;
  /// Write training_job_end.ts at close (never when the environment has TRAINING_JOB_NAME).
  bool write_end_marker = true;
  bool dry_run = false;                    ///< decide and count, but write nothing
  /// How often the hook looks for a stop request (stop_request_key) in its trial: at the end of
  /// a step, when at least this long has passed since it last looked (0: at every step end).
  /// One backend exists() call per look; see should_stop().
  std::chrono::milliseconds stop_poll_interval{1000};
};

/// A stop request written into a trial (by `tdbg watch --on-fire stop`, or anything else): while
/// this key exists, every hook writing the trial reports should_stop(). A tdbg extension of the
/// format (smdebug ignores the file); its content (JSON naming the finding) is for people: the
/// hook only tests that the key exists. docs/format.md, "Stop requests".
inline constexpr std::string_view stop_request_key = "tdbg_stop_request.json";

class hook;

/// One tensor the hook saved, as its observers see it.
struct saved_tensor_info {
  std::string_view name;                 ///< the tensor name ("scalar/<name>" for save_scalar)
  step_t step = 0;                       ///< global step
  mode m = mode::global;
  step_t mode_step = 0;
  std::string_view worker;               ///< hook_options::worker
  bool raw = true;                       ///< the raw value is written
  bool shape = false;                    ///< the shape is written
  std::span<const reduction> reductions; ///< the reductions written, in file order
};

/// Sees, on the training thread, what a hook saves: the generic hand-off to in-process
/// consumers (rules/attach.hpp) that keeps the hook layer free of them.
///
/// Contract: on_save is called once per tensor the hook queues for writing (also in a dry run;
/// not for a tensor dropped because the queue was full), from save() — or from the call that
/// ends the step, for save_scalar — with the hook's own copy of the tensor, shared and
/// immutable (holding it delays the recycling of its buffer, never copies it). on_step_end is
/// called once per step, at the end of the call that ends it (end_step, begin_step, set_mode or
/// close), after its tensors; `saved` tells whether any tensor was reported in it. on_close is
/// called once, at the end of close(). An exception thrown by an observer propagates out of
/// that hook call once the call has done its own work (begin_step() still begins the new step,
/// set_mode() still sets the mode); later observers miss that event.
class tensor_observer {
 public:
  virtual ~tensor_observer() = default;
  virtual void on_save(const saved_tensor_info& info, const std::shared_ptr<const tensor>& value) = 0;
  virtual void on_step_end(step_t step, mode m, step_t mode_step, bool saved) = 0;
  virtual void on_close() {}
};

/// Customisation point: specialise `save_adapter<T>` with
/// `static void save(hook&, std::string_view name, const T&)` to let `hook.save(name, value)`
/// accept T (hook/eigen.hpp does this for Eigen types).
template <class T>
struct save_adapter;

template <class T>
concept savable = requires { sizeof(save_adapter<std::remove_cvref_t<T>>); };

/// Saves tensors of a training loop into a trial (see the header comment).
class hook {
 public:
  /// A hook writing into the local directory `out_dir` (created when needed).
  hook(const std::filesystem::path& out_dir, std::vector<collect::collection> collections,
       hook_options options = {})
      : hook(std::make_shared<storage::local_backend>(out_dir), std::move(collections),
             std::move(options)) {}

  /// A hook writing through `backend`. Throws config_error on invalid collections (bad regex:
  /// the message names the pattern) or options, and when the trial already ended
  /// (it holds training_job_end.ts).
  hook(std::shared_ptr<storage::backend> backend, std::vector<collect::collection> collections,
       hook_options options = {})
      : backend_(std::move(backend)), options_(std::move(options)),
        collections_(prepare(std::move(collections), options_)), matcher_(collections_),
        saving_(collections_.size(), false) {
    if (!backend_) throw usage_error("tdbg::hook: null storage backend");
    if (options_.worker.empty()) throw config_error("hook_options.worker is empty");
    if (options_.num_workers < 1)
      throw config_error("hook_options.num_workers must be >= 1, got " + std::to_string(options_.num_workers));
    if (options_.queue_capacity_bytes == 0) throw config_error("hook_options.queue_capacity_bytes is 0");
    if (options_.stop_poll_interval.count() < 0) throw config_error("hook_options.stop_poll_interval is negative");
    if (backend_->exists(io::end_marker_key))
      throw config_error(backend_->describe(io::end_marker_key) +
                         " exists: the trial has ended; write into a new directory");
    if (!options_.dry_run)
      writer_ = std::make_unique<detail::hook_writer>(*backend_, options_.worker,
                                                      options_.queue_capacity_bytes,
                                                      options_.when_full == queue_full_policy::drop);
  }

  /// Hooks from compile-time collection configs (checked at compile time).
  template <collect::collection_config... Cs>
  hook(const std::filesystem::path& out_dir, collect::collections<Cs...> cs, hook_options options = {})
      : hook(out_dir, cs.to_runtime(), std::move(options)) {}
  template <collect::collection_config... Cs>
  hook(std::shared_ptr<storage::backend> backend, collect::collections<Cs...> cs,
       hook_options options = {})
      : hook(std::move(backend), cs.to_runtime(), std::move(options)) {}

  hook(const hook&) = delete;
  hook& operator=(const hook&) = delete;

  /// Closes the hook (drains the writer). Never throws: errors are reported on stderr.
  ~hook() {
    try {
      close();
    } catch (const std::exception& e) {
      std::cerr << "tdbg::hook: error while closing: " << e.what() << '\n';
    }
  }

  // ---- modes and steps -------------------------------------------------------------------

  /// Sets the mode of the following steps. Ends the open step first (a step has one mode).
  void set_mode(mode m) {
    std::exception_ptr observer_error;  // rethrown once the mode is set
    if (in_step_) finish_step(&observer_error);
    mode_ = m;
    auto& ms = mode_steps_[mode_index(m)];
    if (!ms) ms = -1;
    if (observer_error) std::rethrow_exception(observer_error);
  }
  [[nodiscard]] mode current_mode() const noexcept { return mode_; }
  /// The global step (-1 before the first begin_step).
  [[nodiscard]] step_t step() const noexcept { return step_; }
  /// The step within the current mode.
  [[nodiscard]] step_t mode_step() const noexcept { return *mode_steps_[mode_index(mode_)]; }
  [[nodiscard]] bool in_step() const noexcept { return in_step_; }

  /// Starts the next step (ending the open one, if any).
  void begin_step() {
    if (closed_) throw usage_error("tdbg::hook: begin_step() after close()");
    std::exception_ptr observer_error;  // rethrown once the new step has begun
    if (in_step_) finish_step(&observer_error);
    check_writer();
    ++step_;
    auto& ms = mode_steps_[mode_index(mode_)];
    ++*ms;
    const bool train_only_skipped = mode_ == mode::eval || mode_ == mode::predict;
    for (std::size_t i = 0; i < collections_.size(); ++i)
      saving_[i] = collections_[i].save->should_save(mode_, *ms) &&
                   !(train_only_skipped && collect::is_train_only_collection(collections_[i].name));
    step_wrote_ = false;
    in_step_ = true;
    if (observer_error) std::rethrow_exception(observer_error);
  }

  /// Ends the open step: its event file is committed, then its index file is written.
  void end_step() {
    if (!in_step_) throw usage_error("tdbg::hook: end_step() without begin_step()");
    finish_step(nullptr);
  }

  // ---- saving ----------------------------------------------------------------------------

  /// Saves `value` under `name` at the current step if a collection selects it; the tensor is
  /// copied once. Throws usage_error outside a step or when the buffer does not match the shape.
  void save(std::string_view name, const tensor_ref& value) {
    const auto d = decide(name);
    if (!d) return;
    value.validate(name);
    if (value.dtype == dtype::string || !writer_) {
      submit(name, tensor(value), *d);
    } else {
      submit(name,
             tensor(value.dtype, shape_t(value.shape.begin(), value.shape.end()), value.bytes,
                    writer_->pool().take(value.bytes.size())),
             *d);
    }
  }
  /// As above, taking ownership of `value` (no copy).
  void save(std::string_view name, tensor&& value) {
    const auto d = decide(name);
    if (!d) return;
    submit(name, std::move(value), *d);
  }
  void save(std::string_view name, const tensor& value) { save(name, value.ref()); }

  /// A contiguous C-order buffer with a shape.
  template <numeric_element T>
  void save(std::string_view name, std::span<const T> data, std::span<const std::int64_t> shape) {
    save(name, make_tensor_ref(data, shape));
  }
  template <numeric_element T>
  void save(std::string_view name, std::span<const T> data, std::initializer_list<std::int64_t> shape) {
    save(name, make_tensor_ref(data, std::span<const std::int64_t>(shape.begin(), shape.size())));
  }
  template <numeric_element T>
  void save(std::string_view name, std::span<T> data, std::span<const std::int64_t> shape)
    requires(!std::is_const_v<T>)
  {
    save(name, std::span<const T>(data), shape);
  }
  /// A 1-d buffer (shape [size]).
  template <numeric_element T>
  void save(std::string_view name, std::span<const T> data) {
    const std::int64_t n = static_cast<std::int64_t>(data.size());
    save(name, make_tensor_ref(data, std::span<const std::int64_t>(&n, 1)));
  }
  /// Strings (a string tensor: no reductions are computed for it).
  void save(std::string_view name, std::span<const std::string> strings,
            std::span<const std::int64_t> shape) {
    save(name, make_tensor_ref(strings, shape));
  }
  /// Any type with a save_adapter (std::vector, Eigen types with hook/eigen.hpp, ...).
  template <class T>
    requires savable<T>
  void save(std::string_view name, const T& value) {
    save_adapter<std::remove_cvref_t<T>>::save(*this, name, value);
  }

  /// Saves "scalar/<name>" as float64 of shape [1], like smdebug's save_scalar; always saved
  /// (it belongs to no collection), written at the end of the step after the step's tensors.
  void save_scalar(std::string_view name, double value) {
    require_step("save_scalar", name);
    check_writer();
    const std::int64_t one = 1;
    detail::tensor_job j;
    j.name = "scalar/" + std::string(name);
    j.value = std::make_shared<tensor>(
        make_tensor_ref(std::span<const double>(&value, 1), std::span<const std::int64_t>(&one, 1)));
    fill_step(j);
    pending_scalars_.push_back(std::move(j));
  }

  /// Whether save(name, ...) at this point would write anything.
  [[nodiscard]] bool will_save(std::string_view name) {
    return in_step_ && decide_quiet(name).has_value();
  }

  /// Adds `tensor_name` to collection `collection_name` by name (smdebug's add_tensor_name).
  void add_to_collection(std::string_view collection_name, std::string_view tensor_name) {
    for (std::size_t i = 0; i < collections_.size(); ++i)
      if (collections_[i].name == collection_name) {
        matcher_.add_name(i, tensor_name);
        return;
      }
    throw usage_error("tdbg::hook: no collection named '" + std::string(collection_name) + "'");
  }

  // ---- writer ----------------------------------------------------------------------------

  /// Waits until everything queued so far is written; rethrows a writer error as io_error.
  void flush() {
    if (writer_) writer_->drain();
    check_writer();
  }

  /// Ends the open step, rewrites the collections file with every tensor name seen, writes the
  /// end marker (unless suppressed) and stops the writer. Idempotent. Throws io_error for a
  /// writer error not reported yet. Warns on stderr when tensors were dropped.
  void close() {
    if (closed_) return;
    closed_ = true;
    const bool ended_step = in_step_;
    if (in_step_) {
      for (auto& j : pending_scalars_) enqueue(std::move(j));
      pending_scalars_.clear();
      in_step_ = false;
      if (step_wrote_ && writer_) writer_->push(detail::end_step_job{step_});
    }
    if (writer_) {
      write_collections_file();
      if (options_.write_end_marker && std::getenv("TRAINING_JOB_NAME") == nullptr)
        writer_->push(detail::put_job{std::string(io::end_marker_key), {}});
      writer_->stop();
      if (const auto n = writer_->dropped())
        std::cerr << "tdbg::hook: warning: " << n << " tensor(s) dropped because the writer queue ("
                  << writer_->capacity() << " bytes) was full\n";
    }
    // Observers last: everything is written, so a throwing observer loses nothing.
    std::exception_ptr observer_error;  // the observers still hear of the close
    if (ended_step) {
      try {
        notify_step_end();
      } catch (...) {
        observer_error = std::current_exception();
      }
    }
    for (const auto& o : std::vector(observers_)) o->on_close();
    if (observer_error) std::rethrow_exception(observer_error);
    check_writer();
  }
  [[nodiscard]] bool closed() const noexcept { return closed_; }

  /// Tensors dropped because the queue was full (queue_full_policy::drop).
  [[nodiscard]] std::uint64_t dropped_count() const { return writer_ ? writer_->dropped() : 0; }
  /// Bytes waiting in the writer queue.
  [[nodiscard]] std::uint64_t queued_bytes() const { return writer_ ? writer_->queued_bytes() : 0; }
  /// Regex evaluations so far (each tensor name is matched once; tests check the cache).
  [[nodiscard]] std::uint64_t regex_evaluations() const noexcept { return matcher_.regex_evaluations(); }

  /// The collections as the hook uses them (save and reduction configs resolved).
  [[nodiscard]] const std::vector<collect::collection>& collections() const noexcept { return collections_; }
  /// The collections file as it would be written now (tensor_names = names seen so far).
  [[nodiscard]] io::collections_file collections_file() const {
    io::collections_file f;
    f.num_workers = options_.num_workers;
    for (std::size_t i = 0; i < collections_.size(); ++i) {
      auto r = to_collection_record(collections_[i]);
      const auto& seen = matcher_.matched(i);
      r.tensor_names.insert(r.tensor_names.end(), seen.begin(), seen.end());
      std::sort(r.tensor_names.begin(), r.tensor_names.end());
      r.tensor_names.erase(std::unique(r.tensor_names.begin(), r.tensor_names.end()), r.tensor_names.end());
      f.collections.push_back(std::move(r));
    }
    return f;
  }
  [[nodiscard]] const hook_options& options() const noexcept { return options_; }
  [[nodiscard]] storage::backend& backend() const noexcept { return *backend_; }

  // ---- observers -------------------------------------------------------------------------

  /// Adds an observer (see tensor_observer); it sees the tensors saved from now on. The hook
  /// co-owns it until remove_observer or the hook's end. usage_error for null or after close().
  void add_observer(std::shared_ptr<tensor_observer> o) {
    if (!o) throw usage_error("tdbg::hook: add_observer(nullptr)");
    if (closed_) throw usage_error("tdbg::hook: add_observer() after close()");
    observers_.push_back(std::move(o));
  }
  /// Removes an observer added before (no effect for an unknown one).
  void remove_observer(const tensor_observer* o) noexcept {
    std::erase_if(observers_, [&](const auto& p) { return p.get() == o; });
  }
  [[nodiscard]] std::size_t observer_count() const noexcept { return observers_.size(); }

  // ---- stopping --------------------------------------------------------------------------

  /// Asks the training loop to stop (thread-safe; rules call it).
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  /// Whether a stop was requested (thread-safe): by request_stop(), or by a stop request found in
  /// the trial (stop_request_key), which the hook looks for at the end of a step at most once per
  /// hook_options::stop_poll_interval. Once true it stays true.
  [[nodiscard]] bool should_stop() const noexcept { return stop_.load(std::memory_order_relaxed); }
  /// Looks for a stop request in the trial now, whatever the interval; returns should_stop().
  /// A backend that cannot answer (e.g. a network error) counts as "no request": the next look
  /// asks again. Training thread only.
  bool poll_stop_request() noexcept {
    if (should_stop()) return true;
    last_stop_poll_ = std::chrono::steady_clock::now();
    try {
      if (backend_->exists(stop_request_key)) request_stop();
    } catch (...) {  // a failed look is no request, and must not end training
    }
    return should_stop();
  }

 private:
  struct decision {
    std::vector<reduction> reductions;
    bool raw = false;
    bool shape = false;
  };

  static std::vector<collect::collection> prepare(std::vector<collect::collection> cs,
                                                  const hook_options& o) {
    o.save_config.validate("hook_options.save_config");
    auto add_pattern = [&](std::string_view name, const std::string& p) {
      auto it = std::find_if(cs.begin(), cs.end(), [&](const auto& c) { return c.name == name; });
      if (it == cs.end()) {
        cs.push_back(collect::collection{std::string(name), {}, {}, {}, {}, true});
        it = cs.end() - 1;
      }
      it->include_regex.push_back(p);
    };
    for (const auto& p : o.include_regex) add_pattern(collect::keys::default_, p);
    if (o.save_all) add_pattern(collect::keys::all, ".*");
    collect::validate(cs);
    const collect::hook_defaults d{o.save_config, o.reduction_config};
    for (auto& c : cs) c = collect::resolve(std::move(c), d);
    return cs;
  }

  void require_step(const char* what, std::string_view name) const {
    if (closed_)
      throw usage_error(std::string("tdbg::hook: ") + what + "('" + std::string(name) + "') after close()");
    if (!in_step_)
      throw usage_error(std::string("tdbg::hook: ") + what + "('" + std::string(name) +
                        "') outside a step: call begin_step() first");
  }

  void check_writer() {
    if (writer_ && writer_->has_error())
      if (auto e = writer_->take_error()) throw io_error(*e);
  }

  std::optional<decision> decide_quiet(std::string_view name) {
    const auto& members = matcher_.members(name);
    if (members.empty()) return std::nullopt;
    decision d;
    bool any = false;
    for (const auto i : members) {
      if (!saving_[i]) continue;
      any = true;
      const auto& r = *collections_[i].reductions;
      d.raw = d.raw || r.save_raw_tensor;
      d.shape = d.shape || r.save_shape;
      d.reductions.insert(d.reductions.end(), r.reductions.begin(), r.reductions.end());
    }
    if (!any) return std::nullopt;
    if (!d.reductions.empty()) d.reductions = collect::smdebug_order(d.reductions);
    if (!d.raw && !d.shape && d.reductions.empty()) return std::nullopt;
    return d;
  }

  std::optional<decision> decide(std::string_view name) {
    require_step("save", name);
    check_writer();
    return decide_quiet(name);
  }

  void fill_step(detail::tensor_job& j) const {
    j.step = step_;
    j.m = mode_;
    j.mode_step = *mode_steps_[mode_index(mode_)];
    j.wall_time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  void submit(std::string_view name, tensor&& value, decision d) {
    detail::tensor_job j;
    j.name = std::string(name);
    if (value.dtype() == dtype::string) d.reductions.clear();  // no numeric reductions of strings
    if (!d.raw && !d.shape && d.reductions.empty()) return;
    j.value = std::make_shared<tensor>(std::move(value));
    j.reductions = std::move(d.reductions);
    j.raw = d.raw;
    j.shape = d.shape;
    fill_step(j);
    enqueue(std::move(j));
  }

  void enqueue(detail::tensor_job&& j) {
    if (observers_.empty()) {
      if (!writer_) return;  // dry run
      step_wrote_ = true;
      writer_->push_tensor(std::move(j));
      return;
    }
    // The job moves into the queue: keep what the observers are shown.
    const std::shared_ptr<const tensor> value = j.value;
    const std::string name = j.name;
    const std::vector<reduction> reductions = j.reductions;
    const saved_tensor_info info{name, j.step, j.m, j.mode_step, options_.worker, j.raw, j.shape, reductions};
    if (writer_) {
      step_wrote_ = true;
      if (!writer_->push_tensor(std::move(j))) return;  // dropped: not written, not observed
    }
    step_observed_ = true;
    for (const auto& o : std::vector(observers_)) o->on_save(info, value);
  }

  /// end_step's work. An observer's exception is stored in *defer (when given) instead of
  /// thrown, so that begin_step/set_mode can finish their own work first.
  void finish_step(std::exception_ptr* defer) {
    for (auto& j : pending_scalars_) enqueue(std::move(j));
    pending_scalars_.clear();
    in_step_ = false;
    if (!should_stop() && std::chrono::steady_clock::now() - last_stop_poll_ >= options_.stop_poll_interval)
      poll_stop_request();
    if (step_wrote_ && writer_) {
      writer_->push(detail::end_step_job{step_});
      if (!collections_written_) {  // smdebug writes it after the first step that saved data
        write_collections_file();
        collections_written_ = true;
      }
    }
    try {
      notify_step_end();
    } catch (...) {
      if (!defer) throw;
      *defer = std::current_exception();
    }
    check_writer();
  }

  void notify_step_end() {
    const bool saved = std::exchange(step_observed_, false);
    if (observers_.empty()) return;
    const step_t ms = *mode_steps_[mode_index(mode_)];
    for (const auto& o : std::vector(observers_)) o->on_step_end(step_, mode_, ms, saved);
  }

  void write_collections_file() {
    writer_->push(detail::put_job{io::collections_file_key(options_.worker), io::to_json(collections_file())});
  }

  std::shared_ptr<storage::backend> backend_;
  hook_options options_;
  std::vector<collect::collection> collections_;
  collect::matcher matcher_;
  std::vector<bool> saving_;  // per collection: saved at the current step

  mode mode_ = mode::global;
  step_t step_ = -1;
  std::array<std::optional<step_t>, 4> mode_steps_{std::nullopt, std::nullopt, std::nullopt, step_t{-1}};
  bool in_step_ = false;
  bool step_wrote_ = false;
  bool collections_written_ = false;
  bool closed_ = false;
  std::vector<detail::tensor_job> pending_scalars_;
  std::atomic<bool> stop_{false};
  std::chrono::steady_clock::time_point last_stop_poll_{};  // epoch: the first step end looks
  std::vector<std::shared_ptr<tensor_observer>> observers_;
  bool step_observed_ = false;  // an observer was shown a tensor in the current step

  std::unique_ptr<detail::hook_writer> writer_;  // last: destroyed (joined) first
};

/// std::vector<T> of numbers: a 1-d tensor.
template <numeric_element T>
  requires(!std::is_same_v<T, bool>)  // std::vector<bool> is not contiguous
struct save_adapter<std::vector<T>> {
  static void save(hook& h, std::string_view name, const std::vector<T>& v) {
    h.save(name, std::span<const T>(v));
  }
};

/// std::vector<std::string>: a 1-d string tensor.
template <>
struct save_adapter<std::vector<std::string>> {
  static void save(hook& h, std::string_view name, const std::vector<std::string>& v) {
    const std::int64_t n = static_cast<std::int64_t>(v.size());
    h.save(name, std::span<const std::string>(v), std::span<const std::int64_t>(&n, 1));
  }
};

}  // namespace tdbg
