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
#include <iterator>
#include <string>
#include <string_view>
#include <tuple>
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
  mode,             ///< mode constant (TRAIN, EVAL, PREDICT, GLOBAL or a mode parameter)
  flag,             ///< boolean constant (true, false or a bool parameter), passed as a plain bool
  expression,       ///< number or boolean of shape elements, per-tensor or scalar (not a constant)
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
    case param_kind::mode: return "a mode (TRAIN, EVAL, PREDICT, GLOBAL or a mode parameter)";
    case param_kind::flag: return "a boolean constant (true, false or a bool parameter)";
    case param_kind::expression: return "an element-wise, per-tensor or scalar expression";
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
    case param_kind::mode: return t.value == value_kind::mode;
    case param_kind::flag: return boolean && t.shape == shape::constant;
    case param_kind::expression: return (num || boolean) && t.shape != shape::constant;
  }
  return false;
}

/// How a function's result type is formed.
enum class result_rule : std::uint8_t {
  fixed,          ///< always `signature::result`
  same_shape,     ///< the shape of the first argument, the value kind of `signature::result`
  selection,      ///< a tensor selection
  same_type,      ///< the shape and value kind of the first argument (no longer a selection)
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
    case result_rule::same_type: return type{first.shape, first.value, false, false};
  }
  return s.result;
}

/// "clamp(numeric, scalar, scalar)" — an overload as shown in diagnostics.
[[nodiscard]] inline std::string signature_text(const signature& s) {
  static constexpr std::string_view short_names[] = {
      "selection", "elements", "mask", "per_tensor", "per_tensor_bool", "per_tensor|scalar",
      "scalar", "series", "condition", "number", "varying", "constant", "count", "string", "regex",
      "mode", "flag", "expression"};
  static_assert(std::size(short_names) == static_cast<std::size_t>(param_kind::expression) + 1,
                "one short name per param_kind");
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
    // Selections (select.hpp).
    add("tensor", {pk::string}, rr::fixed, sel, "tensor_named", "the tensor of that exact name");
    add("tensors", {pk::regex}, rr::fixed, sel, "tensors_matching", "the tensors whose name the regex matches (search)");
    add("collection", {pk::string}, rr::fixed, sel, "collection", "the tensors of a collection");
    add("only_saved", {pk::selection}, rr::selection, sel, "only_saved",
        "the selection without the tensors that have no data at the evaluated step");
    // Element-wise math (any shape; ops.hpp).
    for (const char* f : {"abs", "sqrt", "log", "exp", "square"})
      add(f, {pk::numeric}, rr::same_shape, number, f, std::string("element-wise ") + f);
    add("clamp", {pk::numeric, pk::constant, pk::constant}, rr::same_shape, number, "clamp",
        "element-wise clamp to [lo, hi]");
    add("between", {pk::numeric, pk::scalar, pk::scalar}, rr::same_shape, boolean, "between", "lo <= x <= hi");
    // isclose(a, b[, rtol, atol[, equal_nan]]): numpy's defaults 1e-5, 1e-8, false. Element-wise a
    // against any b; a per-tensor or scalar a against a scalar b.
    {
      constexpr type mask{shape::elements, value_kind::boolean};
      const std::string what = "numpy's isclose: |a - b| <= atol + rtol * |b| (rtol 1e-5, atol 1e-8); NaN close "
                               "to NaN only with equal_nan";
      for (auto [first, second, rule, res] : {std::tuple{pk::elements, pk::numeric, rr::fixed, mask},
                                              std::tuple{pk::reduced, pk::scalar, rr::same_shape, boolean}}) {
        add("isclose", {first, second}, rule, res, "isclose", what);
        add("isclose", {first, second, pk::constant, pk::constant}, rule, res, "isclose", what);
        add("isclose", {first, second, pk::constant, pk::constant, pk::flag}, rule, res, "isclose", what);
      }
    }
    // Reductions: elements -> one number per tensor (accumulated in double; reduce.hpp).
    add("min", {pk::elements}, rr::fixed, num_pt, "min", "reduction: smallest element");
    add("max", {pk::elements}, rr::fixed, num_pt, "max", "reduction: largest element");
    add("mean", {pk::elements}, rr::fixed, num_pt, "mean", "reduction: mean");
    add("sum", {pk::elements}, rr::fixed, num_pt, "sum", "reduction: sum");
    add("prod", {pk::elements}, rr::fixed, num_pt, "prod", "reduction: product");
    add("std_pop", {pk::elements}, rr::fixed, num_pt, "std_pop", "reduction: population standard deviation");
    add("std_sample", {pk::elements}, rr::fixed, num_pt, "std_sample", "reduction: sample standard deviation");
    add("variance_pop", {pk::elements}, rr::fixed, num_pt, "var_pop", "reduction: population variance");
    add("variance_sample", {pk::elements}, rr::fixed, num_pt, "var_sample", "reduction: sample variance");
    add("l1", {pk::elements}, rr::fixed, num_pt, "l1", "reduction: sum of absolute values");
    add("l2", {pk::elements}, rr::fixed, num_pt, "l2", "reduction: Euclidean norm");
    add("max_abs", {pk::elements}, rr::fixed, num_pt, "max_abs", "reduction: largest absolute value");
    add("fraction_zeros", {pk::elements}, rr::fixed, num_pt, "fraction_zero", "reduction: share of zeros");
    add("fraction_nonfinite", {pk::elements}, rr::fixed, num_pt, "fraction_nonfinite",
        "reduction: share of NaN and infinities");
    add("count", {pk::elements}, rr::fixed, num_pt, "count", "number of elements of each tensor");
    add("count", {pk::mask}, rr::fixed, num_pt, "count", "number of elements where the mask holds");
    add("fraction", {pk::mask}, rr::fixed, num_pt, "fraction", "fraction of elements where the mask holds");
    add("quantile", {pk::elements, pk::constant}, rr::fixed, num_pt, "quantile", "q-quantile, q in [0, 1]");
    add("percentile", {pk::elements, pk::constant}, rr::fixed, num_pt, "percentile", "p-th percentile, p in [0, 100]");
    // Quantifiers over the selected set: per-tensor -> scalar, evidence kept per tensor (sets.hpp).
    add("any", {pk::per_tensor_bool}, rr::fixed, bool_s, "any", "holds for at least one tensor");
    add("all", {pk::per_tensor_bool}, rr::fixed, bool_s, "all", "holds for every tensor");
    add("count", {pk::per_tensor_bool}, rr::fixed, num_s, "count", "number of tensors for which it holds");
    add("fraction", {pk::per_tensor_bool}, rr::fixed, num_s, "fraction", "fraction of tensors for which it holds");
    for (const char* f : {"max_over", "min_over", "mean_over", "sum_over"})
      add(f, {pk::per_tensor}, rr::fixed, num_s, f, std::string(f) + " the selected tensors");
    for (const char* f : {"max_over", "min_over"})
      add(f, {pk::per_tensor, pk::per_tensor_bool}, rr::fixed, num_s, f,
          std::string(f) + " the selected tensors where the per-tensor boolean holds");
    add("scalar", {pk::per_tensor}, rr::fixed, num_s, "the", "the value of a one-tensor selection");
    add("scalar", {pk::per_tensor_bool}, rr::fixed, bool_s, "the", "the verdict of a one-tensor selection");
    // Per-layer grouping: per-tensor -> one value per group (the regex's first capture).
    for (const char* f : {"group_max", "group_min", "group_mean", "group_sum"})
      add(f, {pk::per_tensor, pk::regex}, rr::fixed, num_pt, f, std::string(f) + " per group (layer) of tensors");
    for (const char* f : {"group_any", "group_all"})
      add(f, {pk::per_tensor_bool, pk::regex}, rr::fixed, type{shape::per_tensor, value_kind::boolean}, f,
          std::string(f) + " per group (layer) of tensors");
    // Time: previous saved step(s), k steps back, difference, ratio (time.hpp).
    add("prev", {pk::varying}, rr::same_shape, number, "prev", "value at the previous saved step");
    add("prev", {pk::varying, pk::count}, rr::same_shape, number, "prev", "value k saved steps back");
    add("at", {pk::varying, pk::count}, rr::same_shape, number, "at_steps_back",
        "value at step - k (nearest saved step at or before it)");
    add("delta", {pk::varying}, rr::same_shape, number, "delta", "x - prev(x)");
    add("ratio", {pk::varying}, rr::same_shape, number, "ratio", "x / prev(x)");
    // State over evaluations (window.hpp).
    for (const char* f : {"window_min", "window_max", "window_mean", "window_slope"})
      add(f, {pk::series, pk::count}, rr::fixed, num_s, f, std::string(f) + " over the last n evaluations");
    add("window_count", {pk::condition, pk::count}, rr::fixed, num_s, "window_count", "evaluations (of the last n) where it held");
    add("window_all", {pk::condition, pk::count}, rr::fixed, bool_s, "window_all", "held at each of the last n evaluations");
    add("window_any", {pk::condition, pk::count}, rr::fixed, bool_s, "window_any", "held at one of the last n evaluations");
    for (const char* f : {"running_sum", "running_min", "running_max", "running_mean"})
      add(f, {pk::series}, rr::fixed, num_s, f, std::string(f) + " since the first evaluation");
    add("patience", {pk::condition, pk::count}, rr::fixed, bool_s, "patience", "held for k consecutive evaluations");
    add("then", {pk::condition, pk::condition, pk::count}, rr::fixed, bool_s, "then",
        "b holds now and a held at an evaluation within the last k steps");
    // Across modes, workers and trials (across.hpp).
    add("in_mode", {pk::expression, pk::mode}, rr::same_type, number, "in_mode",
        "x at the newest step of that mode at or before the evaluated step");
    add("in_trial", {pk::expression, pk::string}, rr::same_type, number, "in_trial",
        "x read from another trial, bound to the rule by name when it is loaded");
    for (const char* f : {"max_over_workers", "min_over_workers", "mean_over_workers", "spread_over_workers"})
      add(f, {pk::series}, rr::fixed, num_s, f, std::string(f) + ": the value combined across the workers at the step");
    // Extensions for the built-in rule library (docs/rule-language.md, "Functions").
    constexpr type num_e{shape::elements, value_kind::number};
    constexpr type bool_pt{shape::per_tensor, value_kind::boolean};
    for (const char* f : {"isnan", "isfinite"})
      add(f, {pk::numeric}, rr::same_shape, boolean, f, std::string("element-wise ") + f + " (a boolean)");
    add("exists", {pk::selection}, rr::fixed, bool_s, "exists", "the selection has at least one tensor at the step");
    // Saved history of the data (history.hpp): the evaluated step and the n - 1 saved steps before it.
    for (const char* f : {"history_all", "history_any"}) {
      add(f, {pk::per_tensor_bool, pk::constant}, rr::fixed, bool_pt, f,
          std::string(f) + " over the last n saved steps of each tensor");
      add(f, {pk::condition, pk::constant}, rr::fixed, bool_s, f, std::string(f) + " over the last n saved steps");
    }
    for (const char* f : {"history_min", "history_max", "history_mean"}) {
      add(f, {pk::per_tensor, pk::constant}, rr::fixed, num_pt, f,
          std::string(f) + " over the last n saved steps of each tensor");
      add(f, {pk::series, pk::constant}, rr::fixed, num_s, f, std::string(f) + " over the last n saved steps");
    }
    // Axis reductions: elements -> fewer elements (axis.hpp).
    for (const char* f : {"mean_along", "sum_along", "min_along", "max_along", "argmax_along"}) {
      add(f, {pk::elements, pk::constant}, rr::fixed, num_e, f, std::string(f) + ": reduce one axis of each tensor");
      add(f, {pk::mask, pk::constant}, rr::fixed, num_e, f, std::string(f) + ": reduce one axis of each tensor");
    }
    // Classification (classes.hpp): class counts, confusion matrices, accumulation; choose.
    add("class_counts", {pk::elements}, rr::fixed, num_e, "class_counts", "count of each class index 0..K-1");
    add("confusion_matrix", {pk::elements, pk::elements}, rr::fixed, num_e, "confusion_matrix",
        "[label, prediction] counts of class indices");
    add("diagonal", {pk::elements}, rr::fixed, num_e, "diagonal", "the diagonal of a matrix");
    add("off_diagonal", {pk::elements}, rr::fixed, num_e, "off_diagonal", "a matrix with a zero diagonal");
    add("accumulate", {pk::elements}, rr::fixed, num_e, "accumulate", "element-wise sum over the evaluations so far");
    add("choose", {pk::expression, pk::expression, pk::flag}, rr::same_type, number, "choose",
        "a if the constant flag is true, else b (decided when the rule is loaded)");
    for (const char* f : {"mean_per", "sum_per", "min_per", "max_per"}) {
      add(f, {pk::elements, pk::constant}, rr::fixed, num_e, f, std::string(f) + ": one value per index of an axis");
      add(f, {pk::mask, pk::constant}, rr::fixed, num_e, f, std::string(f) + ": one value per index of an axis");
    }
    // The wall clock (clock.hpp): makes the rule a clock rule, evaluated at its newest step as time passes.
    add("seconds_since_last_save", {}, rr::fixed, num_s, "seconds_since_last_save",
        "seconds between the save of the evaluated step and now (0 once the training ended)");
    // Save order (save_order.hpp): which tensor the training loop saved first.
    add("save_order", {pk::selection}, rr::fixed, num_pt, "save_order",
        "per tensor: its position (0: first) among the tensors saved at its step");
    return t;
  }();
  return table;
}

}  // namespace tdbg::lang
