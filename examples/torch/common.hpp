// examples/torch/common.hpp — what the LibTorch examples share: their command line (one
// positional <trial dir> and `--name value` options) and Fashion-MNIST as tensors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "fashion_mnist.hpp"

namespace examples {

/// Parses `<trial dir> [--name value ...]` and returns the trial dir. For each option,
/// on_option(name, value) is called; it returns false for a name it does not know, and calls
/// value() to read the option's value. Throws std::invalid_argument for an unknown or repeated
/// positional argument, an unknown option, an option without value, or no <trial dir>.
template <class OnOption>
std::filesystem::path parse_command_line(int argc, char** argv, OnOption on_option) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  std::filesystem::path out;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string name = a[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= a.size()) throw std::invalid_argument(name + " needs a value");
      return a[++i];
    };
    if (name.starts_with("--")) {
      if (!on_option(name, value)) throw std::invalid_argument("unknown argument " + name);
    } else if (out.empty()) {
      out = name;
    } else {
      throw std::invalid_argument("unknown argument " + name);
    }
  }
  if (out.empty()) throw std::invalid_argument("missing <trial dir>");
  return out;
}

/// Images as a float tensor [n, 1, 28, 28] in 0..1 and labels as int64 [n].
inline std::pair<torch::Tensor, torch::Tensor> to_tensors(const fashion_mnist& d) {
  auto x = torch::from_blob(const_cast<std::uint8_t*>(d.pixels.data()), {d.count, 1, 28, 28}, torch::kByte)
               .to(torch::kFloat)
               .div_(255.0);
  auto y = torch::from_blob(const_cast<std::uint8_t*>(d.labels.data()), {d.count}, torch::kByte).to(torch::kLong);
  return {x, y};
}

}  // namespace examples
