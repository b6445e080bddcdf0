// tdbg/rules/expr.hpp — the expression protocol of the rule vocabulary: kinds, value types,
// the node concept, constants and parameters.
// Layer: rules (core, fmt and the standard library).
//
// An expression is a tree of *nodes*: inert, copyable descriptions that hold their children by
// value. Every node type N declares at compile time
//   static constexpr expr_kind kind;     elements | per_tensor | scalar
//   static constexpr value_type value;   number | boolean
//   static constexpr bool stateful;      true if it (or a child) keeps state across evaluations
// and offers three interpretations:
//   std::string describe() const;                      readable text of the expression
//   void needs(requirements&, const need_scope&) const;  the selections/steps it reads
//   N::evaluator (constructed from `const N&`)          does the work, keeps the state
// Evaluator operations by kind:
//   scalar:     scalar_value eval(const context&)
//   per_tensor: tensor_values eval(const context&)
//   elements:   see select.hpp (names, bind, typed Eigen expression)
//   every kind: void reset(); std::size_t state_size() const;
// A node can be evaluated by several rules at once: all state lives in the evaluators.
#pragma once

#include <cmath>
#include <concepts>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "tdbg/rules/context.hpp"
#include "tdbg/rules/requirements.hpp"

namespace tdbg::rules {

/// What an expression yields per evaluation.
enum class expr_kind : std::uint8_t {
  elements,    ///< the elements of each selected tensor (element-wise view)
  per_tensor,  ///< one value per selected tensor
  scalar,      ///< one value
};

/// The type of the values.
enum class value_type : std::uint8_t { number, boolean };

/// A node of the rule vocabulary (see the header comment for the protocol).
template <class T>
concept node = requires(const std::remove_cvref_t<T>& n, requirements& r, const need_scope& s) {
  { std::remove_cvref_t<T>::kind } -> std::convertible_to<expr_kind>;
  { std::remove_cvref_t<T>::value } -> std::convertible_to<value_type>;
  { std::remove_cvref_t<T>::stateful } -> std::convertible_to<bool>;
  { n.describe() } -> std::convertible_to<std::string>;
  n.needs(r, s);
  typename std::remove_cvref_t<T>::evaluator;
};

template <class T>
inline constexpr bool is_node_v = node<T>;

/// A plain C++ number usable as a constant operand (bool excluded: write a comparison).
template <class T>
concept number_literal = std::is_arithmetic_v<std::remove_cvref_t<T>> &&
                         !std::is_same_v<std::remove_cvref_t<T>, bool>;

/// Something usable as an operand: a node or a number.
template <class T>
concept operand = node<T> || number_literal<T>;

namespace detail {
template <class T, bool = node<T>>
struct kind_of_impl {
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;
};
template <class T>
struct kind_of_impl<T, true> {
  static constexpr expr_kind kind = std::remove_cvref_t<T>::kind;
  static constexpr value_type value = std::remove_cvref_t<T>::value;
  static constexpr bool stateful = std::remove_cvref_t<T>::stateful;
};
}  // namespace detail

/// Kind / value type / statefulness of an operand (numbers are number scalars).
template <class T>
inline constexpr expr_kind kind_of = detail::kind_of_impl<T>::kind;
template <class T>
inline constexpr value_type value_of = detail::kind_of_impl<T>::value;
template <class T>
inline constexpr bool stateful_of = detail::kind_of_impl<T>::stateful;

template <class T>
inline constexpr bool is_scalar_v = kind_of<T> == expr_kind::scalar;
template <class T>
inline constexpr bool is_boolean_v = value_of<T> == value_type::boolean;

/// Shortest text that reads back as the same double ("1e-07", "0.5", "10").
[[nodiscard]] inline std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{}", v);
}

/// A constant number.
struct constant {
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;
  double v = 0;

  [[nodiscard]] std::string describe() const { return format_number(v); }
  void needs(requirements&, const need_scope&) const {}
  struct evaluator {
    explicit evaluator(const constant& n) : v(n.v) {}
    [[nodiscard]] scalar_value eval(const context&) const { return scalar_value::of(v); }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }
    double v;
  };
};

/// A named constant (a rule parameter, e.g. a threshold): describes as its name.
struct param {
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;
  std::string name;
  double v = 0;

  [[nodiscard]] std::string describe() const { return name; }
  void needs(requirements&, const need_scope&) const {}
  struct evaluator {
    explicit evaluator(const param& n) : v(n.v) {}
    [[nodiscard]] scalar_value eval(const context&) const { return scalar_value::of(v); }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }
    double v;
  };
};

/// A boolean constant (true/false), e.g. to switch part of a rule off.
struct bool_constant {
  static constexpr expr_kind kind = expr_kind::scalar;
  static constexpr value_type value = value_type::boolean;
  static constexpr bool stateful = false;
  bool v = false;

  [[nodiscard]] std::string describe() const { return v ? "true" : "false"; }
  void needs(requirements&, const need_scope&) const {}
  struct evaluator {
    explicit evaluator(const bool_constant& n) : v(n.v) {}
    [[nodiscard]] scalar_value eval(const context&) const { return scalar_value::of(v ? 1 : 0); }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }
    bool v;
  };
};

/// A rule parameter: `param_("threshold", 1e-7)` describes as "threshold".
[[nodiscard]] inline param param_(std::string name, double v) { return param{std::move(name), v}; }

/// A boolean literal node.
[[nodiscard]] inline bool_constant truth(bool v) { return bool_constant{v}; }

/// A node from an operand: numbers become constants, nodes are returned as they are.
template <operand T>
[[nodiscard]] auto to_node(T&& x) {
  if constexpr (node<T>)
    return std::remove_cvref_t<T>(std::forward<T>(x));
  else
    return constant{static_cast<double>(x)};
}

template <class T>
using node_t = decltype(to_node(std::declval<T>()));

/// Text of a subexpression inside another, parenthesized unless atomic.
template <class N>
[[nodiscard]] std::string describe_operand(const N& n, bool parenthesize) {
  std::string s = n.describe();
  return parenthesize ? "(" + s + ")" : s;
}

}  // namespace tdbg::rules
