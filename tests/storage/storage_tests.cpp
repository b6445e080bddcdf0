// Tests of the storage backends (local directory, memory): listing with prefix and start_after,
// ranged reads including short reads, ".tmp" + rename visibility, memory invisibility before commit.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "tdbg/storage/local.hpp"
#include "tdbg/storage/memory.hpp"

namespace fs = std::filesystem;
using tdbg::storage::backend;
using tdbg::storage::local_backend;
using tdbg::storage::memory_backend;

namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}

std::string text_of(const std::vector<std::byte>& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("tdbg_storage_" + std::to_string(rd()) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

void put(backend& b, std::string_view key, std::string_view content) { b.put(key, bytes_of(content)); }

// The same contract checks, run against both backends.
void check_backend_contract(backend& b) {
  put(b, "index/000000000/000000000005_worker_0.json", "five");
  put(b, "index/000000000/000000000000_worker_0.json", "zero");
  put(b, "index/000000001/000000001000_worker_0.json", "thousand");
  put(b, "events/000000000000/000000000000_worker_0.tfevents", "0123456789");
  put(b, "indexing.txt", "not under index/");

  SECTION("list is recursive, sorted and filtered by prefix") {
    const auto all = b.list("index/");
    REQUIRE(all == std::vector<std::string>{"index/000000000/000000000000_worker_0.json",
                                            "index/000000000/000000000005_worker_0.json",
                                            "index/000000001/000000001000_worker_0.json"});
    CHECK(b.list("index/000000001/") ==
          std::vector<std::string>{"index/000000001/000000001000_worker_0.json"});
    CHECK(b.list("nothing/").empty());
    // A prefix that is not a directory boundary still filters by string prefix.
    CHECK(b.list("index").size() == 4);
  }
  SECTION("start_after keeps keys strictly after it") {
    CHECK(b.list("index/", "index/000000000/000000000000_worker_0.json") ==
          std::vector<std::string>{"index/000000000/000000000005_worker_0.json",
                                   "index/000000001/000000001000_worker_0.json"});
    CHECK(b.list("index/", "index/000000001/000000001000_worker_0.json").empty());
    // A start_after before the prefix lists everything under the prefix.
    CHECK(b.list("index/", "a").size() == 3);
  }
  SECTION("ranged reads, short reads and missing keys") {
    const std::string key = "events/000000000000/000000000000_worker_0.tfevents";
    CHECK(text_of(b.read(key, 2, 3)) == "234");
    CHECK(text_of(b.read(key, 7, 100)) == "789");  // short read: the object is shorter
    CHECK(b.read(key, 10, 5).empty());             // at the end
    CHECK(b.read(key, 1000, 5).empty());           // past the end
    CHECK(text_of(b.read_all(key)) == "0123456789");
    CHECK(b.exists(key));
    CHECK_FALSE(b.exists("events/nope"));
    CHECK_THROWS_AS(b.read("events/nope", 0, 1), tdbg::io_error);
    CHECK_THROWS_AS(b.read_all("events/nope"), tdbg::io_error);
  }
  SECTION("a file becomes visible only at commit, and put replaces") {
    auto f = b.create("collections/000000000/worker_0_collections.json");
    f->write(bytes_of("{\"a\": "));
    f->write(bytes_of("1}"));
    CHECK_FALSE(b.exists("collections/000000000/worker_0_collections.json"));
    for (const auto& k : b.list("collections/"))
      CHECK(k != "collections/000000000/worker_0_collections.json");
    f->commit();
    f->commit();  // idempotent
    CHECK(b.exists("collections/000000000/worker_0_collections.json"));
    CHECK(text_of(b.read_all("collections/000000000/worker_0_collections.json")) == "{\"a\": 1}");
    CHECK_THROWS_AS(f->write(bytes_of("x")), tdbg::io_error);
    put(b, "collections/000000000/worker_0_collections.json", "new");
    CHECK(text_of(b.read_all("collections/000000000/worker_0_collections.json")) == "new");
  }
}

}  // namespace

TEST_CASE("memory_backend follows the backend contract", "[storage]") {
  memory_backend b;
  check_backend_contract(b);
}

TEST_CASE("local_backend follows the backend contract", "[storage]") {
  temp_dir d;
  local_backend b(d.path);
  check_backend_contract(b);
}

TEST_CASE("local_backend writes <key>.tmp and renames it at commit", "[storage]") {
  temp_dir d;
  local_backend b(d.path);
  const std::string key = "index/000000000/000000000005_worker_0.json";
  {
    auto f = b.create(key);
    f->write(bytes_of("partial"));
    // Before commit: the temporary file exists on disk and is listed (callers filter *.tmp),
    // the final key does not exist.
    CHECK(fs::exists(d.path / (key + ".tmp")));
    CHECK_FALSE(b.exists(key));
    CHECK(b.list("index/") == std::vector<std::string>{key + ".tmp"});
    f->commit();
    CHECK(b.exists(key));
    CHECK_FALSE(fs::exists(d.path / (key + ".tmp")));
    CHECK(b.list("index/") == std::vector<std::string>{key});
  }
  {
    // Destroyed without commit: the .tmp stays (nothing written is lost), nothing is published.
    auto f = b.create("events/000000000010/000000000010_worker_0.tfevents");
    f->write(bytes_of("abc"));
  }
  CHECK_FALSE(b.exists("events/000000000010/000000000010_worker_0.tfevents"));
  CHECK(text_of(b.read_all("events/000000000010/000000000010_worker_0.tfevents.tmp")) == "abc");
}

TEST_CASE("local_backend reads a growing file and a missing root", "[storage]") {
  temp_dir d;
  local_backend missing(d.path / "not_yet");
  CHECK(missing.list("index/").empty());
  CHECK_FALSE(missing.exists("training_job_end.ts"));

  local_backend b(d.path);
  fs::create_directories(d.path / "events");
  {
    std::ofstream out(d.path / "events" / "f", std::ios::binary);
    out << "abc";
  }
  CHECK(text_of(b.read("events/f", 1, 10)) == "bc");  // short read while the file is written
  {
    std::ofstream out(d.path / "events" / "f", std::ios::binary | std::ios::app);
    out << "defg";
  }
  CHECK(text_of(b.read("events/f", 1, 10)) == "bcdefg");
  CHECK(b.describe("events/f") == (d.path / "events" / "f").string());
}

TEST_CASE("memory_backend: erase, assign and uncommitted files", "[storage]") {
  memory_backend b;
  {
    auto f = b.create("a/b");
    f->write(bytes_of("never committed"));
  }
  CHECK_FALSE(b.exists("a/b"));
  CHECK(b.list("a/").empty());
  b.assign("a/b", bytes_of("xy"));
  CHECK(b.list("a/") == std::vector<std::string>{"a/b"});
  CHECK(b.total_bytes() == 2);
  CHECK(b.erase("a/b"));
  CHECK_FALSE(b.erase("a/b"));
  CHECK_FALSE(b.exists("a/b"));
  CHECK(b.describe("a/b") == "memory:a/b");
}
