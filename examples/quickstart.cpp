// examples/quickstart.cpp — the README's first example: train a small two-layer network with
// plain Eigen and save what matters with a tdbg hook, in smdebug's trial format.
//
//   quickstart OUT_DIR [--steps N]
//
// Then look at the trial:  tdbg ls OUT_DIR   and   tdbg values OUT_DIR MSELoss_output_0
// Tensor names follow smdebug's PyTorch naming, so smdebug's default collections select them.
#include <tdbg/collect/defaults.hpp>
#include <tdbg/hook/eigen.hpp>
#include <tdbg/hook/hook.hpp>

#include <Eigen/Core>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace {

// Weights and biases every 5 steps, with two reductions stored next to each raw tensor;
// gradients every 5 steps in TRAIN (the hook never saves gradients in EVAL); the loss each step.
constexpr auto weights = tdbg::collect::defaults::weights.every(5).reductions(
    {{tdbg::reduction_op::l2, false}, {tdbg::reduction_op::mean, true}});
constexpr auto biases = tdbg::collect::defaults::biases.every(5);
constexpr auto gradients = tdbg::collect::defaults::gradients.every(5);
constexpr auto losses = tdbg::collect::defaults::losses.every(1);

using matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using vector = Eigen::VectorXf;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [--steps N]\n", argv[0]);
    return 2;
  }
  int steps = 40;
  if (argc == 4 && std::string(argv[2]) == "--steps") steps = std::atoi(argv[3]);

  try {
    tdbg::hook hook(argv[1], tdbg::collect::collections<weights, biases, gradients, losses>{});

    // A regression problem: y = sin(x0) + 0.5 x1, learned by 2 → 16 → 1 with ReLU.
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.f, 1.f);
    const int batch = 32, hidden = 16;
    matrix w1(hidden, 2), w2(1, hidden);
    for (auto* m : {&w1, &w2})
      for (Eigen::Index i = 0; i < m->size(); ++i) m->data()[i] = 0.5f * normal(rng);
    vector b1 = vector::Zero(hidden), b2 = vector::Zero(1);
    const float lr = 0.05f;

    auto make_batch = [&](matrix& x, matrix& y) {
      x.resize(batch, 2);
      y.resize(batch, 1);
      for (int i = 0; i < batch; ++i) {
        x(i, 0) = normal(rng);
        x(i, 1) = normal(rng);
        y(i, 0) = std::sin(x(i, 0)) + 0.5f * x(i, 1);
      }
    };

    for (int step = 0; step < steps; ++step) {
      const bool eval = step % 10 >= 8;  // 8 training steps, then 2 evaluation steps
      hook.set_mode(eval ? tdbg::mode::eval : tdbg::mode::train);
      hook.begin_step();

      hook.save("MLP_fc1.weight", w1);
      hook.save("MLP_fc1.bias", b1);
      hook.save("MLP_fc2.weight", w2);
      hook.save("MLP_fc2.bias", b2);

      matrix x, y;
      make_batch(x, y);
      const matrix pre = (x * w1.transpose()).rowwise() + b1.transpose();
      const matrix h = pre.cwiseMax(0.f);
      const matrix out = (h * w2.transpose()).rowwise() + b2.transpose();
      const matrix diff = out - y;
      const float loss = diff.squaredNorm() / batch;
      hook.save("MSELoss_output_0", tdbg::tensor::scalar(loss));

      if (!eval) {
        const matrix dout = 2.f * diff / batch;
        const matrix gw2 = dout.transpose() * h;
        const vector gb2 = dout.colwise().sum().transpose();
        const matrix dh = (dout * w2).cwiseProduct((pre.array() > 0.f).cast<float>().matrix());
        const matrix gw1 = dh.transpose() * x;
        const vector gb1 = dh.colwise().sum().transpose();
        hook.save("gradient/MLP_fc1.weight", gw1);
        hook.save("gradient/MLP_fc1.bias", gb1);
        hook.save("gradient/MLP_fc2.weight", gw2);
        hook.save("gradient/MLP_fc2.bias", gb2);
        w1 -= lr * gw1;
        b1 -= lr * gb1;
        w2 -= lr * gw2;
        b2 -= lr * gb2;
      }
      hook.end_step();
      if (step % 10 == 9) std::printf("step %3d  %s loss %.4f\n", step, eval ? "eval " : "train", loss);
    }
    hook.close();
    std::printf("trial written to %s\n", argv[1]);
  } catch (const tdbg::error& e) {
    std::fprintf(stderr, "quickstart: %s\n", e.what());
    return 1;
  }
  return 0;
}
