// examples/rules/example_source.hpp — a minimal in-memory data_source for the rule examples:
// every step is complete; tensors are put per (name, global step, worker). Real programs use
// rules::trial_source (a trial on disk) or rules::live_source (fed by a hook in process).
#pragma once

#include <algorithm>
#include <cstdio>
#include <span>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/source.hpp"

namespace example {

using tdbg::step_t;

class memory_source final : public tdbg::rules::data_source {
 public:
  /// Declares a step (global step g, its mode and mode step).
  memory_source& step(step_t g, tdbg::mode m, step_t mode_step) {
    points_[g] = {g, m, mode_step};
    return *this;
  }
  /// A 1-D float32 tensor (the step must have been declared).
  memory_source& put(const std::string& name, step_t g, const std::vector<float>& v,
                     const std::string& worker = "worker_0") {
    auto t = std::make_shared<const tdbg::tensor>(tdbg::dtype::float32, tdbg::shape_t{static_cast<std::int64_t>(v.size())},
                                                  std::as_bytes(std::span<const float>(v)));
    values_[name][g][worker] = std::move(t);
    return *this;
  }
  memory_source& collection(const std::string& name, std::vector<std::string> tensors) {
    std::sort(tensors.begin(), tensors.end());
    collections_[name] = std::move(tensors);
    return *this;
  }

  std::vector<std::string> tensor_names() const override {
    std::vector<std::string> out;
    for (const auto& kv : values_) out.push_back(kv.first);
    return out;
  }
  std::vector<std::string> collection_tensor_names(std::string_view c) const override {
    auto it = collections_.find(std::string(c));
    return it == collections_.end() ? std::vector<std::string>{} : it->second;
  }
  std::vector<step_t> tensor_steps(std::string_view t, tdbg::mode m) const override {
    std::vector<step_t> out;
    auto it = values_.find(std::string(t));
    if (it != values_.end())
      for (const auto& kv : it->second)
        if (m == tdbg::mode::global || points_.at(kv.first).mode == m) out.push_back(kv.first);
    return out;
  }
  std::vector<step_t> steps(tdbg::mode m) const override {
    std::vector<step_t> out;
    for (const auto& kv : points_)
      if (m == tdbg::mode::global || kv.second.mode == m) out.push_back(kv.first);
    return out;
  }
  std::optional<tdbg::rules::step_point> point(step_t g) const override {
    auto it = points_.find(g);
    if (it == points_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> workers(std::string_view t, step_t g) const override {
    std::vector<std::string> out;
    if (const auto* w = at(t, g))
      for (const auto& kv : *w) out.push_back(kv.first);
    return out;
  }
  std::shared_ptr<const tdbg::tensor> value(std::string_view t, step_t g, std::string_view worker = {}) const override {
    const auto* w = at(t, g);
    if (w == nullptr || w->empty()) return nullptr;
    if (worker.empty()) return w->begin()->second;
    auto it = w->find(std::string(worker));
    return it == w->end() ? nullptr : it->second;
  }
  std::optional<double> stored_reduction(std::string_view, step_t, tdbg::reduction, std::string_view = {}) const override {
    return std::nullopt;
  }
  bool complete() const override { return true; }
  std::string describe() const override { return "example memory source"; }

 private:
  using by_worker = std::map<std::string, std::shared_ptr<const tdbg::tensor>>;
  const by_worker* at(std::string_view t, step_t g) const {
    auto it = values_.find(std::string(t));
    if (it == values_.end()) return nullptr;
    auto jt = it->second.find(g);
    return jt == it->second.end() ? nullptr : &jt->second;
  }
  std::map<step_t, tdbg::rules::step_point> points_;
  std::map<std::string, std::map<step_t, by_worker>> values_;
  std::map<std::string, std::vector<std::string>> collections_;
};

/// Evaluates `rule` at every step it schedules; returns the steps at which it fired.
inline std::vector<step_t> fired_steps(tdbg::rules::any_rule rule, const tdbg::rules::data_source& src) {
  std::vector<step_t> out;
  for (step_t g : rule.steps(src))
    if (rule.evaluate(src, g).result == tdbg::rules::verdict::fired) out.push_back(g);
  return out;
}

/// Prints a check and counts failures (the examples exit non-zero when one fails).
inline int failures = 0;
inline void expect(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace example
