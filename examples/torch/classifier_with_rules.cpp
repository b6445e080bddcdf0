// examples/torch/classifier_with_rules.cpp — a CNN learns Fashion-MNIST with two built-in rules
// attached in process; a rule summary like SageMaker Debugger's, and the loss series.
//
//   classifier_with_rules <trial dir> [--steps N] [--batch B] [--train-samples N] [--data DIR]
//                         [--csv FILE] [--rules DIR] [--set rule.param=value ...]
//
// The rules are the files rules/vanishing_gradient.rule and rules/loss_not_decreasing.rule,
// loaded at run time (tdbg::lang::load_rules; --set overrides a parameter, e.g.
// --set loss_not_decreasing.num_steps=20) and attached to the hook (tdbg::rules::attach): they
// run at the end of each step on the tensors the hook saves (gradients every 10 steps, the loss
// every step), with no disk round trip. Findings are printed as they happen. At the end the
// program prints, per rule, its status as SageMaker's rule job summary does — NoIssuesFound,
// IssuesFound, or InsufficientData (never evaluated on complete data) — and writes the
// training loss per step as CSV (step,loss) for a plot. The test accuracy on 1000 t10k images
// shows the classifier learned.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common.hpp"
#include "fashion_mnist.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/integrations/libtorch.hpp"
#include "tdbg/lang/lang.hpp"
#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/attach.hpp"

namespace {

namespace cl = tdbg::collect;

struct FashionCNNImpl : torch::nn::Module {
  FashionCNNImpl() {
    namespace nn = torch::nn;
    features = register_module(
        "features", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 8, 3)), nn::ReLU(), nn::MaxPool2d(2),
                                   nn::Conv2d(nn::Conv2dOptions(8, 16, 3)), nn::ReLU(), nn::MaxPool2d(2)));
    classifier = register_module("classifier", nn::Sequential(nn::Flatten(), nn::Linear(16 * 5 * 5, 64), nn::ReLU(),
                                                              nn::Linear(64, 10)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return classifier->forward(features->forward(x)); }
  torch::nn::Sequential features{nullptr}, classifier{nullptr};
};
TORCH_MODULE(FashionCNN);

constexpr auto gradients = cl::defaults::gradients.every(10);
constexpr auto losses = cl::defaults::losses.every(1);

struct options {
  std::filesystem::path out;
  int steps = 600;
  int batch = 64;
  std::int64_t train_samples = 60000;
  std::filesystem::path data = TDBG_EXAMPLE_FASHION_MNIST_DIR;
  std::filesystem::path csv;
  std::filesystem::path rules_dir = TDBG_EXAMPLE_RULES_DIR;
  std::vector<std::string> overrides;
};

options parse(int argc, char** argv) {
  options o;
  o.out = examples::parse_command_line(argc, argv, [&](const std::string& name, const auto& value) {
    if (name == "--steps") o.steps = std::stoi(value());
    else if (name == "--batch") o.batch = std::stoi(value());
    else if (name == "--train-samples") o.train_samples = std::stoll(value());
    else if (name == "--data") o.data = value();
    else if (name == "--csv") o.csv = value();
    else if (name == "--rules") o.rules_dir = value();
    else if (name == "--set") o.overrides.push_back(value());
    else return false;
    return true;
  });
  if (o.steps < 1 || o.batch < 1 || o.train_samples < o.batch)
    throw std::invalid_argument("--steps, --batch must be >= 1 and --train-samples >= --batch");
  if (o.csv.empty()) o.csv = o.out.string() + "_loss.csv";
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "classifier_with_rules: %s\nusage: classifier_with_rules <trial dir> [--steps N] [--batch B] "
                 "[--train-samples N] [--data DIR] [--csv FILE] [--rules DIR] [--set rule.param=value ...]\n",
                 e.what());
    return 2;
  }
  try {
    torch::manual_seed(0);
    const auto [train_x, train_y] = examples::to_tensors(examples::load_fashion_mnist(o.data, "train", o.train_samples));
    const auto [test_x, test_y] = examples::to_tensors(examples::load_fashion_mnist(o.data, "t10k", 1000));
    FashionCNN net;
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));

    std::filesystem::remove_all(o.out);
    tdbg::hook h(o.out, cl::collections<gradients, losses>{});
    tdbg::integrations::torch_hook th(h, net);
    auto rules = tdbg::lang::load_rules(o.rules_dir / "vanishing_gradient.rule", o.overrides);
    for (auto& r : tdbg::lang::load_rules(o.rules_dir / "loss_not_decreasing.rule", o.overrides))
      rules.push_back(std::move(r));
    int shown = 0;
    auto session = tdbg::rules::attach(h, std::move(rules), {tdbg::rules::on_finding([&](const tdbg::rules::finding& f) {
                                         if (++shown <= 5) std::printf("  finding: %s\n", f.message.c_str());
                                       })});

    std::ofstream csv(o.csv);
    csv << "step,loss\n";
    h.set_mode(tdbg::mode::train);
    net->train();
    const auto n = train_x.size(0);
    auto perm = torch::randperm(n);
    std::int64_t at = 0;
    for (int step = 0; step < o.steps; ++step) {
      if (at + o.batch > n) perm = torch::randperm(n), at = 0;
      const auto idx = perm.narrow(0, at, o.batch);
      at += o.batch;
      const auto x = train_x.index_select(0, idx), y = train_y.index_select(0, idx);
      th.begin_step();
      opt.zero_grad();
      const auto logits = net->forward(x);
      const auto loss = torch::nn::functional::cross_entropy(logits, y);
      th.save_loss(loss, "CrossEntropyLoss");
      loss.backward();
      th.save_gradients();
      opt.step();
      th.end_step();  // the rules run here
      csv << step << ',' << loss.item<float>() << '\n';
    }
    h.close();
    csv.close();
    if (!csv) throw std::runtime_error(o.csv.string() + ": cannot write");

    net->eval();
    torch::NoGradGuard no_grad;
    const auto accuracy = net->forward(test_x).argmax(1).eq(test_y).to(torch::kFloat).mean().item<float>();
    std::printf("\ntrained %d steps of %d images: test accuracy %.1f%% on 1000 t10k images\n\n", o.steps, o.batch,
                100.0 * static_cast<double>(accuracy));
    std::printf("%-22s %-17s %11s %6s %s\n", "Rule", "Status", "Evaluations", "Fired", "First fired at step");
    for (const auto& s : session.summaries())
      std::printf("%-22s %-17s %11zu %6zu %s\n", s.rule.c_str(), std::string(s.status()).c_str(), s.evaluated,
                  s.fired, s.first_fired ? std::to_string(*s.first_fired).c_str() : "-");
    std::printf("\nloss series (CSV, step,loss): %s\ntrial: %s\n", o.csv.string().c_str(), o.out.string().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "classifier_with_rules: %s\n", e.what());
    return 1;
  }
}
