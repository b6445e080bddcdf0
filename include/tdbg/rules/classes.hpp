// tdbg/rules/classes.hpp — classification vocabulary: class counts, confusion matrices, and the
// element-wise accumulation of such counts across evaluations.
// Layer: rules (rules/{expr,select,ops,axis}.hpp).
//
//   class_counts(x)            x holds class indices (whole numbers >= 0): element k of the
//                              result is how many elements of x equal k; shape [K], K = the
//                              largest index + 1 (0 for an empty x)
//   confusion_matrix(l, p)     l labels, p predictions (class indices, the same element count):
//                              element [i, j] counts the samples of label i predicted as j;
//                              shape [K, K], K = the largest index of either + 1
//   diagonal(m)                the diagonal of a matrix [R, C] (shape [min(R, C)])
//   off_diagonal(m)            m with its diagonal set to 0 (same shape)
//   accumulate(x)              the element-wise sum of x over the rule's evaluations so far
//                              (this one included), per tensor; values of a smaller shape are
//                              aligned at index 0 of every axis and padded with zeros, so
//                              counts whose K grows add up (the rank must stay the same)
// Pairing: the result's tensors are those of the first operand (labels). For each of them,
// confusion_matrix reads the prediction tensor of the same name if the second operand selects
// it, else the one at the same position in name order when both select as many tensors, else
// the only one (e.g. "labels" with "predictions"); otherwise the value is unknown with a reason.
// A value that is not a whole number >= 0 (a probability, NaN, -1) makes the tensor's value
// unknown, naming the tensor and the value (apply argmax_along(p, -1) to probabilities first).
// Indices are bounded by 2^24 (a larger one is refused the same way, not allocated).
//
// accumulate keeps state (one buffer per tensor, bounded by the largest counts' size; see
// state_size()): it is stateful like a window, so it cannot be placed inside prev, in_mode,
// in_trial or a history. It adds the value of every evaluation at which it is read.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/axis.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

namespace detail {

inline constexpr double max_class_index = 16777216.0;  // 2^24

/// Checks that every value is a class index; "" or the reason naming tensor and value.
inline std::string check_indices(const std::vector<double>& v, const std::string& t, const char* what,
                                 std::uint64_t& k) {
  for (double x : v) {
    if (!(x >= 0) || x != std::floor(x) || x >= max_class_index)
      return "tensor '" + t + "': " + what + " value " + format_number(x) +
             " is not a class index (a whole number >= 0 below 2^24)";
    k = std::max<std::uint64_t>(k, static_cast<std::uint64_t>(x) + 1);
  }
  return {};
}

/// The element-wise function of a one-operand class node.
enum class matrix_op : std::uint8_t { class_counts, diagonal, off_diagonal };

}  // namespace detail

/// class_counts / diagonal / off_diagonal of an elements expression.
template <detail::matrix_op Op, class X>
class matrix_node {
 public:
  static constexpr expr_kind kind = expr_kind::elements;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = X::stateful;
  static constexpr bool is_call = true;

  explicit matrix_node(X x) : x_(std::move(x)) {}
  [[nodiscard]] std::string describe() const { return std::string(name()) + "(" + x_.describe() + ")"; }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.stored.reset();
    x_.needs(r, inner);
  }
  [[nodiscard]] static constexpr const char* name() {
    return Op == detail::matrix_op::class_counts ? "class_counts"
           : Op == detail::matrix_op::diagonal   ? "diagonal"
                                                 : "off_diagonal";
  }

  class evaluator : public detail::buffered_elements {
   public:
    explicit evaluator(const matrix_node& n) : x_(n.x_) {}
    name_set names(const context& c) { return x_.names(c); }
    std::string bind(const context& c, const std::string& t) {
      if (auto why = x_.bind(c, t); !why.empty()) return why;
      const std::vector<std::uint64_t> dims = dims_of(x_);
      detail::evaluate_into(x_, in_);
      x_.release();
      if constexpr (Op == detail::matrix_op::class_counts) {
        std::uint64_t k = 0;
        if (auto why = detail::check_indices(in_, t, "a", k); !why.empty()) return why;
        out_.assign(k, 0.0);
        for (double v : in_) out_[static_cast<std::size_t>(v)] += 1;
        out_dims_ = {k};
      } else {
        if (dims.size() != 2)
          return "tensor '" + t + "' of shape " + detail::shape_text(dims) + " is not a matrix (" + name() + ")";
        const std::uint64_t rows = dims[0], cols = dims[1], d = std::min(rows, cols);
        if constexpr (Op == detail::matrix_op::diagonal) {
          out_.resize(d);
          for (std::uint64_t i = 0; i < d; ++i) out_[i] = in_[i * cols + i];
          out_dims_ = {d};
        } else {
          out_ = in_;
          for (std::uint64_t i = 0; i < d; ++i) out_[i * cols + i] = 0;
          out_dims_ = dims;
        }
      }
      return {};
    }
    void release() {
      in_.clear();
      out_.clear();
    }
    void reset() { x_.reset(); }
    [[nodiscard]] std::size_t state_size() const { return x_.state_size(); }

   private:
    typename X::evaluator x_;
  };

 private:
  X x_;
};

/// The confusion matrix of labels L and predictions P (see the header comment).
template <class L, class P>
class confusion_node {
 public:
  static constexpr expr_kind kind = expr_kind::elements;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = L::stateful || P::stateful;
  static constexpr bool is_call = true;

  confusion_node(L l, P p) : l_(std::move(l)), p_(std::move(p)) {}
  [[nodiscard]] std::string describe() const {
    return "confusion_matrix(" + l_.describe() + ", " + p_.describe() + ")";
  }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.stored.reset();
    l_.needs(r, inner);
    p_.needs(r, inner);
  }

  class evaluator : public detail::buffered_elements {
   public:
    explicit evaluator(const confusion_node& n) : l_(n.l_), p_(n.p_) {}
    name_set names(const context& c) {
      name_set ls = l_.names(c);
      preds_ = p_.names(c);
      labels_ = ls.names;
      if (!ls.known) return ls;
      if (!preds_.known) return name_set{false, preds_.reason, {}};
      return ls;
    }
    std::string bind(const context& c, const std::string& t) {
      std::string pname;
      if (std::find(preds_.names.begin(), preds_.names.end(), t) != preds_.names.end()) {
        pname = t;
      } else if (preds_.names.size() == labels_.size()) {
        const auto pos = std::find(labels_.begin(), labels_.end(), t) - labels_.begin();
        if (static_cast<std::size_t>(pos) < labels_.size()) pname = preds_.names[static_cast<std::size_t>(pos)];
      } else if (preds_.names.size() == 1) {
        pname = preds_.names.front();
      }
      if (pname.empty())
        return "tensor '" + t + "': no prediction tensor pairs with it (" + std::to_string(preds_.names.size()) +
               " predictions for " + std::to_string(labels_.size()) + " label tensors)";
      if (auto why = l_.bind(c, t); !why.empty()) return why;
      detail::evaluate_into(l_, in_);
      l_.release();
      if (auto why = p_.bind(c, pname); !why.empty()) return why;
      detail::evaluate_into(p_, pred_);
      p_.release();
      if (in_.size() != pred_.size())
        return "tensor '" + t + "' has " + std::to_string(in_.size()) + " labels but '" + pname + "' has " +
               std::to_string(pred_.size()) + " predictions";
      std::uint64_t k = 0;
      if (auto why = detail::check_indices(in_, t, "label", k); !why.empty()) return why;
      if (auto why = detail::check_indices(pred_, pname, "prediction", k); !why.empty()) return why;
      out_.assign(k * k, 0.0);
      for (std::size_t i = 0; i < in_.size(); ++i)
        out_[static_cast<std::size_t>(in_[i]) * k + static_cast<std::size_t>(pred_[i])] += 1;
      out_dims_ = {k, k};
      return {};
    }
    void release() {
      in_.clear();
      pred_.clear();
      out_.clear();
    }
    void reset() {
      l_.reset();
      p_.reset();
    }
    [[nodiscard]] std::size_t state_size() const { return l_.state_size() + p_.state_size(); }

   private:
    typename L::evaluator l_;
    typename P::evaluator p_;
    name_set preds_;
    std::vector<std::string> labels_;
    std::vector<double> pred_;
  };

 private:
  L l_;
  P p_;
};

/// The element-wise sum of x over the evaluations so far (see the header comment).
template <class X>
class accumulate_node {
 public:
  static constexpr expr_kind kind = expr_kind::elements;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = true;
  static constexpr bool is_call = true;

  explicit accumulate_node(X x) : x_(std::move(x)) {}
  [[nodiscard]] std::string describe() const { return "accumulate(" + x_.describe() + ")"; }
  void needs(requirements& r, const need_scope& s) const {
    need_scope inner = s;
    inner.stored.reset();
    x_.needs(r, inner);
  }

  class evaluator : public detail::buffered_elements {
   public:
    explicit evaluator(const accumulate_node& n) : x_(n.x_) {}
    name_set names(const context& c) { return x_.names(c); }
    std::string bind(const context& c, const std::string& t) {
      if (auto why = x_.bind(c, t); !why.empty()) return why;
      const std::vector<std::uint64_t> dims = dims_of(x_);
      detail::evaluate_into(x_, in_);
      x_.release();
      auto it = sums_.find(t);
      if (it == sums_.end()) {
        it = sums_.emplace(t, sum{dims, in_}).first;
      } else {
        sum& s = it->second;
        if (s.dims.size() != dims.size())
          return "tensor '" + t + "' changed rank (" + detail::shape_text(s.dims) + " then " +
                 detail::shape_text(dims) + "): accumulate cannot add it";
        std::vector<std::uint64_t> nd(dims.size());
        for (std::size_t i = 0; i < dims.size(); ++i) nd[i] = std::max(dims[i], s.dims[i]);
        if (nd != s.dims) {
          s.values = pad(s.values, s.dims, nd);
          s.dims = nd;
        }
        const std::vector<double> add = nd == dims ? in_ : pad(in_, dims, nd);
        for (std::size_t i = 0; i < add.size(); ++i) s.values[i] += add[i];
      }
      out_ = it->second.values;
      out_dims_ = it->second.dims;
      return {};
    }
    void release() {
      in_.clear();
      out_.clear();
    }
    void reset() {
      x_.reset();
      sums_.clear();
    }
    /// Values held: every tensor's running sums.
    [[nodiscard]] std::size_t state_size() const {
      std::size_t n = x_.state_size();
      for (const auto& [t, s] : sums_) n += s.values.size();
      return n;
    }

   private:
    struct sum {
      std::vector<std::uint64_t> dims;
      std::vector<double> values;
    };
    /// v of shape `from` laid out in shape `to` (every to[i] >= from[i]), zero-padded.
    static std::vector<double> pad(const std::vector<double>& v, const std::vector<std::uint64_t>& from,
                                   const std::vector<std::uint64_t>& to) {
      std::uint64_t total = 1;
      for (auto d : to) total *= d;
      std::vector<double> out(total, 0.0);
      std::vector<std::uint64_t> idx(from.size(), 0);
      for (std::size_t flat = 0; flat < v.size(); ++flat) {
        std::uint64_t dst = 0;
        for (std::size_t a = 0; a < to.size(); ++a) dst = dst * to[a] + idx[a];
        out[dst] = v[flat];
        for (std::size_t a = from.size(); a-- > 0;) {
          if (++idx[a] < from[a]) break;
          idx[a] = 0;
        }
      }
      return out;
    }
    typename X::evaluator x_;
    std::map<std::string, sum, std::less<>> sums_;
  };

 private:
  X x_;
};

namespace detail {
template <class X>
constexpr void require_elements() {
  static_assert(is_node_v<X> && kind_of<X> == expr_kind::elements,
                "tdbg::rules: class_counts/confusion_matrix/diagonal/off_diagonal/accumulate take element-wise "
                "tensor values (a selection or an expression of one)");
}
}  // namespace detail

/// How many elements equal each class index 0..K-1.
template <class X> [[nodiscard]] auto class_counts(X x) {
  detail::require_elements<X>();
  return matrix_node<detail::matrix_op::class_counts, X>(std::move(x));
}
/// The diagonal of a matrix.
template <class X> [[nodiscard]] auto diagonal(X x) {
  detail::require_elements<X>();
  return matrix_node<detail::matrix_op::diagonal, X>(std::move(x));
}
/// A matrix with its diagonal set to 0.
template <class X> [[nodiscard]] auto off_diagonal(X x) {
  detail::require_elements<X>();
  return matrix_node<detail::matrix_op::off_diagonal, X>(std::move(x));
}
/// The confusion matrix [label, prediction] of class indices.
template <class L, class P> [[nodiscard]] auto confusion_matrix(L labels, P predictions) {
  detail::require_elements<L>();
  detail::require_elements<P>();
  return confusion_node<L, P>(std::move(labels), std::move(predictions));
}
/// The element-wise sum of x over the rule's evaluations so far.
template <class X> [[nodiscard]] auto accumulate(X x) {
  detail::require_elements<X>();
  return accumulate_node<X>(std::move(x));
}

}  // namespace tdbg::rules
