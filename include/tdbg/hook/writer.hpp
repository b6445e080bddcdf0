// tdbg/hook/writer.hpp — the hook's background writer: a bounded queue and one thread that turns
// saved tensors into event records, index files and other trial files.
// Layer: hook (core, io, storage). Internal to the hook (namespace tdbg::detail); this is the
// type-erased hook→writer hand-off of the architecture.
//
// Per step the writer appends records to the step's event file (created at the step's first
// record), then at the end of the step commits the event file and only then writes the index
// file, both through storage::backend::create/commit (local files: "<key>.tmp" + rename), so an
// index file never appears before its event file. Reductions are computed here, not on the
// training thread. The first error is kept and handed to the training thread (take_error); the
// rest of a failed step is dropped and the next step starts afresh.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "tdbg/core/reduce.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/io/event.hpp"
#include "tdbg/io/index_file.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/io/tfrecord.hpp"
#include "tdbg/storage/backend.hpp"

namespace tdbg::detail {

/// Buffers of tensors already written, handed back to the training thread for its next copies:
/// a save then writes into memory that is already mapped (no page faults, no munmap/TLB
/// shootdowns from the writer thread), which is what keeps `save` close to one memcpy.
class buffer_pool {
 public:
  explicit buffer_pool(std::uint64_t max_bytes) : max_bytes_(max_bytes) {}

  /// A buffer of capacity in [n, 2n + 4096], or an empty one if none is free.
  [[nodiscard]] aligned_buffer take(std::size_t n) {
    std::lock_guard lock(mutex_);
    std::size_t best = free_.size();
    for (std::size_t i = 0; i < free_.size(); ++i) {
      const std::size_t c = free_[i].capacity();
      if (c >= n && c <= 2 * n + 4096 && (best == free_.size() || c < free_[best].capacity())) best = i;
    }
    if (best == free_.size()) return {};
    aligned_buffer b = std::move(free_[best]);
    free_[best] = std::move(free_.back());
    free_.pop_back();
    bytes_ -= b.capacity();
    return b;
  }

  /// Keeps `b` for reuse unless the pool is full (then it is freed).
  void give(aligned_buffer&& b) {
    if (b.capacity() == 0) return;
    std::lock_guard lock(mutex_);
    if (bytes_ + b.capacity() > max_bytes_) return;
    bytes_ += b.capacity();
    free_.push_back(std::move(b));
  }

 private:
  std::mutex mutex_;
  std::vector<aligned_buffer> free_;
  std::uint64_t bytes_ = 0;
  std::uint64_t max_bytes_;
};

/// What to write for one saved tensor at one step.
struct tensor_job {
  step_t step = 0;
  mode m = mode::global;
  step_t mode_step = 0;
  double wall_time = 0;
  std::string name;
  /// The hook's single copy of the saved tensor, shared with the hook's observers (in-process
  /// rules); never null in a queued job. Its buffer is recycled only when the job is its last owner.
  std::shared_ptr<tensor> value;
  std::vector<reduction> reductions;  ///< in file order, each once
  bool raw = true;
  bool shape = false;
};

/// Closes a step: commit its event file, then write its index file.
struct end_step_job {
  step_t step = 0;
};

/// A whole small file (collections file, end marker).
struct put_job {
  std::string key;
  std::string content;
};

using writer_job = std::variant<tensor_job, end_step_job, put_job>;

/// The writer's state of the step being written.
struct open_step {
  step_t step = 0;
  bool failed = false;
  std::unique_ptr<storage::output_file> event;
  std::uint64_t offset = 0;
  io::index_file index;
  bool has_meta = false;
};

class hook_writer {
 public:
  hook_writer(storage::backend& b, std::string worker, std::uint64_t capacity_bytes, bool drop_when_full)
      : backend_(b), worker_(std::move(worker)), capacity_(capacity_bytes), drop_(drop_when_full),
        thread_([this] { run(); }) {}

  hook_writer(const hook_writer&) = delete;
  hook_writer& operator=(const hook_writer&) = delete;
  ~hook_writer() { stop(); }

  /// Queues a tensor. When the queue is full: waits (block policy) or drops it and counts it
  /// (drop policy; returns false). A tensor larger than the whole capacity waits for an empty queue.
  bool push_tensor(tensor_job&& j) {
    const std::uint64_t bytes = job_bytes(j);
    std::unique_lock lock(mutex_);
    if (drop_) {
      if (queued_bytes_ != 0 && queued_bytes_ + bytes > capacity_) {
        ++dropped_;
        return false;
      }
    } else {
      space_.wait(lock, [&] { return queued_bytes_ == 0 || queued_bytes_ + bytes <= capacity_; });
    }
    queued_bytes_ += bytes;
    queue_.emplace_back(std::move(j), bytes);
    work_.notify_one();
    return true;
  }

  /// Queues a control job (never dropped, not counted against the capacity).
  void push(writer_job&& j) {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(std::move(j), 0);
    work_.notify_one();
  }

  /// Waits until everything queued so far has been written (or failed).
  void drain() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }

  /// Drains the queue and ends the thread. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      work_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

  /// The first error not yet reported, if any (and forgets it).
  [[nodiscard]] std::optional<std::string> take_error() {
    std::lock_guard lock(mutex_);
    auto e = std::move(error_);
    error_.reset();
    return e;
  }
  [[nodiscard]] bool has_error() const {
    std::lock_guard lock(mutex_);
    return error_.has_value();
  }

  [[nodiscard]] std::uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }
  /// The pool of recycled tensor buffers (the training thread takes, the writer gives).
  [[nodiscard]] buffer_pool& pool() noexcept { return pool_; }

  [[nodiscard]] std::uint64_t queued_bytes() const {
    std::lock_guard lock(mutex_);
    return queued_bytes_;
  }
  [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }

 private:
  static std::uint64_t job_bytes(const tensor_job& j) {
    if (!j.value) return j.name.size() + 64;
    std::uint64_t n = j.value->bytes().size() + j.name.size() + 64;
    for (const auto& s : j.value->strings()) n += s.size() + 8;
    return n;
  }

  void run() {
    for (;;) {
      std::pair<writer_job, std::uint64_t> item;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) break;  // stopping and drained
        item = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
      }
      std::visit([&](auto& j) { handle(j); }, item.first);
      if (auto* t = std::get_if<tensor_job>(&item.first)) recycle(std::move(t->value));
      {
        std::lock_guard lock(mutex_);
        queued_bytes_ -= item.second;
        busy_ = false;
        space_.notify_all();
        if (queue_.empty()) idle_.notify_all();
      }
    }
    // Nothing may stay half-written: an open step is closed as end_step would.
    if (step_) handle(end_step_job{step_->step});
    std::lock_guard lock(mutex_);
    idle_.notify_all();
  }

  /// Gives the buffer of a written tensor to the pool when nobody else (an observer of the
  /// hook) still holds the tensor; otherwise the last owner frees it.
  void recycle(std::shared_ptr<tensor>&& v) {
    if (!v || v.use_count() != 1) return;
    // Whoever held it before released it (their reads happen-before their release); pair it.
    std::atomic_thread_fence(std::memory_order_acquire);
    pool_.give(std::move(*v).take_storage());
    v.reset();
  }

  void fail(const std::string& key, const std::exception& e) {
    std::string msg = dynamic_cast<const io_error*>(&e) != nullptr
                          ? std::string(e.what())
                          : backend_.describe(key) + ": " + e.what();
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(msg);
  }

  void write_record(open_step& s, const std::string& tag, const tensor_ref& v, const tensor_job& j) {
    if (!s.event) s.event = backend_.create(io::event_file_key(j.step, worker_));
    record_.clear();  // the event is encoded straight into its record: the content is copied once
    const std::size_t at = io::begin_record(record_);
    io::encode_tensor_event(record_, j.wall_time, j.step, tag, v, j.m, j.mode_step);
    io::end_record(record_, at);
    s.event->write(record_);
    s.index.tensor_payload.push_back(io::index_entry{tag, s.offset, record_.size()});
    s.offset += record_.size();
  }

  void handle(tensor_job& j) {
    if (!j.value) return;  // the hook never queues one; a job without a tensor writes nothing
    if (step_ && step_->step != j.step) handle(end_step_job{step_->step});
    if (!step_) {
      step_.emplace();
      step_->step = j.step;
    }
    open_step& s = *step_;
    if (s.failed) return;
    try {
      if (!s.has_meta) {  // the index meta comes from the first entry (spec §4)
        s.index.mode = j.m;
        s.index.mode_step = j.mode_step;
        s.has_meta = true;
      }
      const tensor_ref v = j.value->ref();
      for (reduction r : j.reductions) {
        const tensor red = reduction_tensor(v, r);
        write_record(s, io::reduction_tensor_name(j.name, r), red.ref(), j);
      }
      if (j.raw) write_record(s, j.name, v, j);
      if (j.shape) s.index.shape_payload.push_back(io::shape_entry{j.name, j.name, j.value->shape()});
    } catch (const std::exception& e) {
      s.failed = true;
      s.event.reset();  // the uncommitted .tmp stays; nothing is published for this step
      fail(io::event_file_key(j.step, worker_), e);
    }
  }

  void handle(const end_step_job& j) {
    if (!step_ || step_->step != j.step) return;  // nothing was written in that step
    open_step s = std::move(*step_);
    step_.reset();
    if (s.failed) return;
    std::string key = io::event_file_key(s.step, worker_);
    try {
      if (s.event) {
        s.event->commit();
        s.index.event_file_name = key;
      }
      if (s.event || !s.index.shape_payload.empty()) {
        key = io::index_file_key(s.step, worker_);
        const std::string json = io::to_json(s.index);
        backend_.put(key, std::as_bytes(std::span<const char>(json.data(), json.size())));
      }
    } catch (const std::exception& e) {
      fail(key, e);
    }
  }

  void handle(put_job& j) {
    try {
      backend_.put(j.key, std::as_bytes(std::span<const char>(j.content.data(), j.content.size())));
    } catch (const std::exception& e) {
      fail(j.key, e);
    }
  }

  storage::backend& backend_;
  std::string worker_;
  std::uint64_t capacity_;
  bool drop_;

  mutable std::mutex mutex_;
  std::condition_variable work_, space_, idle_;
  std::deque<std::pair<writer_job, std::uint64_t>> queue_;
  std::uint64_t queued_bytes_ = 0;
  std::uint64_t dropped_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::optional<std::string> error_;
  buffer_pool pool_{capacity_ / 2};

  // Writer-thread state.
  std::optional<open_step> step_;
  std::vector<std::byte> record_;  // reused: one encoded record at a time

  std::thread thread_;  // last: started after every other member is ready
};

}  // namespace tdbg::detail
