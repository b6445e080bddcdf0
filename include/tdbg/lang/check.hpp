// tdbg/lang/check.hpp — semantic checks of parsed rules: names, types, calls, schedule, message.
// Layer: lang (ast.hpp, error_handler.hpp for the position cache, model.hpp, function_table.hpp).
//
// Every error is positioned through the AST's position tags. The checker keeps going after an
// error (a failed sub-expression is "poisoned" so it does not cause follow-up errors), so all the
// independent errors of a file are reported at once. A rule that had a syntax error is not
// checked: its missing parts would only produce follow-up noise.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/error_handler.hpp"
#include "tdbg/lang/function_table.hpp"
#include "tdbg/lang/model.hpp"

namespace tdbg::lang {

namespace detail {

/// Levenshtein distance (small strings only: names).
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// "; did you mean 'x'?" for the closest candidate within distance 2, or "".
inline std::string suggestion(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& c : candidates) {
    if (name.size() > 64) break;
    const std::size_t d = edit_distance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best.empty() ? std::string() : "; did you mean '" + best + "'?";
}

enum class op_class : unsigned char { logical, comparison, arithmetic, in };

inline op_class classify(ast::optoken op) noexcept {
  switch (op) {
    case ast::optoken::logical_or:
    case ast::optoken::logical_and:
    case ast::optoken::logical_not: return op_class::logical;
    case ast::optoken::equal:
    case ast::optoken::not_equal:
    case ast::optoken::less:
    case ast::optoken::less_equal:
    case ast::optoken::greater:
    case ast::optoken::greater_equal: return op_class::comparison;
    case ast::optoken::in: return op_class::in;
    default: return op_class::arithmetic;
  }
}

/// "a per-tensor boolean", "an element mask": a type with its article.
inline std::string a_type(const type& t) {
  const std::string n = type_name(t);
  const bool vowel = !n.empty() && std::string_view("aeiou").find(n[0]) != std::string_view::npos;
  return (vowel ? "an " : "a ") + n;
}

}  // namespace detail

/// Checks parsed rule declarations; appends diagnostics; returns one rule_info per rule that
/// passed (in order). `positions` must be the cache the parser tagged `rules` into.
class checker {
 public:
  checker(const source_file& src, const position_cache& positions, const function_table& functions,
          std::vector<diagnostic>& out)
      : src_(&src), pos_(&positions), fns_(&functions), out_(&out) {}

  [[nodiscard]] std::vector<rule_info> check(const std::vector<ast::rule_decl>& rules) {
    std::vector<rule_info> infos;
    std::map<std::string, const ast::identifier*> names;
    for (std::size_t i = 0; i < rules.size(); ++i) {
      const auto& r = rules[i];
      const auto [it, fresh] = names.emplace(r.head.name.name, &r.head.name);
      if (!fresh) {
        error(r.head.name, "duplicate rule name '" + r.head.name.name + "'");
        note(*it->second, "'" + r.head.name.name + "' first declared here");
        continue;
      }
      if (!r.complete) continue;
      const std::size_t before = error_count(*out_);
      rule_info info = check_rule(r);
      info.index = i;
      if (error_count(*out_) == before) infos.push_back(std::move(info));
    }
    return infos;
  }

 private:
  struct symbol {
    enum { parameter, binding } what = binding;
    std::optional<type> t;  // nullopt: its definition had an error (uses stay silent)
    const x3::position_tagged* decl = nullptr;
    std::size_t param = 0;
  };

  // --- diagnostics --------------------------------------------------------------------------

  [[nodiscard]] const char* where(const x3::position_tagged& node) const {
    if (node.id_first < 0 || static_cast<std::size_t>(node.id_first) >= pos_->get_positions().size())
      return src_->begin();
    return pos_->position_of(node).begin();
  }
  void error_at(const char* p, std::string msg) { out_->push_back(src_->at(p, std::move(msg))); }
  void error(const x3::position_tagged& node, std::string msg) { error_at(where(node), std::move(msg)); }
  void note(const x3::position_tagged& node, std::string msg) {
    out_->push_back(src_->at(where(node), std::move(msg), severity::note));
  }

  // --- rules --------------------------------------------------------------------------------

  rule_info check_rule(const ast::rule_decl& r) {
    rule_info info;
    info.name = r.head.name.name;
    scope_.clear();
    param_decls_.clear();
    params_ = &info.parameters;
    for (const auto& p : r.head.parameters) check_parameter(p, info);

    const ast::fire_statement* fire = nullptr;
    const ast::message_statement* message = nullptr;
    const ast::schedule_statement* clauses[4] = {nullptr, nullptr, nullptr, nullptr};
    const ast::evaluate_statement* evaluate = nullptr;
    const ast::findings_statement* findings = nullptr;
    for (const auto& st : r.body) {
      switch (st.get().which()) {
        case 0: check_binding(boost::get<ast::binding>(st)); break;
        case 1: {
          const auto& f = boost::get<ast::fire_statement>(st);
          if (fire) {
            error(f, "duplicate 'fire when' in rule '" + info.name + "'");
            note(*fire, "the first 'fire when' is here");
            break;
          }
          fire = &f;
          check_condition(f);
          break;
        }
        case 2: {
          const auto& s = boost::get<ast::schedule_statement>(st);
          auto& slot = clauses[static_cast<int>(s.kind)];
          if (slot) {
            error(s, "duplicate '" + std::string(clause_name(s.kind)) + "' clause in rule '" + info.name + "'");
            note(*slot, "the first one is here");
            break;
          }
          slot = &s;
          check_schedule(s, info.schedule);
          break;
        }
        case 4: {
          const auto& e = boost::get<ast::evaluate_statement>(st);
          if (evaluate) {
            error(e, "duplicate 'evaluate in' clause in rule '" + info.name + "'");
            note(*evaluate, "the first one is here");
            break;
          }
          evaluate = &e;
          check_evaluate(e, info.schedule);
          break;
        }
        case 5: {
          const auto& f = boost::get<ast::findings_statement>(st);
          if (findings) {
            error(f, "duplicate 'findings per' clause in rule '" + info.name + "'");
            note(*findings, "the first one is here");
            break;
          }
          findings = &f;
          info.schedule.findings_per_tensor = f.per_tensor;
          break;
        }
        default: {
          const auto& m = boost::get<ast::message_statement>(st);
          if (message) {
            error(m, "duplicate 'message' in rule '" + info.name + "'");
            note(*message, "the first 'message' is here");
            break;
          }
          message = &m;
          check_message(m, info);
          break;
        }
      }
    }
    if (!fire) error(r.head.name, "rule '" + info.name + "' has no 'fire when' condition");
    const auto& sch = info.schedule;
    if (sch.from && sch.until && sch.from->index() == 0 && sch.until->index() == 0 &&
        std::get<0>(*sch.until) < std::get<0>(*sch.from))
      error(*clauses[3], "the 'until' step " + std::to_string(std::get<0>(*sch.until)) +
                             " is before the 'from' step " + std::to_string(std::get<0>(*sch.from)));
    return info;
  }

  static constexpr std::string_view clause_name(ast::schedule_kind k) noexcept {
    switch (k) {
      case ast::schedule_kind::every: return "every";
      case ast::schedule_kind::warmup: return "warmup";
      case ast::schedule_kind::from: return "from";
      case ast::schedule_kind::until: return "until";
    }
    return "schedule";
  }

  bool declare(const ast::identifier& name, symbol s) {
    const auto it = scope_.find(name.name);
    if (it != scope_.end()) {
      error(name, "'" + name.name + "' is already defined");
      note(*it->second.decl, "'" + name.name + "' was first defined here");
      return false;
    }
    s.decl = &name;
    scope_.emplace(name.name, s);
    return true;
  }

  void check_parameter(const ast::parameter& p, rule_info& info) {
    if (!declare_parameter(p, info)) {
      symbol poisoned;  // uses of a broken parameter stay silent
      poisoned.what = symbol::parameter;
      if (!scope_.count(p.name.name)) declare(p.name, poisoned);
    }
  }

  /// Checks and declares one parameter; false (after a diagnostic) if it is unusable.
  bool declare_parameter(const ast::parameter& p, rule_info& info) {
    for (auto reserved : message_placeholders)
      if (p.name.name == reserved) {
        error(p.name, "parameter name '" + p.name.name + "' is reserved (it is a message placeholder)");
        return false;
      }
    std::optional<value_kind> declared;
    if (p.type_name) {
      declared = parse_value_kind(p.type_name->name);
      if (!declared) {
        error(*p.type_name, "unknown parameter type '" + p.type_name->name +
                                "'; expected number, bool, string, regex or mode");
        return false;
      }
    }
    std::optional<value> def;
    if (p.default_value) {
      def = literal_value(*p.default_value);
      if (!def) return false;
      if (declared && kind_of(*def) != *declared) {
        error(*p.type_name, "the default of parameter '" + p.name.name + "' is a " +
                                std::string(value_kind_name(kind_of(*def))) + ", but its type is " +
                                std::string(value_kind_name(*declared)));
        return false;
      }
    }
    if (!declared && !def) {
      error(p.name, "parameter '" + p.name.name + "' needs a default value or a type (e.g. " + p.name.name +
                        " = 1 or " + p.name.name + ": number)");
      return false;
    }
    parameter_info pi;
    pi.name = p.name.name;
    pi.kind = declared ? *declared : kind_of(*def);
    pi.default_value = def;
    symbol s;
    s.what = symbol::parameter;
    s.t = type{shape::constant, pi.kind};
    s.param = info.parameters.size();
    if (declare(p.name, s)) {
      info.parameters.push_back(std::move(pi));
      param_decls_.push_back(&p);
    }
    return true;  // a duplicate was reported by declare() and needs no poisoned symbol
  }

  std::optional<value> literal_value(const ast::literal& l) {
    switch (l.get().which()) {
      case 0: {
        const auto& n = boost::get<ast::number_literal>(l);
        if (!std::isfinite(n.value)) {
          error(n, "number out of range");
          return std::nullopt;
        }
        return value(n.value);
      }
      case 1: return value(boost::get<ast::string_literal>(l).value);
      case 2: {
        const auto& r = boost::get<ast::regex_literal>(l);
        if (auto why = regex_problem(r.pattern)) {
          error(r, *why);
          return std::nullopt;
        }
        return value(regex_value{r.pattern});
      }
      case 3: return value(boost::get<ast::bool_literal>(l).value);
      default: return value(boost::get<ast::mode_literal>(l).value);
    }
  }

  void check_binding(const ast::binding& b) {
    symbol s;
    s.t = expression(b.value);
    declare(b.name, s);
  }

  void check_condition(const ast::fire_statement& f) {
    const auto t = expression(f.condition);
    if (!t) return;
    if (t->value == value_kind::boolean && (t->shape == shape::scalar || t->shape == shape::constant)) return;
    std::string hint;
    if (t->value == value_kind::boolean && t->shape == shape::per_tensor)
      hint = "; quantify it over the tensors with any(...) or all(...)";
    else if (t->value == value_kind::boolean)
      hint = "; reduce the mask per tensor first, e.g. any(fraction(...) > 0)";
    else if (t->value == value_kind::number)
      hint = "; compare it with a threshold";
    error(f.condition, "the 'fire when' condition must be a scalar boolean, got " + detail::a_type(*t) + hint);
  }

  /// Marks a parameter as a whole number >= minimum and checks its default.
  void require_whole_parameter(std::size_t index, double minimum, const std::string& use) {
    auto& p = (*params_)[index];
    p.whole_number = true;
    p.minimum = std::max(p.minimum, minimum);
    if (p.default_value && p.default_value->index() == 0) {
      if (auto why = whole_number_problem(std::get<double>(*p.default_value), minimum)) {
        const auto& lit = *param_decls_[index]->default_value;
        const x3::position_tagged* at =
            boost::apply_visitor([](const auto& x) -> const x3::position_tagged* { return &x; }, lit);
        error(*at, "the default of parameter '" + p.name + "' " + *why + " (it is used as " + use + ")");
      }
    }
  }

  void check_schedule(const ast::schedule_statement& s, schedule_info& sch) {
    const double minimum = s.kind == ast::schedule_kind::every ? 1 : 0;
    const std::string use = "the '" + std::string(clause_name(s.kind)) + "' value";
    std::optional<step_value> v;
    if (s.value.get().which() == 0) {
      const auto& n = boost::get<ast::number_literal>(s.value);
      if (auto why = whole_number_problem(n.value, minimum)) {
        error(n, use + " " + *why);
        return;
      }
      v = static_cast<std::int64_t>(n.value);
    } else {
      const auto& id = boost::get<ast::identifier>(s.value);
      const auto it = scope_.find(id.name);
      if (it != scope_.end() && it->second.what == symbol::parameter && !it->second.t) return;
      if (it == scope_.end() || it->second.what != symbol::parameter) {
        error(id, "unknown parameter '" + id.name + "'" + detail::suggestion(id.name, parameter_names()));
        return;
      }
      if (!it->second.t || it->second.t->value != value_kind::number) {
        error(id, "parameter '" + id.name + "' is a " +
                      std::string(value_kind_name(it->second.t ? it->second.t->value : value_kind::string)) +
                      "; " + use + " must be a number");
        return;
      }
      require_whole_parameter(it->second.param, minimum, use);
      v = id.name;
    }
    switch (s.kind) {
      case ast::schedule_kind::every: sch.every = v; break;
      case ast::schedule_kind::warmup: sch.warmup = v; break;
      case ast::schedule_kind::from: sch.from = v; break;
      case ast::schedule_kind::until: sch.until = v; break;
    }
  }

  /// `evaluate in MODE`: a mode literal or a mode parameter.
  void check_evaluate(const ast::evaluate_statement& e, schedule_info& sch) {
    if (e.mode.get().which() == 5) {
      sch.mode = boost::get<ast::mode_literal>(e.mode).value;
      return;
    }
    const auto& id = boost::get<ast::identifier>(e.mode);  // mode_ref: a mode literal or a name
    const auto it = scope_.find(id.name);
    if (it == scope_.end() || it->second.what != symbol::parameter) {
      error(id, "'evaluate in' needs a mode (TRAIN, EVAL, PREDICT, GLOBAL or a mode parameter); '" + id.name +
                    "' is not a parameter" + detail::suggestion(id.name, parameter_names()));
      return;
    }
    if (!it->second.t) return;  // its own error was reported
    if (it->second.t->value != value_kind::mode) {
      error(id, "parameter '" + id.name + "' is a " + std::string(value_kind_name(it->second.t->value)) +
                    "; 'evaluate in' needs a mode");
      return;
    }
    sch.mode = id.name;
  }

  void check_message(const ast::message_statement& m, rule_info& info) {
    const std::string& t = m.text.value;
    const char* raw = where(m.text);
    auto at_text = [&](std::string_view needle) {
      // position of the needle in the raw literal (escapes make offsets differ; search instead)
      const std::string_view rest(raw, static_cast<std::size_t>(src_->end() - raw));
      const auto nl = rest.find('\n');
      const auto k = rest.substr(0, nl).find(needle);
      return k == std::string_view::npos ? raw : raw + k;
    };
    bool ok = true;
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '{') {
        if (i + 1 < t.size() && t[i + 1] == '{') {
          ++i;
          continue;
        }
        const auto close = t.find('}', i);
        if (close == std::string::npos) {
          error_at(at_text(t.substr(i)), "unclosed '{' in message (write '{{' for a brace)");
          ok = false;
          break;
        }
        const std::string field = t.substr(i + 1, close - i - 1);
        const std::string name = field.substr(0, field.find(':'));  // {value:.3g}: a format spec
        auto listed = [&](const auto& list) {
          return std::find(std::begin(list), std::end(list), name) != std::end(list);
        };
        const bool known = listed(message_placeholders) || listed(engine_message_fields) ||
                           info.parameter(name) != nullptr;
        if (!known) {
          std::vector<std::string> cands(std::begin(message_placeholders), std::end(message_placeholders));
          cands.insert(cands.end(), std::begin(engine_message_fields), std::end(engine_message_fields));
          for (const auto& p : info.parameters) cands.push_back(p.name);
          error_at(at_text("{" + name), "unknown placeholder '{" + name + "}' in message" +
                                            detail::suggestion(name, cands));
          ok = false;
        }
        i = close;
      } else if (t[i] == '}') {
        if (i + 1 < t.size() && t[i + 1] == '}') {
          ++i;
          continue;
        }
        error_at(at_text("}"), "single '}' in message (write '}}' for a brace)");
        ok = false;
      }
    }
    if (ok) info.message = t;
  }

  [[nodiscard]] std::vector<std::string> parameter_names() const {
    std::vector<std::string> out;
    for (const auto& [n, s] : scope_)
      if (s.what == symbol::parameter) out.push_back(n);
    return out;
  }

  // --- expressions --------------------------------------------------------------------------

  std::optional<type> operand(const ast::operand& o) {
    switch (o.get().which()) {
      case 0: return std::nullopt;  // nil: never produced by a successful parse
      case 1: {
        const auto& n = boost::get<ast::number_literal>(o);
        if (!std::isfinite(n.value)) {
          error(n, "number out of range");
          return std::nullopt;
        }
        return type{shape::constant, value_kind::number};
      }
      case 2: return type{shape::constant, value_kind::string};
      case 3: {
        const auto& r = boost::get<ast::regex_literal>(o);
        if (auto why = regex_problem(r.pattern)) {
          error(r, *why);
          return std::nullopt;
        }
        return type{shape::constant, value_kind::regex};
      }
      case 4: return type{shape::constant, value_kind::boolean};
      case 5: return type{shape::constant, value_kind::mode};
      case 6: return name(boost::get<ast::identifier>(o));
      case 7: return call(boost::get<x3::forward_ast<ast::call>>(o).get());
      case 8: return unary(boost::get<x3::forward_ast<ast::unary>>(o).get());
      default: return expression(boost::get<x3::forward_ast<ast::expression>>(o).get());
    }
  }

  std::optional<type> name(const ast::identifier& id) {
    const auto it = scope_.find(id.name);
    if (it != scope_.end()) return it->second.t;
    if (fns_->contains(id.name)) {
      error(id, "'" + id.name + "' is a function: call it, e.g. " + id.name + "(...)");
      return std::nullopt;
    }
    std::vector<std::string> cands;
    for (const auto& [n, s] : scope_) cands.push_back(n);
    error(id, "unknown name '" + id.name + "'" + detail::suggestion(id.name, cands));
    return std::nullopt;
  }

  std::optional<type> unary(const ast::unary& u) {
    const auto t = operand(u.operand_);
    if (!t) return std::nullopt;
    const bool is_not = u.op == ast::optoken::logical_not;
    const value_kind want = is_not ? value_kind::boolean : value_kind::number;
    if (t->value != want) {
      error(u, std::string("operator '") + ast::op_text(u.op) + "' needs " + (is_not ? "a boolean" : "a number") +
                   ", got " + detail::a_type(*t));
      return std::nullopt;
    }
    return type{t->shape, want};
  }

  std::optional<type> expression(const ast::expression& e) {
    std::optional<type> lhs = operand(e.first);
    bool failed = !lhs;
    std::size_t i = 0;
    for (const auto& op : e.rest) {
      const auto rhs = operand(op.operand_);
      if (i++ == 1 && detail::classify(op.op) == detail::op_class::comparison) {
        error(op, "comparisons do not chain; combine them with && (e.g. a < b && b < c)");
        failed = true;
      }
      if (failed || !rhs) {
        failed = true;
        continue;
      }
      lhs = binary(op, *lhs, *rhs);
      failed = !lhs;
    }
    return failed ? std::nullopt : lhs;
  }

  std::optional<type> binary(const ast::operation& op, const type& l, const type& r) {
    const std::string o = std::string("operator '") + ast::op_text(op.op) + "'";
    switch (detail::classify(op.op)) {
      case detail::op_class::in: {
        if (!l.selection) {
          error(op, "'in' applies to a tensor selection, got " + detail::a_type(l));
          return std::nullopt;
        }
        if (r.value != value_kind::mode) {
          error(op, "'in' needs a mode (TRAIN, EVAL, PREDICT, GLOBAL or a mode parameter), got " + detail::a_type(r));
          return std::nullopt;
        }
        if (l.has_mode) {
          error(op, "the selection already has a mode");
          return std::nullopt;
        }
        type t = l;
        t.has_mode = true;
        return t;
      }
      case detail::op_class::logical: {
        if (l.value != value_kind::boolean || r.value != value_kind::boolean) {
          error(op, o + " needs booleans, got " + detail::a_type(l) + " and " + detail::a_type(r));
          return std::nullopt;
        }
        // Any shapes combine, as in the engine: the result has the wider shape (per tensor,
        // element by element); quantify a per-tensor result before it becomes a condition.
        return type{std::max(l.shape, r.shape), value_kind::boolean};
      }
      case detail::op_class::comparison:
      case detail::op_class::arithmetic: {
        const bool cmp = detail::classify(op.op) == detail::op_class::comparison;
        const bool eq = op.op == ast::optoken::equal || op.op == ast::optoken::not_equal;
        const bool numbers = l.value == value_kind::number && r.value == value_kind::number;
        const bool booleans = l.value == value_kind::boolean && r.value == value_kind::boolean;
        if (!(numbers || (eq && booleans))) {
          error(op, o + " needs numbers, got " + detail::a_type(l) + " and " + detail::a_type(r));
          return std::nullopt;
        }
        // Element-wise with per-tensor values pairs each tensor's elements with its own value
        // (`w - mean(w)`), as in the engine.
        const auto hi = std::max(l.shape, r.shape);
        return type{hi, cmp ? value_kind::boolean : value_kind::number};
      }
    }
    return std::nullopt;
  }

  /// The identifier or number literal an argument consists of (through parentheses), or null.
  static const ast::operand* bare(const ast::expression& e) {
    const ast::expression* cur = &e;
    for (;;) {
      if (!cur->rest.empty()) return nullptr;
      if (cur->first.get().which() == 9) {
        cur = &boost::get<x3::forward_ast<ast::expression>>(cur->first).get();
        continue;
      }
      return &cur->first;
    }
  }

  bool check_count(const ast::expression& arg, const std::string& use) {
    const ast::operand* o = bare(arg);
    if (o && o->get().which() == 1) {
      const auto& n = boost::get<ast::number_literal>(*o);
      if (auto why = whole_number_problem(n.value, 1)) {
        error(n, use + " " + *why);
        return false;
      }
      return true;
    }
    if (o && o->get().which() == 6) {
      const auto it = scope_.find(boost::get<ast::identifier>(*o).name);
      if (it != scope_.end() && it->second.what == symbol::parameter) {
        if (!it->second.t) return false;
        require_whole_parameter(it->second.param, 1, use);
        return true;
      }
    }
    error(arg, use + " must be a number literal or a parameter");
    return false;
  }

  std::optional<type> call(const ast::call& c) {
    const std::string& fname = c.function.name;
    const auto overloads = fns_->overloads(fname);
    std::vector<std::optional<type>> args;
    bool failed = false;
    for (const auto& a : c.args) {
      args.push_back(expression(a));
      failed = failed || !args.back();
    }
    if (overloads.empty()) {
      std::vector<std::string> names;
      for (const auto& s : fns_->all()) names.push_back(s.name);
      const auto it = scope_.find(fname);
      error(c.function, it != scope_.end() ? "'" + fname + "' is a " +
                                                 (it->second.what == symbol::parameter ? "parameter" : "binding") +
                                                 ", not a function"
                                           : "unknown function '" + fname + "'" + detail::suggestion(fname, names));
      return std::nullopt;
    }
    std::vector<const signature*> same_arity;
    std::vector<std::size_t> arities;
    for (const auto* s : overloads) {
      if (s->params.size() == args.size()) same_arity.push_back(s);
      if (std::find(arities.begin(), arities.end(), s->params.size()) == arities.end())
        arities.push_back(s->params.size());
    }
    if (same_arity.empty()) {
      std::sort(arities.begin(), arities.end());
      std::string takes;
      for (std::size_t i = 0; i < arities.size(); ++i)
        takes += (i == 0 ? "" : i + 1 == arities.size() ? " or " : ", ") + std::to_string(arities[i]);
      error(c.function, "function '" + fname + "' takes " + takes + " argument" +
                            (arities.size() == 1 && arities[0] == 1 ? "" : "s") + ", got " +
                            std::to_string(args.size()));
      return std::nullopt;
    }
    if (failed) return std::nullopt;
    for (const auto* s : same_arity) {
      bool fits = true;
      for (std::size_t i = 0; i < args.size() && fits; ++i) fits = accepts(s->params[i], *args[i]);
      if (!fits) continue;
      auto arg = c.args.begin();
      bool counts_ok = true;
      for (std::size_t i = 0; i < args.size(); ++i, ++arg)
        if (s->params[i] == param_kind::count)
          counts_ok = check_count(*arg, "argument " + std::to_string(i + 1) + " of '" + fname + "'") && counts_ok;
      if (!counts_ok) return std::nullopt;
      return result_type(*s, args.empty() ? type{} : *args[0]);
    }
    if (same_arity.size() == 1) {
      const auto* s = same_arity[0];
      auto arg = c.args.begin();
      for (std::size_t i = 0; i < args.size(); ++i, ++arg) {
        if (accepts(s->params[i], *args[i])) continue;
        error(*arg, "argument " + std::to_string(i + 1) + " of '" + fname + "' must be " +
                        std::string(kind_name(s->params[i])) + ", got " + detail::a_type(*args[i]));
        return std::nullopt;
      }
      return std::nullopt;
    }
    std::string got;
    for (std::size_t i = 0; i < args.size(); ++i) got += (i ? ", " : "") + type_name(*args[i]);
    std::string cands;
    for (std::size_t i = 0; i < same_arity.size(); ++i) cands += (i ? ", " : "") + signature_text(*same_arity[i]);
    error(c.function, "no overload of '" + fname + "' takes (" + got + "); candidates: " + cands);
    return std::nullopt;
  }

  const source_file* src_;
  const position_cache* pos_;
  const function_table* fns_;
  std::vector<diagnostic>* out_;
  std::map<std::string, symbol> scope_;
  std::vector<parameter_info>* params_ = nullptr;
  std::vector<const ast::parameter*> param_decls_;
};

}  // namespace tdbg::lang
