// Helpers shared by the hook tests: decoding what a hook wrote, test backends.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tdbg/hook/hook.hpp"
#include "tdbg/io/io.hpp"
#include "tdbg/storage/memory.hpp"

namespace hook_test {

inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// One decoded record with its index entry.
struct decoded {
  tdbg::io::index_entry entry;
  tdbg::io::tensor_event event;
  std::vector<std::byte> payload;
};

/// The index file of (step, worker) and every record it points to, decoded; checks that each
/// entry is exactly one record whose tag is the entry's name and that records tile the file.
inline std::pair<tdbg::io::index_file, std::vector<decoded>> read_step(const tdbg::storage::backend& b,
                                                                         tdbg::step_t step,
                                                                         const std::string& worker = "worker_0") {
  const auto key = tdbg::io::index_file_key(step, worker);
  const auto idx = tdbg::io::parse_index_file(tdbg::storage::read_text(b, key), key);
  std::vector<decoded> out;
  if (!idx.event_file_name) {
    CHECK(idx.tensor_payload.empty());
    return {idx, out};
  }
  CHECK(*idx.event_file_name == tdbg::io::event_file_key(step, worker));
  const auto bytes = b.read_all(*idx.event_file_name);
  std::uint64_t expect_start = 0;
  for (const auto& e : idx.tensor_payload) {
    CHECK(e.start_idx == expect_start);
    REQUIRE(e.start_idx + e.length <= bytes.size());
    const auto rec = tdbg::io::read_record(std::span<const std::byte>(bytes).subspan(e.start_idx), *idx.event_file_name,
                                           e.start_idx);
    REQUIRE(rec);
    CHECK(rec->size == e.length);  // index length includes the 16 framing bytes
    CHECK(rec->payload.size() + 16 == e.length);
    decoded d{e, tdbg::io::decode_tensor_event(rec->payload, e.tensorname), {rec->payload.begin(), rec->payload.end()}};
    CHECK(d.event.tag == e.tensorname);
    CHECK(d.event.step == step);
    out.push_back(std::move(d));
    expect_start = e.start_idx + e.length;
  }
  CHECK(expect_start == bytes.size());
  return {idx, out};
}

/// A memory backend whose writes can be slowed down or made to fail.
class test_backend final : public tdbg::storage::backend {
 public:
  tdbg::storage::memory_backend mem;
  std::atomic<int> write_delay_ms{0};
  std::atomic<bool> fail_events{false};
  std::atomic<bool> fail_everything{false};
  std::atomic<int> creates{0};
  std::string fail_prefix;  ///< set before the hook starts: keys starting with it fail

  [[nodiscard]] std::vector<std::string> list(std::string_view p, std::string_view s = {}) const override {
    return mem.list(p, s);
  }
  [[nodiscard]] std::vector<std::byte> read(std::string_view k, std::uint64_t o, std::uint64_t l) const override {
    return mem.read(k, o, l);
  }
  [[nodiscard]] std::vector<std::byte> read_all(std::string_view k) const override { return mem.read_all(k); }
  [[nodiscard]] bool exists(std::string_view k) const override { return mem.exists(k); }
  [[nodiscard]] std::string describe() const override { return "test:"; }
  [[nodiscard]] std::string describe(std::string_view k) const override { return "test:" + std::string(k); }

  [[nodiscard]] std::unique_ptr<tdbg::storage::output_file> create(std::string_view key) override {
    ++creates;
    if (fail_everything || (fail_events && key.starts_with("events/")) ||
        (!fail_prefix.empty() && key.starts_with(fail_prefix)))
      throw tdbg::io_error("test:" + std::string(key) + ": cannot create: disk full");
    return std::make_unique<slow_file>(*this, mem.create(key));
  }

 private:
  class slow_file final : public tdbg::storage::output_file {
   public:
    slow_file(test_backend& b, std::unique_ptr<tdbg::storage::output_file> f) : b_(b), f_(std::move(f)) {}
    void write(std::span<const std::byte> d) override {
      if (const int ms = b_.write_delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      f_->write(d);
    }
    void commit() override { f_->commit(); }
    [[nodiscard]] const std::string& key() const noexcept override { return f_->key(); }

   private:
    test_backend& b_;
    std::unique_ptr<tdbg::storage::output_file> f_;
  };
};

/// A fresh empty directory under the test binary dir.
inline std::filesystem::path temp_dir(const std::string& name) {
  const auto p = std::filesystem::path(TDBG_TEST_BINARY_DIR) / "tmp" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

/// Sets an environment variable for the scope.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~scoped_env() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace hook_test
