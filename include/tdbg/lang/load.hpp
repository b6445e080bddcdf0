// tdbg/lang/load.hpp — the run-time path of the `.rule` language: parse, check, apply parameter
// overrides, and build tdbg::rules::any_rule objects from the engine's node templates.
// Layer: lang (overrides.hpp, rules/rules.hpp; parse.hpp in the header-only form). This header
// instantiates the whole rule vocabulary over erased nodes (and, header-only, the X3 grammar):
// include it in one translation unit per program (tdbg/lang/entry.hpp).
//
//   auto rules = tdbg::lang::load_rules("rules/vanishing_gradient.rule", {"vanishing_gradient.threshold=1e-6"});
//   for (auto& r : rules) for (step_t s : r.steps(src)) r.evaluate(src, s);
//
// Binding. Every call goes through the function table's `engine_name` to the engine's node
// template of that name (tensor → tensor_named, scalar → the, variance_pop → var_pop, ...), over
// type-erased children (rules/erased.hpp): the tree is the typed vocabulary with erased nodes at
// its joints, so describe(), needs() and evaluation are those of the equivalent C++ rule.
// Parameters become `param_(name, value)` nodes (they describe as their name), literals
// `constant`s; arithmetic of two constants is folded (a constant is known at load time).
// Fusion (speed; docs/rules.md, "Cost model"): a plain selection stays typed below unary
// functions, reductions, and binary operators whose other operand is a selection or not
// element-wise; prev/at/in_trial of a selection stay typed beside their erased node
// (built::leaf) so that `-` `/` `==` `!=` `isclose` of the selection with one of them is one typed
// loop; `between(sel, lo, hi)` is built typed.
// Schedule, findings and message: rule_options.hpp (make_rule_options), shared with the headers
// `tdbg compile` generates (codegen.hpp) — parameters are substituted into the message at load
// time, the other placeholders are the engine's finding fields.
//
// Errors: syntax and semantic errors of the file, a bad override, a required parameter without
// value, and what the engine refuses when the tree is built (a quantile outside [0, 1], clamp
// with lo > hi, a negative isclose tolerance, a window inside prev/in_mode/in_trial/the worker
// aggregates) are all collected
// and thrown as one parse_error with positioned diagnostics (file:line:col, source line, caret).
#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "tdbg/core/error.hpp"
#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/entry.hpp"
#include "tdbg/lang/function_table.hpp"
#include "tdbg/lang/load_support.hpp"
#include "tdbg/lang/model.hpp"
#include "tdbg/lang/overrides.hpp"
#include "tdbg/lang/rule_options.hpp"
#include "tdbg/rules/rules.hpp"

// parse() and the binary operators are called through their declarations (entry.hpp,
// load_support.hpp); the header-only form needs their inline definitions here too. Under
// TDBG_LANG_SEPARATE this header instantiates neither the X3 grammar nor the operators:
// parse.hpp and load_operators.hpp are compiled in translation units of their own
// (cmake/TdbgLang.cmake).
#if !defined(TDBG_LANG_SEPARATE)
#include "tdbg/lang/load_operators.hpp"
#include "tdbg/lang/parse.hpp"
#endif

namespace tdbg::lang {

namespace detail {

/// Binds the vocabulary extensions of the built-in rule library (history.hpp, axis.hpp, isnan,
/// exists): each calls tdbg::rules::<engine_name>(args...) in the table's argument order.
/// nullopt: `s` is not one of them.
inline std::optional<built> bind_extension(const signature& s, const std::vector<built>& a) {
  const std::string& e = s.engine_name;
  if (e == "isnan" || e == "isfinite") {
    if (a[0].constant) {
      const double x = constant_number(a[0]);
      built b;
      b.t = type{shape::constant, value_kind::boolean};
      b.constant = e == "isnan" ? std::isnan(x) : std::isfinite(x);
      return b;
    }
    return visit_node<true>(a[0], [&](const auto& n) -> built {
      using N = std::remove_cvref_t<decltype(n)>;
      if constexpr (N::value == r::value_type::number)
        return e == "isnan" ? wrap(r::isnan(n), a[0].stateful) : wrap(r::isfinite(n), a[0].stateful);
      else
        throw build_failure{e + " takes a number"};
    });
  }
  if (e == "exists") return wrap(r::exists(*a[0].sel), false);
  if (e == "save_order") return wrap(r::save_order(*a[0].sel), false);
  if (e == "seconds_since_last_save") return wrap(r::seconds_since_last_save(), false);
  if (e.rfind("history_", 0) == 0) {
    if (a[0].stateful)
      throw build_failure{s.name + " cannot contain a window, running value, patience or then (it looks back "
                                   "through the saved data, they keep their own past)"};
    const double n = constant_number(a[1]);
    return visit_node<false>(a[0], [&](const auto& x) -> built {
      using N = std::remove_cvref_t<decltype(x)>;
      if constexpr (N::kind == r::expr_kind::elements) {
        throw build_failure{s.name + " takes a per-tensor or scalar value"};
      } else if constexpr (N::value == r::value_type::boolean) {
        if (e == "history_all") return wrap(r::history_all(x, n), false);
        if (e == "history_any") return wrap(r::history_any(x, n), false);
        throw build_failure{s.name + " takes a number"};
      } else {
        if (e == "history_min") return wrap(r::history_min(x, n), false);
        if (e == "history_max") return wrap(r::history_max(x, n), false);
        if (e == "history_mean") return wrap(r::history_mean(x, n), false);
        throw build_failure{s.name + " takes a boolean"};
      }
    });
  }
  if (e == "choose") {  // the flag (param_kind::flag) is a boolean constant
    if (a[0].t.shape != a[1].t.shape || a[0].t.value != a[1].t.value)
      throw build_failure{"choose: both alternatives must have the same type (" + type_name(a[0].t) + " vs " +
                          type_name(a[1].t) + ")"};
    return std::get<bool>(*a[2].constant) ? a[0] : a[1];
  }
  if (e == "class_counts" || e == "diagonal" || e == "off_diagonal" || e == "accumulate") {
    if (e == "accumulate" && a[0].stateful)
      throw build_failure{"accumulate cannot contain a window, running value, patience, then or accumulate"};
    return visit_node<false>(a[0], [&](const auto& x) -> built {
      using N = std::remove_cvref_t<decltype(x)>;
      if constexpr (N::kind == r::expr_kind::elements && N::value == r::value_type::number) {
        if (e == "class_counts") return wrap(r::class_counts(x), a[0].stateful);
        if (e == "diagonal") return wrap(r::diagonal(x), a[0].stateful);
        if (e == "off_diagonal") return wrap(r::off_diagonal(x), a[0].stateful);
        return wrap(r::accumulate(x), true);
      } else {
        throw build_failure{s.name + " takes element-wise numbers"};
      }
    });
  }
  if (e == "confusion_matrix") {
    return visit_node<false>(a[0], [&](const auto& l) -> built {
      return visit_node<false>(a[1], [&](const auto& p) -> built {
        using L = std::remove_cvref_t<decltype(l)>;
        using P = std::remove_cvref_t<decltype(p)>;
        if constexpr (std::is_same_v<L, r::any_elements> && std::is_same_v<P, r::any_elements>)
          return wrap(r::confusion_matrix(l, p), a[0].stateful || a[1].stateful);
        else
          throw build_failure{"confusion_matrix takes element-wise numbers"};
      });
    });
  }
  const bool along = e.size() > 6 && e.compare(e.size() - 6, 6, "_along") == 0;
  const bool per = e.size() > 4 && e.compare(e.size() - 4, 4, "_per") == 0;
  if (along || per) {
    const double axis = constant_number(a[1]);
    return visit_node<false>(a[0], [&](const auto& x) -> built {
      using N = std::remove_cvref_t<decltype(x)>;
      if constexpr (N::kind == r::expr_kind::elements) {
        const bool st = a[0].stateful;
        if (e == "mean_along") return wrap(r::mean_along(x, axis), st);
        if (e == "sum_along") return wrap(r::sum_along(x, axis), st);
        if (e == "min_along") return wrap(r::min_along(x, axis), st);
        if (e == "max_along") return wrap(r::max_along(x, axis), st);
        if (e == "argmax_along") return wrap(r::argmax_along(x, axis), st);
        if (e == "mean_per") return wrap(r::mean_per(x, axis), st);
        if (e == "sum_per") return wrap(r::sum_per(x, axis), st);
        if (e == "min_per") return wrap(r::min_per(x, axis), st);
        if (e == "max_per") return wrap(r::max_per(x, axis), st);
      }
      throw build_failure{s.name + " takes element-wise values"};
    });
  }
  return std::nullopt;
}

/// Builds the rules of one checked program.
class rule_builder {
 public:
  rule_builder(const program& p, const std::map<std::string, std::map<std::string, value>>& overrides,
               std::vector<diagnostic>& out)
      : p_(&p), overrides_(&overrides), out_(&out) {}

  std::optional<r::any_rule> build(const rule_info& info) {
    const ast::rule_decl& decl = p_->rules[info.index];
    scope_.clear();
    const std::size_t before = error_count(*out_);
    // Parameters: defaults, then overrides; a parameter without either is an error.
    for (std::size_t i = 0; i < info.parameters.size(); ++i) {
      const auto& pi = info.parameters[i];
      std::optional<value> v = pi.default_value;
      if (auto it = overrides_->find(info.name); it != overrides_->end())
        if (auto jt = it->second.find(pi.name); jt != it->second.end()) v = jt->second;
      if (!v) {
        error(decl.head.parameters[i].name, "parameter '" + pi.name + "' of rule '" + info.name +
                                                "' has no default; give it with --param " + info.name + "." +
                                                pi.name + "=...");
        continue;
      }
      built b;
      b.t = type{shape::constant, kind_of(*v)};
      b.constant = *v;
      if (kind_of(*v) == value_kind::number) b.param = pi.name;
      params_[pi.name] = *v;
      scope_[pi.name] = std::move(b);
    }
    if (error_count(*out_) != before) return std::nullopt;

    const ast::fire_statement* fire = nullptr;
    for (const auto& st : decl.body) {
      if (const auto* bnd = boost::get<ast::binding>(&st)) {
        if (auto v = expression(bnd->value)) scope_[bnd->name.name] = std::move(*v);
      } else if (const auto* f = boost::get<ast::fire_statement>(&st)) {
        fire = f;
      }
    }
    if (!fire || error_count(*out_) != before) return std::nullopt;
    auto cond = expression(fire->condition);
    if (!cond) return std::nullopt;

    // Schedule, findings and message: shared with the generated headers (rule_options.hpp).
    parameter_values values;
    for (const auto& pi : info.parameters) values[pi.name] = params_.at(pi.name);
    r::rule_options o;
    try {
      o = make_rule_options(info.name, resolve_settings(info, values), values);
    } catch (const tdbg::usage_error& e) {
      error(decl.head.name, e.what());
      return std::nullopt;
    }
    try {
      return visit_node<false>(*cond, [&](const auto& n) -> r::any_rule {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (N::kind == r::expr_kind::scalar && N::value == r::value_type::boolean) {
          r::any_rule rule = r::make_rule(info.name, n, o);
          // make_rule refuses this for typed trees; erased nodes hide their state (erased.hpp)
          if (cond->stateful && rule.reads_clock())
            throw build_failure{"a condition that reads the clock (seconds_since_last_save) cannot contain a window, "
                                "running value, patience, then or accumulate: it is evaluated again at the same "
                                "step as time passes"};
          return rule;
        } else
          throw build_failure{"the 'fire when' condition must be a scalar boolean"};
      });
    } catch (const build_failure& f) {
      error(fire->condition, f.message);
    } catch (const tdbg::usage_error& e) {
      error(decl.head.name, e.what());
    }
    return std::nullopt;
  }

 private:
  // --- diagnostics ----------------------------------------------------------------------------
  [[nodiscard]] const char* where(const x3::position_tagged& node) const {
    const auto& pos = *p_->positions;
    if (node.id_first < 0 || static_cast<std::size_t>(node.id_first) >= pos.get_positions().size())
      return p_->source.begin();
    return pos.position_of(node).begin();
  }
  void error(const x3::position_tagged& node, std::string msg) {
    out_->push_back(p_->source.at(where(node), std::move(msg)));
  }

  // --- expressions ----------------------------------------------------------------------------
  std::optional<built> expression(const ast::expression& e) {
    auto lhs = operand(e.first);
    if (!lhs) return std::nullopt;
    for (const auto& op : e.rest) {
      auto rhs = operand(op.operand_);
      if (!rhs) return std::nullopt;
      try {
        lhs = binary(op.op, std::move(*lhs), std::move(*rhs));
      } catch (const build_failure& f) {
        error(op, f.message);
        return std::nullopt;
      } catch (const tdbg::usage_error& ex) {
        error(op, ex.what());
        return std::nullopt;
      }
    }
    return lhs;
  }

  std::optional<built> operand(const ast::operand& o) {
    built b;
    switch (o.get().which()) {
      case 1:
        b.t = type{shape::constant, value_kind::number};
        b.constant = boost::get<ast::number_literal>(o).value;
        return b;
      case 2:
        b.t = type{shape::constant, value_kind::string};
        b.constant = boost::get<ast::string_literal>(o).value;
        return b;
      case 3:
        b.t = type{shape::constant, value_kind::regex};
        b.constant = regex_value{boost::get<ast::regex_literal>(o).pattern};
        return b;
      case 4:
        b.t = type{shape::constant, value_kind::boolean};
        b.constant = boost::get<ast::bool_literal>(o).value;
        return b;
      case 5:
        b.t = type{shape::constant, value_kind::mode};
        b.constant = boost::get<ast::mode_literal>(o).value;
        return b;
      case 6: {
        const auto& id = boost::get<ast::identifier>(o);
        auto it = scope_.find(id.name);
        if (it == scope_.end()) {
          error(id, "unknown name '" + id.name + "'");
          return std::nullopt;
        }
        return it->second;
      }
      case 7: {
        const auto& c = boost::get<x3::forward_ast<ast::call>>(o).get();
        try {
          return call(c);
        } catch (const build_failure& f) {
          error(c, f.message);
        } catch (const tdbg::usage_error& ex) {
          error(c, ex.what());
        }
        return std::nullopt;
      }
      case 8: {
        const auto& u = boost::get<x3::forward_ast<ast::unary>>(o).get();
        auto x = operand(u.operand_);
        if (!x) return std::nullopt;
        try {
          return unary(u.op, std::move(*x));
        } catch (const build_failure& f) {
          error(u, f.message);
        } catch (const tdbg::usage_error& ex) {
          error(u, ex.what());
        }
        return std::nullopt;
      }
      case 9: return expression(boost::get<x3::forward_ast<ast::expression>>(o).get());
      default: return std::nullopt;
    }
  }

  static built unary(ast::optoken op, built x) {
    if (op == ast::optoken::negate) {
      if (x.constant) {
        built b;
        b.t = x.t;
        b.constant = -constant_number(x);
        return b;
      }
      return apply_unary(r::ops::negate_fn{}, x);
    }
    if (x.constant) {
      built b;
      b.t = x.t;
      b.constant = !std::get<bool>(*x.constant);
      return b;
    }
    return visit_node<false>(x, [&](const auto& n) -> built {
      using N = std::remove_cvref_t<decltype(n)>;
      if constexpr (N::value == r::value_type::boolean)
        return wrap(!n, x.stateful);
      else
        throw build_failure{"operator '!' needs a boolean"};
    });
  }

  /// An element-wise function over a number of any kind (selections stay typed below it).
  template <class Fn>
  static built apply_unary(Fn f, const built& x) {
    return visit_node<true>(x, [&](const auto& n) -> built {
      using N = std::remove_cvref_t<decltype(n)>;
      if constexpr (N::value == r::value_type::number)
        return wrap(r::detail::make_unary(f, n), x.stateful);
      else
        throw build_failure{"this function needs a number"};
    });
  }

  static built fold(ast::optoken op, double a, double b) {
    built out;
    out.t = type{shape::constant, value_kind::number};
    switch (op) {
      case ast::optoken::plus: out.constant = a + b; break;
      case ast::optoken::minus: out.constant = a - b; break;
      case ast::optoken::times: out.constant = a * b; break;
      case ast::optoken::divide: out.constant = a / b; break;
      default: throw build_failure{"internal: not an arithmetic operator"};
    }
    return out;
  }

  built binary(ast::optoken op, built a, built b) {
    if (op == ast::optoken::in) {
      if (!a.sel || !b.constant) throw build_failure{"'in' applies to a tensor selection and a mode"};
      built out = a;
      out.sel = a.sel->in(std::get<tdbg::mode>(*b.constant));
      out.t.has_mode = true;
      return out;
    }
    const bool constants = a.constant && b.constant && a.t.value == value_kind::number &&
                           b.t.value == value_kind::number;
    const bool arithmetic = op == ast::optoken::plus || op == ast::optoken::minus || op == ast::optoken::times ||
                            op == ast::optoken::divide;
    if (constants && arithmetic) return fold(op, constant_number(a), constant_number(b));
    return apply_operator(op, a, b);
  }

  // --- calls ----------------------------------------------------------------------------------
  std::optional<built> call(const ast::call& c) {
    std::vector<built> args;
    for (const auto& a : c.args) {
      auto v = expression(a);
      if (!v) return std::nullopt;
      args.push_back(std::move(*v));
    }
    const signature* sig = nullptr;
    for (const auto* s : builtin_functions().overloads(c.function.name)) {
      if (s->params.size() != args.size()) continue;
      bool fits = true;
      for (std::size_t i = 0; i < args.size() && fits; ++i) fits = accepts(s->params[i], args[i].t);
      if (fits) {
        sig = s;
        break;
      }
    }
    if (!sig) throw build_failure{"no overload of '" + c.function.name + "' takes these arguments"};
    return bind_call(*sig, args);
  }

  static std::size_t count_arg(const built& b) { return static_cast<std::size_t>(constant_number(b)); }

  static void refuse_stateful(const built& x, const std::string& fn) {
    if (x.stateful)
      throw build_failure{fn + " cannot contain a window, running value, patience or then (one evaluation would "
                               "feed them several times); put the window outside"};
  }

 public:
  /// Builds the engine node of signature `s` over built arguments (exposed for the cross-check
  /// of the function table against the engine).
  static built bind_call(const signature& s, const std::vector<built>& a) {
    const std::string& e = s.engine_name;
    auto string_arg = [&](std::size_t i) -> std::string { return std::get<std::string>(*a[i].constant); };
    auto regex_arg = [&](std::size_t i) -> std::string { return std::get<regex_value>(*a[i].constant).pattern; };
    auto selection_result = [&](r::selection sel) {
      return make_built(std::move(sel), type{shape::elements, value_kind::number, true, a.empty() ? false : a[0].t.has_mode},
                        false);
    };
    // Selections.
    if (e == "tensor_named") return selection_result(r::tensor_named(string_arg(0)));
    if (e == "tensors_matching") return selection_result(r::tensors_matching(regex_arg(0)));
    if (e == "collection") return selection_result(r::collection(string_arg(0)));
    if (e == "only_saved") return selection_result(a[0].sel->only_saved());
    // Element-wise functions.
    if (e == "abs") return fold_or(a[0], [](double x) { return std::fabs(x); }, r::ops::abs_fn{});
    if (e == "sqrt") return fold_or(a[0], [](double x) { return std::sqrt(x); }, r::ops::sqrt_fn{});
    if (e == "log") return fold_or(a[0], [](double x) { return std::log(x); }, r::ops::log_fn{});
    if (e == "exp") return fold_or(a[0], [](double x) { return std::exp(x); }, r::ops::exp_fn{});
    if (e == "square") return fold_or(a[0], [](double x) { return x * x; }, r::ops::square_fn{});
    if (e == "clamp") {
      const double lo = constant_number(a[1]), hi = constant_number(a[2]);
      if (!(lo <= hi)) throw build_failure{"clamp: lo must be <= hi"};
      return fold_or(a[0], [&](double x) { return r::ops::clamp_fn{lo, hi}(x); }, r::ops::clamp_fn{lo, hi});
    }
    if (e == "isclose") {
      const r::ops::isclose_fn defaults;
      return apply_isclose(
          a[0], a[1],
          r::ops::isclose_fn::checked(a.size() > 2 ? constant_number(a[2]) : defaults.rtol,
                                      a.size() > 3 ? constant_number(a[3]) : defaults.atol,
                                      a.size() > 4 && std::get<bool>(*a[4].constant)));
    }
    if (e == "between") {
      if (a[0].sel) {  // one fused loop over the selection: (x >= lo) && (x <= hi) typed
        return visit_node<false>(a[1], [&](const auto& lo) -> built {
          return visit_node<false>(a[2], [&](const auto& hi) -> built {
            using L = std::remove_cvref_t<decltype(lo)>;
            using H = std::remove_cvref_t<decltype(hi)>;
            if constexpr (std::is_same_v<L, r::any_number> && std::is_same_v<H, r::any_number>)
              return wrap(r::between(*a[0].sel, lo, hi), a[1].stateful || a[2].stateful);
            else
              throw build_failure{"internal: between's bounds are scalar numbers"};
          });
        });
      }
      built lo = apply_operator(ast::optoken::greater_equal, a[0], a[1]);
      built hi = apply_operator(ast::optoken::less_equal, a[0], a[2]);
      return apply_operator(ast::optoken::logical_and, lo, hi);
    }
    // Reductions (selections stay typed below them: stored reductions, no erased level).
    if (e == "min") return reduce(a[0], r::reducers::min{});
    if (e == "max") return reduce(a[0], r::reducers::max{});
    if (e == "mean") return reduce(a[0], r::reducers::mean{});
    if (e == "sum") return reduce(a[0], r::reducers::sum{});
    if (e == "prod") return reduce(a[0], r::reducers::prod{});
    if (e == "std_pop") return reduce(a[0], r::reducers::std_pop{});
    if (e == "std_sample") return reduce(a[0], r::reducers::std_sample{});
    if (e == "var_pop") return reduce(a[0], r::reducers::var_pop{});
    if (e == "var_sample") return reduce(a[0], r::reducers::var_sample{});
    if (e == "l1") return reduce(a[0], r::reducers::l1{});
    if (e == "l2") return reduce(a[0], r::reducers::l2{});
    if (e == "max_abs") return reduce(a[0], r::reducers::max_abs{});
    if (e == "fraction_zero") return reduce(a[0], r::reducers::fraction_zero{});
    if (e == "fraction_nonfinite") return reduce(a[0], r::reducers::fraction_nonfinite{});
    if (e == "quantile" || e == "percentile") {
      const double q = constant_number(a[1]);
      return visit_node<true>(a[0], [&](const auto& n) -> built {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (N::kind == r::expr_kind::elements && N::value == r::value_type::number)
          return wrap(e == "quantile" ? r::quantile(n, q) : r::percentile(n, q), a[0].stateful);
        else
          throw build_failure{e + " takes element-wise numbers"};
      });
    }
    // count / fraction: of elements, of true elements, or of tensors (sets.hpp dispatches on kind).
    if (e == "count" || e == "fraction") {
      return visit_node<true>(a[0], [&](const auto& n) -> built {
        using N = std::remove_cvref_t<decltype(n)>;
        constexpr bool elements = N::kind == r::expr_kind::elements;
        constexpr bool bool_set = N::kind == r::expr_kind::per_tensor && N::value == r::value_type::boolean;
        if constexpr (elements || bool_set) {
          if constexpr (elements && N::value == r::value_type::number) {
            if (e == "fraction") throw build_failure{"fraction takes an element mask or a per-tensor boolean"};
            return wrap(r::count(n), a[0].stateful);
          } else {
            return e == "count" ? wrap(r::count(n), a[0].stateful) : wrap(r::fraction(n), a[0].stateful);
          }
        } else {
          throw build_failure{e + " takes elements or a per-tensor boolean"};
        }
      });
    }
    // Quantifiers.
    if (e == "any") return quantify<r::quantifiers::any>(a[0]);
    if (e == "all") return quantify<r::quantifiers::all>(a[0]);
    if (e == "max_over")
      return a.size() == 2 ? quantify_where<r::quantifiers::max_over>(a[0], a[1])
                           : quantify<r::quantifiers::max_over>(a[0]);
    if (e == "min_over")
      return a.size() == 2 ? quantify_where<r::quantifiers::min_over>(a[0], a[1])
                           : quantify<r::quantifiers::min_over>(a[0]);
    if (e == "mean_over") return quantify<r::quantifiers::mean_over>(a[0]);
    if (e == "sum_over") return quantify<r::quantifiers::sum_over>(a[0]);
    if (e == "the") {
      return visit_node<false>(a[0], [&](const auto& n) -> built {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (N::kind == r::expr_kind::per_tensor)
          return wrap(r::the(n), a[0].stateful);
        else
          throw build_failure{"scalar(...) takes a per-tensor value"};
      });
    }
    // Grouping.
    if (e == "group_max") return group<r::groupers::max>(a[0], regex_arg(1));
    if (e == "group_min") return group<r::groupers::min>(a[0], regex_arg(1));
    if (e == "group_mean") return group<r::groupers::mean>(a[0], regex_arg(1));
    if (e == "group_sum") return group<r::groupers::sum>(a[0], regex_arg(1));
    if (e == "group_any") return group<r::groupers::any>(a[0], regex_arg(1));
    if (e == "group_all") return group<r::groupers::all>(a[0], regex_arg(1));
    // Time.
    if (e == "prev" || e == "at_steps_back" || e == "delta" || e == "ratio") {
      refuse_stateful(a[0], s.name);
      const tdbg::step_t k = a.size() > 1 ? static_cast<tdbg::step_t>(constant_number(a[1])) : 1;
      return visit_node<true>(a[0], [&](const auto& n) -> built {
        using N = std::remove_cvref_t<decltype(n)>;
        if constexpr (N::value == r::value_type::number) {
          if (e == "prev" || e == "at_steps_back") {
            auto shifted = e == "prev" ? r::prev(n, k) : r::at_steps_back(n, k);
            if constexpr (std::is_same_v<N, r::selection>)
              return wrap_leaf(std::move(shifted));
            else
              return wrap(std::move(shifted), false);
          }
          if constexpr (std::is_same_v<N, r::selection>) {
            // x - prev(x) over the erased selection: one instantiation for every elements operand
            const r::any_elements x(n);
            return e == "delta" ? wrap(r::delta(x), false) : wrap(r::ratio(x), false);
          } else {
            return e == "delta" ? wrap(r::delta(n), false) : wrap(r::ratio(n), false);
          }
        } else {
          throw build_failure{s.name + " takes a number"};
        }
      });
    }
    // State over evaluations.
    if (e == "window_min") return window<r::windows::min>(a);
    if (e == "window_max") return window<r::windows::max>(a);
    if (e == "window_mean") return window<r::windows::mean>(a);
    if (e == "window_slope") return window<r::windows::slope>(a);
    if (e == "window_count") return window<r::windows::count>(a);
    if (e == "window_all") return window<r::windows::all>(a);
    if (e == "window_any") return window<r::windows::any>(a);
    if (e == "running_sum") return wrap(r::running_sum(scalar_number(a[0])), true);
    if (e == "running_min") return wrap(r::running_min(scalar_number(a[0])), true);
    if (e == "running_max") return wrap(r::running_max(scalar_number(a[0])), true);
    if (e == "running_mean") return wrap(r::running_mean(scalar_number(a[0])), true);
    if (e == "patience") return wrap(r::patience(scalar_boolean(a[0]), count_arg(a[1])), true);
    if (e == "then")
      return wrap(r::then(scalar_boolean(a[0]), scalar_boolean(a[1]), static_cast<tdbg::step_t>(constant_number(a[2]))),
                  true);
    // Across modes, trials, workers.
    if (e == "in_mode" || e == "in_trial") {
      refuse_stateful(a[0], s.name);
      if (e == "in_trial" && a[0].sel) return wrap_leaf(r::in_trial(*a[0].sel, string_arg(1)));
      return visit_node<false>(a[0], [&](const auto& n) -> built {
        if (e == "in_mode") return wrap(r::in_mode(n, std::get<tdbg::mode>(*a[1].constant)), false);
        return wrap(r::in_trial(n, string_arg(1)), false);
      });
    }
    if (e == "max_over_workers") return workers<r::worker_aggregates::max>(a[0], s.name);
    if (e == "min_over_workers") return workers<r::worker_aggregates::min>(a[0], s.name);
    if (e == "mean_over_workers") return workers<r::worker_aggregates::mean>(a[0], s.name);
    if (e == "spread_over_workers") return workers<r::worker_aggregates::spread>(a[0], s.name);
    if (auto x = bind_extension(s, a)) return std::move(*x);
    throw build_failure{"internal: function '" + s.name + "' (engine entity '" + e +
                        "') has no binding to the rule engine"};
  }

 private:
  template <class Fold, class Fn>
  static built fold_or(const built& x, Fold fold, Fn f) {
    if (x.constant) {
      built b;
      b.t = x.t;
      b.constant = fold(constant_number(x));
      return b;
    }
    return apply_unary(f, x);
  }

  template <class R>
  static built reduce(const built& x, R red) {
    return visit_node<true>(x, [&](const auto& n) -> built {
      using N = std::remove_cvref_t<decltype(n)>;
      if constexpr (N::kind == r::expr_kind::elements && N::value == r::value_type::number)
        return wrap(r::detail::make_reduce(red, n), x.stateful);
      else
        throw build_failure{std::string(R::name) + " takes element-wise numbers"};
    });
  }

  template <class Q>
  static built quantify(const built& x) {
    return visit_node<false>(x, [&](const auto& n) -> built {
      using N = std::remove_cvref_t<decltype(n)>;
      constexpr r::value_type want = Q::boolean_in ? r::value_type::boolean : r::value_type::number;
      if constexpr (N::kind == r::expr_kind::per_tensor && N::value == want)
        return wrap(r::detail::make_quantifier<Q>(n), x.stateful);
      else
        throw build_failure{std::string(Q::name) + " takes a per-tensor value"};
    });
  }

  template <class Q>
  static built quantify_where(const built& x, const built& p) {
    return visit_node<false>(x, [&](const auto& xn) -> built {
      return visit_node<false>(p, [&](const auto& pn) -> built {
        using X = std::remove_cvref_t<decltype(xn)>;
        using P = std::remove_cvref_t<decltype(pn)>;
        if constexpr (X::kind == r::expr_kind::per_tensor && X::value == r::value_type::number &&
                      P::kind == r::expr_kind::per_tensor && P::value == r::value_type::boolean)
          return wrap(r::detail::make_quantifier_where<Q>(xn, pn), x.stateful || p.stateful);
        else
          throw build_failure{std::string(Q::name) + " takes a per-tensor number and a per-tensor boolean"};
      });
    });
  }

  template <class G>
  static built group(const built& x, std::string pattern) {
    return visit_node<false>(x, [&](const auto& n) -> built {
      using N = std::remove_cvref_t<decltype(n)>;
      constexpr r::value_type want = G::boolean ? r::value_type::boolean : r::value_type::number;
      if constexpr (N::kind == r::expr_kind::per_tensor && N::value == want)
        return wrap(r::detail::make_group<G>(n, pattern), x.stateful);
      else
        throw build_failure{std::string(G::name) + " takes a per-tensor value"};
    });
  }

  static r::any_number scalar_number(const built& x) {
    return visit_node<false>(x, [&](const auto& n) -> r::any_number {
      using N = std::remove_cvref_t<decltype(n)>;
      if constexpr (std::is_same_v<N, r::any_number>)
        return n;
      else
        throw build_failure{"a scalar number is needed here"};
    });
  }
  static r::any_boolean scalar_boolean(const built& x) {
    return visit_node<false>(x, [&](const auto& n) -> r::any_boolean {
      using N = std::remove_cvref_t<decltype(n)>;
      if constexpr (std::is_same_v<N, r::any_boolean>)
        return n;
      else
        throw build_failure{"a scalar boolean is needed here"};
    });
  }

  template <class W>
  static built window(const std::vector<built>& a) {
    const std::size_t n = count_arg(a[1]);
    if constexpr (W::boolean)
      return wrap(r::detail::make_window<W>(scalar_boolean(a[0]), n), true);
    else
      return wrap(r::detail::make_window<W>(scalar_number(a[0]), n), true);
  }

  template <class A>
  static built workers(const built& x, const std::string& name) {
    refuse_stateful(x, name);
    return wrap(r::detail::make_workers<A>(scalar_number(x)), false);
  }

  const program* p_;
  const std::map<std::string, std::map<std::string, value>>* overrides_;
  std::vector<diagnostic>* out_;
  std::map<std::string, built> scope_;
  std::map<std::string, value> params_;
};

}  // namespace detail

/// Loads the rules of a `.rule` text. `file_name` names it in diagnostics; `overrides` are
/// "rule.parameter=value" strings (validated with validate_override).
/// Throws parse_error with every diagnostic (syntax, semantics, overrides, what the engine
/// refuses) when anything is wrong; returns the rules in declaration order otherwise.
TDBG_LANG_ENTRY std::vector<rules::any_rule> load_rules_text(std::string text, std::string file_name,
                                                           const std::vector<std::string>& overrides) {
  const program p = parse(std::move(text), std::move(file_name));
  p.throw_if_errors();
  std::vector<diagnostic> ds;
  std::map<std::string, std::map<std::string, value>> values;
  for (const auto& o : overrides) {
    try {
      auto v = validate_override(p.checked, o);
      values[v.rule][v.parameter] = std::move(v.value);
    } catch (const parse_error& e) {
      ds.insert(ds.end(), e.diagnostics().begin(), e.diagnostics().end());
    }
  }
  std::vector<rules::any_rule> out;
  detail::rule_builder b(p, values, ds);
  for (const auto& info : p.checked)
    if (auto r = b.build(info)) out.push_back(std::move(*r));
  if (!ds.empty()) throw parse_error(std::move(ds));
  return out;
}

/// Loads the rules of a `.rule` file (io_error if it cannot be read); see load_rules_text.
TDBG_LANG_ENTRY std::vector<rules::any_rule> load_rules(const std::filesystem::path& file,
                                                      const std::vector<std::string>& overrides) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw io_error("cannot read rule file '" + file.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw io_error("cannot read rule file '" + file.string() + "'");
  return load_rules_text(ss.str(), file.string(), overrides);
}

}  // namespace tdbg::lang
