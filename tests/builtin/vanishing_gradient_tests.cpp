// rules/vanishing_gradient.rule on hook-written trials: gradients that shrink geometrically
// fall below the threshold at a known step.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "support.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"

using namespace tdbg;

namespace {

/// Two layers' gradients over `steps` steps; layer 1's shrink by `decay` per step (mean |g| =
/// decay^step), layer 0's stay at 1.
void write_gradients(const std::filesystem::path& dir, int steps, double decay) {
  // smdebug's default save interval is 500 steps: save every step here.
  static constexpr auto gradients = collect::defaults::gradients.every(1);
  hook h(dir, collect::collections<gradients>{});
  std::vector<float> g0(64), g1(64);
  for (int s = 0; s < steps; ++s) {
    h.begin_step();
    for (std::size_t i = 0; i < g0.size(); ++i) {
      const float sign = i % 2 ? -1.0f : 1.0f;
      g0[i] = sign;
      g1[i] = sign * static_cast<float>(std::pow(decay, s));
    }
    h.save("gradient/fc0.weight", std::span<const float>(g0));
    h.save("gradient/fc1.weight", std::span<const float>(g1));
    h.end_step();
  }
  h.close();
}

}  // namespace

TEST_CASE("vanishing_gradient fires at the first step whose mean |g| is under the threshold", "[builtin][vanishing_gradient]") {
  builtin_test::scratch_dir dir("vanishing_gradient_fires");
  write_gradients(dir.path(), 12, 0.1);  // fc1: 1, 0.1, ..., 1e-7 at step 7, 1e-8 at step 8
  const auto res = builtin_test::check(dir.path(), "vanishing_gradient");
  const auto& sum = res.summary("vanishing_gradient");
  CHECK(sum.evaluated == 12);
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 8);  // 1e-7 is not < 1e-7 (float rounding of 0.1^7 aside: checked below)
  REQUIRE(!res.findings.empty());
  CHECK(res.findings.front().tensors == std::vector<std::string>{"gradient/fc1.weight"});
  CHECK(res.findings.front().values.front() < 1e-7);
  CHECK(res.findings.front().message.find("gradient/fc1.weight") != std::string::npos);
}

TEST_CASE("vanishing_gradient stays quiet on healthy gradients", "[builtin][vanishing_gradient]") {
  builtin_test::scratch_dir dir("vanishing_gradient_quiet");
  write_gradients(dir.path(), 12, 0.5);  // 0.5^11 ~ 4.9e-4
  const auto res = builtin_test::check(dir.path(), "vanishing_gradient");
  CHECK(res.summary("vanishing_gradient").status() == "NoIssuesFound");
  CHECK(res.findings.empty());
}

TEST_CASE("vanishing_gradient's threshold can be overridden", "[builtin][vanishing_gradient]") {
  builtin_test::scratch_dir dir("vanishing_gradient_override");
  write_gradients(dir.path(), 12, 0.5);
  const auto res = builtin_test::check(dir.path(), "vanishing_gradient", {"vanishing_gradient.threshold=0.01"});
  const auto& sum = res.summary("vanishing_gradient");
  REQUIRE(sum.first_fired);
  CHECK(*sum.first_fired == 7);  // 0.5^7 = 0.0078 < 0.01 <= 0.5^6
}
