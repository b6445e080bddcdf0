// The LibTorch integration (tdbg/integrations/libtorch.hpp): a real LibTorch model trained a few
// steps through tdbg::hook into a trial, read back with tdbg::trial::trial. Checks smdebug's
// PyTorch names (and that smdebug's default collections select them), values of parameters,
// gradients, losses and activations, dtypes (float16 bit for bit, bfloat16 → float32 with the
// original recorded, integers, bool, errors), modes following module.train()/eval(), and
// non-contiguous inputs.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tdbg/collect/config.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/integrations/libtorch.hpp"
#include "tdbg/storage/memory.hpp"
#include "tdbg/trial/trial.hpp"

// LibTorch includes glog, whose CHECK(condition) macro is Catch2's CHECK: Catch2 comes last.
#undef CHECK
#include <catch2/catch.hpp>

namespace ti = tdbg::integrations;
namespace cl = tdbg::collect;

namespace {

/// fc1 (captured from inside forward()), then a Sequential walked by torch_hook::forward.
struct NetImpl : torch::nn::Module {
  NetImpl() {
    fc1 = register_module("fc1", torch::nn::Linear(4, 3));
    body = register_module("body", torch::nn::Sequential(torch::nn::Linear(3, 3), torch::nn::ReLU(),
                                                         torch::nn::Linear(3, 2)));
  }
  torch::Tensor first(const torch::Tensor& x) { return ti::capture("fc1", fc1(x)); }
  torch::nn::Linear fc1{nullptr};
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(Net);

/// Everything every step, plus activations through the "default" collection.
tdbg::hook_options every_step(std::vector<std::string> regex = {"_output_", "_input_"}) {
  tdbg::hook_options o;
  o.save_config = cl::save_config::every(1);
  o.include_regex = std::move(regex);
  return o;
}

std::vector<float> floats(const torch::Tensor& t) {
  const auto c = t.detach().resolve_neg().to(torch::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}
template <class T>
std::vector<T> values(const tdbg::tensor& t) {
  const auto v = t.values<T>();
  return {v.begin(), v.end()};
}
tdbg::shape_t shape_of(const torch::Tensor& t) { return {t.sizes().begin(), t.sizes().end()}; }

std::vector<std::string> in_collection(const tdbg::trial::trial& tr, const std::string& c) {
  tdbg::trial::name_query q;
  q.collection = c;
  return tr.tensor_names(q);
}

}  // namespace

TEST_CASE("a LibTorch training loop is saved under smdebug's PyTorch names, selected by the default collections") {
  torch::manual_seed(1);
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  Net net;
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.1));
  const auto x = torch::randn({5, 4});
  const auto target = torch::randn({5, 2});

  std::vector<std::vector<float>> w_before, grads;
  std::vector<float> losses, fc1_out, body0_out, relu_out;
  {
    tdbg::hook h(backend, cl::defaults::pytorch{}, every_step());
    ti::torch_hook th(h, net);
    CHECK(th.root_name() == "Net");
    CHECK(th.path_of(*net->body) == "body");
    CHECK(th.path_of(*net) == "");
    for (int step = 0; step < 3; ++step) {
      w_before.push_back(floats(net->fc1->weight));
      th.begin_step();  // saves the parameters as they are before the update
      opt.zero_grad();
      const auto h1 = net->first(x);
      const auto y = th.forward(net->body, h1);
      const auto loss = torch::mse_loss(y, target);
      th.save_loss(loss, "MSELoss");
      loss.backward();
      th.save_gradients();
      grads.push_back(floats(net->fc1->weight.grad()));
      losses.push_back(loss.item<float>());
      if (step == 0) {
        fc1_out = floats(h1);
        relu_out = floats(torch::relu(net->body[0]->as<torch::nn::Linear>()->forward(h1)));
      }
      opt.step();
      th.end_step();
    }
    h.close();
  }

  tdbg::trial::trial tr(backend);
  CHECK(tr.steps() == std::vector<tdbg::step_t>{0, 1, 2});
  CHECK(in_collection(tr, "weights") ==
        std::vector<std::string>{"Net_body.0.weight", "Net_body.2.weight", "Net_fc1.weight"});
  CHECK(in_collection(tr, "biases") == std::vector<std::string>{"Net_body.0.bias", "Net_body.2.bias", "Net_fc1.bias"});
  CHECK(in_collection(tr, "gradients") ==
        std::vector<std::string>{"gradient/Net_body.0.bias", "gradient/Net_body.0.weight", "gradient/Net_body.2.bias",
                                 "gradient/Net_body.2.weight", "gradient/Net_fc1.bias", "gradient/Net_fc1.weight"});
  CHECK(in_collection(tr, "losses") == std::vector<std::string>{"MSELoss_output_0"});
  CHECK(in_collection(tr, "default") ==
        std::vector<std::string>{"MSELoss_output_0", "body.0_input_0", "body.0_output_0", "body.1_input_0",
                                 "body.1_output_0", "body.2_input_0", "body.2_output_0", "body_input_0",
                                 "body_output_0", "fc1_output_0"});

  for (tdbg::step_t s = 0; s < 3; ++s) {
    const auto idx = static_cast<std::size_t>(s);
    const auto w = tr.tensor("Net_fc1.weight").value(s);
    CHECK(w.dtype() == tdbg::dtype::float32);
    CHECK(w.shape() == tdbg::shape_t{3, 4});
    CHECK(values<float>(w) == w_before[idx]);
    CHECK(values<float>(tr.tensor("gradient/Net_fc1.weight").value(s)) == grads[idx]);
    const auto l = tr.tensor("MSELoss_output_0").value(s);
    CHECK(l.shape().empty());  // a reduced loss is 0-d, as smdebug stores it
    CHECK(values<float>(l) == std::vector<float>{losses[idx]});
  }
  CHECK(losses[2] < losses[0]);  // it trained
  CHECK(values<float>(tr.tensor("fc1_output_0").value(0)) == fc1_out);
  CHECK(values<float>(tr.tensor("body.1_output_0").value(0)) == relu_out);
  CHECK(values<float>(tr.tensor("body.1_input_0").value(0)) == values<float>(tr.tensor("body.0_output_0").value(0)));
  CHECK(values<float>(tr.tensor("body_output_0").value(0)) == values<float>(tr.tensor("body.2_output_0").value(0)));
  CHECK(tr.tensor("body_output_0").value(0).shape() == tdbg::shape_t{5, 2});
}

TEST_CASE("module inputs/outputs count per step; the root is named by its class; loss inputs") {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  torch::nn::Linear lin(2, 2);
  {
    tdbg::hook h(backend, cl::collections<cl::defaults::losses>{}, every_step({"."}));
    ti::torch_options o;
    o.save_parameters_at_begin = false;
    ti::torch_hook th(h, lin, o);
    CHECK(th.root_name() == "Linear");
    for (int step = 0; step < 2; ++step) {
      th.begin_step();
      const auto a = th.save_output("", lin(torch::ones({1, 2})));   // the root: Linear_output_0
      th.save_output(*lin, lin(a));                                    // the same module again: _output_1
      th.save_loss_inputs(a, torch::tensor({1}, torch::kLong), "CrossEntropyLoss");
      th.save_loss(a.sum(), "CrossEntropyLoss");
      th.end_step();
    }
  }
  tdbg::trial::trial tr(backend);
  tdbg::trial::name_query q;
  q.step = 1;
  CHECK(tr.tensor_names(q) == std::vector<std::string>{"CrossEntropyLoss_input_0", "CrossEntropyLoss_input_1",
                                                       "CrossEntropyLoss_output_0", "Linear_output_0",
                                                       "Linear_output_1"});
  CHECK(in_collection(tr, "losses") == std::vector<std::string>{"CrossEntropyLoss_output_0"});
  CHECK(tr.tensor("CrossEntropyLoss_input_1").value(1).dtype() == tdbg::dtype::int64);

  SECTION("root_name overrides the class name; unknown modules are an error") {
    tdbg::hook h(std::make_shared<tdbg::storage::memory_backend>(), cl::collections<cl::defaults::losses>{});
    ti::torch_options o;
    o.root_name = "MLP";
    ti::torch_hook th(h, lin, o);
    CHECK(th.root_name() == "MLP");
    torch::nn::Linear other(1, 1);
    CHECK_THROWS_WITH(th.path_of(*other), Catch::Contains("not a module of the root MLP"));
    CHECK_THROWS_AS(th.save("x", torch::ones({1})), tdbg::usage_error);  // outside a step
  }
}

TEST_CASE("dtypes: float16 bit for bit, bfloat16 as float32 with the original recorded, integers, bool") {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  torch::nn::Linear lin(1, 1);
  const auto base = torch::tensor({-1.5f, 0.0f, 2.25f, 65504.0f, 1e-5f, -0.0f});
  const auto half = base.to(torch::kHalf);
  const auto bf16 = base.to(torch::kBFloat16);
  {
    tdbg::hook h(backend, cl::collections<cl::defaults::default_>{}, every_step({"."}));
    ti::torch_options o;
    o.save_parameters_at_begin = false;
    ti::torch_hook th(h, lin, o);
    th.begin_step();
    th.save("half", half);
    th.save("bf16", bf16);
    th.save("f64", base.to(torch::kDouble));
    th.save("i8", torch::tensor({-128, 0, 127}, torch::kChar));
    th.save("u8", torch::tensor({0, 255}, torch::kByte));
    th.save("i16", torch::tensor({-32768, 32767}, torch::kShort));
    th.save("i32", torch::tensor({-7, 7}, torch::kInt));
    th.save("i64", torch::tensor({std::int64_t{1} << 40}, torch::kLong));
    th.save("b", torch::tensor({true, false, true}, torch::kBool));
    th.save("scalar", torch::tensor(3.5));
    th.save("empty", torch::zeros({0, 3}));
    CHECK_THROWS_WITH(th.save("complex", torch::ones({2}, torch::kComplexFloat)),
                      Catch::Contains("'complex'") && Catch::Contains("ComplexFloat") &&
                          Catch::Contains("no smdebug dtype"));
    CHECK_THROWS_WITH(th.save("undefined", torch::Tensor()), Catch::Contains("'undefined'"));
    th.end_step();
    CHECK(th.source_dtypes() == std::map<std::string, std::string>{{"bf16", "BFloat16"}});
  }
  tdbg::trial::trial tr(backend);
  const auto h = tr.tensor("half").value(0);
  REQUIRE(h.dtype() == tdbg::dtype::float16);
  REQUIRE(h.bytes().size() == 12);
  CHECK(std::memcmp(h.bytes().data(), half.data_ptr(), 12) == 0);
  const auto b = tr.tensor("bf16").value(0);
  CHECK(b.dtype() == tdbg::dtype::float32);
  CHECK(values<float>(b) == floats(bf16));
  CHECK(tdbg::storage::read_text(*backend, "source_dtypes/worker_0.json") == R"({"bf16":"BFloat16"})");
  CHECK(values<double>(tr.tensor("f64").value(0)) == std::vector<double>{-1.5, 0.0, 2.25, 65504.0, double(1e-5f), -0.0});
  CHECK(values<std::int8_t>(tr.tensor("i8").value(0)) == std::vector<std::int8_t>{-128, 0, 127});
  CHECK(values<std::uint8_t>(tr.tensor("u8").value(0)) == std::vector<std::uint8_t>{0, 255});
  CHECK(values<std::int16_t>(tr.tensor("i16").value(0)) == std::vector<std::int16_t>{-32768, 32767});
  CHECK(values<std::int32_t>(tr.tensor("i32").value(0)) == std::vector<std::int32_t>{-7, 7});
  CHECK(values<std::int64_t>(tr.tensor("i64").value(0)) == std::vector<std::int64_t>{std::int64_t{1} << 40});
  const auto bo = tr.tensor("b").value(0);
  CHECK(bo.dtype() == tdbg::dtype::boolean);
  CHECK((bo.as_double(0) == 1.0 && bo.as_double(1) == 0.0 && bo.as_double(2) == 1.0));
  CHECK(tr.tensor("scalar").value(0).shape().empty());
  CHECK(tr.tensor("empty").value(0).shape() == tdbg::shape_t{0, 3});
  CHECK(!tr.has_tensor("complex"));

  SECTION("bfloat16_policy::error refuses bfloat16, naming the tensor") {
    tdbg::hook h2(std::make_shared<tdbg::storage::memory_backend>(), cl::collections<cl::defaults::default_>{}, every_step({"^bf"}));
    ti::torch_options o;
    o.bfloat16 = ti::bfloat16_policy::error;
    ti::torch_hook th(h2, lin, o);
    th.begin_step();
    CHECK_THROWS_WITH(th.save("bf16", bf16), Catch::Contains("'bf16'") && Catch::Contains("bfloat16"));
    CHECK_NOTHROW(th.save("other", bf16));  // not selected: never converted, so no error
  }
}

TEST_CASE("with follow_module_mode, module.train()/eval() switch the mode; no gradients in EVAL") {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  Net net;
  {
    tdbg::hook h(backend, cl::defaults::pytorch{}, every_step());
    ti::torch_options o;
    o.follow_module_mode = true;
    ti::torch_hook th(h, net, o);
    const auto x = torch::randn({2, 4});
    auto step = [&] {
      th.begin_step();
      const auto y = th.forward(net->body, net->first(x));
      const auto loss = y.pow(2).mean();
      th.save_loss(loss);
      if (net->is_training()) {
        net->zero_grad();
        loss.backward();
      }
      th.save_gradients();  // in EVAL the gradients collection is never saved
      th.end_step();
    };
    net->train();
    step(), step(), step();
    net->eval();
    step(), step();
    net->train();
    step();
    CHECK(h.current_mode() == tdbg::mode::train);
  }
  tdbg::trial::trial tr(backend);
  CHECK((tr.modes() == std::vector<tdbg::mode>{tdbg::mode::train, tdbg::mode::eval}));  // glog's operator<< for vectors hides Catch's
  CHECK(tr.steps(tdbg::mode::train) == std::vector<tdbg::step_t>{0, 1, 2, 3});
  CHECK(tr.steps(tdbg::mode::eval) == std::vector<tdbg::step_t>{0, 1});
  CHECK(tr.global_step(tdbg::mode::eval, 1) == 4);
  CHECK(tr.tensor("gradient/Net_fc1.weight").steps(tdbg::mode::eval).empty());
  CHECK(tr.tensor("gradient/Net_fc1.weight").steps(tdbg::mode::train).size() == 4);
  CHECK(tr.tensor("Net_fc1.weight").steps(tdbg::mode::eval) == std::vector<tdbg::step_t>{0, 1});
  CHECK(tr.tensor("Loss_output_0").steps(tdbg::mode::eval) == std::vector<tdbg::step_t>{0, 1});

  SECTION("without it the mode is the hook's own") {
    tdbg::hook h(std::make_shared<tdbg::storage::memory_backend>(), cl::collections<cl::defaults::default_>{});
    ti::torch_hook th(h, net);
    net->eval();
    th.begin_step();
    CHECK(h.current_mode() == tdbg::mode::global);
  }
}

TEST_CASE("non-contiguous, offset and broadcast tensors are saved in C order; contiguous ones are not copied") {
  const auto base = torch::arange(12, torch::kFloat).reshape({3, 4});
  const auto transposed = base.t();                    // [4, 3], strides (1, 4)
  const auto strided = base.slice(1, 0, 4, 2);          // [3, 2], every other column
  const auto offset = base.narrow(0, 1, 2);             // contiguous rows 1..2: storage offset 4
  const auto broadcast = torch::tensor({1.0f, 2.0f}).expand({3, 2});  // stride 0
  const auto negated = torch::_neg_view(base);          // a lazily negated view

  CHECK(!ti::host_tensor("t", base, ti::bfloat16_policy::to_float32).copied());
  CHECK(!ti::host_tensor("t", offset, ti::bfloat16_policy::to_float32).copied());
  CHECK(ti::host_tensor("t", transposed, ti::bfloat16_policy::to_float32).copied());
  CHECK(ti::host_tensor("t", torch::ones({2}, torch::kBFloat16), ti::bfloat16_policy::to_float32).copied());
  {
    const ti::host_tensor view("t", offset, ti::bfloat16_policy::to_float32);
    CHECK(static_cast<const void*>(view.ref().bytes.data()) == offset.data_ptr());
  }

  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  torch::nn::Linear lin(1, 1);
  {
    tdbg::hook h(backend, cl::collections<cl::defaults::default_>{}, every_step({"."}));
    ti::torch_options o;
    o.save_parameters_at_begin = false;
    ti::torch_hook th(h, lin, o);
    th.begin_step();
    th.save("transposed", transposed);
    th.save("strided", strided);
    th.save("offset", offset);
    th.save("broadcast", broadcast);
    th.save("negated", negated);
    th.save("requires_grad", (base * 2).requires_grad_());
    th.end_step();
  }
  tdbg::trial::trial tr(backend);
  for (const auto& [name, t] : std::vector<std::pair<std::string, torch::Tensor>>{
           {"transposed", transposed}, {"strided", strided}, {"offset", offset},
           {"broadcast", broadcast}, {"negated", negated}, {"requires_grad", base * 2}}) {
    INFO(name);
    const auto v = tr.tensor(name).value(0);
    CHECK(v.shape() == shape_of(t));
    CHECK(values<float>(v) == floats(t));
  }
  CHECK(values<float>(tr.tensor("transposed").value(0)) ==
        std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(values<float>(tr.tensor("negated").value(0))[1] == -1.0f);
}

TEST_CASE("capture() saves only inside a torch_hook step, on its thread") {
  auto backend = std::make_shared<tdbg::storage::memory_backend>();
  Net net;
  const auto x = torch::randn({1, 4});
  CHECK(!ti::capturing());
  CHECK(net->first(x).sizes() == torch::IntArrayRef{1, 3});  // no hook: a pass-through
  {
    tdbg::hook h(backend, cl::collections<cl::defaults::default_>{}, every_step({"fc1_output"}));
    ti::torch_hook th(h, net);
    th.begin_step();
    CHECK(ti::capturing());
    net->first(x);
    th.end_step();
    CHECK(!ti::capturing());
    net->first(x);  // between steps: not saved (and no error)
    th.begin_step();
  }
  CHECK(!ti::capturing());  // the torch_hook is gone
  tdbg::trial::trial tr(backend);
  CHECK(tr.tensor_names() == std::vector<std::string>{"fc1_output_0"});
  CHECK(tr.tensor("fc1_output_0").steps() == std::vector<tdbg::step_t>{0});
}
