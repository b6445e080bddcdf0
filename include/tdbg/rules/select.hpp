// tdbg/rules/select.hpp — tensor selections: the leaves of the vocabulary, and the elements protocol.
// Layer: rules (core incl. core/eigen.hpp, Boost.Regex, rules/{expr,resolve}.hpp).
//
//   tensor_named("loss")          the tensor of that exact name
//   tensors_matching("relu_\\d+") the tensors whose name the regex matches somewhere (search)
//   collection("gradients")       the tensors of a collection
//   sel.in(mode::eval)            read in that mode (see below)
//   sel.only_saved()              leave out selected tensors that have no data at the step
//
// A selection is an *elements* expression (number): the elements of each selected tensor. It
// becomes per_tensor through a reduction (reduce.hpp) and scalar through a quantifier (sets.hpp).
//
// Which value is read. At an evaluation of global step s (mode m), a selected tensor is read
// at s itself, from the context's worker (default: the first worker). With `.in(m2)` for a mode
// m2 != m, it is read at its newest saved step of mode m2 at or before s. prev/at_steps_back
// (time.hpp) then move back from that step. If the tensor has no data there the value is
// unknown, with a reason naming tensor, step and mode (never skipped silently) — unless
// `.only_saved()` dropped the tensor from the set. A selection that matches no tensor at all is
// unknown too ("no tensor matches ...").
//
// Elements protocol (evaluators of elements expressions):
//   name_set names(const context&)                          the tensor set of this evaluation
//   std::string bind(const context&, const std::string& t)  load tensor t ("" or why not)
//   dtype type() const                                      element type after bind
//   std::uint64_t size() const                              element count after bind
//   void materialize(dtype d)                               prepare Eigen maps of type d
//   template <class T> auto expr() const                    Eigen expression of double
//   std::vector<std::uint64_t> dims() const                 (optional) the dimensions after bind;
//                                                           without it: one axis of size()
//   void window(std::uint64_t off, std::uint64_t n)         (optional) after materialize: expr()
//                                                           now covers elements [off, off + n)
//                                                           only; materialize() again: all of them
// Windows let a reduction consume an element-wise expression block by block (reduce.hpp): a node
// that computes into a buffer (erased.hpp) then fills only the window, a few KiB that stay in
// cache, instead of a buffer as large as the tensor. A node offers window() when all its elements
// operands do (has_window).
// Dispatch on the element type happens once per tensor (visit_element_type); float16 tensors
// are widened to float once per tensor; everything else is mapped in place (no copy) with
// Eigen::TensorMap. When two operands of an element-wise operation have different dtypes, both
// are read as float64 (the narrower one is converted once).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/regex.hpp>
#include <unsupported/Eigen/CXX11/Tensor>

#include "tdbg/core/dtype.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/rules/context.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/resolve.hpp"

namespace tdbg::rules {

/// The tensor set of one evaluation of an elements or per_tensor expression.
struct name_set {
  bool known = true;
  std::string reason;
  std::vector<std::string> names;
};

/// Calls f(T{}) with the element type used to evaluate dtype d (float16 evaluates as float).
template <class F>
decltype(auto) visit_element_type(dtype d, F&& f) {
  switch (d) {
    case dtype::float32: case dtype::float16: return f(float{});
    case dtype::float64: return f(double{});
    case dtype::int8: return f(std::int8_t{});
    case dtype::int16: return f(std::int16_t{});
    case dtype::int32: return f(std::int32_t{});
    case dtype::int64: return f(std::int64_t{});
    case dtype::uint8: return f(std::uint8_t{});
    case dtype::uint16: return f(std::uint16_t{});
    case dtype::uint32: return f(std::uint32_t{});
    case dtype::uint64: return f(std::uint64_t{});
    case dtype::boolean: return f(bool{});
    case dtype::string: break;
  }
  return f(double{});
}

/// The evaluation dtype of a stored dtype (float16 → float32).
[[nodiscard]] constexpr dtype evaluation_dtype(dtype d) noexcept { return d == dtype::float16 ? dtype::float32 : d; }

/// The common evaluation dtype of two operands: the same, or float64.
[[nodiscard]] constexpr dtype common_dtype(dtype a, dtype b) noexcept { return a == b ? a : dtype::float64; }

/// The dimensions of an elements evaluator's bound tensor (rank 0: a scalar tensor has {}).
/// Evaluators without dims() report one axis of size() elements.
template <class Ev>
concept has_dims = requires(const Ev& e) {
  { e.dims() } -> std::convertible_to<std::vector<std::uint64_t>>;
};
template <class Ev>
[[nodiscard]] std::vector<std::uint64_t> dims_of(const Ev& e) {
  if constexpr (has_dims<Ev>)
    return e.dims();
  else
    return {e.size()};
}

/// Whether an elements evaluator can narrow its expr() to a window of its elements.
template <class Ev>
concept has_window = requires(Ev& e, std::uint64_t n) { e.window(n, n); };

/// Where a selected tensor is read: the resolved global step, or why there is none.
struct read_point {
  std::optional<step_t> step;
  std::string reason;
};

namespace detail {

inline std::string in_mode_text(tdbg::mode m) { return std::string(mode_name(m)); }

/// The global step at which `tensor` is read in context `c` (see the header comment).
inline read_point resolve_read_step(const context& c, const selection_spec& sel, const std::string& tensor) {
  const tdbg::mode mm = sel.mode.value_or(c.mode);
  const bool nearest = sel.mode.has_value() && *sel.mode != c.mode;
  step_t g = c.step;
  const std::vector<step_t>* steps = nullptr;
  auto load_steps = [&]() -> const std::vector<step_t>& {
    if (steps == nullptr) steps = &c.tensor_steps(tensor, mm);
    return *steps;
  };
  if (nearest) {
    const auto& st = load_steps();
    auto it = std::upper_bound(st.begin(), st.end(), c.step);
    if (it == st.begin())
      return {std::nullopt, "tensor '" + tensor + "' has no " + in_mode_text(mm) + " value at or before " + c.where()};
    g = *std::prev(it);
  } else if (!c.shifts.empty()) {
    const auto& st = load_steps();
    if (!std::binary_search(st.begin(), st.end(), g))
      return {std::nullopt, "tensor '" + tensor + "' has no value at " + c.where()};
  }
  for (const auto& sh : c.shifts) {
    const auto& st = load_steps();
    const auto pos = std::lower_bound(st.begin(), st.end(), g) - st.begin();
    if (sh.by == step_shift::unit::saved_steps) {
      if (pos < sh.k)
        return {std::nullopt, "tensor '" + tensor + "' has no " + in_mode_text(mm) + " value " + std::to_string(sh.k) +
                                  " saved step(s) before step " + std::to_string(g) + " (evaluating " + c.where() + ")"};
      g = st[static_cast<std::size_t>(pos - sh.k)];
    } else {
      // The newest saved step whose step number (mode step; global step in GLOBAL) is
      // <= (that of g) - k. Within one mode, mode steps grow with global steps.
      auto unit = [&](step_t x) -> step_t {
        if (mm == tdbg::mode::global) return x;
        const auto p = c.src->point(x);
        return p ? p->mode_step : x;
      };
      const step_t target = unit(g) - sh.k;
      auto it = std::partition_point(st.begin(), st.begin() + pos, [&](step_t x) { return unit(x) <= target; });
      if (it == st.begin())
        return {std::nullopt, "tensor '" + tensor + "' has no " + in_mode_text(mm) + " value at or before " +
                                  std::to_string(sh.k) + " step(s) before step " + std::to_string(g) +
                                  " (evaluating " + c.where() + ")"};
      g = *std::prev(it);
    }
  }
  return {g, {}};
}

inline std::string at_text(const context& c, step_t g) {
  if (g == c.step) return c.where();
  std::string s = "step " + std::to_string(g);
  if (const auto p = c.src->point(g)) s += " (" + std::string(mode_name(p->mode)) + " step " + std::to_string(p->mode_step) + ")";
  if (!c.worker.empty()) s += " of worker '" + c.worker + "'";
  if (!c.source_name.empty()) s += " of source '" + c.source_name + "'";
  return s + ", evaluating " + c.where();
}

/// Non-owning Eigen maps of one tensor for each evaluation type, rebuilt per bind.
template <class T>
using flat_map = Eigen::TensorMap<Eigen::Tensor<const T, 1, Eigen::RowMajor>>;

class element_maps {
 public:
  template <class T>
  void set(const T* p, std::uint64_t n) {
    std::get<std::optional<flat_map<T>>>(maps_).emplace(p, static_cast<Eigen::Index>(n));
  }
  template <class T>
  [[nodiscard]] const flat_map<T>& get() const {
    const auto& m = std::get<std::optional<flat_map<T>>>(maps_);
    if (!m) throw usage_error("rules: element map used before materialize");
    return *m;
  }

 private:
  std::tuple<std::optional<flat_map<float>>, std::optional<flat_map<double>>, std::optional<flat_map<std::int8_t>>,
             std::optional<flat_map<std::int16_t>>, std::optional<flat_map<std::int32_t>>,
             std::optional<flat_map<std::int64_t>>, std::optional<flat_map<std::uint8_t>>,
             std::optional<flat_map<std::uint16_t>>, std::optional<flat_map<std::uint32_t>>,
             std::optional<flat_map<std::uint64_t>>, std::optional<flat_map<bool>>>
      maps_;
};

}  // namespace detail

/// A tensor selection (elements kind, numbers).
class selection {
 public:
  static constexpr expr_kind kind = expr_kind::elements;
  static constexpr value_type value = value_type::number;
  static constexpr bool stateful = false;

  explicit selection(selection_spec spec) : spec_(std::move(spec)) {
    if (spec_.pattern.empty()) throw usage_error("a tensor selection needs a non-empty name/pattern");
    if (spec_.kind == selection_kind::regex) regex_ = compile_selection_regex(spec_.pattern);
  }

  /// The same tensors read in mode m (the newest step of mode m at or before the evaluated one).
  [[nodiscard]] selection in(tdbg::mode m) const {
    selection s = *this;
    s.spec_.mode = m;
    return s;
  }
  /// The same tensors, leaving out those without data at the evaluated step.
  [[nodiscard]] selection only_saved() const {
    selection s = *this;
    s.spec_.only_saved = true;
    return s;
  }

  [[nodiscard]] const selection_spec& spec() const noexcept { return spec_; }
  [[nodiscard]] std::string describe() const { return describe_selection(spec_); }

  void needs(requirements& r, const need_scope& s) const {
    tensor_need n;
    n.selection = spec_;
    n.source = s.source;
    n.primary = s.primary;
    n.raw = !s.stored.has_value();
    if (s.stored) n.reductions.push_back(*s.stored);
    n.saved_steps_back = s.saved_steps_back;
    n.steps_back = s.steps_back;
    n.nearest_before = s.nearest_before || (spec_.mode.has_value());
    n.all_workers = s.all_workers;
    // Merge with an existing need differing only in its stored reductions.
    for (auto& e : r.tensors) {
      tensor_need a = e, b = n;
      a.reductions.clear();
      b.reductions.clear();
      a.raw = b.raw = false;
      if (a == b) {
        e.raw = e.raw || n.raw;
        for (auto red : n.reductions)
          if (std::find(e.reductions.begin(), e.reductions.end(), red) == e.reductions.end()) e.reductions.push_back(red);
        return;
      }
    }
    r.add(std::move(n));
  }

  class evaluator {
   public:
    explicit evaluator(const selection& n) : n_(&n) {}

    [[nodiscard]] name_set names(const context& c) const {
      name_set out;
      out.names = resolve_names(*c.src, n_->spec_, n_->regex_.get());
      if (n_->spec_.only_saved) {
        std::erase_if(out.names, [&](const std::string& t) { return !has_data(c, t); });
      }
      if (out.names.empty()) {
        out.known = false;
        out.reason = "no tensor matches " + n_->describe() + " at " + c.where();
      }
      return out;
    }

    /// Resolves the read step and loads the raw value ("" on success, else the reason).
    std::string bind(const context& c, const std::string& t) {
      value_.reset();
      const read_point rp = detail::resolve_read_step(c, n_->spec_, t);
      if (!rp.step) return rp.reason;
      step_ = *rp.step;
      value_ = c.src->value(t, step_, c.worker);
      if (!value_) return "tensor '" + t + "' has no raw value at " + detail::at_text(c, step_);
      if (value_->dtype() == dtype::string)
        return "tensor '" + t + "' holds strings, not numbers, at " + detail::at_text(c, step_);
      return {};
    }

    /// A stored reduction of `t` at the step bind() resolved (or resolves now).
    [[nodiscard]] std::optional<double> stored(const context& c, const std::string& t, reduction r) const {
      const read_point rp = detail::resolve_read_step(c, n_->spec_, t);
      if (!rp.step) return std::nullopt;
      return c.src->stored_reduction(t, *rp.step, r, c.worker);
    }

    [[nodiscard]] dtype type() const { return evaluation_dtype(value_->dtype()); }
    [[nodiscard]] std::uint64_t size() const { return value_->size(); }
    [[nodiscard]] std::vector<std::uint64_t> dims() const {
      const auto& sh = value_->shape();
      return std::vector<std::uint64_t>(sh.begin(), sh.end());
    }

    void materialize(dtype d) {
      const std::uint64_t n = value_->size();
      const dtype own = type();
      if (value_->dtype() == dtype::float16) {
        const auto h = value_->values<float16_t>();
        widened_f_.resize(h.size());
        for (std::size_t i = 0; i < h.size(); ++i) widened_f_[i] = half_to_float(h[i].bits);
      }
      if (d == own) {
        visit_element_type(d, [&](auto tag) {
          using T = decltype(tag);
          if constexpr (std::is_same_v<T, float>) {
            if (value_->dtype() == dtype::float16) {
              base_ = widened_f_.data();
              return;
            }
          }
          base_ = value_->bytes().data();
        });
      } else {
        widened_d_.resize(n);
        for (std::uint64_t i = 0; i < n; ++i)
          widened_d_[i] = own == dtype::float32 && value_->dtype() == dtype::float16 ? widened_f_[i] : value_->as_double(i);
        base_ = widened_d_.data();
      }
      map_type_ = d;
      window(0, n);
    }
    /// expr() covers elements [off, off + n) (after materialize; elements protocol).
    void window(std::uint64_t off, std::uint64_t n) {
      visit_element_type(map_type_, [&](auto tag) {
        using T = decltype(tag);
        maps_.set<T>(static_cast<const T*>(base_) + off, n);
      });
    }

    template <class T>
    [[nodiscard]] auto expr() const {
      return maps_.get<T>().template cast<double>();
    }

    void release() {
      value_.reset();
      widened_f_.clear();
      widened_d_.clear();
    }
    void reset() {}
    [[nodiscard]] std::size_t state_size() const { return 0; }

   private:
    [[nodiscard]] bool has_data(const context& c, const std::string& t) const {
      const tdbg::mode mm = n_->spec_.mode.value_or(c.mode);
      const auto& st = c.tensor_steps(t, mm);
      if (n_->spec_.mode && *n_->spec_.mode != c.mode)
        return !st.empty() && st.front() <= c.step;
      return std::binary_search(st.begin(), st.end(), c.step);
    }

    const selection* n_;
    std::shared_ptr<const tdbg::tensor> value_;
    step_t step_ = 0;
    std::vector<float> widened_f_;
    std::vector<double> widened_d_;
    const void* base_ = nullptr;  // the materialized elements, of type map_type_
    dtype map_type_ = dtype::float64;
    detail::element_maps maps_;
  };

 private:
  selection_spec spec_;
  std::shared_ptr<const boost::regex> regex_;
};

/// The tensor named `name`.
[[nodiscard]] inline selection tensor_named(std::string name) {
  return selection(selection_spec{selection_kind::name, std::move(name), std::nullopt, false});
}
/// The tensors in whose name `pattern` (Boost.Regex, perl syntax) matches somewhere.
[[nodiscard]] inline selection tensors_matching(std::string pattern) {
  return selection(selection_spec{selection_kind::regex, std::move(pattern), std::nullopt, false});
}
/// The tensors of a collection.
[[nodiscard]] inline selection collection(std::string name) {
  return selection(selection_spec{selection_kind::collection, std::move(name), std::nullopt, false});
}

}  // namespace tdbg::rules
