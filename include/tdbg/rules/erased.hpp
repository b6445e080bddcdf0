// tdbg/rules/erased.hpp — type-erased expression nodes: trees composed at run time (the `.rule`
// loader) from the same node templates as typed C++ rules.
// Layer: rules (rules/{expr,select,ops}.hpp, Eigen's Tensor module).
//
//   erased<K, V>(node)        wraps any node of kind K and value type V behind a small virtual
//                             interface; it is itself a node of that kind and value type
//   any_number  any_boolean                       scalar numbers / booleans
//   any_per_tensor_number  any_per_tensor_boolean per-tensor numbers / booleans
//   any_elements  any_element_mask                element-wise numbers / masks
//
// A run-time tree is the typed templates over erased children: `mean(x)` with x an
// any_elements is reduce_node<reducers::mean, any_elements>, `a < b` is
// binary_node<ops::less, any_per_tensor_number, any_number>, and each such typed node is erased
// again for its parent. Describe, needs and evaluate behave exactly as in the typed tree (the
// equivalence is tested: tests/lang/load_tests.cpp).
//
// Design of the elements boundary (where speed matters). The elements protocol (select.hpp) hands
// out a typed Eigen expression per element type, which a virtual interface cannot return. An
// erased elements evaluator therefore computes into a double buffer: its virtual fill_block()
// runs the wrapped typed subtree's Eigen expression over a window of the tensor's elements into
// the buffer — the dtype is dispatched inside the typed model (visit_element_type), and the
// element loop is the typed subtree's own Eigen loop. The erased node then reports dtype float64
// and exposes the buffer as an Eigen map, so the parent runs its own Eigen loop over it.
//  * Under a reduction (reduce.hpp) the buffer is a block: the reduction asks for consecutive
//    windows of detail::element_block elements and consumes each while it is in L1, so an erased
//    level costs a few virtual calls per block and a pass over an 8 KiB buffer, not a pass over
//    memory the size of the tensor. Windows nest: an erased level inside the typed subtree of
//    another is asked for the same window (the protocol's window(), select.hpp).
//  * A sum of x, |x| or x² (mean, sum, l1, l2, count, fraction) is fused instead: add_to() runs
//    the typed subtree's loop window by window straight into the reduction's accumulator, so the
//    last erased level below a reduction has no buffer at all (accumulate.hpp).
//  * Under any other parent (an axis reduction, a class count, quantile) the whole tensor is
//    filled once, lazily at the parent's first expr() (the parent's materialize() cannot know
//    whether a window follows).
// Never a virtual call per element. Values are identical to the typed tree: every typed element
// expression already computes in double (`.cast<double>()` of the stored type), float16/float32/
// integers widen to double exactly, and reductions sum blocks in the same order as one pass
// (reduce.hpp). The loader keeps plain selections typed below unary functions, time shifts,
// reductions, and binary operators whose other operand is a selection or not element-wise (or
// prev/at/in_trial of a selection, for - / == != isclose), so `mean(sel)` and
// `count(sel == 0)` have no erased level, and `mean(abs(sel))` and `l2(w - prev(w))` one, fused
// into the reduction's sum (add_to).
//
// Run-time properties that the typed templates know statically are reported at run time:
//  * stored reductions: an erased elements evaluator always offers stored(); stored_capable()
//    says whether the wrapped tree can answer (a selection, abs or prev of one), and reduce_node
//    consults it, so reasons and needs() match the typed tree;
//  * literal(): whether the wrapped node is a constant or parameter (which side of a comparison
//    is the observed one); atomic(): whether its text needs no parentheses as an operand;
//  * statefulness: an erased node declares `stateful = false`, so prev/in_mode/in_trial and
//    the worker aggregates accept it; whoever composes at run time (the loader) must refuse a
//    window, patience or then below them itself (their static_asserts cannot see through).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unsupported/Eigen/CXX11/Tensor>

#include "tdbg/core/dtype.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/rules/accumulate.hpp"
#include "tdbg/rules/context.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/select.hpp"

namespace tdbg::rules {

namespace detail {

/// The evaluator interface of an erased node, by kind.
template <expr_kind K>
struct erased_evaluator_base;

template <>
struct erased_evaluator_base<expr_kind::scalar> {
  virtual ~erased_evaluator_base() = default;
  virtual scalar_value eval(const context& c) = 0;
  virtual void reset() = 0;
  [[nodiscard]] virtual std::size_t state_size() const = 0;
};

template <>
struct erased_evaluator_base<expr_kind::per_tensor> {
  virtual ~erased_evaluator_base() = default;
  virtual tensor_values eval(const context& c) = 0;
  virtual void reset() = 0;
  [[nodiscard]] virtual std::size_t state_size() const = 0;
};

template <>
struct erased_evaluator_base<expr_kind::elements> {
  virtual ~erased_evaluator_base() = default;
  virtual name_set names(const context& c) = 0;
  virtual std::string bind(const context& c, const std::string& t) = 0;
  [[nodiscard]] virtual std::uint64_t size() const = 0;
  /// The bound tensor's dimensions (axis reductions, rules/axis.hpp).
  [[nodiscard]] virtual std::vector<std::uint64_t> dims() const = 0;
  /// Evaluates the bound tensor's elements (as doubles) into out[0, size()).
  virtual void fill(double* out) = 0;
  /// Evaluates elements [off, off + n) of the bound tensor into out[0, n).
  virtual void fill_block(std::uint64_t off, std::uint64_t n, double* out) = 0;
  /// Adds f(x) of every element x of the bound tensor to acc, in windows of element_block and in
  /// index order: the sum runs in the wrapped subtree's own loop, without a buffer.
  virtual void add_to(sum_accumulator& acc, summand f) = 0;
  virtual void release() = 0;
  [[nodiscard]] virtual std::optional<double> stored(const context& c, const std::string& t, reduction r) const = 0;
  [[nodiscard]] virtual bool stored_capable() const = 0;
  virtual void reset() = 0;
  [[nodiscard]] virtual std::size_t state_size() const = 0;
};

/// The node interface of an erased node.
template <expr_kind K>
struct erased_node_base {
  virtual ~erased_node_base() = default;
  [[nodiscard]] virtual std::string describe() const = 0;
  virtual void needs(requirements& r, const need_scope& s) const = 0;
  [[nodiscard]] virtual std::unique_ptr<erased_evaluator_base<K>> make_evaluator() const = 0;
  [[nodiscard]] virtual bool literal() const = 0;
  [[nodiscard]] virtual bool atomic() const = 0;
};

template <expr_kind K, class X>
class evaluator_model;

template <class X>
class evaluator_model<expr_kind::scalar, X> final : public erased_evaluator_base<expr_kind::scalar> {
 public:
  evaluator_model(std::shared_ptr<const X> node) : node_(std::move(node)), ev_(*node_) {}
  scalar_value eval(const context& c) override { return ev_.eval(c); }
  void reset() override { ev_.reset(); }
  [[nodiscard]] std::size_t state_size() const override { return ev_.state_size(); }

 private:
  std::shared_ptr<const X> node_;  // typed evaluators may point into their node
  typename X::evaluator ev_;
};

template <class X>
class evaluator_model<expr_kind::per_tensor, X> final : public erased_evaluator_base<expr_kind::per_tensor> {
 public:
  evaluator_model(std::shared_ptr<const X> node) : node_(std::move(node)), ev_(*node_) {}
  tensor_values eval(const context& c) override { return ev_.eval(c); }
  void reset() override { ev_.reset(); }
  [[nodiscard]] std::size_t state_size() const override { return ev_.state_size(); }

 private:
  std::shared_ptr<const X> node_;
  typename X::evaluator ev_;
};

template <class X>
class evaluator_model<expr_kind::elements, X> final : public erased_evaluator_base<expr_kind::elements> {
 public:
  evaluator_model(std::shared_ptr<const X> node) : node_(std::move(node)), ev_(*node_) {}
  name_set names(const context& c) override { return ev_.names(c); }
  std::string bind(const context& c, const std::string& t) override {
    prepared_ = false;
    return ev_.bind(c, t);
  }
  [[nodiscard]] std::uint64_t size() const override { return ev_.size(); }
  [[nodiscard]] std::vector<std::uint64_t> dims() const override { return dims_of(ev_); }
  void fill(double* out) override {
    prepared_ = false;
    const dtype d = ev_.type();
    ev_.materialize(d);
    assign(d, out, ev_.size());
  }
  void fill_block(std::uint64_t off, std::uint64_t n, double* out) override {
    if constexpr (has_window<typename X::evaluator>) {
      if (!prepared_) {
        type_ = ev_.type();
        ev_.materialize(type_);
        prepared_ = true;
      }
      ev_.window(off, n);
      assign(type_, out, n);
    } else {  // a subtree that cannot be windowed: computed whole once, handed out by windows
      if (!prepared_) {
        whole_.resize(static_cast<std::size_t>(ev_.size()));
        fill(whole_.data());
        prepared_ = true;
      }
      std::copy_n(whole_.data() + off, n, out);
    }
  }
  void add_to(sum_accumulator& acc, summand f) override {
    const dtype d = ev_.type();
    ev_.materialize(d);
    prepared_ = false;
    const std::uint64_t n = ev_.size();
    visit_element_type(d, [&](auto tag) {
      using T = decltype(tag);
      const auto add = [&](const auto& x) { with_summand(f, [&](auto map) { acc.add(map(x)); }); };
      if constexpr (has_window<typename X::evaluator>) {
        for (std::uint64_t off = 0; off < n; off += element_block) {
          ev_.window(off, std::min(element_block, n - off));
          add(ev_.template expr<T>());
        }
      } else {
        add(ev_.template expr<T>());
      }
    });  // prepared_ is false: a later fill or window materializes again
  }
  void release() override {
    prepared_ = false;
    whole_.clear();
    ev_.release();
  }
  [[nodiscard]] std::optional<double> stored(const context& c, const std::string& t, reduction r) const override {
    if constexpr (has_stored_fallback<typename X::evaluator>)
      return ev_.stored(c, t, r);
    else
      return std::nullopt;
  }
  [[nodiscard]] bool stored_capable() const override { return stored_available(ev_); }
  void reset() override { ev_.reset(); }
  [[nodiscard]] std::size_t state_size() const override { return ev_.state_size(); }

 private:
  /// out[0, n) = the wrapped expression (as materialized with dtype d and windowed).
  void assign(dtype d, double* out, std::uint64_t n) {
    visit_element_type(d, [&](auto tag) {
      using T = decltype(tag);
      Eigen::TensorMap<Eigen::Tensor<double, 1, Eigen::RowMajor>> m(out, static_cast<Eigen::Index>(n));
      m = ev_.template expr<T>();
    });
  }

  std::shared_ptr<const X> node_;
  typename X::evaluator ev_;
  bool prepared_ = false;  // materialized for windows since the last bind
  dtype type_ = dtype::float64;
  std::vector<double> whole_;  // only for subtrees without window()
};

template <expr_kind K, class X>
class node_model final : public erased_node_base<K> {
 public:
  explicit node_model(X x) : node_(std::make_shared<const X>(std::move(x))) {}
  [[nodiscard]] std::string describe() const override { return node_->describe(); }
  void needs(requirements& r, const need_scope& s) const override {
    if constexpr (K == expr_kind::elements && !has_stored_fallback<typename X::evaluator>) {
      // A typed parent would not have offered a stored reduction to this subtree.
      need_scope inner = s;
      inner.stored.reset();
      node_->needs(r, inner);
    } else {
      node_->needs(r, s);
    }
  }
  [[nodiscard]] std::unique_ptr<erased_evaluator_base<K>> make_evaluator() const override {
    return std::make_unique<evaluator_model<K, X>>(node_);
  }
  [[nodiscard]] bool literal() const override { return literal_node(*node_); }
  [[nodiscard]] bool atomic() const override { return atomic_node(*node_); }

 private:
  std::shared_ptr<const X> node_;
};

}  // namespace detail

/// A node of kind K and value type V whose concrete type is erased (see the header comment).
template <expr_kind K, value_type V>
class erased {
 public:
  static constexpr expr_kind kind = K;
  static constexpr value_type value = V;
  static constexpr bool stateful = false;  // see the header comment

  /// Wraps a typed node of the same kind and value type (an erased one is taken as is).
  template <node X>
    requires(!std::is_same_v<std::remove_cvref_t<X>, erased>)
  explicit erased(X x) {
    using N = std::remove_cvref_t<X>;
    static_assert(N::kind == K && N::value == V, "tdbg::rules::erased: the node's kind/value type differ");
    impl_ = std::make_shared<const detail::node_model<K, N>>(std::move(x));
  }

  [[nodiscard]] std::string describe() const { return impl_->describe(); }
  void needs(requirements& r, const need_scope& s) const { impl_->needs(r, s); }
  /// True when it wraps a constant or a parameter.
  [[nodiscard]] bool literal() const { return impl_->literal(); }
  /// True when its text needs no parentheses as an operand.
  [[nodiscard]] bool atomic() const { return impl_->atomic(); }

  class evaluator {
   public:
    explicit evaluator(const erased& n) : ev_(n.impl_->make_evaluator()) {}

    auto eval(const context& c)
      requires(K != expr_kind::elements)
    {
      return ev_->eval(c);
    }

    // elements protocol (see select.hpp and the header comment)
    name_set names(const context& c)
      requires(K == expr_kind::elements)
    {
      return ev_->names(c);
    }
    std::string bind(const context& c, const std::string& t)
      requires(K == expr_kind::elements)
    {
      return ev_->bind(c, t);
    }
    [[nodiscard]] dtype type() const
      requires(K == expr_kind::elements)
    {
      return dtype::float64;
    }
    [[nodiscard]] std::uint64_t size() const
      requires(K == expr_kind::elements)
    {
      return ev_->size();
    }
    [[nodiscard]] std::vector<std::uint64_t> dims() const
      requires(K == expr_kind::elements)
    {
      return ev_->dims();
    }
    /// The buffer computes in reduce.hpp's blocks (see the header comment).
    static constexpr bool buffers_elements = true;
    /// Lazy: the whole tensor is filled at the first expr() unless a window() comes first.
    void materialize(dtype)
      requires(K == expr_kind::elements)
    {
      whole_pending_ = true;
    }
    void window(std::uint64_t off, std::uint64_t n)
      requires(K == expr_kind::elements)
    {
      whole_pending_ = false;
      if (buffer_.size() < n) buffer_.resize(static_cast<std::size_t>(n));
      ev_->fill_block(off, n, buffer_.data());
      view_ = n;
    }
    template <class T>
    [[nodiscard]] auto expr() const
      requires(K == expr_kind::elements)
    {
      if (whole_pending_) {  // the lazy part of materialize(): logically const
        view_ = ev_->size();
        buffer_.resize(static_cast<std::size_t>(view_));
        ev_->fill(buffer_.data());
        whole_pending_ = false;
      }
      return detail::flat_map<double>(buffer_.data(), static_cast<Eigen::Index>(view_));
    }
    /// A sum fused into the wrapped subtree (reduce.hpp): no buffer.
    void add_to(detail::sum_accumulator& acc, detail::summand f)
      requires(K == expr_kind::elements)
    {
      whole_pending_ = false;
      ev_->add_to(acc, f);
    }
    void release()
      requires(K == expr_kind::elements)
    {
      whole_pending_ = false;
      view_ = 0;
      ev_->release();
    }
    [[nodiscard]] std::optional<double> stored(const context& c, const std::string& t, reduction r) const
      requires(K == expr_kind::elements)
    {
      return ev_->stored(c, t, r);
    }
    [[nodiscard]] bool stored_capable() const
      requires(K == expr_kind::elements)
    {
      return ev_->stored_capable();
    }

    void reset() { ev_->reset(); }
    [[nodiscard]] std::size_t state_size() const { return ev_->state_size(); }

   private:
    std::unique_ptr<detail::erased_evaluator_base<K>> ev_;
    mutable std::vector<double> buffer_;  // the whole tensor, or the current window
    mutable std::uint64_t view_ = 0;      // elements of buffer_ that expr() covers
    mutable bool whole_pending_ = false;
  };

 private:
  std::shared_ptr<const detail::erased_node_base<K>> impl_;
};

using any_number = erased<expr_kind::scalar, value_type::number>;
using any_boolean = erased<expr_kind::scalar, value_type::boolean>;
using any_per_tensor_number = erased<expr_kind::per_tensor, value_type::number>;
using any_per_tensor_boolean = erased<expr_kind::per_tensor, value_type::boolean>;
using any_elements = erased<expr_kind::elements, value_type::number>;
using any_element_mask = erased<expr_kind::elements, value_type::boolean>;

}  // namespace tdbg::rules
