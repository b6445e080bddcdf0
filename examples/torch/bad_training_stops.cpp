// examples/torch/bad_training_stops.cpp — a training whose gradients vanish is stopped by a rule.
//
//   bad_training_stops <trial dir> [--steps N] [--depth D] [--activation sigmoid|relu]
//                      [--rules DIR]
//
// A deep stack of Linear+Sigmoid layers (the "DeepSigmoid" network) learns a small regression
// task. The sigmoid's derivative is at most 1/4, so the gradient reaching the first layers is
// divided by ~4 (and more) per layer: with the default depth of 12 the first layer's gradients
// are ~1e-9, under rules/vanishing_gradient.rule's threshold (1e-7). The rule is loaded at run
// time (tdbg::lang::load_rules) and attached to the hook (tdbg::rules::attach) with the stop
// action: at the end of the first step whose gradients it checks, it fires, the hook's
// should_stop() turns true and the loop ends — hundreds of steps early, as SageMaker Debugger's
// built-in action StopTraining does. With --activation relu (and He initialisation) the same
// network trains to the end and the rule finds no issue.
//
// Exit status: 0 when the run did what it shows (stopped with sigmoid, completed with relu),
// 1 otherwise, 2 on a usage error.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/integrations/libtorch.hpp"
#include "tdbg/lang/lang.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/attach.hpp"

namespace {

namespace cl = tdbg::collect;

/// Depth x (Linear(width, width) + activation), then Linear(width, 1).
struct DeepSigmoidImpl : torch::nn::Module {
  DeepSigmoidImpl(int depth, int width, bool relu) {
    body = register_module("body", torch::nn::Sequential());
    for (int i = 0; i < depth; ++i) {
      torch::nn::Linear lin(i == 0 ? 8 : width, width);
      if (relu) torch::nn::init::kaiming_normal_(lin->weight, 0.0, torch::kFanIn, torch::kReLU);
      body->push_back(lin);
      if (relu)
        body->push_back(torch::nn::ReLU());
      else
        body->push_back(torch::nn::Sigmoid());
    }
    body->push_back(torch::nn::Linear(width, 1));
  }
  torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(DeepSigmoid);

// Gradients every 5 steps (what the rule checks), the loss every step.
constexpr auto gradients = cl::defaults::gradients.every(5);
constexpr auto losses = cl::defaults::losses.every(1);

struct options {
  std::filesystem::path out;
  int steps = 500;
  int depth = 12;
  bool relu = false;
  std::filesystem::path rules_dir = TDBG_EXAMPLE_RULES_DIR;
};

options parse(int argc, char** argv) {
  options o;
  o.out = examples::parse_command_line(argc, argv, [&](const std::string& name, const auto& value) {
    if (name == "--steps") o.steps = std::stoi(value());
    else if (name == "--depth") o.depth = std::stoi(value());
    else if (name == "--rules") o.rules_dir = value();
    else if (name == "--activation") {
      const auto v = value();
      if (v != "sigmoid" && v != "relu") throw std::invalid_argument("--activation: sigmoid or relu, not " + v);
      o.relu = v == "relu";
    } else return false;
    return true;
  });
  if (o.steps < 1 || o.depth < 1) throw std::invalid_argument("--steps and --depth must be >= 1");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "bad_training_stops: %s\nusage: bad_training_stops <trial dir> [--steps N] [--depth D] "
                 "[--activation sigmoid|relu] [--rules DIR]\n",
                 e.what());
    return 2;
  }
  try {
    torch::manual_seed(0);
    torch::set_num_threads(1);  // tiny tensors: threads only add overhead
    DeepSigmoid net(o.depth, 32, o.relu);
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05));
    // The task: y = sum of the first 4 inputs, squashed (a smooth target any depth can fit).
    const auto x = torch::randn({256, 8});
    const auto y = torch::tanh(x.narrow(1, 0, 4).sum(1, true));

    std::filesystem::remove_all(o.out);
    tdbg::hook h(o.out, cl::collections<gradients, losses>{});
    tdbg::integrations::torch_hook th(h, net);
    auto rules = tdbg::lang::load_rules(o.rules_dir / "vanishing_gradient.rule");
    auto session = tdbg::rules::attach(
        h, std::move(rules), {tdbg::rules::stop_training([](const tdbg::rules::finding& f) {
          std::printf("rule %s fired at step %lld: %s\n", f.rule.c_str(), static_cast<long long>(f.step),
                      f.message.c_str());
        })});

    h.set_mode(tdbg::mode::train);
    int step = 0;
    float loss_value = 0;
    for (; step < o.steps; ++step) {
      th.begin_step();
      opt.zero_grad();
      const auto loss = torch::mse_loss(th.forward(net->body, x), y);
      th.save_loss(loss, "MSELoss");
      loss.backward();
      th.save_gradients();
      opt.step();
      loss_value = loss.item<float>();
      th.end_step();  // the rule runs here, on the step's gradients
      if (h.should_stop()) break;
    }
    h.close();

    const auto& s = session.summaries().at(0);
    std::printf("%s network of depth %d: %s after %d of %d steps (loss %.4f)\n", o.relu ? "relu" : "sigmoid",
                o.depth, h.should_stop() ? "training STOPPED by the rule" : "training completed",
                step + (h.should_stop() ? 1 : 0), o.steps, static_cast<double>(loss_value));
    std::printf("rule %s: %s (%zu evaluations, %zu fired)\n", s.rule.c_str(), std::string(s.status()).c_str(),
                s.evaluated, s.fired);
    std::printf("trial: %s\n", o.out.string().c_str());
    const bool expected = o.relu ? !h.should_stop() && s.status() == "NoIssuesFound"
                                 : h.should_stop() && s.status() == "IssuesFound";
    return expected ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bad_training_stops: %s\n", e.what());
    return 1;
  }
}
