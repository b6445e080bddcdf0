// The io layer against real smdebug trials (tests/data/smdebug): every complete record of every
// event file re-encodes to identical bytes and matches the independent listing in records.json
// and the index files; every index and collections JSON file re-serialises byte for byte.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io_test_util.hpp"
#include "tdbg/io/collections_file.hpp"
#include "tdbg/io/event.hpp"
#include "tdbg/io/index_file.hpp"
#include "tdbg/io/paths.hpp"
#include "tdbg/io/tfrecord.hpp"

namespace fs = std::filesystem;
using namespace io_test;
namespace tio = tdbg::io;

namespace {

const fs::path fixtures = fs::path(TDBG_TEST_DATA) / "smdebug";

std::vector<fs::path> trials() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fixtures))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> files_under(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct decoded_record {
  std::uint64_t offset;
  tio::record_view rec;
  tio::tensor_event ev;
};

/// Reads every complete record; `stop` is where reading ended (file size if all complete).
std::vector<decoded_record> read_all(const bytes& file, const std::string& name, std::uint64_t& stop) {
  std::vector<decoded_record> out;
  std::uint64_t off = 0;
  while (off < file.size()) {
    const auto rec = tio::read_record(std::span<const std::byte>(file).subspan(off), name, off);
    if (!rec) break;
    out.push_back({off, *rec, tio::decode_tensor_event(rec->payload, name + ": offset " + std::to_string(off))});
    off += rec->size;
  }
  stop = off;
  return out;
}

}  // namespace

TEST_CASE("fixtures are present", "[io][fixtures]") {
  const auto t = trials();
  REQUIRE(t.size() == 4);
  for (const auto& dir : t) CHECK(fs::exists(dir / "records.json"));
}

TEST_CASE("every complete record of every fixture re-encodes to identical bytes", "[io][fixtures]") {
  std::size_t records = 0, listed_records = 0, tmp_records = 0, files = 0, truncated_files = 0, tmp_files = 0;
  for (const auto& trial : trials()) {
    const auto listing = nlohmann::json::parse(read_text(trial / "records.json"));
    // TRUNCATION.txt: "<rel> truncated to N bytes (record #k spans [A, B))".
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> truncation;  // rel -> {size, A}
    if (fs::exists(trial / "TRUNCATION.txt")) {
      const std::string t = read_text(trial / "TRUNCATION.txt");
      std::smatch m;
      REQUIRE(std::regex_search(t, m, std::regex(R"((\S+) truncated to (\d+) bytes \(record #\d+ spans \[(\d+), (\d+)\)\))")));
      truncation[m[1]] = {std::stoull(m[2]), std::stoull(m[3])};
    }
    for (const auto& path : files_under(trial / "events", ".tfevents")) {
      const std::string rel = fs::relative(path, trial).generic_string();
      CAPTURE(trial.filename().string(), rel);
      const bytes file = read_file(path);
      std::uint64_t stop = 0;
      const auto recs = read_all(file, rel, stop);
      ++files;
      if (auto t = truncation.find(rel); t != truncation.end()) {
        ++truncated_files;
        CHECK(file.size() == t->second.first);
        CHECK(stop == t->second.second);  // nullopt exactly at the cut record
        CHECK(stop < file.size());
      } else {
        CHECK(stop == file.size());
      }
      for (const auto& r : recs) {
        CAPTURE(r.offset, r.ev.tag);
        REQUIRE(r.ev.mode.has_value());
        REQUIRE(r.ev.mode_step.has_value());
        bytes payload, framed;
        tio::encode_tensor_event(payload, r.ev.wall_time, r.ev.step, r.ev.tag, r.ev.value.ref(),
                                 *r.ev.mode, *r.ev.mode_step);
        tio::append_record(framed, payload);
        REQUIRE(framed.size() == r.rec.size);
        REQUIRE(std::equal(framed.begin(), framed.end(), file.begin() + static_cast<std::ptrdiff_t>(r.offset)));
        CHECK_FALSE(r.rec.footer_is_payload_crc);
        // The event file's step is in its name and in Event.step.
        const auto parsed = tio::parse_step_file_name(rel);
        REQUIRE(parsed);
        CHECK(r.ev.step == parsed->step);
        CHECK(parsed->worker == "worker_0");
        ++records;
      }

      // Cross-check against records.json (an independent listing of the same bytes).
      if (!listing.contains(rel)) continue;
      const auto& listed = listing.at(rel);
      std::size_t i = 0;
      for (const auto& l : listed) {
        if (l.contains("error")) {
          CHECK(l.at("offset").get<std::uint64_t>() == stop);
          continue;
        }
        ++listed_records;
        REQUIRE(i < recs.size());
        const auto& r = recs[i++];
        CHECK(l.at("offset").get<std::uint64_t>() == r.offset);
        CHECK(l.at("length").get<std::uint64_t>() == r.rec.size);
        CHECK(l.at("payload_len").get<std::uint64_t>() == r.rec.payload.size());
        CHECK(l.at("footer").get<std::string>() == "magic");
        CHECK(l.at("wall_time").get<double>() == r.ev.wall_time);
        CHECK(l.value("step", std::int64_t{0}) == r.ev.step);
        const auto& s = l.at("summary").at(0);
        CHECK(s.at("tag").get<std::string>() == r.ev.tag);
        const auto& t = s.at("tensor");
        const int code = t.value("dtype", 0);
        CHECK(code == tdbg::to_tf_code(r.ev.value.dtype()));
        std::vector<std::int64_t> dims;
        for (const auto& d : t.at("dims")) {
          dims.push_back(d.at("size").get<std::int64_t>());
          CHECK(d.at("name").get<std::string>() == r.ev.tag + "_" + std::to_string(dims.back()));
        }
        CHECK(dims == r.ev.value.shape());
        CHECK(t.at("string_val").get<std::vector<std::string>>() == r.ev.value.strings());
        CHECK(t.value("tensor_content_len", std::size_t{0}) == r.ev.value.bytes().size());
        const auto& plugins = s.at("plugin_data");
        REQUIRE(plugins.size() == 2);
        CHECK(plugins.at(0).at("plugin_name") == "mode_step");
        CHECK(plugins.at(0).at("content").get<std::string>() == std::to_string(*r.ev.mode_step));
        CHECK(plugins.at(1).at("plugin_name") == "mode");
        CHECK(plugins.at(1).at("content").get<std::string>() == std::to_string(static_cast<int>(*r.ev.mode)));
      }
      CHECK(i == recs.size());
    }
    for (const auto& path : files_under(trial / "events", ".tfevents.tmp")) {
      // A file still being written: its complete records re-encode too.
      const std::string rel = fs::relative(path, trial).generic_string();
      CAPTURE(rel);
      const bytes file = read_file(path);
      std::uint64_t stop = 0;
      const auto recs = read_all(file, rel, stop);
      CHECK(stop <= file.size());
      CHECK_FALSE(recs.empty());
      for (const auto& r : recs) {
        bytes payload, framed;
        tio::encode_tensor_event(payload, r.ev.wall_time, r.ev.step, r.ev.tag, r.ev.value.ref(),
                                 *r.ev.mode, *r.ev.mode_step);
        tio::append_record(framed, payload);
        REQUIRE(std::equal(framed.begin(), framed.end(), file.begin() + static_cast<std::ptrdiff_t>(r.offset),
                           file.begin() + static_cast<std::ptrdiff_t>(r.offset + r.rec.size)));
        ++tmp_records;
      }
      ++tmp_files;
    }
  }
  CHECK(files == 11 + 2 + 14 + 11);
  CHECK(truncated_files == 1);
  CHECK(tmp_files == 1);
  CHECK(records == listed_records);  // records.json lists every complete record of the final files
  CHECK(records > 1000);
  CHECK(tmp_records > 0);
}

TEST_CASE("index entries point at records with their tag", "[io][fixtures]") {
  std::size_t entries = 0;
  for (const auto& trial : trials()) {
    for (const auto& path : files_under(trial / "index", ".json")) {
      const std::string rel = fs::relative(path, trial).generic_string();
      CAPTURE(rel);
      const auto idx = tio::parse_index_file(read_text(path), rel);
      const auto name = tio::parse_step_file_name(rel);
      REQUIRE(name);
      CHECK(tio::index_file_key(name->step, name->worker) == rel);
      REQUIRE(idx.event_file_name);
      CHECK(*idx.event_file_name == tio::event_file_key(name->step, name->worker));
      const fs::path ev = trial / *idx.event_file_name;
      if (!fs::exists(ev)) continue;
      const bytes file = read_file(ev);
      for (const auto& e : idx.tensor_payload) {
        CAPTURE(e.tensorname, e.start_idx);
        if (e.start_idx + e.length > file.size()) continue;  // the in_progress fixture's cut record
        const auto rec = tio::read_record(std::span<const std::byte>(file).subspan(e.start_idx),
                                          *idx.event_file_name, e.start_idx);
        REQUIRE(rec);
        CHECK(rec->size == e.length);
        const auto evt = tio::decode_tensor_event(rec->payload, *idx.event_file_name);
        CHECK(evt.tag == e.tensorname);
        CHECK(evt.mode == idx.mode);
        CHECK(evt.mode_step == idx.mode_step);
        ++entries;
      }
    }
  }
  CHECK(entries > 1000);
}

TEST_CASE("every index and collections file re-serialises byte for byte", "[io][fixtures]") {
  std::size_t index_files = 0, collection_files = 0;
  for (const auto& trial : trials()) {
    for (const auto& path : files_under(trial / "index", ".json")) {
      const std::string rel = fs::relative(path, trial).generic_string();
      CAPTURE(rel);
      const std::string text = read_text(path);
      CHECK(tio::to_json(tio::parse_index_file(text, rel)) == text);
      ++index_files;
    }
    for (const auto& path : files_under(trial / "index", ".json.tmp")) {
      // The live fixture's index .tmp is still empty: not a valid index file.
      CHECK_THROWS_AS(tio::parse_index_file(read_text(path), path.string()), tdbg::index_reader_error);
    }
    for (const auto& path : files_under(trial / "collections", "_collections.json")) {
      const std::string rel = fs::relative(path, trial).generic_string();
      CAPTURE(rel);
      const std::string text = read_text(path);
      const auto parsed = tio::parse_collections_file(text, rel);
      CHECK(tio::to_json(parsed) == text);
      CHECK(tio::parse_collections_file_name(rel) == "worker_0");
      CHECK(tio::collections_file_key("worker_0") == rel);
      CHECK(parsed.num_workers == 1);
      CHECK_FALSE(parsed.collections.empty());
      ++collection_files;
    }
  }
  CHECK(index_files == 11 + 2 + 14 + 11);
  CHECK(collection_files == 4);
}

TEST_CASE("stored reduction names of the reductions_only fixture parse", "[io][fixtures]") {
  const auto trial = fixtures / "reductions_only";
  std::size_t reductions = 0;
  for (const auto& path : files_under(trial / "index", ".json")) {
    const auto idx = tio::parse_index_file(read_text(path), path.string());
    for (const auto& e : idx.tensor_payload) {
      const auto r = tio::parse_reduction_tensor_name(e.tensorname);
      if (e.tensorname.rfind("smdebug/reductions/", 0) != 0) {
        CHECK_FALSE(r);
        continue;
      }
      REQUIRE(r);
      CHECK(tio::reduction_tensor_name(r->tensor, r->red) == e.tensorname);
      ++reductions;
    }
  }
  CHECK(reductions > 100);
}
