// examples/torch/tensor_plot.cpp — saves every ReLU output of a CNN at steps 1, 2 and 3 and
// renders them as activation maps (smdebug's tensor_plot notebook, in C++).
//
//   tensor_plot <trial dir> [--out DIR] [--batch B] [--data DIR]
//
// The network's Sequentials name their children (conv1, relu1, ...), so the ReLU outputs are
// "features.relu1_output_0", "features.relu2_output_0" and "classifier.relu3_output_0", and one
// collection selects them all: include("relu\d+_output_0$"), saved at steps 1, 2, 3 only
// (save_every(1).start(1).end(4)). After 4 training steps the program reads them back from the
// trial (tdbg::trial::trial) and writes, per layer and step, two PGM images into --out (default
// <trial dir>_maps):
//   step<S>_<layer>_sample0.pgm    sample 0's channels, tiled, normalised together to 0..1
//   step<S>_<layer>_batchsum.pgm   the channels summed over the batch, normalised to 0..1
// A fully connected layer's [batch, features] output is drawn as a strip of features.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "fashion_mnist.hpp"
#include "images.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/integrations/libtorch.hpp"
#include "tdbg/trial/trial.hpp"

namespace {

namespace cl = tdbg::collect;
namespace nn = torch::nn;

struct ConvNetImpl : nn::Module {
  ConvNetImpl() {
    features = register_module(
        "features", nn::Sequential({{"conv1", nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1))},
                                    {"relu1", nn::ReLU()},
                                    {"pool1", nn::MaxPool2d(2)},
                                    {"conv2", nn::Conv2d(nn::Conv2dOptions(8, 16, 3).padding(1))},
                                    {"relu2", nn::ReLU()},
                                    {"pool2", nn::MaxPool2d(2)}}));
    classifier = register_module("classifier", nn::Sequential({{"flatten", nn::Flatten()},
                                                               {"fc1", nn::Linear(16 * 7 * 7, 32)},
                                                               {"relu3", nn::ReLU()},
                                                               {"fc2", nn::Linear(32, 10)}}));
  }
  nn::Sequential features{nullptr}, classifier{nullptr};
};
TORCH_MODULE(ConvNet);

constexpr auto relu_outputs =
    cl::collection_config{"relu_activations"}.include("relu\\d+_output_0$").every(cl::save_every(1).start(1).end(4));

/// Writes the two maps of one saved activation ([batch, C, H, W] or [batch, F]); returns 2.
int render(const tdbg::tensor& a, const std::filesystem::path& stem) {
  const auto& s = a.shape();
  if (s.size() != 4 && s.size() != 2) throw tdbg::format_error(stem.string() + ": expected a rank 2 or 4 activation");
  const auto batch = s[0];
  const auto c = s.size() == 4 ? s[1] : 1, h = s.size() == 4 ? s[2] : 1, w = s.size() == 4 ? s[3] : s[1];
  const auto per_sample = c * h * w;
  const auto v = a.values<float>();
  std::vector<double> sum(static_cast<std::size_t>(per_sample), 0.0);
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < per_sample; ++i)
      sum[static_cast<std::size_t>(i)] += v[static_cast<std::size_t>(b * per_sample + i)];
  auto draw = [&](const examples::image& all, const std::string& suffix) {
    std::vector<examples::image> tiles;  // `all` is c maps stacked vertically: split them
    for (std::int64_t k = 0; k < c; ++k) {
      examples::image t(w, h);
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) t.at(x, y) = all.at(x, k * h + y);
      tiles.push_back(std::move(t));
    }
    const auto scale = h == 1 ? 8 : 4;
    examples::write_pgm(stem.string() + suffix, examples::upscale(examples::tile(tiles, 8), scale));
  };
  draw(examples::normalized(v.data(), c * h, w), "_sample0.pgm");
  draw(examples::normalized(sum.data(), c * h, w), "_batchsum.pgm");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path trial_dir, out, data = TDBG_EXAMPLE_FASHION_MNIST_DIR;
  std::int64_t batch = 32;
  try {
    std::vector<std::string> a(argv + 1, argv + argc);
    for (std::size_t i = 0; i < a.size(); ++i) {
      const bool has_value = i + 1 < a.size();
      if (a[i] == "--out" && has_value) out = a[++i];
      else if (a[i] == "--batch" && has_value) batch = std::stoll(a[++i]);
      else if (a[i] == "--data" && has_value) data = a[++i];
      else if (trial_dir.empty() && !a[i].starts_with("--")) trial_dir = a[i];
      else throw std::invalid_argument("unknown argument or missing value: " + a[i]);
    }
    if (trial_dir.empty() || batch < 1) throw std::invalid_argument("expected <trial dir> (and --batch >= 1)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tensor_plot: %s\nusage: tensor_plot <trial dir> [--out DIR] [--batch B] [--data DIR]\n",
                 e.what());
    return 2;
  }
  if (out.empty()) out = trial_dir.string() + "_maps";
  try {
    torch::manual_seed(0);
    const auto d = examples::load_fashion_mnist(data, "train", 4 * batch);
    const auto xs = torch::from_blob(const_cast<std::uint8_t*>(d.pixels.data()), {d.count, 1, 28, 28}, torch::kByte)
                        .to(torch::kFloat)
                        .div_(255.0);
    const auto ys = torch::from_blob(const_cast<std::uint8_t*>(d.labels.data()), {d.count}, torch::kByte)
                        .to(torch::kLong);
    ConvNet net;
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    {
      std::filesystem::remove_all(trial_dir);
      tdbg::hook h(trial_dir, cl::collections<relu_outputs>{});
      tdbg::integrations::torch_hook th(h, net);
      h.set_mode(tdbg::mode::train);
      for (std::int64_t step = 0; step < 4; ++step) {
        const auto x = xs.narrow(0, step * batch, batch), y = ys.narrow(0, step * batch, batch);
        th.begin_step();
        opt.zero_grad();
        const auto logits = th.forward(net->classifier, th.forward(net->features, x));
        const auto loss = torch::nn::functional::cross_entropy(logits, y);
        loss.backward();
        opt.step();
        th.end_step();
      }
      h.close();
    }

    tdbg::trial::trial tr(trial_dir);
    tdbg::trial::name_query q;
    q.collection = "relu_activations";
    int maps = 0;
    for (const auto& name : tr.tensor_names(q)) {
      const auto layer = name.substr(0, name.size() - std::string("_output_0").size());
      for (const auto step : tr.tensor(name).steps(tdbg::mode::train)) {
        maps += render(tr.tensor(name).value(step, tdbg::mode::train), out / ("step" + std::to_string(step) + "_" + layer));
        std::printf("step %lld  %-26s %s\n", static_cast<long long>(step), name.c_str(),
                    tdbg::shape_string(tr.tensor(name).value(step, tdbg::mode::train).shape()).c_str());
      }
    }
    std::printf("wrote %d activation maps (PGM) into %s\n", maps, out.string().c_str());
    return maps > 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tensor_plot: %s\n", e.what());
    return 1;
  }
}
