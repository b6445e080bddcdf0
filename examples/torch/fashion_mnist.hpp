// examples/torch/fashion_mnist.hpp — reads Fashion-MNIST's idx files (gzip'd or plain), as the
// Debian package dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist.
// Shared by the LibTorch examples; no LibTorch here (the examples wrap the bytes in tensors).
//
// idx format: big-endian u32 magic (0x00000803 images, 0x00000801 labels), u32 extents, then
// u8 elements in C order. Images are 28x28, labels 0..9 (class_names below).
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

inline const std::filesystem::path default_fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

inline constexpr std::array<const char*, 10> class_names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// Images (n x 28 x 28 bytes, 0..255) and their labels.
struct fashion_mnist {
  std::int64_t count = 0;
  std::vector<std::uint8_t> pixels;  ///< count * 28 * 28
  std::vector<std::uint8_t> labels;  ///< count
};

namespace detail {

/// Reads a gzip'd (or plain: zlib reads both) file's first bytes; throws naming the file.
class gz_reader {
 public:
  explicit gz_reader(const std::filesystem::path& p) : path_(p.string()), f_(gzopen(path_.c_str(), "rb")) {
    if (!f_) throw std::runtime_error(path_ + ": cannot open (install dataset-fashion-mnist, or pass --data DIR)");
  }
  gz_reader(const gz_reader&) = delete;
  gz_reader& operator=(const gz_reader&) = delete;
  ~gz_reader() { gzclose(f_); }

  void read(void* out, std::size_t n) {
    auto* p = static_cast<unsigned char*>(out);
    while (n > 0) {
      const unsigned chunk = n > (1u << 30) ? (1u << 30) : static_cast<unsigned>(n);
      const int got = gzread(f_, p, chunk);
      if (got <= 0) throw std::runtime_error(path_ + ": truncated or corrupt idx file");
      p += got;
      n -= static_cast<std::size_t>(got);
    }
  }
  std::uint32_t u32() {
    unsigned char b[4];
    read(b, 4);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
  gzFile f_;
};

inline std::filesystem::path idx_file(const std::filesystem::path& dir, const std::string& stem) {
  for (const char* ext : {".gz", ""})
    if (auto p = dir / (stem + ext); std::filesystem::exists(p)) return p;
  return dir / (stem + ".gz");  // the error names the usual file
}

}  // namespace detail

/// Reads the first `limit` (all when negative) samples of the "train" or "t10k" split.
inline fashion_mnist load_fashion_mnist(const std::filesystem::path& dir, const std::string& split,
                                        std::int64_t limit = -1) {
  detail::gz_reader images(detail::idx_file(dir, split + "-images-idx3-ubyte"));
  detail::gz_reader labels(detail::idx_file(dir, split + "-labels-idx1-ubyte"));
  if (images.u32() != 0x00000803) throw std::runtime_error(images.path() + ": not an idx3 image file");
  if (labels.u32() != 0x00000801) throw std::runtime_error(labels.path() + ": not an idx1 label file");
  const std::int64_t n = images.u32();
  if (images.u32() != 28 || images.u32() != 28) throw std::runtime_error(images.path() + ": images are not 28x28");
  if (labels.u32() != static_cast<std::uint32_t>(n))
    throw std::runtime_error(labels.path() + ": label count differs from the image count");
  fashion_mnist d;
  d.count = limit < 0 || limit > n ? n : limit;
  d.pixels.resize(static_cast<std::size_t>(d.count) * 28 * 28);
  d.labels.resize(static_cast<std::size_t>(d.count));
  images.read(d.pixels.data(), d.pixels.size());
  labels.read(d.labels.data(), d.labels.size());
  for (auto l : d.labels)
    if (l > 9) throw std::runtime_error(labels.path() + ": label " + std::to_string(l) + " out of 0..9");
  return d;
}

}  // namespace examples
