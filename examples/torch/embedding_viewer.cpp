// examples/torch/embedding_viewer.cpp — follows the autoencoder's trial while it is written and
// renders each EVAL step: a 2-D embedding of the bottleneck (PCA) and input/output image pairs.
// No LibTorch: it reads the trial with tdbg::trial::trial, as any second process can.
//
//   embedding_viewer <trial dir> <output dir> [--timeout SECONDS] [--pairs K]
//   embedding_viewer --self-test          (checks the PCA against a known answer)
//
// Reads, at each EVAL step as it appears (autoencoder_fashion_mnist.cpp writes them):
//   encoder_output_0      [n, d] float32   the bottleneck (latent vectors)
//   labels                [n]    int64     Fashion-MNIST classes
//   Autoencoder_input_0   [n, 1, 28, 28]   the images
//   Autoencoder_output_0  [n, 1, 28, 28]   their reconstructions
// Writes, per EVAL step S:
//   embedding_S.csv   x,y,label — the bottleneck projected on its first two principal components
//   embedding_S.svg   the same as a scatter plot, one colour per class
//   pairs_S.pgm       K inputs (top row) above their reconstructions (bottom row)
// It waits for the trial directory to appear, polls the trial (refresh) for new steps, and ends
// when the trial has ended (training_job_end.ts) and every step is rendered; exit status 1 if
// that does not happen within --timeout seconds (default 600).
//
// PCA: the covariance of the centred latent vectors (divided by n-1), its two leading
// eigenvectors (Eigen's SelfAdjointEigenSolver) as the axes, each signed so that its largest
// loading is positive (so successive steps do not flip at random).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Dense>

#include "images.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/trial/trial.hpp"

namespace {

/// The first two principal components of the rows of X.
struct pca_result {
  Eigen::MatrixXd projected;   ///< n x 2: the centred rows on the two axes
  Eigen::MatrixXd axes;        ///< d x 2: unit principal axes (columns)
  Eigen::Vector2d variance;    ///< the variance along each axis (eigenvalues, n-1 normalisation)
};

pca_result pca2(const Eigen::MatrixXd& x) {
  if (x.rows() < 2 || x.cols() < 2) throw std::invalid_argument("pca2: needs at least 2 samples of dimension >= 2");
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const Eigen::MatrixXd centred = x.rowwise() - mean;
  const Eigen::MatrixXd cov = centred.transpose() * centred / static_cast<double>(x.rows() - 1);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  if (eig.info() != Eigen::Success) throw std::runtime_error("pca2: eigen decomposition failed");
  pca_result r;
  r.axes.resize(x.cols(), 2);
  for (int k = 0; k < 2; ++k) {  // eigenvalues ascend: the leading ones are last
    const auto col = x.cols() - 1 - k;
    Eigen::VectorXd axis = eig.eigenvectors().col(col);
    Eigen::Index at = 0;
    axis.cwiseAbs().maxCoeff(&at);
    if (axis(at) < 0) axis = -axis;
    r.axes.col(k) = axis;
    r.variance(k) = eig.eigenvalues()(col);
  }
  r.projected = centred * r.axes;
  return r;
}

/// The known answer: 4 points spanning the directions u = (1,1,0)/sqrt(2) (coordinates ±3) and
/// v = (0,0,1) (coordinates ±1) around (1,2,3); PCA must give back u, v, those coordinates and
/// the variances 18/3 and 2/3.
int self_test() {
  const Eigen::Vector3d u = Eigen::Vector3d(1, 1, 0).normalized(), v(0, 0, 1), m(1, 2, 3);
  const std::array<std::array<double, 2>, 4> coords{{{3, 0}, {-3, 0}, {0, 1}, {0, -1}}};
  Eigen::MatrixXd x(4, 3);
  for (int i = 0; i < 4; ++i) x.row(i) = (m + coords[i][0] * u + coords[i][1] * v).transpose();
  const auto r = pca2(x);
  int failures = 0;
  auto expect = [&](bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    failures += ok ? 0 : 1;
  };
  expect((r.axes.col(0) - u).norm() < 1e-9, "first axis is u");
  expect((r.axes.col(1) - v).norm() < 1e-9, "second axis is v");
  expect(std::abs(r.variance(0) - 6.0) < 1e-9 && std::abs(r.variance(1) - 2.0 / 3.0) < 1e-9, "variances 6 and 2/3");
  bool coords_ok = true;
  for (int i = 0; i < 4; ++i)
    coords_ok = coords_ok && std::abs(r.projected(i, 0) - coords[i][0]) < 1e-9 &&
                std::abs(r.projected(i, 1) - coords[i][1]) < 1e-9;
  expect(coords_ok, "projections are the coordinates on u and v");
  // Flipping the data's orientation must not flip the axes (sign convention).
  const auto flipped = pca2(-x);
  expect((flipped.axes - r.axes).norm() < 1e-9, "axes keep their sign when the data is mirrored");
  return failures == 0 ? 0 : 1;
}

constexpr std::array<const char*, 10> palette{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                              "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

void write_embedding(const std::filesystem::path& dir, tdbg::step_t step, const pca_result& r,
                     const std::vector<std::int64_t>& labels) {
  const auto stem = dir / ("embedding_" + std::to_string(step));
  std::ofstream csv(stem.string() + ".csv");
  csv << "x,y,label\n";
  for (Eigen::Index i = 0; i < r.projected.rows(); ++i)
    csv << r.projected(i, 0) << ',' << r.projected(i, 1) << ',' << labels[static_cast<std::size_t>(i)] << '\n';
  const double lo_x = r.projected.col(0).minCoeff(), hi_x = r.projected.col(0).maxCoeff();
  const double lo_y = r.projected.col(1).minCoeff(), hi_y = r.projected.col(1).maxCoeff();
  auto px = [&](double v, double lo, double hi) { return 10.0 + 380.0 * (hi > lo ? (v - lo) / (hi - lo) : 0.5); };
  std::ofstream svg(stem.string() + ".svg");
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" height=\"420\">\n"
      << "<rect width=\"400\" height=\"420\" fill=\"white\"/>\n"
      << "<text x=\"10\" y=\"414\" font-size=\"12\">bottleneck PCA, EVAL step " << step << "</text>\n";
  for (Eigen::Index i = 0; i < r.projected.rows(); ++i)
    svg << "<circle cx=\"" << px(r.projected(i, 0), lo_x, hi_x) << "\" cy=\""
        << 400.0 - px(r.projected(i, 1), lo_y, hi_y) << "\" r=\"2.5\" fill=\""
        << palette[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)] % 10)] << "\"/>\n";
  svg << "</svg>\n";
  if (!csv || !svg) throw std::runtime_error(stem.string() + ".csv/.svg: cannot write");
}

examples::image to_image(const tdbg::tensor& batch, std::int64_t k) {
  const auto& s = batch.shape();
  const auto h = s[s.size() - 2], w = s[s.size() - 1];
  examples::image img(w, h);
  for (std::int64_t i = 0; i < h * w; ++i)
    img.pixels[static_cast<std::size_t>(i)] = static_cast<float>(batch.as_double(static_cast<std::size_t>(k * h * w + i)));
  return img;
}

/// Renders one EVAL step of the trial.
void render(const tdbg::trial::trial& tr, tdbg::step_t s, const std::filesystem::path& out, std::int64_t pairs) {
  const auto eval = tdbg::mode::eval;
  const auto z = tr.tensor("encoder_output_0").value(s, eval);
  const auto y = tr.tensor("labels").value(s, eval);
  if (z.rank() != 2 || y.rank() != 1 || y.shape()[0] != z.shape()[0])
    throw tdbg::format_error("EVAL step " + std::to_string(s) + ": expected encoder_output_0 [n, d] and labels [n]");
  const auto n = z.shape()[0], d = z.shape()[1];
  Eigen::MatrixXd x(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) x(i, j) = z.as_double(static_cast<std::size_t>(i * d + j));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) labels[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(y.as_double(static_cast<std::size_t>(i)));
  const auto r = pca2(x);
  write_embedding(out, s, r, labels);

  const auto in = tr.tensor("Autoencoder_input_0").value(s, eval);
  const auto rec = tr.tensor("Autoencoder_output_0").value(s, eval);
  const auto k = std::min({pairs, in.shape()[0], rec.shape()[0]});
  std::vector<examples::image> tiles;
  for (std::int64_t i = 0; i < k; ++i) tiles.push_back(to_image(in, i));
  for (std::int64_t i = 0; i < k; ++i) tiles.push_back(to_image(rec, i));
  examples::write_pgm(out / ("pairs_" + std::to_string(s) + ".pgm"), examples::upscale(examples::tile(tiles, k), 2));
  std::printf("EVAL step %lld: %lld latent vectors of dimension %lld, variance along the axes %.3g, %.3g; "
              "%lld image pairs\n",
              static_cast<long long>(s), static_cast<long long>(n), static_cast<long long>(d), r.variance(0),
              r.variance(1), static_cast<long long>(k));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 1 && a[0] == "--self-test") return self_test();
  std::vector<std::string> positional;
  double timeout = 600;
  std::int64_t pairs = 8;
  try {
    for (std::size_t i = 0; i < a.size(); ++i) {
      if ((a[i] == "--timeout" || a[i] == "--pairs") && i + 1 < a.size()) {
        (a[i] == "--timeout" ? timeout = std::stod(a[i + 1]) : pairs = std::stoll(a[i + 1]));
        ++i;
      } else if (!a[i].starts_with("--")) {
        positional.push_back(a[i]);
      } else {
        throw std::invalid_argument("unknown argument " + a[i]);
      }
    }
    if (positional.size() != 2 || pairs < 1) throw std::invalid_argument("expected <trial dir> <output dir>");
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "embedding_viewer: %s\nusage: embedding_viewer <trial dir> <output dir> [--timeout SECONDS] "
                 "[--pairs K] | --self-test\n",
                 e.what());
    return 2;
  }
  const std::filesystem::path dir = positional[0], out = positional[1];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  try {
    std::filesystem::create_directories(out);
    while (!std::filesystem::is_directory(dir)) {
      if (std::chrono::steady_clock::now() > deadline) throw tdbg::io_error(dir.string() + ": no trial appeared");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    tdbg::trial::trial tr(dir);
    std::set<tdbg::step_t> done;
    for (;;) {
      tr.refresh();
      const bool ended = tr.loaded_all_steps();  // before listing: nothing can be missed
      for (const auto s : tr.steps(tdbg::mode::eval))
        if (done.insert(s).second) render(tr, s, out, pairs);
      if (ended) break;
      if (std::chrono::steady_clock::now() > deadline)
        throw tdbg::io_error(dir.string() + ": the trial did not end within " + std::to_string(timeout) + " s");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::printf("rendered %zu EVAL steps into %s\n", done.size(), out.string().c_str());
    return done.empty() ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embedding_viewer: %s\n", e.what());
    return 1;
  }
}
