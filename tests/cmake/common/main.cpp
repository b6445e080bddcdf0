// The program every consumer project builds (find_package, add_subdirectory, FetchContent,
// pkg-config): it uses tdbg through the umbrella header and exits non-zero when a check fails,
// so a consumer test passes only if tdbg's headers, dependencies and flags all reach the user.
#include <tdbg/tdbg.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// tdbg must not force -Werror on its users: this warning has to leave the build green.
#warning "deliberate warning: a consumer build must not fail on warnings (tdbg forces no -Werror)"

namespace {

int failures = 0;

void check(bool ok, std::string_view what) {
  if (!ok) {
    fmt::print(stderr, "consumer check failed: {}\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  const std::vector<float> data{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const tdbg::shape_t shape{2, 3};
  const tdbg::tensor t(tdbg::make_tensor_ref(std::span<const float>(data), shape));
  check(tdbg::dtype_name(t.dtype()) == "float32", "dtype of a float tensor is float32");
  check(t.rank() == 2 && t.size() == 6, "shape [2,3] has rank 2 and 6 elements");

  // Eigen (core/eigen.hpp): a C-order view, element (1, 2) is the last one.
  const auto m = tdbg::eigen_map<float, 2>(t);
  check(m(1, 2) == 6.0f && m(0, 1) == 2.0f, "Eigen view follows C order");

  // A storage backend (type-erased boundary) round-trips bytes.
  tdbg::storage::memory_backend store;
  const std::string text = R"({"version": 1})";
  store.put("meta/info.json", std::as_bytes(std::span<const char>(text.data(), text.size())));
  const auto json = nlohmann::json::parse(tdbg::storage::read_text(store, "meta/info.json"));
  check(json.at("version").get<int>() == 1, "memory backend round-trips a JSON object");

  // Errors are tdbg::error subclasses.
  bool threw = false;
  try {
    const std::vector<std::byte> too_short(3);
    const tdbg::tensor bad(tdbg::dtype::float32, tdbg::shape_t{2}, too_short);
  } catch (const tdbg::format_error&) {
    threw = true;
  }
  check(threw, "a size mismatch throws tdbg::format_error");

  if (failures != 0) return 1;
  fmt::print("tdbg consumer: all checks passed\n");
  return 0;
}
