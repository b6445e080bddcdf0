// A trial written by tdbg::hook that mirrors the smdebug fixture tests/data/smdebug/mlp_train_eval
// (same collections, tensor names, shapes, dtypes, step schedule): its index and collections JSON
// files must be byte-identical to smdebug's (keys, order, formatting, start_idx/length), since
// nothing in them depends on tensor values or wall times. Also: collection record conversion,
// and hooks made from smdebug's JSON hook configuration.
#include "hook_test_util.hpp"

#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/collection_record.hpp"
#include "tdbg/hook/json_config.hpp"

using namespace tdbg;
using namespace hook_test;
namespace cl = tdbg::collect;

namespace {

const std::string fixture = std::string(TDBG_TEST_DATA) + "/smdebug/mlp_train_eval";

constexpr auto relu_activations = cl::collection_config{"relu_activations"}.include("act\\d_output_0");
constexpr auto loss_inputs = cl::collection_config{"loss_inputs"}.include("CrossEntropyLoss_input_");
constexpr auto custom = cl::collection_config{"custom"}.tensor("custom/mask").tensor("custom/note");
using mlp_collections = cl::collections<cl::defaults::gradients, cl::defaults::all, cl::defaults::losses,
                                        cl::defaults::default_, cl::defaults::weights, cl::defaults::biases,
                                        relu_activations, loss_inputs, custom>;

struct mlp {
  std::vector<std::pair<std::string, shape_t>> params{{"MLP_fc1.weight", {32, 20}}, {"MLP_fc1.bias", {32}},
                                                      {"MLP_fc2.weight", {16, 32}}, {"MLP_fc2.bias", {16}},
                                                      {"MLP_out.weight", {4, 16}},  {"MLP_out.bias", {4}}};
  std::vector<float> buffer = std::vector<float>(32 * 20, 0.25f);

  void save_f32(hook& h, const std::string& name, const shape_t& shape) {
    const auto n = static_cast<std::size_t>(element_count(shape));
    h.save(name, std::span<const float>(buffer.data(), n), shape);
  }

  void forward(hook& h, bool with_loss) {
    for (const auto& [n, s] : params) save_f32(h, n, s);
    if (h.current_mode() == mode::train) {
      std::vector<std::uint8_t> mask_bytes(160, 1);
      h.save("custom/mask", tensor(dtype::boolean, {8, 20}, std::as_bytes(std::span<const std::uint8_t>(mask_bytes))));
      const std::vector<std::string> note{"train", "step", std::to_string(h.mode_step())};
      h.save("custom/note", note);
    }
    save_f32(h, "act1_output_0", {8, 32});
    save_f32(h, "act2_output_0", {8, 16});
    save_f32(h, "MLP_output_0", {8, 4});
    if (!with_loss) return;
    save_f32(h, "CrossEntropyLoss_input_0", {8, 4});
    const std::vector<std::int64_t> labels{0, 1, 2, 3, 0, 1, 2, 3};
    h.save("CrossEntropyLoss_input_1", labels);
    save_f32(h, "CrossEntropyLoss_output_0", {});
  }
  void backward(hook& h) {
    for (auto it = params.rbegin(); it != params.rend(); ++it) save_f32(h, "gradient/" + it->first, it->second);
  }
};

}  // namespace

TEST_CASE("a hook-written trial mirroring mlp_train_eval has smdebug's exact index and collections files") {
  auto mem = std::make_shared<storage::memory_backend>();
  {
    hook h(mem, mlp_collections{},
           hook_options{.save_config = cl::save_config::every(5), .include_regex = {"^MLP_output_0$"}});
    mlp net;
    for (int epoch = 0; epoch < 4; ++epoch) {
      h.set_mode(mode::train);
      for (int i = 0; i < 8; ++i) {
        h.begin_step();
        net.forward(h, true);
        net.backward(h);
        if (h.mode_step() % 10 == 0) h.save_scalar("learning_rate", 0.01);
      }
      h.set_mode(mode::eval);
      for (int i = 0; i < 2; ++i) {
        h.begin_step();
        net.forward(h, true);
        net.backward(h);  // never saved in EVAL
      }
    }
    h.set_mode(mode::predict);
    for (int i = 0; i < 10; ++i) {
      h.begin_step();
      net.forward(h, false);
    }
    h.close();
  }

  std::vector<std::string> ours, theirs;
  for (const auto& k : mem->list("index/")) ours.push_back(k);
  for (const auto& e : std::filesystem::recursive_directory_iterator(fixture + "/index"))
    theirs.push_back(std::filesystem::relative(e.path(), fixture).generic_string());
  theirs.erase(std::remove_if(theirs.begin(), theirs.end(), [](const auto& k) { return !k.ends_with(".json"); }),
               theirs.end());
  std::sort(theirs.begin(), theirs.end());
  REQUIRE(ours == theirs);
  for (const auto& k : ours) {
    INFO(k);
    CHECK(storage::read_text(*mem, k) == read_text_file(fixture + "/" + k));
    const auto idx = io::parse_index_file(storage::read_text(*mem, k), k);
    CHECK(mem->read_all(*idx.event_file_name).size() ==
          std::filesystem::file_size(fixture + "/" + *idx.event_file_name));
  }
  const std::string ckey = "collections/000000000/worker_0_collections.json";
  CHECK(storage::read_text(*mem, ckey) == read_text_file(fixture + "/" + ckey));
  CHECK(mem->exists("training_job_end.ts"));
}

TEST_CASE("collection record conversion reproduces smdebug's collections files byte for byte") {
  for (const char* trial : {"mlp_train_eval", "reductions_only"}) {
    const std::string path = std::string(TDBG_TEST_DATA) + "/smdebug/" + trial +
                             "/collections/000000000/worker_0_collections.json";
    const std::string text = read_text_file(path);
    const auto file = io::parse_collections_file(text, path);
    io::collections_file again;
    again.num_workers = file.num_workers;
    for (const auto& r : file.collections) again.collections.push_back(to_collection_record(from_collection_record(r)));
    CHECK(io::to_json(again) == text);
  }
  io::collection_record r;
  r.name = "w";
  r.reduction_config = io::reduction_config_record{false, "mean,bogus", false};
  CHECK_THROWS_WITH(from_collection_record(r), Catch::Contains("collection 'w'") && Catch::Contains("bogus"));
}

TEST_CASE("reductions_only's collection configs, written by tdbg, give smdebug's collections file") {
  // Hook: TRAIN every 5, EVAL 500 + [1, 6], PREDICT/GLOBAL null; 12 reductions, shapes, no raw.
  cl::save_config hook_save;
  hook_save[mode::train] = cl::save_config_mode{5, {}, 0, {}};
  hook_save[mode::eval] = cl::save_config_mode{500, {1, 6}, 0, {}};
  const auto reds = cl::parse_reductions(
      "min,max,mean,std,variance,sum,prod,l1_norm,l2_norm,abs_mean,abs_max,abs_l2_norm", "test");
  constexpr auto grads = cl::defaults::gradients.in(mode::train, cl::save_every(4).start(6).end(25))
                             .reductions({{reduction_op::mean, false}, {reduction_op::l2, false}, {reduction_op::mean, true}})
                             .raw(false)
                             .shape(true);
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<cl::defaults::biases, cl::defaults::default_, cl::defaults::losses, grads,
                              cl::defaults::all, cl::defaults::weights>{},
         hook_options{.save_config = hook_save, .reduction_config = {false, reds, true}});
  h.set_mode(mode::train);
  h.begin_step();
  for (const char* n : {"MLP_fc1.weight", "MLP_fc1.bias", "MLP_fc2.weight", "MLP_fc2.bias", "MLP_out.weight",
                        "MLP_out.bias", "CrossEntropyLoss_output_0", "gradient/MLP_fc1.bias",
                        "gradient/MLP_fc1.weight", "gradient/MLP_fc2.bias", "gradient/MLP_fc2.weight",
                        "gradient/MLP_out.bias", "gradient/MLP_out.weight"})
    (void)h.will_save(n);
  const std::string ckey = "collections/000000000/worker_0_collections.json";
  CHECK(io::to_json(h.collections_file()) ==
        read_text_file(std::string(TDBG_TEST_DATA) + "/smdebug/reductions_only/" + ckey));
  h.close();
}

TEST_CASE("hooks from smdebug's JSON hook configuration") {
  const auto dir = temp_dir("hook_json");
  const auto out = dir / "out";
  const auto cfg_path = dir / "debughookconfig.json";
  {
    std::ofstream f(cfg_path);
    f << R"({"LocalPath": ")" << out.generic_string() << R"(",
             "HookParameters": {"save_interval": "2", "reductions": "mean", "save_raw_tensor": "true"},
             "CollectionConfigurations": [{"CollectionName": "weights", "CollectionParameters": {"train.save_interval": "3"}},
                                          {"CollectionName": "acts", "CollectionParameters": {"include_regex": "^act"}}]})";
  }
  {
    scoped_env env("TRAINING_JOB_NAME", nullptr);
    auto h = make_hook_from_json(cfg_path);
    REQUIRE(h);
    REQUIRE(h->collections().size() == 3);  // + losses, as smdebug
    CHECK(h->collections()[2].name == "losses");
    h->set_mode(mode::train);
    const std::vector<float> v{1, 2, 3};
    for (int s = 0; s < 4; ++s) {
      h->begin_step();
      h->save("fc.weight", v);
      h->save("act1", v);
      h->save("Loss_output_0", v);
    }
    h->close();
  }
  storage::local_backend lb(out);
  {
    const auto [idx, recs] = read_step(lb, 0);
    std::vector<std::string> tags;
    for (const auto& r : recs) tags.push_back(r.event.tag);
    CHECK(tags == std::vector<std::string>{"smdebug/reductions/mean/fc.weight", "fc.weight",
                                           "smdebug/reductions/mean/act1", "act1", "Loss_output_0"});
  }
  CHECK(read_step(lb, 2).second.size() == 3);  // acts (every 2) + losses; weights every 3 in TRAIN
  CHECK(read_step(lb, 3).second.size() == 2);  // weights only
  CHECK(lb.exists("training_job_end.ts"));

  SECTION("$SMDEBUG_CONFIG_FILE_PATH") {
    std::filesystem::remove_all(out);
    scoped_env env("SMDEBUG_CONFIG_FILE_PATH", cfg_path.c_str());
    auto h = make_hook_from_env(hook_options{.write_end_marker = false});
    REQUIRE(h);
    CHECK(h->options().save_config[mode::eval]->save_interval == 2);
    h->close();
    CHECK(std::filesystem::exists(out / "collections/000000000/worker_0_collections.json"));
  }
  SECTION("a missing file named by the variable is an error naming it") {
    scoped_env env("SMDEBUG_CONFIG_FILE_PATH", "/nonexistent/tdbg/config.json");
    CHECK_THROWS_WITH(make_hook_from_env(), Catch::Contains("/nonexistent/tdbg/config.json"));
  }
  SECTION("include_workers one: other workers do not write") {
    std::filesystem::remove_all(out);
    auto h = make_hook_from_json(cfg_path, hook_options{.worker = "worker_1", .num_workers = 2});
    CHECK(h->options().dry_run);
    CHECK(h->options().num_workers == 1);
    h->begin_step();
    h->save("fc.weight", std::vector<float>{1});
    h->close();
    CHECK_FALSE(std::filesystem::exists(out));
  }
}
