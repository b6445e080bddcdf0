// examples/torch/autoencoder_fashion_mnist.cpp — a convolutional autoencoder learns
// Fashion-MNIST; every few training steps it runs an EVAL step on fixed test images and saves
// the bottleneck (latent vectors), the labels, and the input/output images. A second process,
// embedding_viewer, follows the trial while it is written and renders each EVAL step (2-D PCA
// embedding of the bottleneck, input/output image pairs): smdebug's autoencoder notebook, in C++.
//
//   autoencoder_fashion_mnist <trial dir> [--steps N] [--eval-every N] [--batch B]
//                             [--eval-samples M] [--train-samples T] [--latent D] [--data DIR]
//   embedding_viewer <trial dir> <output dir>          (run it at the same time)
//
// Model "Autoencoder": encoder = Conv(1→8, stride 2) ReLU Conv(8→16, stride 2) ReLU Flatten
// Linear(784→D); decoder = Linear(D→784) ReLU Unflatten ConvT(16→8) ReLU ConvT(8→1) Sigmoid.
// TRAIN steps: mean squared reconstruction error, Adam; the loss is saved every 10 steps.
// EVAL steps (model->eval(): the torch_hook follows the module's mode), saved every EVAL step:
//   Autoencoder_input_0   [M, 1, 28, 28]  the images         (th.save_input on the root)
//   encoder_output_0      [M, D]          the bottleneck     (th.forward(model->encoder, x))
//   Autoencoder_output_0  [M, 1, 28, 28]  reconstructions    (th.save_output on the root)
//   labels                [M]             classes (int64)
//   MSELoss_output_0      []              the EVAL loss
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common.hpp"
#include "fashion_mnist.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/integrations/libtorch.hpp"

namespace {

namespace cl = tdbg::collect;
namespace nn = torch::nn;

struct AutoencoderImpl : nn::Module {
  explicit AutoencoderImpl(std::int64_t latent) {
    encoder = register_module(
        "encoder", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).stride(2).padding(1)), nn::ReLU(),
                                  nn::Conv2d(nn::Conv2dOptions(8, 16, 3).stride(2).padding(1)), nn::ReLU(),
                                  nn::Flatten(), nn::Linear(16 * 7 * 7, latent)));
    decoder = register_module(
        "decoder",
        nn::Sequential(nn::Linear(latent, 16 * 7 * 7), nn::ReLU(), nn::Unflatten(nn::UnflattenOptions(1, {16, 7, 7})),
                       nn::ConvTranspose2d(nn::ConvTranspose2dOptions(16, 8, 4).stride(2).padding(1)), nn::ReLU(),
                       nn::ConvTranspose2d(nn::ConvTranspose2dOptions(8, 1, 4).stride(2).padding(1)), nn::Sigmoid()));
  }
  torch::Tensor forward(const torch::Tensor& x) { return decoder->forward(encoder->forward(x)); }
  nn::Sequential encoder{nullptr}, decoder{nullptr};
};
TORCH_MODULE(Autoencoder);

constexpr auto bottleneck = cl::collection_config{"bottleneck"}.include("^encoder_output_0$").every(1);
constexpr auto images = cl::collection_config{"images"}.include("^Autoencoder_(input|output)_0$").every(1);
constexpr auto labels = cl::defaults::labels.include("^labels$").every(1);
constexpr auto losses = cl::defaults::losses.every(10).in(tdbg::mode::eval, cl::save_every(1));

struct options {
  std::filesystem::path out;
  int steps = 1500;
  int eval_every = 100;
  int batch = 64;
  std::int64_t eval_samples = 1000;
  std::int64_t train_samples = 60000;
  std::int64_t latent = 16;
  std::filesystem::path data = TDBG_EXAMPLE_FASHION_MNIST_DIR;
};

options parse(int argc, char** argv) {
  options o;
  o.out = examples::parse_command_line(argc, argv, [&](const std::string& name, const auto& value) {
    if (name == "--steps") o.steps = std::stoi(value());
    else if (name == "--eval-every") o.eval_every = std::stoi(value());
    else if (name == "--batch") o.batch = std::stoi(value());
    else if (name == "--eval-samples") o.eval_samples = std::stoll(value());
    else if (name == "--train-samples") o.train_samples = std::stoll(value());
    else if (name == "--latent") o.latent = std::stoll(value());
    else if (name == "--data") o.data = value();
    else return false;
    return true;
  });
  if (o.steps < 1 || o.eval_every < 1 || o.batch < 1 || o.eval_samples < 2 || o.latent < 2 ||
      o.train_samples < o.batch)
    throw std::invalid_argument("bad sizes: --steps/--eval-every/--batch >= 1, --eval-samples/--latent >= 2, "
                                "--train-samples >= --batch");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "autoencoder_fashion_mnist: %s\nusage: autoencoder_fashion_mnist <trial dir> [--steps N] "
                 "[--eval-every N] [--batch B] [--eval-samples M] [--train-samples T] [--latent D] [--data DIR]\n",
                 e.what());
    return 2;
  }
  try {
    torch::manual_seed(0);
    const auto [train_x, train_y] = examples::to_tensors(examples::load_fashion_mnist(o.data, "train", o.train_samples));
    const auto [eval_x, eval_y] = examples::to_tensors(examples::load_fashion_mnist(o.data, "t10k", o.eval_samples));
    Autoencoder model(o.latent);
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(2e-3));

    std::filesystem::remove_all(o.out);
    tdbg::hook h(o.out, cl::collections<bottleneck, images, labels, losses>{});
    tdbg::integrations::torch_options topt;
    topt.follow_module_mode = true;      // model->train() / model->eval() pick TRAIN / EVAL
    topt.save_parameters_at_begin = false;
    tdbg::integrations::torch_hook th(h, model, topt);

    auto eval_step = [&] {
      model->eval();
      torch::NoGradGuard no_grad;
      th.begin_step();
      th.save_input("", eval_x);                        // Autoencoder_input_0
      const auto z = th.forward(model->encoder, eval_x);  // encoder_output_0: the bottleneck
      const auto out = model->decoder->forward(z);
      th.save_output("", out);                          // Autoencoder_output_0
      th.save("labels", eval_y);
      const auto loss = torch::mse_loss(out, eval_x);
      th.save_loss(loss, "MSELoss");
      th.end_step();
      std::fprintf(stderr, "EVAL step %lld (global step %lld): reconstruction MSE %.4f\n",
                   static_cast<long long>(h.mode_step()), static_cast<long long>(h.step()),
                   static_cast<double>(loss.item<float>()));
      model->train();
    };

    const auto n = train_x.size(0);
    auto perm = torch::randperm(n);
    std::int64_t at = 0;
    model->train();
    for (int step = 1; step <= o.steps; ++step) {
      if (at + o.batch > n) perm = torch::randperm(n), at = 0;
      const auto x = train_x.index_select(0, perm.narrow(0, at, o.batch));
      at += o.batch;
      th.begin_step();
      opt.zero_grad();
      const auto loss = torch::mse_loss(model->forward(x), x);
      th.save_loss(loss, "MSELoss");
      loss.backward();
      opt.step();
      th.end_step();
      if (step % o.eval_every == 0) eval_step();
    }
    h.close();
    std::fprintf(stderr, "trial: %s (%d TRAIN steps, %d EVAL steps)\n", o.out.string().c_str(), o.steps,
                 o.steps / o.eval_every);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autoencoder_fashion_mnist: %s\n", e.what());
    return 1;
  }
}
