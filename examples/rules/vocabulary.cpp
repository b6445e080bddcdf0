// examples/rules/vocabulary.cpp — selections, reductions, element-wise functions, arithmetic,
// comparisons, logic, quantifiers over tensor sets and per-layer grouping. Each function
// checks the documented value on a small in-memory source; docs/rules.md points here.
#include <cmath>
#include <cstdio>

#include "example_source.hpp"
#include "tdbg/rules/rules.hpp"

using namespace tdbg::rules;
using example::expect;

namespace {

// step 0 (TRAIN): layer1/weight [3, -4], layer1/bias [0, 0], layer2/weight [1, 1, 1, -1], loss [0.5]
example::memory_source source() {
  example::memory_source s;
  s.step(0, tdbg::mode::train, 0);
  s.put("layer1/weight", 0, {3, -4}).put("layer1/bias", 0, {0, 0}).put("layer2/weight", 0, {1, 1, 1, -1});
  s.put("loss", 0, {0.5f});
  s.collection("weights", {"layer1/weight", "layer2/weight"});
  return s;
}

double at0(const auto& expr, const example::memory_source& s) {
  const scalar_value v = evaluate_at(expr, s, 0);
  return v.known ? v.v : std::nan("");
}

/// Selections: by name, by regex (search semantics), by collection; `the` of a single tensor.
void selections() {
  const auto s = source();
  expect(at0(the(mean(tensor_named("loss"))), s) == 0.5, "the(mean(tensor_named(\"loss\"))) == 0.5");
  expect(at0(count(l2(tensors_matching("weight$")) > 0.0), s) == 2, "tensors_matching(\"weight$\") selects 2");
  expect(at0(count(l2(tensors_matching("layer1")) >= 0.0), s) == 2, "tensors_matching(\"layer1\") selects 2 (search)");
  expect(at0(count(l2(collection("weights")) >= 0.0), s) == 2, "collection(\"weights\") selects 2");
}

/// Reductions, also on abs() and after element-wise functions.
void reductions() {
  const auto s = source();
  const auto w = tensor_named("layer1/weight");  // [3, -4]
  expect(at0(the(l2(w)), s) == 5, "l2 == 5");
  expect(at0(the(l1(w)), s) == 7, "l1 == 7");
  expect(at0(the(mean(w)), s) == -0.5, "mean == -0.5");
  expect(at0(the(mean(abs(w))), s) == 3.5, "mean(abs) == 3.5");
  expect(at0(the(max_abs(w)), s) == 4, "max_abs == 4");
  expect(at0(the(var_pop(w)), s) == 12.25, "var_pop == 12.25");
  expect(at0(the(var_sample(w)), s) == 24.5, "var_sample == 24.5");
  expect(at0(the(quantile(w, 0.5)), s) == -0.5, "quantile(0.5) == -0.5");
  expect(at0(the(fraction(w <= 0.0)), s) == 0.5, "fraction(w <= 0) == 0.5");
  expect(at0(the(fraction_zero(tensor_named("layer1/bias"))), s) == 1, "fraction_zero(bias) == 1");
  expect(at0(the(sum(clamp(w, 0, 1))), s) == 1, "sum(clamp(w, 0, 1)) == 1");
  expect(at0(the(sum(sqrt(abs(w)) * 2.0)), s) == 2 * (std::sqrt(3.0) + 2), "sum(sqrt(abs(w)) * 2)");
}

/// Arithmetic, comparisons, &&, ||, !, between (Kleene logic with unknown values).
void logic() {
  const auto s = source();
  const auto loss = the(mean(tensor_named("loss")));
  expect(at0((loss * 4.0 - 1.0) / 2.0, s) == 0.5, "(loss * 4 - 1) / 2 == 0.5");
  expect(at0(between(loss, 0.0, 1.0) && !(loss > 0.6), s) == 1, "between(loss, 0, 1) && !(loss > 0.6)");
  const auto gone = the(mean(tensor_named("missing")));
  expect(!evaluate_at(gone > 0.0, s, 0).known, "a missing tensor is unknown");
  expect(at0((gone > 0.0) || (loss < 1.0), s) == 1, "unknown || true == true");
}

/// Quantifiers over tensor sets with evidence, and per-layer grouping.
void sets() {
  const auto s = source();
  const auto w = collection("weights");
  const scalar_value big = evaluate_at(any(l2(w) > 3.0), s, 0);
  expect(big.v == 1 && big.evidence.size() == 1 && big.evidence[0].tensor == "layer1/weight",
         "any(l2(weights) > 3) names layer1/weight as evidence");
  expect(at0(all(l2(w) > 1.0), s) == 1, "all(l2 > 1)");
  expect(at0(fraction(l2(w) > 3.0), s) == 0.5, "fraction(l2 > 3) == 0.5");
  expect(at0(max_over(l2(w)), s) == 5, "max_over(l2) == 5");
  expect(at0(mean_over(l2(w)), s) == 3.5, "mean_over(l2) == 3.5");
  // per layer: a layer is dead when every tensor of it is all zero
  const auto per_layer = group_all(fraction_zero(tensors_matching("^layer")) == 1.0, R"(^(layer\d+)/)");
  expect(at0(any(per_layer), s) == 0, "no layer is entirely zero");
  expect(at0(the(group_sum(l1(tensors_matching("^layer1/")), R"(^(layer\d+)/)")), s) == 7, "layer1's l1 sum == 7");
}

}  // namespace

int main() {
  selections();
  reductions();
  logic();
  sets();
  return example::failures == 0 ? 0 : 1;
}
