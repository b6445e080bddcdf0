// Tests of smdebug's JSON hook configuration parser (collect/json_config.hpp).
#include <catch2/catch.hpp>

#include "tdbg/collect/json_config.hpp"

using namespace tdbg;
using namespace tdbg::collect;

namespace {
std::string data(const char* name) { return std::string(TDBG_TEST_SOURCE_DIR) + "/data/" + name; }
}  // namespace

TEST_CASE("json config: a full file") {
  const auto cfg = load_json_hook_config(data("hook_config_full.json"));
  CHECK(cfg.out_dir == "/tmp/tdbg_json_out");
  CHECK(cfg.save_all);
  CHECK(cfg.include_workers == "all");
  CHECK(cfg.include_regex == std::vector<std::string>{"relu.*", "^fc"});
  // Hook save config: plain keys for every mode, "eval." overrides the interval for EVAL.
  CHECK(cfg.defaults.save[mode::train] == save_config_mode{10, {1, 2, 3}, 1, {}});
  CHECK(cfg.defaults.save[mode::eval] == save_config_mode{3, {1, 2, 3}, 1, {}});
  CHECK(cfg.defaults.save[mode::global] == save_config_mode{10, {1, 2, 3}, 1, {}});
  CHECK(cfg.defaults.reductions.reductions ==
        std::vector<reduction>{{reduction_op::min, false}, {reduction_op::max, true}, {reduction_op::l2, false}});
  CHECK_FALSE(cfg.defaults.reductions.save_raw_tensor);  // reductions given: raw only when asked

  REQUIRE(cfg.collections.size() == 3);
  const auto& w = cfg.collections[0];
  CHECK(w.name == "weights");
  CHECK(w.include_regex == std::vector<std::string>{"^(?!gradient).*weight"});  // smdebug's default kept
  CHECK((*w.save)[mode::train] == save_config_mode{5, {1, 2, 3}, 1, 100});       // collection overrides per key
  CHECK((*w.save)[mode::eval] == save_config_mode{3, {1, 2, 3}, 1, 100});
  CHECK_FALSE(w.reductions);  // takes the hook's
  CHECK_FALSE(w.save_histogram);

  const auto& a = cfg.collections[1];
  CHECK(a.include_regex == std::vector<std::string>{"act\\d_output_0", "pool"});
  REQUIRE(a.reductions);
  CHECK(a.reductions->reductions == std::vector<reduction>{{reduction_op::mean, false}});
  CHECK(a.reductions->save_shape);
  CHECK((*a.save)[mode::predict] == save_config_mode{10, {7}, 1, {}});
  CHECK((*a.save)[mode::train] == save_config_mode{10, {1, 2, 3}, 1, {}});

  CHECK(cfg.collections[2].include_regex == std::vector<std::string>{"[Ll]oss_(?!input).*output"});
}

TEST_CASE("json config: null sections give smdebug's defaults") {
  const auto cfg = load_json_hook_config(data("hook_config_minimal.json"));
  CHECK(cfg.out_dir == "/opt/ml/output/tensors");
  CHECK(cfg.collections.empty());
  CHECK(cfg.include_workers == "one");
  for (mode m : all_modes) CHECK(cfg.defaults.save[m] == save_config_mode{});
  CHECK(cfg.defaults.reductions == reduction_config{});
}

TEST_CASE("json config: errors name the file and the key") {
  CHECK_THROWS_WITH(load_json_hook_config(data("bad_json.json")),
                    Catch::Contains("bad_json.json") && Catch::Contains("invalid JSON"));
  CHECK_THROWS_WITH(load_json_hook_config(data("bad_interval.json")),
                    Catch::Contains("bad_interval.json") && Catch::Contains("HookParameters.save_interval") &&
                        Catch::Contains("often"));
  CHECK_THROWS_WITH(load_json_hook_config(data("bad_reduction.json")),
                    Catch::Contains("bad_reduction.json") &&
                        Catch::Contains("CollectionConfigurations[0].CollectionParameters.reductions") &&
                        Catch::Contains("median"));
  CHECK_THROWS_WITH(load_json_hook_config(data("zero_interval.json")),
                    Catch::Contains("zero_interval.json") && Catch::Contains("save_interval must be > 0"));
  CHECK_THROWS_WITH(load_json_hook_config(data("missing_name.json")),
                    Catch::Contains("missing_name.json") && Catch::Contains("CollectionName"));
  CHECK_THROWS_WITH(load_json_hook_config(data("does_not_exist.json")),
                    Catch::Contains("does_not_exist.json"));
  CHECK_THROWS_AS(parse_json_hook_config("[1, 2]", "arr.json"), config_error);
  CHECK_THROWS_WITH(parse_json_hook_config(R"({"HookParameters": {"save_all": "maybe"}})", "b.json"),
                    Catch::Contains("b.json: HookParameters.save_all"));
  CHECK_THROWS_WITH(parse_json_hook_config(R"({"HookParameters": {"include_workers": "some"}})", "w.json"),
                    Catch::Contains("include_workers"));
  CHECK_THROWS_WITH(parse_json_hook_config(R"({"HookParameters": {"save_steps": "1,x"}})", "s.json"),
                    Catch::Contains("HookParameters.save_steps"));
}
