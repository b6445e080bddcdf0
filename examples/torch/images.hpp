// examples/torch/images.hpp — grey-scale images for the examples: normalisation to 0..1, tiling
// into a grid, and binary PGM files (P5, viewable by any image viewer; `convert x.pgm x.png`).
// No LibTorch: the examples read what they render back from the trial (tdbg::tensor).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

/// A grey-scale image, values in 0..1, row-major.
struct image {
  std::int64_t width = 0;
  std::int64_t height = 0;
  std::vector<float> pixels;  ///< height * width

  image() = default;
  image(std::int64_t w, std::int64_t h, float fill = 0.0f)
      : width(w), height(h), pixels(static_cast<std::size_t>(w * h), fill) {}
  float& at(std::int64_t x, std::int64_t y) { return pixels[static_cast<std::size_t>(y * width + x)]; }
  [[nodiscard]] float at(std::int64_t x, std::int64_t y) const {
    return pixels[static_cast<std::size_t>(y * width + x)];
  }
};

/// An image of `h` x `w` values, linearly rescaled so that min → 0 and max → 1 (a constant map
/// becomes all 0). Non-finite values count as 0.
template <class Float>
[[nodiscard]] image normalized(const Float* values, std::int64_t h, std::int64_t w) {
  image img(w, h);
  double lo = INFINITY, hi = -INFINITY;
  for (std::int64_t i = 0; i < h * w; ++i) {
    const double v = std::isfinite(static_cast<double>(values[i])) ? static_cast<double>(values[i]) : 0.0;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double range = hi - lo;
  for (std::int64_t i = 0; i < h * w; ++i) {
    const double v = std::isfinite(static_cast<double>(values[i])) ? static_cast<double>(values[i]) : 0.0;
    img.pixels[static_cast<std::size_t>(i)] = range > 0 ? static_cast<float>((v - lo) / range) : 0.0f;
  }
  return img;
}

/// Tiles images of equal size into a grid of `columns`, with a 1-pixel border of value 1.
[[nodiscard]] inline image tile(const std::vector<image>& tiles, std::int64_t columns) {
  if (tiles.empty()) return {};
  const auto tw = tiles[0].width, th = tiles[0].height;
  const auto n = static_cast<std::int64_t>(tiles.size());
  columns = std::max<std::int64_t>(1, std::min(columns, n));
  const auto rows = (n + columns - 1) / columns;
  image out(columns * (tw + 1) + 1, rows * (th + 1) + 1, 1.0f);
  for (std::int64_t k = 0; k < n; ++k) {
    const auto& t = tiles[static_cast<std::size_t>(k)];
    if (t.width != tw || t.height != th) throw std::invalid_argument("tile: images differ in size");
    const auto ox = (k % columns) * (tw + 1) + 1, oy = (k / columns) * (th + 1) + 1;
    for (std::int64_t y = 0; y < th; ++y)
      for (std::int64_t x = 0; x < tw; ++x) out.at(ox + x, oy + y) = t.at(x, y);
  }
  return out;
}

/// Nearest-neighbour upscaling by an integer factor (small maps stay visible).
[[nodiscard]] inline image upscale(const image& in, std::int64_t factor) {
  image out(in.width * factor, in.height * factor);
  for (std::int64_t y = 0; y < out.height; ++y)
    for (std::int64_t x = 0; x < out.width; ++x) out.at(x, y) = in.at(x / factor, y / factor);
  return out;
}

/// Writes a binary 8-bit PGM (0..1 → 0..255). Throws naming the file on failure.
inline void write_pgm(const std::filesystem::path& p, const image& img) {
  if (!p.parent_path().empty()) std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << "P5\n" << img.width << ' ' << img.height << "\n255\n";
  std::vector<unsigned char> bytes(img.pixels.size());
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<unsigned char>(std::lround(std::clamp(img.pixels[i], 0.0f, 1.0f) * 255.0f));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error(p.string() + ": cannot write");
}

}  // namespace examples
