// tdbg/collect/reduction_config.hpp — what is stored of a tensor: raw value, reductions, shape.
// Layer: collect (core and the standard library only). smdebug's ReductionConfig (spec §5, §8).
#pragma once

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/core/reduction.hpp"

namespace tdbg::collect {

/// What a collection stores for each of its tensors at a saved step.
struct reduction_config {
  bool save_raw_tensor = true;         ///< the full tensor
  std::vector<reduction> reductions{}; ///< stored as "smdebug/reductions/<red>/<tensor>"
  bool save_shape = false;             ///< an index shape_payload entry

  friend bool operator==(const reduction_config&, const reduction_config&) = default;
};

namespace detail {
/// smdebug's four groups, in file order: reductions, norms, abs reductions, abs norms.
[[nodiscard]] constexpr int reduction_group(reduction r) noexcept {
  return (r.abs ? 2 : 0) + (is_norm(r.op) ? 1 : 0);
}
}  // namespace detail

/// `rs` without duplicates, in smdebug's order (plain reductions, norms, abs reductions, abs
/// norms; each group in the given order). This is the order of reduction records in a step's
/// event file and of the names in the collections file.
[[nodiscard]] inline std::vector<reduction> smdebug_order(std::span<const reduction> rs) {
  std::vector<reduction> out;
  for (int g = 0; g < 4; ++g)
    for (reduction r : rs)
      if (detail::reduction_group(r) == g && std::find(out.begin(), out.end(), r) == out.end())
        out.push_back(r);
  return out;
}

/// The collections-file string: "min,max,l1_norm,abs_mean,abs_l2_norm" (smdebug order).
[[nodiscard]] inline std::string reductions_string(std::span<const reduction> rs) {
  std::string s;
  for (reduction r : smdebug_order(rs)) {
    if (!s.empty()) s += ',';
    if (r.abs) s += "abs_";
    s += reduction_op_name(r.op);
    if (is_norm(r.op)) s += "_norm";
  }
  return s;
}

/// Parses smdebug's comma string ("min,abs_max,l1_norm,abs_l2_norm"; spaces around items are
/// ignored; empty items are skipped). `abs_*` is an abs reduction, `*_norm` a norm (l1, l2);
/// "l1"/"l2" without "_norm" are accepted too. Throws config_error naming `context` and the item.
[[nodiscard]] inline std::vector<reduction> parse_reductions(std::string_view text,
                                                             std::string_view context) {
  std::vector<reduction> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.empty()) continue;
    reduction r;
    std::string_view rest = item;
    if (rest.starts_with("abs_")) {
      r.abs = true;
      rest.remove_prefix(4);
    }
    const bool norm_suffix = rest.ends_with("_norm");
    if (norm_suffix) rest.remove_suffix(5);
    const auto op = parse_reduction_op(rest);
    if (!op || (norm_suffix && !is_norm(*op)))
      throw config_error(std::string(context) + ": unknown reduction '" + std::string(item) +
                         "' (allowed: min, max, mean, std, variance, sum, prod, l1_norm, "
                         "l2_norm, each optionally prefixed with abs_)");
    r.op = *op;
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

}  // namespace tdbg::collect
