// hook.save(name, x) for Eigen types (hook/eigen.hpp): C-order on disk whatever the layout.
#include "hook_test_util.hpp"

#include "tdbg/hook/eigen.hpp"

using namespace tdbg;
using namespace hook_test;
namespace cl = tdbg::collect;

namespace {
constexpr auto every_step = cl::collection_config{"everything"}.include(".*").every(1);
}

TEST_CASE("Eigen matrices and tensors are saved in C order with their shape") {
  auto mem = std::make_shared<storage::memory_backend>();
  hook h(mem, cl::collections<every_step>{});
  Eigen::MatrixXf col(2, 3);  // column-major by default
  col << 1, 2, 3, 4, 5, 6;
  Eigen::Matrix<double, 2, 3, Eigen::RowMajor> row;
  row << 1, 2, 3, 4, 5, 6;
  Eigen::VectorXi vec(3);
  vec << 7, 8, 9;
  Eigen::Tensor<float, 3> t3(2, 3, 4);  // column-major
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) t3(i, j, k) = static_cast<float>(100 * i + 10 * j + k);
  Eigen::Tensor<std::int64_t, 2, Eigen::RowMajor> r2(2, 2);
  r2.setValues({{1, 2}, {3, 4}});
  Eigen::TensorMap<Eigen::Tensor<const float, 3>> map(t3.data(), 2, 3, 4);
  Eigen::Tensor<float, 0> zero_d;
  zero_d() = 42.0f;
  Eigen::Tensor<std::string, 2> strs(2, 2);  // column-major strings
  strs(0, 0) = "a";
  strs(0, 1) = "b";
  strs(1, 0) = "c";
  strs(1, 1) = "d";

  h.begin_step();
  h.save("col", col);
  h.save("row", row);
  h.save("vec", vec);
  h.save("t3", t3);
  h.save("r2", r2);
  h.save("map", map);
  h.save("zero_d", zero_d);
  h.save("strs", strs);
  h.close();

  const auto [idx, recs] = read_step(*mem, 0);
  std::map<std::string, tensor> by;
  for (const auto& r : recs) by.emplace(r.event.tag, r.event.value);
  REQUIRE(by.size() == 8);
  CHECK(by["col"].shape() == shape_t{2, 3});
  CHECK((std::vector<float>(by["col"].values<float>().begin(), by["col"].values<float>().end()) ==
         std::vector<float>{1, 2, 3, 4, 5, 6}));
  CHECK(by["row"].shape() == shape_t{2, 3});
  CHECK(by["row"].values<double>()[1] == 2.0);
  CHECK(by["row"].values<double>()[3] == 4.0);
  CHECK(by["vec"].shape() == shape_t{3});
  CHECK(by["vec"].values<std::int32_t>()[2] == 9);
  for (const char* n : {"t3", "map"}) {
    const auto& t = by[n];
    REQUIRE(t.shape() == shape_t{2, 3, 4});
    const auto v = t.values<float>();
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 4; ++k) CHECK(v[static_cast<std::size_t>(i * 12 + j * 4 + k)] == 100 * i + 10 * j + k);
  }
  CHECK(by["r2"].values<std::int64_t>()[1] == 2);
  CHECK(by["r2"].values<std::int64_t>()[2] == 3);
  CHECK(by["zero_d"].shape().empty());
  CHECK(by["zero_d"].values<float>()[0] == 42.0f);
  CHECK(by["strs"].strings() == std::vector<std::string>{"a", "b", "c", "d"});
}
