// tests/rules/probe.hpp — evaluating one expression (not a rule) at chosen steps, for tests.
#pragma once

#include <memory>
#include <utility>

#include "tdbg/rules/context.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules::test {

/// Holds an expression and its evaluator (state persists between at() calls, like in a rule).
template <class E>
class probe {
 public:
  explicit probe(E e) : holder_(std::make_unique<held>(std::move(e))) {}

  /// Evaluates at global step g of src (scalar_value or tensor_values).
  auto at(const data_source& src, step_t g, const named_sources* sources = nullptr) {
    context c;
    c.src = &src;
    c.step = g;
    const auto p = src.point(g);
    c.mode = p ? p->mode : tdbg::mode::global;
    c.mode_step = p ? p->mode_step : g;
    c.sources = sources;
    c.cache = &holder_->cache;
    return holder_->ev.eval(c);
  }
  [[nodiscard]] std::size_t state_size() const { return holder_->ev.state_size(); }
  const E& expr() const { return holder_->e; }

 private:
  struct held {
    explicit held(E x) : e(std::move(x)), ev(e) {}
    E e;
    typename E::evaluator ev;
    detail::step_cache cache;
  };
  std::unique_ptr<held> holder_;
};

}  // namespace tdbg::rules::test
