// Tests of tdbg::hook: steps and modes, save decisions, byte-level content of what it writes.
#include "hook_test_util.hpp"

#include <cmath>
#include <cstring>

#include "tdbg/collect/defaults.hpp"
#include "tdbg/core/reduce.hpp"
#include "tdbg/storage/local.hpp"

using namespace tdbg;
using namespace hook_test;
namespace cl = tdbg::collect;

namespace {
constexpr auto every_step = cl::collection_config{"everything"}.include(".*").every(1);

std::vector<std::string> index_keys(const storage::backend& b) {
  std::vector<std::string> out;
  for (auto& k : b.list("index/")) out.push_back(k);
  return out;
}
}  // namespace

TEST_CASE("steps: global starts at -1, mode counters start at -1 on first set_mode (spec §6 table)") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<cl::defaults::weights>{}, hook_options{.save_config = cl::save_config::every(5)});
  CHECK(h.step() == -1);
  CHECK(h.current_mode() == mode::global);

  std::map<step_t, std::pair<mode, step_t>> table;  // global step → (mode, mode step) of every step
  auto run = [&](mode m, int n) {
    h.set_mode(m);
    for (int i = 0; i < n; ++i) {
      h.begin_step();
      table[h.step()] = {h.current_mode(), h.mode_step()};
      const std::vector<float> w(4, 1.0f);
      h.save("MLP_fc1.weight", w);
      h.end_step();
    }
  };
  for (int epoch = 0; epoch < 4; ++epoch) {
    run(mode::train, 8);
    run(mode::eval, 2);
  }
  run(mode::predict, 10);
  h.close();

  // spec §6: mlp_train_eval, 8 TRAIN + 2 EVAL per epoch, interval 5.
  const std::vector<std::tuple<step_t, mode, step_t>> expected{
      {0, mode::train, 0},   {5, mode::train, 5},   {8, mode::eval, 0},    {12, mode::train, 10},
      {17, mode::train, 15}, {24, mode::train, 20}, {29, mode::eval, 5},   {31, mode::train, 25},
      {36, mode::train, 30}, {40, mode::predict, 0}, {45, mode::predict, 5}};
  for (const auto& [g, m, s] : expected) CHECK(table.at(g) == std::pair{m, s});
  CHECK(table.at(49) == std::pair{mode::predict, step_t{9}});

  // Files exist exactly for the saved global steps, with that meta: the fixture's index names.
  std::vector<std::string> fixture_keys;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(TDBG_TEST_DATA) +
                                                                        "/smdebug/mlp_train_eval/index"))
    if (e.is_regular_file())
      fixture_keys.push_back("index/000000000/" + e.path().filename().string());
  std::sort(fixture_keys.begin(), fixture_keys.end());
  CHECK(index_keys(*mem) == fixture_keys);
  for (const auto& [g, m, s] : expected) {
    const auto [idx, recs] = read_step(*mem, g);
    CHECK(idx.mode == m);
    CHECK(idx.mode_step == s);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].event.mode == m);
    CHECK(recs[0].event.mode_step == s);
  }
}

TEST_CASE("steps: without set_mode the mode is GLOBAL and mode_step == step") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<every_step>{});
  for (int i = 0; i < 3; ++i) {
    h.begin_step();
    CHECK(h.current_mode() == mode::global);
    CHECK(h.mode_step() == h.step());
    h.save_scalar("i", i);
    h.end_step();
  }
  h.close();
  const auto [idx, recs] = read_step(*mem, 2);
  CHECK(idx.mode == mode::global);
  CHECK(idx.mode_step == 2);
}

TEST_CASE("steps: begin_step ends the open step; set_mode inside a step ends it first") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<every_step>{});
  h.set_mode(mode::train);
  h.begin_step();
  h.save_scalar("a", 1);
  h.begin_step();  // ends step 0
  CHECK(h.step() == 1);
  h.save_scalar("a", 2);
  h.set_mode(mode::eval);  // ends step 1
  CHECK_FALSE(h.in_step());
  h.begin_step();
  CHECK(h.mode_step() == 0);
  CHECK(h.step() == 2);
  h.save_scalar("a", 3);
  h.flush();
  CHECK(mem->exists(io::index_file_key(0, "worker_0")));
  CHECK(mem->exists(io::index_file_key(1, "worker_0")));
  CHECK_FALSE(mem->exists(io::index_file_key(2, "worker_0")));  // still open
  h.close();
  CHECK(read_step(*mem, 2).first.mode == mode::eval);
  CHECK(read_step(*mem, 1).first.mode == mode::train);
}

TEST_CASE("save: misuse is a usage_error") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<every_step>{});
  const std::vector<float> v{1, 2, 3};
  CHECK_THROWS_WITH(h.save("x", v), Catch::Contains("outside a step") && Catch::Contains("'x'"));
  CHECK_THROWS_AS(h.save_scalar("lr", 0.1), usage_error);
  CHECK_THROWS_AS(h.end_step(), usage_error);
  h.begin_step();
  const std::int64_t wrong[] = {2, 2};
  CHECK_THROWS_WITH(h.save("x", std::span<const float>(v), std::span<const std::int64_t>(wrong)),
                    Catch::Contains("tensor 'x'") && Catch::Contains("[2, 2]"));
  CHECK_THROWS_AS(h.add_to_collection("nope", "x"), usage_error);
  h.close();
  CHECK_THROWS_AS(h.begin_step(), usage_error);
}

TEST_CASE("written records: tags, dtypes, shapes, data, plugin mode/mode_step, Event.step") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<every_step>{});
  h.set_mode(mode::train);
  const std::vector<float> f{1.5f, -2.0f, 3.25f, 0.0f, 5.0f, 6.0f};
  const std::vector<std::int8_t> i8{-1, 2, -3};
  const std::vector<std::uint16_t> u16{1, 65535};
  const std::vector<std::int64_t> i64{1LL << 40, -7};
  const std::vector<float16_t> half{float16_t{float_to_half(1.0f)}, float16_t{float_to_half(-0.5f)}};
  const std::vector<std::string> strs{"héllo", "", "x"};
  const bool mask[] = {true, false, true, true};
  const std::vector<float> none;
  const double scalar0d = 2.5;
  for (int step = 0; step < 2; ++step) {
    h.begin_step();
    h.save("f32", std::span<const float>(f), {2, 3});
    h.save("i8", i8);
    h.save("u16", u16);
    h.save("i64", i64);
    h.save("f16", half);
    h.save("strs", strs);
    h.save("mask", std::span<const bool>(mask), {2, 2});
    h.save("empty", std::span<const float>(none), {0, 3});
    h.save("zero_d", make_tensor_ref(std::span<const double>(&scalar0d, 1), std::span<const std::int64_t>{}));
    h.save_scalar("lr", 0.125);
    h.end_step();
  }
  h.close();

  for (step_t step : {0, 1}) {
    const auto [idx, recs] = read_step(*mem, step);
    CHECK(idx.mode == mode::train);
    CHECK(idx.mode_step == step);
    CHECK(idx.shape_payload.empty());
    REQUIRE(recs.size() == 10);
    std::map<std::string, const tensor*> by;
    for (const auto& r : recs) {
      CHECK(r.event.mode == mode::train);
      CHECK(r.event.mode_step == step);
      by[r.event.tag] = &r.event.value;
      // Event.step is omitted at step 0 (first field wall_time 0x09, then summary 0x2a)
      REQUIRE(r.payload.size() > 10);
      CHECK(std::to_integer<int>(r.payload[0]) == 0x09);
      CHECK(std::to_integer<int>(r.payload[9]) == (step == 0 ? 0x2a : 0x10));
    }
    CHECK(recs.back().event.tag == "scalar/lr");  // scalars are written at the end of the step
    CHECK(*by.at("f32") == tensor(make_tensor_ref(std::span<const float>(f), std::vector<std::int64_t>{2, 3})));
    CHECK(by.at("i8")->dtype() == dtype::int8);
    CHECK(by.at("i8")->values<std::int8_t>()[2] == -3);
    CHECK(by.at("u16")->values<std::uint16_t>()[1] == 65535);
    CHECK(by.at("i64")->values<std::int64_t>()[0] == (1LL << 40));
    CHECK(by.at("f16")->dtype() == dtype::float16);
    CHECK(by.at("f16")->as_double(1) == -0.5);
    CHECK(by.at("strs")->strings() == strs);
    CHECK(by.at("strs")->shape() == shape_t{3});
    CHECK(by.at("mask")->dtype() == dtype::boolean);
    CHECK(by.at("mask")->shape() == shape_t{2, 2});
    CHECK(by.at("mask")->values<bool>()[1] == false);
    // zero-size tensors are written (smdebug skips them): dtype and shape survive
    CHECK(by.at("empty")->dtype() == dtype::float32);
    CHECK(by.at("empty")->shape() == shape_t{0, 3});
    CHECK(by.at("empty")->bytes().empty());
    CHECK(by.at("zero_d")->shape().empty());
    CHECK(by.at("zero_d")->values<double>()[0] == 2.5);
    // save_scalar: float64, shape [1], as smdebug
    CHECK(by.at("scalar/lr")->dtype() == dtype::float64);
    CHECK(by.at("scalar/lr")->shape() == shape_t{1});
    CHECK(by.at("scalar/lr")->values<double>()[0] == 0.125);
  }
}

TEST_CASE("reductions: union over collections, smdebug order, before the raw record, shapes once") {
  constexpr auto a = cl::collection_config{"a"}
                         .include("^w")
                         .every(1)
                         .reductions({{reduction_op::l2, true}, {reduction_op::mean, false}, {reduction_op::max, true}})
                         .raw(false)
                         .shape(true);
  constexpr auto b = cl::collection_config{"b"}.include("w1$").every(2).reductions({{reduction_op::mean, false},
                                                                                   {reduction_op::l1, false}});
  constexpr auto c = cl::collection_config{"c"}.include("w1$").every(1).raw(false).shape(true);
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<a, b, c>{});
  const std::vector<float> w{-3.0f, 1.0f, 2.0f, 4.0f};
  const std::vector<std::int32_t> ints{1, -2, 3};
  for (int s = 0; s < 2; ++s) {
    h.begin_step();
    h.save("w1", std::span<const float>(w), {2, 2});
    h.save("w2", ints);
    h.save("other", ints);  // in no collection
    h.end_step();
  }
  h.close();

  const auto names = [](const auto& recs) {
    std::vector<std::string> out;
    for (const auto& r : recs) out.push_back(r.event.tag);
    return out;
  };
  {  // step 0: a, b and c save w1; a saves w2
    const auto [idx, recs] = read_step(*mem, 0);
    CHECK(names(recs) == std::vector<std::string>{
                             "smdebug/reductions/mean/w1", "smdebug/reductions/l1/w1",
                             "smdebug/reductions/abs_max/w1", "smdebug/reductions/abs_l2/w1", "w1",
                             "smdebug/reductions/mean/w2", "smdebug/reductions/abs_max/w2",
                             "smdebug/reductions/abs_l2/w2"});
    const tensor_ref wref = make_tensor_ref(std::span<const float>(w), std::vector<std::int64_t>{4});
    for (const auto& r : recs) {
      if (r.event.tag == "w1") continue;
      const auto parsed = io::parse_reduction_tensor_name(r.event.tag);
      REQUIRE(parsed);
      CHECK(r.event.value.shape().empty());  // 0-d
      if (parsed->tensor == "w1") {
        CHECK(r.event.value.dtype() == dtype::float32);  // floating dtypes keep theirs
        CHECK(r.event.value.values<float>()[0] == static_cast<float>(compute_reduction(wref, parsed->red)));
      } else {
        CHECK(r.event.value.dtype() == dtype::float64);  // integers reduce to float64
      }
    }
    CHECK(recs[0].event.value.values<float>()[0] == 1.0f);   // mean
    CHECK(recs[1].event.value.values<float>()[0] == 10.0f);  // l1
    CHECK(recs[2].event.value.values<float>()[0] == 4.0f);   // abs_max
    CHECK(recs[5].event.value.values<double>()[0] == Approx(2.0 / 3.0));
    REQUIRE(idx.shape_payload.size() == 2);  // once per tensor even though a and c both ask
    CHECK(idx.shape_payload[0] == io::shape_entry{"w1", "w1", {2, 2}});
    CHECK(idx.shape_payload[1] == io::shape_entry{"w2", "w2", {3}});
  }
  {  // step 1: b does not save (interval 2): no raw w1, no l1
    const auto [idx, recs] = read_step(*mem, 1);
    CHECK(names(recs) == std::vector<std::string>{"smdebug/reductions/mean/w1", "smdebug/reductions/abs_max/w1",
                                                  "smdebug/reductions/abs_l2/w1", "smdebug/reductions/mean/w2",
                                                  "smdebug/reductions/abs_max/w2", "smdebug/reductions/abs_l2/w2"});
  }
}

TEST_CASE("shapes only: an index without event_file_name and no event file") {
  constexpr auto s = cl::collection_config{"s"}.include(".").every(1).raw(false).shape(true);
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<s>{});
  h.begin_step();
  const std::vector<double> v{1, 2};
  h.save("v", v);
  h.end_step();
  h.close();
  const auto text = storage::read_text(*mem, io::index_file_key(0, "worker_0"));
  CHECK(text == R"({"meta": {"mode": "GLOBAL", "mode_step": 0}, "tensor_payload": [], "shape_payload": [{"tensorname": "v", "originalname": "v", "shape": [2]}]})");
  CHECK(mem->list("events/").empty());
}

TEST_CASE("EVAL and PREDICT never save gradients or optimizer_variables") {
  constexpr auto opt = cl::defaults::optimizer_variables.include("^opt/");
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<cl::defaults::gradients, opt, cl::defaults::weights>{},
         hook_options{.save_config = cl::save_config::every(1)});
  const std::vector<float> v{1};
  for (mode m : {mode::train, mode::eval, mode::predict}) {
    h.set_mode(m);
    h.begin_step();
    CHECK(h.will_save("gradient/w") == (m == mode::train));
    CHECK(h.will_save("opt/momentum") == (m == mode::train));
    CHECK(h.will_save("fc.weight"));
    h.save("gradient/w", v);
    h.save("opt/momentum", v);
    h.save("fc.weight", v);
    h.end_step();
  }
  h.close();
  CHECK(read_step(*mem, 0).second.size() == 3);
  CHECK(read_step(*mem, 1).second.size() == 1);
  CHECK(read_step(*mem, 2).second.size() == 1);
}

TEST_CASE("regex runs once per tensor name; unwanted tensors cost a lookup") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::defaults::pytorch{}, hook_options{.save_config = cl::save_config::every(1000)});
  const std::vector<float> v(1000, 1.0f);
  h.begin_step();
  h.save("act_output_0", v);
  h.save("MLP_fc1.weight", v);
  const auto after_first = h.regex_evaluations();
  CHECK(after_first > 0);
  for (int s = 0; s < 50; ++s) {
    h.begin_step();
    h.save("act_output_0", v);  // no collection wants it
    h.save("MLP_fc1.weight", v);  // wanted but not at this step
  }
  CHECK(h.regex_evaluations() == after_first);
  h.close();
}

TEST_CASE("add_to_collection and include_regex/save_all options feed collections") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<cl::defaults::inputs>{},
         hook_options{.save_config = cl::save_config::every(1), .include_regex = {"^relu"}, .save_all = false});
  REQUIRE(h.collections().size() == 2);
  CHECK(h.collections()[1].name == "default");
  CHECK(h.collections()[1].include_regex == std::vector<std::string>{"^relu"});
  const std::vector<float> v{1};
  h.begin_step();
  CHECK_FALSE(h.will_save("images"));
  h.add_to_collection("inputs", "images");
  CHECK(h.will_save("images"));
  CHECK(h.will_save("relu1"));
  h.end_step();
  const auto f = h.collections_file();
  CHECK(f.collections[0].tensor_names == std::vector<std::string>{"images"});
  h.close();

  auto mem2 = std::make_shared<storage::memory_backend>();
  hook all(mem2, std::vector<cl::collection>{}, hook_options{.save_all = true});
  REQUIRE(all.collections().size() == 1);
  CHECK(all.collections()[0].name == "all");
  CHECK(all.collections()[0].include_regex == std::vector<std::string>{".*"});
}

TEST_CASE("construction errors: bad regex names the pattern; ended trial; bad options") {
  auto mem = std::make_shared<storage::memory_backend>();
  constexpr auto bad = cl::collection_config{"bad"}.include("(unclosed");
  CHECK_THROWS_WITH((hook(mem, cl::collections<bad>{})), Catch::Contains("'(unclosed'") && Catch::Contains("bad"));
  CHECK_THROWS_AS((hook(mem, std::vector<cl::collection>{cl::collection{"x"}, cl::collection{"x"}})), config_error);
  CHECK_THROWS_AS((hook(mem, cl::collections<every_step>{}, hook_options{.worker = ""})), config_error);
  CHECK_THROWS_AS((hook(mem, cl::collections<every_step>{}, hook_options{.save_config = cl::save_config::every(0)})),
                  config_error);
  mem->assign("training_job_end.ts", {});
  CHECK_THROWS_WITH((hook(mem, cl::collections<every_step>{})), Catch::Contains("training_job_end.ts"));
}

TEST_CASE("local directory: .tmp + rename, index after event file, end marker, TRAINING_JOB_NAME") {
  const auto dir = temp_dir("hook_local");
  {
    scoped_env env("TRAINING_JOB_NAME", nullptr);
    hook h(dir, cl::collections<every_step>{}, hook_options{.worker = "worker_3", .num_workers = 4});
    h.set_mode(mode::train);
    h.begin_step();
    const std::vector<float> v{1, 2};
    h.save("w", v);
    h.end_step();
    h.flush();
    CHECK(std::filesystem::exists(dir / "events/000000000000/000000000000_worker_3.tfevents"));
    CHECK(std::filesystem::exists(dir / "index/000000000/000000000000_worker_3.json"));
    CHECK(std::filesystem::exists(dir / "collections/000000000/worker_3_collections.json"));
    CHECK_FALSE(std::filesystem::exists(dir / "training_job_end.ts"));
    h.close();
  }
  CHECK(std::filesystem::exists(dir / "training_job_end.ts"));
  CHECK(std::filesystem::file_size(dir / "training_job_end.ts") == 0);
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    CHECK(e.path().extension() != ".tmp");
  const auto coll = io::parse_collections_file(read_text_file(dir / "collections/000000000/worker_3_collections.json"), "c");
  CHECK(coll.num_workers == 4);
  storage::local_backend lb(dir);
  const auto [idx, recs] = read_step(lb, 0, "worker_3");
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].event.value.values<float>()[1] == 2.0f);

  const auto dir2 = temp_dir("hook_local_sagemaker");
  {
    scoped_env env("TRAINING_JOB_NAME", "job");
    hook h(dir2, cl::collections<every_step>{});
    h.begin_step();
    h.save_scalar("x", 1);
    h.close();
  }
  CHECK(std::filesystem::exists(dir2 / "index/000000000/000000000000_worker_0.json"));
  CHECK_FALSE(std::filesystem::exists(dir2 / "training_job_end.ts"));

  const auto dir3 = temp_dir("hook_local_no_marker");
  {
    scoped_env env("TRAINING_JOB_NAME", nullptr);
    hook h(dir3, cl::collections<every_step>{}, hook_options{.write_end_marker = false});
  }
  CHECK_FALSE(std::filesystem::exists(dir3 / "training_job_end.ts"));
  CHECK(std::filesystem::exists(dir3 / "collections/000000000/worker_0_collections.json"));
}

TEST_CASE("the index file appears only after its event file is committed") {
  // A backend that records the order of commits.
  struct order_backend final : storage::backend {
    storage::memory_backend mem;
    std::vector<std::string> committed;
    std::mutex m;
    std::vector<std::string> list(std::string_view p, std::string_view s) const override { return mem.list(p, s); }
    std::vector<std::byte> read(std::string_view k, std::uint64_t o, std::uint64_t l) const override {
      return mem.read(k, o, l);
    }
    std::vector<std::byte> read_all(std::string_view k) const override { return mem.read_all(k); }
    bool exists(std::string_view k) const override { return mem.exists(k); }
    std::string describe() const override { return "order:"; }
    std::unique_ptr<storage::output_file> create(std::string_view key) override {
      struct f final : storage::output_file {
        order_backend& b;
        std::unique_ptr<storage::output_file> inner;
        f(order_backend& ob, std::unique_ptr<storage::output_file> i) : b(ob), inner(std::move(i)) {}
        void write(std::span<const std::byte> d) override { inner->write(d); }
        void commit() override {
          inner->commit();
          std::lock_guard l(b.m);
          b.committed.push_back(inner->key());
        }
        const std::string& key() const noexcept override { return inner->key(); }
      };
      return std::make_unique<f>(*this, mem.create(key));
    }
  };
  auto b = std::make_shared<order_backend>();
  {
    scoped_env env("TRAINING_JOB_NAME", nullptr);
    hook h(b, cl::collections<every_step>{});
    for (int s = 0; s < 2; ++s) {
      h.begin_step();
      h.save_scalar("x", s);
      h.end_step();
    }
  }
  CHECK(b->committed == std::vector<std::string>{
                            "events/000000000000/000000000000_worker_0.tfevents",
                            "index/000000000/000000000000_worker_0.json",
                            "collections/000000000/worker_0_collections.json",
                            "events/000000000001/000000000001_worker_0.tfevents",
                            "index/000000000/000000000001_worker_0.json",
                            "collections/000000000/worker_0_collections.json",  // rewritten at close
                            "training_job_end.ts"});
}

TEST_CASE("should_stop is false until request_stop, from any thread") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<every_step>{});
  CHECK_FALSE(h.should_stop());
  std::thread t([&] { h.request_stop(); });
  t.join();
  CHECK(h.should_stop());
}

TEST_CASE("dry_run decides but writes nothing") {
  auto mem = std::make_shared<storage::memory_backend>();
  {
    hook h(mem, cl::collections<every_step>{}, hook_options{.dry_run = true});
    h.begin_step();
    CHECK(h.will_save("x"));
    h.save_scalar("x", 1);
    h.close();
  }
  CHECK(mem->list("").empty());
}
