// tdbg/rules/save_order.hpp — the order in which a step's tensors were saved.
// Layer: rules (rules/{expr,context,select,source}.hpp).
//
//   save_order(sel)   per selected tensor, its position (0: first) among the tensors the worker
//                     saved at the step it is read at: data_source::save_order (trial_source:
//                     the order of the records in the worker's event file of the step;
//                     live_source: the order of the hook's saves)
// Tensor sets are sorted by name; this is how a rule tells which tensor came first in the
// training loop, e.g. the first tensor in which NaN appeared (rules/nan_inf_origin.rule:
// `bad && save_order(t) == min_over(save_order(t), bad)`).
// Which step: the step the selection reads the tensor at (select.hpp: the evaluated step, the
// newest one of another mode for `sel.in(m)`, moved back by prev/at_steps_back), from the
// context's worker (default: the smallest worker name). Positions of different workers are
// not comparable (each numbers its own saves).
// Value: a per-tensor number, unknown with a reason when the tensor has no data at that step,
// or the source cannot tell (only a shape was saved; a data_source that does not implement
// save_order). It reads no tensor value (needs() asks for names only), has no evidence of its
// own (observed = the position) and keeps no state.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "tdbg/rules/context.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/requirements.hpp"
#include "tdbg/rules/select.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules {

/// Per selected tensor: its position in its step's saves (see the header comment).
class save_order_node {
 public:
  static constexpr expr_kind kind = expr_kind::per_tensor;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;
  static constexpr bool is_call = true;

  explicit save_order_node(selection s) : s_(std::move(s)) {}
  [[nodiscard]] std::string describe() const { return "save_order(" + s_.describe() + ")"; }
  void needs(requirements& r, const need_scope& s) const {
    tensor_need n;
    n.selection = s_.spec();
    n.source = s.source;
    n.primary = s.primary;
    n.raw = false;  // names and steps only: no value is read
    n.saved_steps_back = s.saved_steps_back;
    n.steps_back = s.steps_back;
    n.nearest_before = s.nearest_before || s_.spec().mode.has_value();
    n.all_workers = s.all_workers;
    r.add(std::move(n));
  }

  class evaluator {
   public:
    explicit evaluator(const save_order_node& n) : s_(n.s_), spec_(&n.s_.spec()) {}

    tensor_values eval(const context& c) {
      tensor_values out;
      const name_set ns = s_.names(c);
      if (!ns.known) {
        out.known = false;
        out.reason = ns.reason;
        return out;
      }
      for (const auto& t : ns.names) {
        tensor_value r;
        r.tensor = t;
        r.worker = c.worker;
        const read_point rp = detail::resolve_read_step(c, *spec_, t);
        if (!rp.step) {
          r.known = false;
          r.reason = rp.reason;
        } else if (const auto pos = c.src->save_order(t, *rp.step, c.worker)) {
          r.v = r.observed = static_cast<double>(*pos);
        } else {
          r.known = false;
          r.reason = "the save order of tensor '" + t + "' at " + detail::at_text(c, *rp.step) +
                     " is not known to " + c.src->describe();
        }
        out.items.push_back(std::move(r));
      }
      return out;
    }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }

   private:
    selection::evaluator s_;
    const selection_spec* spec_;
  };

 private:
  selection s_;
};

/// Per tensor of `s`: its position (0: first) among the tensors saved at its step.
[[nodiscard]] inline save_order_node save_order(selection s) { return save_order_node(std::move(s)); }

}  // namespace tdbg::rules
