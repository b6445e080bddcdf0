// tdbg/collect/defaults.hpp — smdebug's default collections as ready-made compile-time configs.
// Layer: collect. None is forced on a hook: pass the ones you want to `collections<...>`.
// The regexes are smdebug's PyTorch defaults (spec §7.2); the other CollectionKeys names come
// without patterns (add tensors to them by name, or derive: `defaults::metrics.include("acc")`).
// Scalar collections (losses, metrics, sm_metrics, feature_importance, average_shap) are forced by
// the hook to raw tensors without reductions, whatever their config says, as smdebug does.
#pragma once

#include "tdbg/collect/config.hpp"

namespace tdbg::collect::defaults {

inline constexpr auto weights = collection_config{"weights"}.include("^(?!gradient).*weight");
inline constexpr auto biases = collection_config{"biases"}.include("^(?!gradient).*bias");
inline constexpr auto gradients = collection_config{"gradients"}.include("^gradient");
inline constexpr auto losses = collection_config{"losses"}.include("[Ll]oss_(?!input).*output");
inline constexpr auto default_ = collection_config{"default"};  ///< "default" is a C++ keyword
inline constexpr auto all = collection_config{"all"};
inline constexpr auto metrics = collection_config{"metrics"};
inline constexpr auto inputs = collection_config{"inputs"};
inline constexpr auto outputs = collection_config{"outputs"};
inline constexpr auto layers = collection_config{"layers"};
inline constexpr auto optimizer_variables = collection_config{"optimizer_variables"};
inline constexpr auto sm_metrics = collection_config{"sm_metrics"};
inline constexpr auto labels = collection_config{"labels"};
inline constexpr auto predictions = collection_config{"predictions"};
inline constexpr auto hyperparameters = collection_config{"hyperparameters"};
inline constexpr auto feature_importance = collection_config{"feature_importance"};
inline constexpr auto average_shap = collection_config{"average_shap"};
inline constexpr auto full_shap = collection_config{"full_shap"};
inline constexpr auto trees = collection_config{"trees"};

/// smdebug's default PyTorch set (all, default, weights, biases, gradients, losses).
using pytorch = collections<all, default_, weights, biases, gradients, losses>;

/// The default collection of a CollectionKeys name as a run-time collection (its smdebug
/// regexes), or nullopt for a name that is not one of smdebug's.
[[nodiscard]] inline std::optional<collection> find(std::string_view name) {
  for (const auto& c : {weights, biases, gradients, losses, default_, all, metrics, inputs, outputs,
                        layers, optimizer_variables, sm_metrics, labels, predictions,
                        hyperparameters, feature_importance, average_shap, full_shap, trees})
    if (c.name.view() == name) return c.to_runtime();
  return std::nullopt;
}

}  // namespace tdbg::collect::defaults
