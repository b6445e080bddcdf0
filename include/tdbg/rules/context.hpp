// tdbg/rules/context.hpp — what an evaluator sees: the evaluation context and the values it returns.
// Layer: rules (core, rules/source.hpp and the standard library).
//
// A context names one evaluation: the data source, the global step with its mode and mode
// step, the worker (empty: the first one), the time shifts applied by prev/at_steps_back, and
// the other named data sources of the rule (across trials). Evaluators return
//  * scalar_value — one number or boolean (booleans are 0/1) or "unknown" with a reason,
//    plus the observations (evidence) that made it;
//  * tensor_values — one such value per selected tensor (per_tensor expressions).
// Unknown is the third state of the tri-state logic: missing data never becomes a number.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules {

inline constexpr double no_threshold = std::numeric_limits<double>::quiet_NaN();

/// One piece of evidence: a tensor (or tensors, comma separated), the worker, the observed
/// value and the threshold it was compared with (NaN when it was not compared).
struct observation {
  std::string tensor;
  std::string worker;
  double value = 0;
  double threshold = no_threshold;
};

/// The value of a scalar expression at one evaluation.
struct scalar_value {
  bool known = true;                  ///< false: insufficient data (see reason)
  double v = 0;                       ///< the number, or 0/1 for a boolean
  std::string reason;                 ///< what was missing, when !known
  std::vector<observation> evidence;  ///< observations behind the value

  [[nodiscard]] static scalar_value of(double v, std::vector<observation> ev = {}) {
    return scalar_value{true, v, {}, std::move(ev)};
  }
  [[nodiscard]] static scalar_value missing(std::string why) {
    return scalar_value{false, 0, std::move(why), {}};
  }
  [[nodiscard]] bool truth() const noexcept { return known && v != 0; }
};

/// The value of a per_tensor expression for one tensor.
struct tensor_value {
  std::string tensor;
  std::string worker;
  bool known = true;
  double v = 0;                      ///< the number, or 0/1 for a boolean
  double observed = 0;               ///< for comparisons: the compared value; else v
  double threshold = no_threshold;   ///< for comparisons: what it was compared with
  std::string reason;                ///< what was missing, when !known
};

/// The values of a per_tensor expression: one per selected tensor, in name order.
struct tensor_values {
  bool known = true;     ///< false: the set itself could not be formed (no tensor matched)
  std::string reason;
  std::vector<tensor_value> items;
};

/// A time shift applied to every tensor read below prev/at_steps_back.
struct step_shift {
  enum class unit : std::uint8_t { saved_steps, steps } by = unit::saved_steps;
  step_t k = 1;
};

/// The other data sources of a rule, by name (across trials).
using named_sources = std::map<std::string, std::shared_ptr<const data_source>, std::less<>>;

namespace detail {

/// Per-rule cache of tensor_steps lists: a complete source is asked once per (tensor, mode);
/// a source still growing is asked again when a later step is needed.
class step_cache {
 public:
  const std::vector<step_t>& steps(const data_source& src, std::string_view tensor, tdbg::mode m,
                                   step_t needed_up_to) {
    auto key = std::make_tuple(&src, std::string(tensor), m);
    auto it = map_.find(key);
    if (it == map_.end()) {
      it = map_.emplace(std::move(key), entry{src.tensor_steps(tensor, m), src.complete()}).first;
    } else if (!it->second.complete && (it->second.steps.empty() || it->second.steps.back() < needed_up_to)) {
      it->second = entry{src.tensor_steps(tensor, m), src.complete()};
    }
    return it->second.steps;
  }
  void clear() noexcept { map_.clear(); }

 private:
  struct entry {
    std::vector<step_t> steps;
    bool complete = false;
  };
  std::map<std::tuple<const data_source*, std::string, tdbg::mode>, entry> map_;
};

}  // namespace detail

/// One evaluation of an expression.
struct context {
  const data_source* src = nullptr;
  step_t step = 0;                         ///< global step
  tdbg::mode mode = tdbg::mode::global;    ///< mode of `step`
  step_t mode_step = 0;                    ///< mode step of `step`
  std::string worker;                      ///< "" = the first worker
  std::vector<step_shift> shifts;          ///< applied outermost first
  const named_sources* sources = nullptr;  ///< the rule's other sources
  std::string source_name;                 ///< "" = the rule's own source
  detail::step_cache* cache = nullptr;     ///< required when tensor_steps() is used

  /// "step 12 (TRAIN step 12)" — used in reasons.
  [[nodiscard]] std::string where() const {
    std::string s = "step " + std::to_string(step) + " (" + std::string(mode_name(mode)) + " step " +
                    std::to_string(mode_step) + ")";
    if (!worker.empty()) s += " of worker '" + worker + "'";
    if (!source_name.empty()) s += " of source '" + source_name + "'";
    return s;
  }

  /// The saved steps of `tensor` in mode `m`, through the rule's cache.
  [[nodiscard]] const std::vector<step_t>& tensor_steps(std::string_view tensor, tdbg::mode m) const {
    if (cache == nullptr) throw usage_error("rules::context without a step cache");
    return cache->steps(*src, tensor, m, step);
  }
};

}  // namespace tdbg::rules
