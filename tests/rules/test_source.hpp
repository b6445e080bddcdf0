// tests/rules/test_source.hpp — a small in-memory data_source for rule tests (and examples).
// Steps are declared with their mode and mode step; tensors are put per (name, step, worker)
// as raw values and/or stored reductions, optionally with a save order. Counts value() calls so tests can check what was read.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdbg/core/dtype.hpp"
#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules::test {

/// A tensor of element type T (float16_t, bool, integers, floats) with the given shape
/// (default: 1-D of values.size()).
template <class T>
tdbg::tensor make(const std::vector<T>& values, shape_t shape = {}) {
  if (shape.empty() && values.size() != 1) shape = {static_cast<std::int64_t>(values.size())};
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<std::uint8_t> b(values.begin(), values.end());
    return tdbg::tensor(dtype::boolean, std::move(shape), std::as_bytes(std::span<const std::uint8_t>(b)));
  } else {
    return tdbg::tensor(dtype_of<T>::value, std::move(shape), std::as_bytes(std::span<const T>(values)));
  }
}

/// float16 tensor from floats.
inline tdbg::tensor make_half(const std::vector<float>& values) {
  std::vector<float16_t> h;
  for (float f : values) h.push_back(float16_t{float_to_half(f)});
  return make<float16_t>(h);
}

class memory_source final : public data_source {
 public:
  /// Declares global step g in mode m with mode step ms (default: g).
  memory_source& step(step_t g, tdbg::mode m = tdbg::mode::train, std::optional<step_t> ms = {}) {
    points_[g] = step_point{g, m, ms.value_or(g)};
    return *this;
  }
  /// Puts a raw value (declares the step in TRAIN if unknown).
  memory_source& put(const std::string& name, step_t g, tdbg::tensor t, const std::string& worker = "worker_0") {
    ensure_step(g);
    data_[name][g][worker].value = std::make_shared<const tdbg::tensor>(std::move(t));
    return *this;
  }
  /// Puts a 1-D float32 value.
  memory_source& put(const std::string& name, step_t g, std::vector<float> v, const std::string& worker = "worker_0") {
    return put(name, g, make<float>(v), worker);
  }
  /// Puts a stored reduction.
  memory_source& put_reduction(const std::string& name, step_t g, reduction r, double v,
                               const std::string& worker = "worker_0") {
    ensure_step(g);
    data_[name][g][worker].reductions[reduction_name(r)] = v;
    return *this;
  }
  /// Sets the save order of a put tensor (default: unknown, as a source that keeps no order).
  memory_source& order(const std::string& name, step_t g, std::size_t position, const std::string& worker = "worker_0") {
    ensure_step(g);
    data_[name][g][worker].order = position;
    return *this;
  }
  memory_source& collection(const std::string& name, std::vector<std::string> tensors) {
    collections_[name] = std::move(tensors);
    return *this;
  }
  memory_source& set_complete(bool c) {
    complete_ = c;
    return *this;
  }

  [[nodiscard]] std::vector<std::string> tensor_names() const override {
    std::vector<std::string> out;
    for (const auto& [n, _] : data_) out.push_back(n);
    return out;
  }
  [[nodiscard]] std::vector<std::string> collection_tensor_names(std::string_view c) const override {
    auto it = collections_.find(std::string(c));
    if (it == collections_.end()) return {};
    auto v = it->second;
    std::sort(v.begin(), v.end());
    return v;
  }
  [[nodiscard]] std::vector<step_t> tensor_steps(std::string_view tensor, tdbg::mode m) const override {
    std::vector<step_t> out;
    auto it = data_.find(std::string(tensor));
    if (it == data_.end()) return out;
    for (const auto& [g, _] : it->second)
      if (m == tdbg::mode::global || points_.at(g).mode == m) out.push_back(g);
    return out;
  }
  [[nodiscard]] std::vector<step_t> steps(tdbg::mode m) const override {
    std::vector<step_t> out;
    for (const auto& [g, p] : points_)
      if (m == tdbg::mode::global || p.mode == m) out.push_back(g);
    return out;
  }
  [[nodiscard]] std::optional<step_point> point(step_t g) const override {
    auto it = points_.find(g);
    if (it == points_.end()) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] std::vector<std::string> workers(std::string_view tensor, step_t g) const override {
    std::vector<std::string> out;
    if (const auto* w = at(tensor, g))
      for (const auto& [name, _] : *w) out.push_back(name);
    return out;
  }
  [[nodiscard]] std::shared_ptr<const tdbg::tensor> value(std::string_view tensor, step_t g,
                                                          std::string_view worker = {}) const override {
    ++value_reads;
    const entry* e = pick(tensor, g, worker);
    return e ? e->value : nullptr;
  }
  [[nodiscard]] std::optional<double> stored_reduction(std::string_view tensor, step_t g, reduction r,
                                                       std::string_view worker = {}) const override {
    const entry* e = pick(tensor, g, worker);
    if (!e) return std::nullopt;
    auto it = e->reductions.find(reduction_name(r));
    if (it == e->reductions.end()) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] std::optional<std::size_t> save_order(std::string_view tensor, step_t g,
                                                      std::string_view worker = {}) const override {
    const entry* e = pick(tensor, g, worker);
    return e ? e->order : std::nullopt;
  }
  [[nodiscard]] bool complete() const override { return complete_; }
  [[nodiscard]] std::string describe() const override { return "memory source"; }

  mutable std::size_t value_reads = 0;

 private:
  struct entry {
    std::shared_ptr<const tdbg::tensor> value;
    std::map<std::string, double> reductions;
    std::optional<std::size_t> order;
  };
  using by_worker = std::map<std::string, entry>;

  void ensure_step(step_t g) {
    if (!points_.count(g)) step(g);
  }
  [[nodiscard]] const by_worker* at(std::string_view tensor, step_t g) const {
    auto it = data_.find(std::string(tensor));
    if (it == data_.end()) return nullptr;
    auto jt = it->second.find(g);
    return jt == it->second.end() ? nullptr : &jt->second;
  }
  [[nodiscard]] const entry* pick(std::string_view tensor, step_t g, std::string_view worker) const {
    const by_worker* w = at(tensor, g);
    if (!w || w->empty()) return nullptr;
    if (worker.empty()) return &w->begin()->second;
    auto it = w->find(std::string(worker));
    return it == w->end() ? nullptr : &it->second;
  }

  std::map<step_t, step_point> points_;
  std::map<std::string, std::map<step_t, by_worker>> data_;
  std::map<std::string, std::vector<std::string>> collections_;
  bool complete_ = true;
};

}  // namespace tdbg::rules::test
