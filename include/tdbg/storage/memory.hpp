// tdbg/storage/memory.hpp — a trial held in memory (tests, benchmarks, in-process pipelines).
// Layer: storage. Thread-safe: a hook may write while a trial reads.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>

#include "tdbg/storage/backend.hpp"

namespace tdbg::storage {

/// A trial whose objects live in a map. Objects being written are invisible until committed
/// (like the .tmp files of a local trial), so readers see the same states as on disk.
class memory_backend final : public backend {
 public:
  memory_backend() = default;

  [[nodiscard]] std::vector<std::string> list(std::string_view prefix,
                                              std::string_view start_after = {}) const override {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    auto it = start_after.empty() ? objects_.lower_bound(prefix) : objects_.upper_bound(start_after);
    if (!start_after.empty() && start_after < prefix) it = objects_.lower_bound(prefix);
    for (; it != objects_.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) {
        if (it->first > prefix) break;
        continue;
      }
      out.push_back(it->first);
    }
    return out;
  }

  [[nodiscard]] std::vector<std::byte> read(std::string_view key, std::uint64_t offset,
                                            std::uint64_t length) const override {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key);
    if (it == objects_.end()) throw io_error(describe(key) + ": no such object");
    const auto& d = *it->second;
    if (offset >= d.size()) return {};
    const auto n = std::min<std::uint64_t>(length, d.size() - offset);
    return {d.begin() + static_cast<std::ptrdiff_t>(offset),
            d.begin() + static_cast<std::ptrdiff_t>(offset + n)};
  }

  [[nodiscard]] std::vector<std::byte> read_all(std::string_view key) const override {
    return read(key, 0, UINT64_MAX);
  }

  [[nodiscard]] bool exists(std::string_view key) const override {
    std::lock_guard lock(mutex_);
    return objects_.find(key) != objects_.end();
  }

  [[nodiscard]] std::unique_ptr<output_file> create(std::string_view key) override {
    return std::make_unique<file>(*this, std::string(key));
  }

  /// Removes an object (tests use it to simulate deletion); returns whether it existed.
  bool erase(std::string_view key) {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key);
    if (it == objects_.end()) return false;
    objects_.erase(it);
    return true;
  }

  /// Replaces an object directly (tests use it to write crafted or truncated files).
  void assign(std::string_view key, std::vector<std::byte> data) {
    std::lock_guard lock(mutex_);
    objects_[std::string(key)] = std::make_shared<const std::vector<std::byte>>(std::move(data));
  }

  /// Total bytes held.
  [[nodiscard]] std::uint64_t total_bytes() const {
    std::lock_guard lock(mutex_);
    std::uint64_t n = 0;
    for (const auto& [k, v] : objects_) n += v->size();
    return n;
  }

  /// Zero-copy access to a committed object (benchmarks read straight from it).
  [[nodiscard]] std::shared_ptr<const std::vector<std::byte>> object(std::string_view key) const {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key);
    if (it == objects_.end()) throw io_error(describe(key) + ": no such object");
    return it->second;
  }

  [[nodiscard]] std::string describe() const override { return "memory:"; }
  [[nodiscard]] std::string describe(std::string_view key) const override {
    return "memory:" + std::string(key);
  }

 private:
  class file final : public output_file {
   public:
    file(memory_backend& b, std::string key) : backend_(b), key_(std::move(key)) {}
    void write(std::span<const std::byte> data) override {
      if (committed_) throw io_error("memory:" + key_ + ": write after commit");
      buf_.insert(buf_.end(), data.begin(), data.end());
    }
    void commit() override {
      if (committed_) return;
      committed_ = true;
      backend_.assign(key_, std::move(buf_));
    }
    [[nodiscard]] const std::string& key() const noexcept override { return key_; }

   private:
    memory_backend& backend_;
    std::string key_;
    std::vector<std::byte> buf_;
    bool committed_ = false;
  };

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const std::vector<std::byte>>, std::less<>> objects_;
};

}  // namespace tdbg::storage
