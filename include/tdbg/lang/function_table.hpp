// tdbg/lang/function_table.hpp — the functions a `.rule` expression may call, as data:
// name → parameter kinds → result type. The semantic checker resolves every call against it
// (unknown function, arity, argument kinds); the binding to the engine maps each entry onto one
// node template of tdbg::rules.
// Layer: lang (standard library only; no Spirit X3).
//
// Types mirror the engine's compile-time kinds (tdbg/rules/expr.hpp):
//   shape  elements | per_tensor | scalar, plus `constant` (a literal or a rule parameter: a
//          scalar known when the rule is loaded; required where the engine needs a fixed value,
//          e.g. a window length)
//   value  number | boolean, plus string | regex | mode for constants only.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace tdbg::lang {

/// How many values an expression yields per evaluation (ordered: a constant is the narrowest).
enum class shape : std::uint8_t { constant, scalar, per_tensor, elements };

/// What kind of value an expression yields.
enum class value_kind : std::uint8_t { number, boolean, string, regex, mode };

/// The static type of an expression.
struct type {
  lang::shape shape = shape::constant;
  value_kind value = value_kind::number;
  bool selection = false;  ///< a tensor selection (elements, number), possibly with a mode
  bool has_mode = false;   ///< a selection restricted by `in MODE`
  friend bool operator==(const type&, const type&) = default;
};

/// Readable name of a type, used in diagnostics ("per-tensor boolean", "tensor selection").
[[nodiscard]] inline std::string type_name(const type& t) {
  if (t.selection) return "tensor selection";
  switch (t.value) {
    case value_kind::string: return "string";
    case value_kind::regex: return "regex";
    case value_kind::mode: return "mode";
    case value_kind::number:
    case value_kind::boolean: break;
  }
  const bool b = t.value == value_kind::boolean;
  switch (t.shape) {
    case shape::constant: return b ? "boolean constant" : "number constant";
    case shape::scalar: return b ? "scalar boolean" : "scalar number";
    case shape::per_tensor: return b ? "per-tensor boolean" : "per-tensor number";
    case shape::elements: return b ? "element mask" : "element-wise number";
  }
  return "value";
}

/// What a function parameter accepts.
enum class param_kind : std::uint8_t {
  selection,        ///< a tensor selection
  elements,         ///< element-wise numbers (a selection or element-wise arithmetic on one)
  mask,             ///< element-wise booleans (e.g. `g <= 0`)
  per_tensor,       ///< one number per tensor
  per_tensor_bool,  ///< one boolean per tensor
  reduced,          ///< per-tensor or scalar number, not a constant
  scalar,           ///< scalar number or number constant
  series,           ///< scalar number that varies with the step (not a constant)
  condition,        ///< scalar boolean (or boolean constant)
  numeric,          ///< number of any shape, constants included (element-wise math)
  varying,          ///< number of shape elements, per-tensor or scalar (time operators)
  constant,         ///< number constant (literal or parameter)
  count,            ///< whole number >= 1, constant (literal or parameter)
  string,           ///< string constant
  regex,            ///< regex constant
};

/// Readable description of a parameter kind, used in diagnostics ("a tensor selection").
[[nodiscard]] constexpr std::string_view kind_name(param_kind k) noexcept {
  switch (k) {
    case param_kind::selection: return "a tensor selection";
    case param_kind::elements: return "element-wise numbers (a tensor selection or arithmetic on one)";
    case param_kind::mask: return "an element mask (an element-wise comparison)";
    case param_kind::per_tensor: return "a per-tensor number (a reduction such as mean(...))";
    case param_kind::per_tensor_bool: return "a per-tensor boolean (a comparison of a reduction)";
    case param_kind::reduced: return "a per-tensor or scalar number";
    case param_kind::scalar: return "a scalar number";
    case param_kind::series: return "a scalar number that changes with the step";
    case param_kind::condition: return "a scalar boolean";
    case param_kind::numeric: return "a number";
    case param_kind::varying: return "an element-wise, per-tensor or scalar number";
    case param_kind::constant: return "a number constant (a literal or a parameter)";
    case param_kind::count: return "a whole number >= 1 (a literal or a parameter)";
    case param_kind::string: return "a string";
    case param_kind::regex: return "a regex (/.../)";
  }
  return "a value";
}

/// Whether an argument of type `t` fits parameter kind `k` (`count` also needs the value check).
[[nodiscard]] constexpr bool accepts(param_kind k, const type& t) noexcept {
  const bool num = t.value == value_kind::number;
  const bool boolean = t.value == value_kind::boolean;
  switch (k) {
    case param_kind::selection: return t.selection;
    case param_kind::elements: return num && t.shape == shape::elements;
    case param_kind::mask: return boolean && t.shape == shape::elements;
    case param_kind::per_tensor: return num && t.shape == shape::per_tensor;
    case param_kind::per_tensor_bool: return boolean && t.shape == shape::per_tensor;
    case param_kind::reduced: return num && (t.shape == shape::per_tensor || t.shape == shape::scalar);
    case param_kind::scalar: return num && (t.shape == shape::scalar || t.shape == shape::constant);
    case param_kind::series: return num && t.shape == shape::scalar;
    case param_kind::condition: return boolean && (t.shape == shape::scalar || t.shape == shape::constant);
    case param_kind::numeric: return num;
    case param_kind::varying: return num && t.shape != shape::constant;
    case param_kind::constant:
    case param_kind::count: return num && t.shape == shape::constant;
    case param_kind::string: return t.value == value_kind::string;
    case param_kind::regex: return t.value == value_kind::regex;
  }
  return false;
}

/// How a function's result type is formed.
enum class result_rule : std::uint8_t {
  fixed,          ///< always `signature::result`
  same_shape,     ///< the shape of the first argument, the value kind of `signature::result`
  selection,      ///< a tensor selection
};

/// One overload of a function.
struct signature {
  std::string name;
  std::vector<param_kind> params;
  result_rule rule = result_rule::fixed;
  type result;              ///< for `fixed`; its value kind for `same_shape`
  std::string engine_name;  ///< the tdbg::rules entity it binds to
  std::string summary;      ///< one line, for documentation and diagnostics
};

/// The result type of a call that matched `s` with first argument type `first`.
[[nodiscard]] inline type result_type(const signature& s, const type& first) {
  switch (s.rule) {
    case result_rule::fixed: return s.result;
    case result_rule::same_shape: return type{first.shape, s.result.value, false, false};
    case result_rule::selection: return type{shape::elements, value_kind::number, true, first.has_mode};
  }
  return s.result;
}

/// "clamp(numeric, scalar, scalar)" — an overload as shown in diagnostics.
[[nodiscard]] inline std::string signature_text(const signature& s) {
  static constexpr std::string_view short_names[] = {
      "selection", "elements", "mask", "per_tensor", "per_tensor_bool", "per_tensor|scalar",
      "scalar", "series", "condition", "number", "varying", "constant", "count", "string", "regex"};
  std::string out = s.name + '(';
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    if (i) out += ", ";
    out += short_names[static_cast<std::size_t>(s.params[i])];
  }
  return out + ')';
}

/// The callable vocabulary: overloads by name, in declaration order.
class function_table {
 public:
  /// Adds an overload (overloads of one name are tried in the order added).
  void add(signature s) { sigs_.push_back(std::move(s)); }

  /// Every overload named `name` (empty: unknown function).
  [[nodiscard]] std::vector<const signature*> overloads(std::string_view name) const {
    std::vector<const signature*> out;
    for (const auto& s : sigs_)
      if (s.name == name) out.push_back(&s);
    return out;
  }
  [[nodiscard]] bool contains(std::string_view name) const {
    for (const auto& s : sigs_)
      if (s.name == name) return true;
    return false;
  }
  /// Every overload, in the order added.
  [[nodiscard]] const std::vector<signature>& all() const noexcept { return sigs_; }

 private:
  std::vector<signature> sigs_;
};

/// The vocabulary of tdbg::rules (docs/rule-language.md lists it with examples).
[[nodiscard]] inline const function_table& builtin_functions() {
  static const function_table table = [] {
    using pk = param_kind;
    using rr = result_rule;
    constexpr type num_pt{shape::per_tensor, value_kind::number};
    constexpr type num_s{shape::scalar, value_kind::number};
    constexpr type bool_s{shape::scalar, value_kind::boolean};
    constexpr type number{shape::constant, value_kind::number};
    constexpr type boolean{shape::constant, value_kind::boolean};
    constexpr type sel{shape::elements, value_kind::number, true};
    function_table t;
    auto add = [&t](std::string n, std::initializer_list<pk> p, rr r, type res, std::string e, std::string s) {
      t.add(signature{std::move(n), p, r, res, std::move(e), std::move(s)});
    };
    // Selections.
    add("tensor", {pk::string}, rr::fixed, sel, "tensor_named", "the tensor of that exact name");
    add("tensors", {pk::regex}, rr::fixed, sel, "tensors_matching", "the tensors whose name the regex matches (search)");
    add("collection", {pk::string}, rr::fixed, sel, "collection", "the tensors of a collection");
    add("per_layer", {pk::selection, pk::regex}, rr::selection, sel, "per_layer",
        "group the tensors by the regex's first capture group (one member per layer)");
    add("in_trial", {pk::selection, pk::string}, rr::selection, sel, "in_trial",
        "the same tensors read from another trial, named when the rules are loaded");
    // Element-wise math (any shape; constants fold).
    for (const char* f : {"abs", "sqrt", "log", "exp"})
      add(f, {pk::numeric}, rr::same_shape, number, f, std::string("element-wise ") + f);
    add("clamp", {pk::numeric, pk::scalar, pk::scalar}, rr::same_shape, number, "clamp", "element-wise clamp to [lo, hi]");
    add("between", {pk::numeric, pk::scalar, pk::scalar}, rr::same_shape, boolean, "between", "lo <= x <= hi");
    // Reductions: elements -> one number per tensor (accumulated in double).
    for (const char* f : {"min", "max", "mean", "sum", "prod", "std_pop", "std_sample", "variance_pop",
                          "variance_sample", "l1", "l2", "max_abs", "fraction_zeros", "fraction_nonfinite"})
      add(f, {pk::elements}, rr::fixed, num_pt, f, std::string("reduction: ") + f);
    add("count", {pk::elements}, rr::fixed, num_pt, "count", "number of elements of each tensor");
    add("count", {pk::mask}, rr::fixed, num_pt, "count_true", "number of elements where the mask holds");
    add("fraction", {pk::mask}, rr::fixed, num_pt, "fraction", "fraction of elements where the mask holds");
    add("quantile", {pk::elements, pk::constant}, rr::fixed, num_pt, "quantile", "q-quantile, q in [0, 1]");
    add("percentile", {pk::elements, pk::constant}, rr::fixed, num_pt, "percentile", "p-th percentile, p in [0, 100]");
    // Quantifiers over the selected set: per-tensor -> scalar, evidence kept per tensor.
    add("any", {pk::per_tensor_bool}, rr::fixed, bool_s, "any", "holds for at least one tensor");
    add("all", {pk::per_tensor_bool}, rr::fixed, bool_s, "all", "holds for every tensor");
    add("count", {pk::per_tensor_bool}, rr::fixed, num_s, "count_of", "number of tensors for which it holds");
    add("fraction", {pk::per_tensor_bool}, rr::fixed, num_s, "fraction_of", "fraction of tensors for which it holds");
    for (const char* f : {"max_over", "min_over", "mean_over", "sum_over"})
      add(f, {pk::per_tensor}, rr::fixed, num_s, f, std::string(f) + " the selected tensors");
    add("scalar", {pk::per_tensor}, rr::fixed, num_s, "scalar", "the value of a one-tensor selection");
    add("scalar", {pk::per_tensor_bool}, rr::fixed, bool_s, "scalar", "the verdict of a one-tensor selection");
    // Time: previous saved step, k steps back, difference, ratio.
    add("prev", {pk::varying}, rr::same_shape, number, "prev", "value at the previous saved step");
    add("at", {pk::varying, pk::count}, rr::same_shape, number, "at_steps_back",
        "value at step - k (nearest saved step at or before it)");
    add("delta", {pk::varying}, rr::same_shape, number, "delta", "x - prev(x)");
    add("delta", {pk::varying, pk::count}, rr::same_shape, number, "delta", "x - at(x, k)");
    add("ratio", {pk::varying}, rr::same_shape, number, "ratio", "x / prev(x)");
    add("ratio", {pk::varying, pk::count}, rr::same_shape, number, "ratio", "x / at(x, k)");
    // Windows over the last n evaluations of a scalar.
    for (const char* f : {"window_min", "window_max", "window_mean", "window_slope"})
      add(f, {pk::series, pk::count}, rr::fixed, num_s, f, std::string(f) + " over the last n evaluations");
    add("window_count", {pk::condition, pk::count}, rr::fixed, num_s, "window_count", "evaluations (of the last n) where it held");
    add("window_all", {pk::condition, pk::count}, rr::fixed, bool_s, "window_all", "held at each of the last n evaluations");
    add("window_any", {pk::condition, pk::count}, rr::fixed, bool_s, "window_any", "held at one of the last n evaluations");
    add("patience", {pk::condition, pk::count}, rr::fixed, bool_s, "patience", "held for k consecutive evaluations");
    add("then", {pk::condition, pk::condition, pk::count}, rr::fixed, bool_s, "then_within",
        "b holds within k steps after a held");
    // Across workers (one step): per-tensor or scalar values combined over the workers.
    for (const char* f : {"max_over_workers", "min_over_workers", "mean_over_workers"})
      add(f, {pk::reduced}, rr::same_shape, number, f, std::string(f) + ": the value combined across the workers at the step");
    return t;
  }();
  return table;
}

}  // namespace tdbg::lang
