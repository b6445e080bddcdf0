// tdbg/storage/backend.hpp — the storage backend interface a trial reads through and a hook
// writes through. Layer: storage (depends on core only).
//
// Keys are '/'-separated paths relative to the trial root ("index/000000000/..._worker_0.json").
// This is one of tdbg's three type-erased boundaries (virtual calls): backends are chosen at run
// time (local directory, in-memory, S3), everything above them is templates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/error.hpp"

namespace tdbg::storage {

/// A file being written. Its bytes become visible under its key only at commit() (atomically:
/// local files are written as "<key>.tmp" and renamed). Destroying an uncommitted file leaves
/// whatever was written in place under its temporary name (nothing written is lost) but never
/// publishes it under the final key.
class output_file {
 public:
  virtual ~output_file() = default;
  /// Appends bytes. Throws io_error naming the file on failure.
  virtual void write(std::span<const std::byte> data) = 0;
  /// Makes the whole file visible under its key. Throws io_error on failure. Idempotent.
  virtual void commit() = 0;
  /// The key the file will have.
  [[nodiscard]] virtual const std::string& key() const noexcept = 0;
};

/// Read (and optionally write) access to one trial's storage.
class backend {
 public:
  virtual ~backend() = default;

  /// All keys that start with `prefix` and sort strictly after `start_after` (if non-empty),
  /// in lexicographic (byte) order. Recursive. Includes temporary files ("*.tmp"): callers
  /// filter by name. A missing prefix lists nothing.
  [[nodiscard]] virtual std::vector<std::string> list(std::string_view prefix,
                                                      std::string_view start_after = {}) const = 0;

  /// Up to `length` bytes of `key` starting at `offset`. Fewer bytes (possibly none) when the
  /// object is shorter (a file still being written). Throws io_error if the key does not exist.
  [[nodiscard]] virtual std::vector<std::byte> read(std::string_view key, std::uint64_t offset,
                                                    std::uint64_t length) const = 0;

  /// The whole object. Throws io_error if the key does not exist.
  [[nodiscard]] virtual std::vector<std::byte> read_all(std::string_view key) const = 0;

  /// Whether `key` exists.
  [[nodiscard]] virtual bool exists(std::string_view key) const = 0;

  /// Opens `key` for writing (see output_file). Throws io_error if the backend is read-only.
  [[nodiscard]] virtual std::unique_ptr<output_file> create(std::string_view key) = 0;

  /// Creates `key` atomically with the given content, replacing any existing object. Used for
  /// small files: the end marker, a stop request.
  virtual void put(std::string_view key, std::span<const std::byte> data) {
    auto f = create(key);
    f->write(data);
    f->commit();
  }

  /// A human-readable location for messages ("/runs/exp1", "memory:", "s3://b/p").
  [[nodiscard]] virtual std::string describe() const = 0;

  /// A human-readable location of a key, for error messages ("/runs/exp1/index/...").
  [[nodiscard]] virtual std::string describe(std::string_view key) const {
    return describe() + "/" + std::string(key);
  }
};

/// Reads a whole object as text.
[[nodiscard]] inline std::string read_text(const backend& b, std::string_view key) {
  const auto bytes = b.read_all(key);
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace tdbg::storage
