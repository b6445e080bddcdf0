// Tests of tdbg/io/{py_json,index_file,collections_file}.hpp: Python json.dumps escaping and
// layout (expected strings are what CPython 3 prints), parsing defaults and errors.
#include <catch2/catch.hpp>

#include "io_test_util.hpp"

#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "tdbg/io/collections_file.hpp"
#include "tdbg/io/index_file.hpp"
#include "tdbg/io/py_json.hpp"

namespace tio = tdbg::io;
using tdbg::mode;

namespace {
std::string py(std::string_view s) {
  std::string out;
  tio::append_py_json_string(out, s);
  return out;
}
}  // namespace

TEST_CASE("json.dumps string escaping (ensure_ascii)", "[io][json]") {
  CHECK(py("MLP_fc1.weight") == R"("MLP_fc1.weight")");
  CHECK(py("") == R"("")");
  CHECK(py("a\"b\\c/d") == R"("a\"b\\c/d")");
  CHECK(py("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  CHECK(py(std::string("\x00\x01\x1f\x7f", 4)) == R"("\u0000\u0001\u001f\u007f")");
  CHECK(py("caf\xc3\xa9") == R"("caf\u00e9")");
  CHECK(py("\xe2\x82\xac") == R"("\u20ac")");
  CHECK(py("\xef\xbf\xbf") == R"("\uffff")");
  CHECK(py("\xf0\x9f\x98\x80") == R"("\ud83d\ude00")");
  CHECK(py("\xf4\x8f\xbf\xbf") == R"("\udbff\udfff")");
  CHECK(py("^(?!gradient).*weight") == R"("^(?!gradient).*weight")");
  for (const char* bad : {"\x80", "\xc3", "\xe2\x82", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xc3\x28"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(py(bad), tdbg::usage_error);
  }
}

TEST_CASE("escaped strings parse back to the original (random UTF-8)", "[io][json]") {
  std::mt19937 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      std::uint32_t cp;
      switch (rng() % 4) {
        case 0: cp = rng() % 0x80; break;
        case 1: cp = 0x80 + rng() % 0x780; break;
        case 2: cp = 0x800 + rng() % 0xf800; break;
        default: cp = 0x10000 + rng() % 0x100000; break;
      }
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else if (cp < 0x800) {
        s += static_cast<char>(0xc0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3f));
      } else if (cp < 0x10000) {
        s += static_cast<char>(0xe0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
      } else {
        s += static_cast<char>(0xf0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
      }
    }
    const std::string j = py(s);
    for (char c : j) REQUIRE((c >= 0x20 && c < 0x7f));  // ASCII only
    REQUIRE(nlohmann::json::parse(j).get<std::string>() == s);
  }
}

TEST_CASE("index file JSON layout", "[io][json][index]") {
  tio::index_file f;
  f.mode = mode::eval;
  f.mode_step = 5;
  f.event_file_name = "events/000000000029/000000000029_worker_0.tfevents";
  f.tensor_payload = {{"MLP_fc1.weight", 0, 2694}, {"caf\xc3\xa9", 2694, 99}};
  f.shape_payload = {{"w", "w", {32, 20}}, {"loss", "loss:0", {}}};
  const std::string expected =
      R"({"meta": {"mode": "EVAL", "mode_step": 5, "event_file_name": "events/000000000029/000000000029_worker_0.tfevents"}, )"
      R"("tensor_payload": [{"tensorname": "MLP_fc1.weight", "start_idx": 0, "length": 2694}, )"
      R"({"tensorname": "caf\u00e9", "start_idx": 2694, "length": 99}], )"
      R"("shape_payload": [{"tensorname": "w", "originalname": "w", "shape": [32, 20]}, )"
      R"({"tensorname": "loss", "originalname": "loss:0", "shape": []}]})";
  CHECK(tio::to_json(f) == expected);
  CHECK(tio::parse_index_file(expected, "i.json") == f);

  tio::index_file shapes_only;
  shapes_only.mode = mode::train;
  shapes_only.shape_payload = {{"w", "w", {3}}};
  const std::string so = tio::to_json(shapes_only);
  CHECK(so == R"({"meta": {"mode": "TRAIN", "mode_step": 0}, "tensor_payload": [], "shape_payload": [{"tensorname": "w", "originalname": "w", "shape": [3]}]})");
  CHECK(tio::parse_index_file(so, "i.json") == shapes_only);
}

TEST_CASE("index file parsing: lenient where smdebug is, strict elsewhere", "[io][json][index]") {
  const auto ok = tio::parse_index_file(
      R"({"shape_payload": [{"tensorname": "a", "shape": [1]}], "meta": {"event_file_name": null, "mode": " PREDICT ", "mode_step": 3}})",
      "f");
  CHECK(ok.mode == mode::predict);
  CHECK(ok.mode_step == 3);
  CHECK_FALSE(ok.event_file_name);
  CHECK(ok.tensor_payload.empty());
  CHECK(ok.shape_payload.at(0).originalname == "a");

  auto fails_with = [](const std::string& text, const std::string& what) {
    CAPTURE(text);
    CHECK_THROWS_MATCHES(tio::parse_index_file(text, "index/000000000/000000000005_worker_0.json"),
                         tdbg::index_reader_error,
                         io_test::what(Catch::StartsWith("index/000000000/000000000005_worker_0.json: ") &&
                                                  Catch::Contains(what)));
  };
  const std::string meta = R"("meta": {"mode": "TRAIN", "mode_step": 1})";
  fails_with("", "empty");
  fails_with(" \n", "empty");
  fails_with("{", "invalid JSON");
  fails_with("{" + meta + R"(, "tensor_payload": []}{)" + meta + R"(, "tensor_payload": []})", "invalid JSON");
  fails_with("[]", "expected an object");
  fails_with(R"({"tensor_payload": []})", "meta: missing or empty");
  fails_with(R"({"meta": {}, "tensor_payload": []})", "meta: missing or empty");
  fails_with(R"({"meta": [1], "tensor_payload": []})", "meta: missing or empty");
  fails_with(R"({"meta": {"mode": "TRAINING", "mode_step": 1}, "tensor_payload": []})", "unknown mode 'TRAINING'");
  fails_with(R"({"meta": {"mode": "train", "mode_step": 1}, "tensor_payload": []})", "unknown mode 'train'");
  fails_with(R"({"meta": {"mode": 1, "mode_step": 1}, "tensor_payload": []})", "meta.mode: expected a string");
  fails_with(R"({"meta": {"mode": "TRAIN", "mode_step": "1"}, "tensor_payload": []})", "meta.mode_step: expected an integer");
  fails_with(R"({"meta": {"mode": "TRAIN", "mode_step": 1.5}, "tensor_payload": []})", "meta.mode_step: expected an integer");
  fails_with(R"({"meta": {"mode": "TRAIN"}, "tensor_payload": []})", "no mode_step");
  fails_with(R"({"meta": {"mode_step": 2}, "tensor_payload": []})", "no mode");
  fails_with("{" + meta + "}", "neither tensor_payload nor shape_payload");
  fails_with("{" + meta + R"(, "tensor_payload": {}})", "tensor_payload: expected an array");
  fails_with("{" + meta + R"(, "tensor_payload": [{"tensorname": "a", "start_idx": 0}]})", "tensor_payload[0]: needs");
  fails_with("{" + meta + R"(, "tensor_payload": [{"tensorname": "a", "start_idx": -1, "length": 5}]})", "tensor_payload[0].start_idx: expected a non-negative integer, got -1");
  fails_with("{" + meta + R"(, "tensor_payload": [{"tensorname": 7, "start_idx": 0, "length": 5}]})", "tensorname: expected a string");
  fails_with("{" + meta + R"(, "shape_payload": [{"tensorname": "a", "shape": [2, -3]}]})", "shape_payload[0].shape");
  fails_with("{" + meta + R"(, "shape_payload": [{"tensorname": "a", "shape": "2"}]})", "expected an array");
  fails_with("{" + meta + R"(, "shape_payload": [{"tensorname": "a", "shape": [9223372036854775808]}]})", "too large");
}

TEST_CASE("collections file JSON layout", "[io][json][collections]") {
  tio::collections_file f;
  f.num_workers = 2;
  tio::collection_record w;
  w.name = "weights";
  w.include_regex = {"^(?!gradient).*weight"};
  w.tensor_names = {"b", "a", "b"};
  w.reduction_config = tio::reduction_config_record{false, "min,max,l2_norm", true};
  w.save_config.emplace();
  w.save_config->push_back({mode::eval, tio::save_config_mode_record{500, {1, 6}, 0, std::nullopt}});
  w.save_config->push_back({mode::train, tio::save_config_mode_record{5, {}, 2, 40}});
  w.save_config->push_back({mode::global, std::nullopt});
  tio::collection_record d;
  d.name = "default";
  d.save_histogram = false;
  f.collections = {w, d};
  const std::string expected =
      R"({"collections": {"weights": {"name": "weights", "include_regex": ["^(?!gradient).*weight"], )"
      R"("tensor_names": ["a", "b"], "reduction_config": {"save_raw_tensor": false, "reductions": "min,max,l2_norm", "save_shape": true}, )"
      R"("save_config": {"EVAL": {"save_interval": 500, "save_steps": [1, 6], "start_step": 0, "end_step": null}, )"
      R"("TRAIN": {"save_interval": 5, "save_steps": [], "start_step": 2, "end_step": 40}, "GLOBAL": null}, "save_histogram": true}, )"
      R"("default": {"name": "default", "include_regex": [], "tensor_names": [], "reduction_config": null, "save_config": null, "save_histogram": false}}, )"
      R"("_meta": {"num_workers": 2}})";
  CHECK(tio::to_json(f) == expected);
  auto parsed = tio::parse_collections_file(expected, "c.json");
  w.tensor_names = {"a", "b"};
  f.collections = {w, d};
  CHECK(parsed == f);  // collection and mode order kept

  tio::collections_file dup;
  dup.collections = {d, d};
  CHECK_THROWS_AS(tio::to_json(dup), tdbg::usage_error);
}

TEST_CASE("collections file parsing: defaults and errors", "[io][json][collections]") {
  const auto f = tio::parse_collections_file(
      R"({"_meta": {"num_workers": 3}, "collections": {"losses": {"include_regex": false}, "x": {"name": "x", "tensor_names": ["t"], "future_key": 1}}})",
      "c.json");
  CHECK(f.num_workers == 3);
  REQUIRE(f.collections.size() == 2);
  CHECK(f.collections[0].name == "losses");
  CHECK(f.collections[0].include_regex.empty());
  CHECK(f.collections[0].save_histogram);
  CHECK_FALSE(f.collections[0].reduction_config);
  CHECK_FALSE(f.collections[0].save_config);
  CHECK(f.collections[1].tensor_names == std::vector<std::string>{"t"});
  CHECK(tio::parse_collections_file(R"({"collections": {}})", "c").num_workers == 1);
  const auto sc = tio::parse_collections_file(
      R"({"collections": {"a": {"save_config": {"PREDICT": {}, "TRAIN": {"end_step": 9}}}}})", "c");
  REQUIRE(sc.collections.at(0).save_config);
  const auto& modes = *sc.collections.at(0).save_config;
  REQUIRE(modes.size() == 2);
  CHECK(modes[0].first == mode::predict);
  CHECK(modes[0].second == tio::save_config_mode_record{});
  CHECK(modes[1].first == mode::train);
  CHECK(modes[1].second->end_step == 9);

  auto fails_with = [](const std::string& text, const std::string& what) {
    CAPTURE(text);
    CHECK_THROWS_MATCHES(tio::parse_collections_file(text, "collections/000000000/worker_0_collections.json"),
                         tdbg::format_error,
                         io_test::what(Catch::StartsWith("collections/000000000/worker_0_collections.json: ") &&
                                                  Catch::Contains(what)));
  };
  fails_with("", "invalid JSON");
  fails_with(R"({"collections": {}}{"collections": {}})", "invalid JSON");
  fails_with(R"({"collections": {}, "smdebug": 1})", "unknown top-level key 'smdebug'");
  fails_with(R"({"_meta": {"num_workers": 1}})", "no 'collections'");
  fails_with(R"({"collections": []})", "expected an object");
  fails_with(R"({"collections": {}, "_meta": {"num_workers": 0}})", "at least 1");
  fails_with(R"({"collections": {}, "_meta": {"num_workers": "2"}})", "_meta.num_workers: expected an integer");
  fails_with(R"({"collections": {"a": 5}})", "collection 'a': expected an object");
  fails_with(R"({"collections": {"a": {"include_regex": "w"}}})", "collection 'a'.include_regex: expected an array");
  fails_with(R"({"collections": {"a": {"include_regex": [1]}}})", "expected a string");
  fails_with(R"({"collections": {"a": {"save_histogram": 1}}})", "save_histogram: expected true or false");
  fails_with(R"({"collections": {"a": {"reduction_config": {"save_raw_tensor": "yes"}}}})", "save_raw_tensor");
  fails_with(R"({"collections": {"a": {"save_config": {"TRAINING": null}}}})", "unknown mode 'TRAINING'");
  fails_with(R"({"collections": {"a": {"save_config": {"TRAIN": {"save_steps": [1.5]}}}}})", "TRAIN.save_steps: expected an integer");
  fails_with(R"({"collections": {"a": {"save_config": {"TRAIN": {"end_step": "9"}}}}})", "TRAIN.end_step");
  fails_with(R"({"collections": {"a": {"save_config": [1]}}})", "save_config: expected an object");
}
