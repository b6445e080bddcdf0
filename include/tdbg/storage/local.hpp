// tdbg/storage/local.hpp — a trial in a local directory.
// Layer: storage. Writing follows smdebug (spec §1.2): "<key>.tmp" first, renamed at commit.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "tdbg/storage/backend.hpp"

namespace tdbg::storage {

/// A trial directory on the local file system.
class local_backend final : public backend {
 public:
  /// `root` need not exist yet (a job may not have started); reads then find nothing.
  explicit local_backend(std::filesystem::path root) : root_(std::move(root)) {}

  [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }

  [[nodiscard]] std::vector<std::string> list(std::string_view prefix,
                                              std::string_view start_after = {}) const override {
    // Walk only the deepest directory that the prefix fully names.
    std::string dir(prefix.substr(0, prefix.rfind('/') == std::string_view::npos ? 0 : prefix.rfind('/')));
    std::vector<std::string> out;
    std::error_code ec;
    const auto base = dir.empty() ? root_ : root_ / dir;
    if (!std::filesystem::is_directory(base, ec)) return out;
    std::filesystem::recursive_directory_iterator it(
        base, std::filesystem::directory_options::skip_permission_denied, ec);
    if (ec) throw io_error(describe(dir) + ": cannot list: " + ec.message());
    for (const std::filesystem::recursive_directory_iterator end; it != end; it.increment(ec)) {
      if (ec) break;  // a directory removed while walking: list what was seen
      std::error_code fec;
      if (!it->is_regular_file(fec)) continue;
      std::string key = it->path().lexically_relative(root_).generic_string();
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      if (!start_after.empty() && !(std::string_view(key) > start_after)) continue;
      out.push_back(std::move(key));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  [[nodiscard]] std::vector<std::byte> read(std::string_view key, std::uint64_t offset,
                                            std::uint64_t length) const override {
    std::ifstream in(path(key), std::ios::binary);
    if (!in) throw io_error(describe(key) + ": cannot open: " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::uint64_t>(in.tellg());
    std::vector<std::byte> out;
    if (offset >= size) return out;
    const std::uint64_t n = std::min<std::uint64_t>(length, size - offset);
    out.resize(n);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
  }

  [[nodiscard]] std::vector<std::byte> read_all(std::string_view key) const override {
    return read(key, 0, UINT64_MAX);
  }

  [[nodiscard]] bool exists(std::string_view key) const override {
    std::error_code ec;
    return std::filesystem::exists(path(key), ec);
  }

  [[nodiscard]] std::unique_ptr<output_file> create(std::string_view key) override {
    return std::make_unique<file>(*this, std::string(key));
  }

  [[nodiscard]] std::string describe() const override { return root_.string(); }
  [[nodiscard]] std::string describe(std::string_view key) const override {
    return path(key).string();
  }

  /// The local path of a key.
  [[nodiscard]] std::filesystem::path path(std::string_view key) const { return root_ / std::filesystem::path(std::string(key)); }

 private:
  class file final : public output_file {
   public:
    file(const local_backend& b, std::string key) : key_(std::move(key)), final_(b.path(key_)) {
      tmp_ = final_;
      tmp_ += ".tmp";
      std::error_code ec;
      std::filesystem::create_directories(final_.parent_path(), ec);
      if (ec) throw io_error(final_.parent_path().string() + ": cannot create directory: " + ec.message());
      f_ = std::fopen(tmp_.c_str(), "wb");
      if (!f_) throw io_error(tmp_.string() + ": cannot create: " + std::strerror(errno));
    }
    ~file() override {
      if (f_) std::fclose(f_);  // uncommitted: the .tmp stays, nothing is lost or published
    }
    file(const file&) = delete;
    file& operator=(const file&) = delete;

    void write(std::span<const std::byte> data) override {
      if (!f_) throw io_error(final_.string() + ": write after commit");
      if (!data.empty() && std::fwrite(data.data(), 1, data.size(), f_) != data.size())
        throw io_error(tmp_.string() + ": write failed: " + std::strerror(errno));
    }
    void commit() override {
      if (!f_) return;
      const bool ok = std::fflush(f_) == 0;
      const int err = errno;
      std::fclose(f_);
      f_ = nullptr;
      if (!ok) throw io_error(tmp_.string() + ": write failed: " + std::strerror(err));
      std::error_code ec;
      std::filesystem::rename(tmp_, final_, ec);
      if (ec) throw io_error(tmp_.string() + ": cannot rename to " + final_.filename().string() + ": " + ec.message());
    }
    [[nodiscard]] const std::string& key() const noexcept override { return key_; }

   private:
    std::string key_;
    std::filesystem::path final_, tmp_;
    std::FILE* f_ = nullptr;
  };

  std::filesystem::path root_;
};

}  // namespace tdbg::storage
