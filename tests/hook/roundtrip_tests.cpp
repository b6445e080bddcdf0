// Round trip: what tdbg's hook writes, tdbg's trial reads back identically — several modes, every
// dtype, 0-d and zero-size shapes, two workers — through a local directory and in memory.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <tuple>

#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/storage/local.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"

namespace {

using tdbg::mode;
using tdbg::step_t;

constexpr auto everything = tdbg::collect::collection_config{"everything"}.include("^t_").every(1);
constexpr auto gradients = tdbg::collect::defaults::gradients.every(2);

/// A tensor of dtype `d` and shape `shape`, filled from `seed` (different per worker and step).
tdbg::tensor make_tensor(tdbg::dtype d, const tdbg::shape_t& shape, unsigned seed) {
  const auto n = tdbg::element_count(shape);
  std::mt19937 rng(seed);
  if (d == tdbg::dtype::string) {
    std::vector<std::string> s;
    for (std::uint64_t i = 0; i < n; ++i) s.push_back("s" + std::to_string(rng() % 1000) + (i % 2 ? "é" : ""));
    return tdbg::tensor(shape, std::move(s));
  }
  std::vector<std::byte> bytes(n * tdbg::dtype_size(d));
  for (auto& b : bytes) b = static_cast<std::byte>(rng());
  if (d == tdbg::dtype::boolean)
    for (auto& b : bytes) b = static_cast<std::byte>(static_cast<unsigned>(b) & 1u);
  if (d == tdbg::dtype::float16 || d == tdbg::dtype::float32 || d == tdbg::dtype::float64) {
    // keep floats finite and ordinary: random bit patterns may be NaN, which never compares equal
    std::normal_distribution<float> nd;
    for (std::uint64_t i = 0; i < n; ++i) {
      const float x = nd(rng);
      if (d == tdbg::dtype::float16) {
        const auto h = tdbg::float_to_half(x);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      } else if (d == tdbg::dtype::float32) {
        std::memcpy(bytes.data() + 4 * i, &x, 4);
      } else {
        const double y = x;
        std::memcpy(bytes.data() + 8 * i, &y, 8);
      }
    }
  }
  return tdbg::tensor(d, shape, bytes);
}

const std::vector<tdbg::shape_t> shapes = {{}, {0, 3}, {5}, {2, 3, 4}};

struct saved_key {
  std::string tensor;
  step_t global;
  std::string worker;
  auto operator<=>(const saved_key&) const = default;
};

/// Two workers train 3 TRAIN steps, 2 EVAL steps, 1 PREDICT step; returns everything saved.
std::map<saved_key, std::tuple<mode, step_t, tdbg::tensor>> write_trial(std::shared_ptr<tdbg::storage::backend> b) {
  std::map<saved_key, std::tuple<mode, step_t, tdbg::tensor>> saved;
  // Both workers run at the same time, as in data-parallel training.
  std::vector<std::unique_ptr<tdbg::hook>> hooks;
  for (const char* worker : {"worker_0", "worker_1"}) {
    tdbg::hook_options opt;
    opt.worker = worker;
    opt.num_workers = 2;
    hooks.push_back(std::make_unique<tdbg::hook>(b, tdbg::collect::collections<everything, gradients>{}, opt));
  }
  const std::vector<mode> plan = {mode::train, mode::train, mode::train, mode::eval, mode::eval, mode::predict};
  for (std::size_t i = 0; i < plan.size(); ++i) {
    for (std::size_t w = 0; w < hooks.size(); ++w) {
      auto& h = *hooks[w];
      const std::string worker = h.options().worker;
      h.set_mode(plan[i]);
      h.begin_step();
      unsigned seed = static_cast<unsigned>(i * 1000 + w * 100);
      for (tdbg::dtype d : tdbg::all_dtypes)
        for (std::size_t s = 0; s < shapes.size(); ++s) {
          const std::string name = "t_" + std::string(tdbg::dtype_name(d)) + "_" + std::to_string(s);
          auto t = make_tensor(d, shapes[s], ++seed);
          h.save(name, t);
          saved[{name, h.step(), worker}] = {plan[i], h.mode_step(), std::move(t)};
        }
      auto g = make_tensor(tdbg::dtype::float32, {3, 2}, ++seed);
      h.save("gradient/fc.weight", g);
      if (plan[i] == mode::train && h.mode_step() % 2 == 0)  // the hook never saves gradients in EVAL
        saved[{"gradient/fc.weight", h.step(), worker}] = {plan[i], h.mode_step(), std::move(g)};
      h.end_step();
    }
  }
  for (auto& h : hooks) h->close();
  return saved;
}

void check_reads_back(const tdbg::trial::trial& t,
                      const std::map<saved_key, std::tuple<mode, step_t, tdbg::tensor>>& saved) {
  CHECK(t.loaded_all_steps());
  CHECK(t.workers() == std::vector<std::string>{"worker_0", "worker_1"});
  CHECK(t.num_workers() == 2);
  CHECK(t.steps() == std::vector<step_t>{0, 1, 2, 3, 4, 5});
  CHECK(t.steps(mode::train) == std::vector<step_t>{0, 1, 2});
  CHECK(t.steps(mode::eval) == std::vector<step_t>{0, 1});
  CHECK(t.steps(mode::predict) == std::vector<step_t>{0});
  CHECK(t.global_step(mode::eval, 1) == step_t{4});
  CHECK(t.tensor("gradient/fc.weight").steps(mode::train) == std::vector<step_t>{0, 2});
  std::size_t n_read = 0;
  for (const auto& [key, v] : saved) {
    const auto& [m, ms, expected] = v;
    INFO(key.tensor << " @ " << key.global << " " << key.worker);
    const auto tt = t.tensor(key.tensor);
    const tdbg::tensor by_mode = tt.value(ms, m, key.worker);
    CHECK(by_mode == expected);
    CHECK(tt.value(key.global, mode::global, key.worker) == expected);
    CHECK(tt.shape(ms, m, key.worker) == expected.shape());
    ++n_read;
  }
  // Each stored (step, worker) of each tensor is one we saved: nothing extra appeared.
  std::size_t n_stored = 0;
  for (const auto& name : t.tensor_names()) n_stored += t.tensor(name).stored_steps().size();
  CHECK(n_stored == saved.size());
  CHECK(n_read == saved.size());
  // The default worker is the smallest name.
  CHECK(t.tensor("t_float32_3").value(0) == std::get<2>(saved.at({"t_float32_3", 0, "worker_0"})));
}

}  // namespace

TEST_CASE("round trip through memory: the trial reads back exactly what the hook saved") {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  const auto saved = write_trial(backend);
  REQUIRE(saved.size() > 300);
  tdbg::trial::trial t(backend);
  check_reads_back(t, saved);
}

TEST_CASE("round trip through a local directory, with .tmp + rename") {
  const auto dir = std::filesystem::path(TDBG_TEST_BINARY_DIR) / "roundtrip_trial";
  std::filesystem::remove_all(dir);
  const auto saved = write_trial(std::make_shared<tdbg::storage::local_backend>(dir));
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    CHECK(e.path().extension() != ".tmp");
  tdbg::trial::trial t(dir);
  check_reads_back(t, saved);
  std::filesystem::remove_all(dir);
}
