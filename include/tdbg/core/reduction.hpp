// tdbg/core/reduction.hpp — the reductions smdebug can store (spec §8) and their computation.
// Layer: core.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tdbg {

/// The reductions smdebug stores: min max mean std variance sum prod, and the norms l1 l2.
enum class reduction_op : std::uint8_t { min, max, mean, std, variance, sum, prod, l1, l2 };

inline constexpr reduction_op all_reduction_ops[] = {
    reduction_op::min, reduction_op::max,  reduction_op::mean, reduction_op::std, reduction_op::variance,
    reduction_op::sum, reduction_op::prod, reduction_op::l1,   reduction_op::l2};

/// "min", ..., "variance", "sum", "prod", "l1", "l2" (the names used in stored reduction tensors).
[[nodiscard]] constexpr std::string_view reduction_op_name(reduction_op op) noexcept {
  switch (op) {
    case reduction_op::min: return "min";
    case reduction_op::max: return "max";
    case reduction_op::mean: return "mean";
    case reduction_op::std: return "std";
    case reduction_op::variance: return "variance";
    case reduction_op::sum: return "sum";
    case reduction_op::prod: return "prod";
    case reduction_op::l1: return "l1";
    case reduction_op::l2: return "l2";
  }
  return "?";
}

[[nodiscard]] constexpr bool is_norm(reduction_op op) noexcept {
  return op == reduction_op::l1 || op == reduction_op::l2;
}

/// Parses a reduction op name; also accepts "l1_norm"/"l2_norm".
[[nodiscard]] constexpr std::optional<reduction_op> parse_reduction_op(std::string_view s) noexcept {
  for (auto op : all_reduction_ops)
    if (reduction_op_name(op) == s) return op;
  if (s == "l1_norm") return reduction_op::l1;
  if (s == "l2_norm") return reduction_op::l2;
  return std::nullopt;
}

/// One reduction: an op, optionally applied to abs(x).
struct reduction {
  reduction_op op = reduction_op::mean;
  bool abs = false;
  friend constexpr bool operator==(reduction, reduction) = default;
};

/// "mean", "abs_mean", "l2", "abs_l2" — the name part of "smdebug/reductions/<name>/<tensor>".
[[nodiscard]] inline std::string reduction_name(reduction r) {
  return (r.abs ? std::string("abs_") : std::string()) + std::string(reduction_op_name(r.op));
}

}  // namespace tdbg
