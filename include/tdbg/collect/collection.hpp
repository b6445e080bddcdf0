// tdbg/collect/collection.hpp — the run-time collection: a named group of tensors with its save
// and reduction configs (smdebug's Collection, spec §5, §7.2).
// Layer: collect (core and the standard library only). Compile-time configs (collect/config.hpp)
// and the JSON hook configuration (collect/json_config.hpp) both produce this type; the hook
// uses only this type.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/collect/reduction_config.hpp"
#include "tdbg/collect/save_config.hpp"

namespace tdbg::collect {

/// A named group of tensors. A tensor belongs to it when its name is in `tensor_names` or when
/// any `include_regex` matches anywhere in the name (Python `re.search` semantics).
struct collection {
  std::string name{};
  std::vector<std::string> include_regex{};
  std::vector<std::string> tensor_names{};
  /// nullopt: take the hook's reduction config.
  std::optional<reduction_config> reductions{};
  /// nullopt: take the hook's save config as is; otherwise modes left empty are filled from the
  /// hook's (or with save_config_mode{} where the hook's is empty too), as smdebug does.
  std::optional<save_config> save{};
  bool save_histogram = true;

  friend bool operator==(const collection&, const collection&) = default;
};

/// smdebug's CollectionKeys names.
namespace keys {
inline constexpr std::string_view default_ = "default", all = "all", inputs = "inputs",
                                  outputs = "outputs", weights = "weights",
                                  gradients = "gradients", losses = "losses", biases = "biases",
                                  layers = "layers", sm_metrics = "sm_metrics",
                                  optimizer_variables = "optimizer_variables",
                                  tensorflow_summaries = "tensorflow_summaries",
                                  metrics = "metrics", hyperparameters = "hyperparameters",
                                  predictions = "predictions", labels = "labels",
                                  feature_importance = "feature_importance",
                                  average_shap = "average_shap", full_shap = "full_shap",
                                  trees = "trees";
}  // namespace keys

/// smdebug's SCALAR_COLLECTIONS: forced to raw tensors without reductions or histograms.
[[nodiscard]] constexpr bool is_scalar_collection(std::string_view name) noexcept {
  return name == keys::losses || name == keys::metrics || name == keys::feature_importance ||
         name == keys::average_shap || name == keys::sm_metrics;
}

/// Collections never saved in EVAL and PREDICT mode (gradients, optimizer_variables).
[[nodiscard]] constexpr bool is_train_only_collection(std::string_view name) noexcept {
  return name == keys::gradients || name == keys::optimizer_variables;
}

/// The hook-level settings a collection falls back to.
struct hook_defaults {
  save_config save = save_config::every(default_save_interval);
  reduction_config reductions{};
};

/// `c` as the hook prepares it before saving (smdebug `_prepare_collections`): save config
/// completed from the hook's, reduction config taken from the hook's when absent, scalar
/// collections forced to raw tensors without reductions and without histograms.
[[nodiscard]] inline collection resolve(collection c, const hook_defaults& d) {
  if (!c.save) {
    c.save = d.save;
  } else {
    for (mode m : all_modes) {
      auto& slot = (*c.save)[m];
      if (!slot) slot = d.save[m] ? *d.save[m] : save_config_mode{};
    }
  }
  if (is_scalar_collection(c.name)) {
    c.reductions = reduction_config{};
    c.save_histogram = false;
  } else if (!c.reductions) {
    c.reductions = d.reductions;
  }
  return c;
}

/// Throws config_error for an empty name, an invalid save config or duplicate names.
inline void validate(const std::vector<collection>& cs) {
  for (std::size_t i = 0; i < cs.size(); ++i) {
    if (cs[i].name.empty()) throw config_error("a collection has an empty name");
    if (cs[i].save) cs[i].save->validate("collection '" + cs[i].name + "'");
    for (std::size_t j = 0; j < i; ++j)
      if (cs[j].name == cs[i].name)
        throw config_error("two collections are named '" + cs[i].name + "'");
  }
}

}  // namespace tdbg::collect
