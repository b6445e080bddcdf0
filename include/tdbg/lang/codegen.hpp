// tdbg/lang/codegen.hpp — the build-time path of the `.rule` language: `.rule` files → a C++
// header in which every rule is a typed expression of the engine vocabulary (tdbg::rules), with
// its parameters as constructor arguments. `tdbg compile` is its command-line front.
// Layer: lang (rule_options.hpp, function_table.hpp; load.hpp and parse.hpp in the header-only
// form, which then instantiates the X3 grammar and the vocabulary: include it in one translation
// unit per program. Under TDBG_LANG_SEPARATE it calls them through entry.hpp and compiles in
// seconds.)
//
//   std::string header = tdbg::lang::generate_header({"rules/vanishing_gradient.rule"}, {.ns = "my_rules"});
//
// The generated header (includes only tdbg/rules/rules.hpp and tdbg/lang/rule_options.hpp, no X3):
//
//   namespace my_rules {
//   struct vanishing_gradient {
//     static constexpr std::string_view name = "vanishing_gradient";
//     struct params { double threshold = 1e-07; };          // defaults (or `--param` overrides)
//     static auto condition(const params& p);                 // the typed condition
//     static tdbg::rules::rule_options options(const params& p);
//     static tdbg::rules::any_rule make(const params& p);      // make_rule(name, condition, options)
//     // and the same three without arguments (the defaults): a nested struct's default member
//     // initializers cannot serve a default argument inside the enclosing class
//     static tdbg::lang::parameter_values values(const params& p);  // by name, for the message
//   };
//   inline std::vector<tdbg::rules::any_rule> all_rules();   // every rule, default parameters
//   }
//
// Equivalence with the run-time loader (load.hpp), which the test tests/compile checks on every
// file of rules/: the code mirrors the loader's decisions exactly —
//  * calls go through the function table's `engine_name`: a call is `tdbg::rules::<engine_name>(
//    args...)`, each argument passed by its parameter kind (a node; a plain number for `constant`;
//    tdbg::lang::whole for `count`; std::string for string/regex; tdbg::mode for mode). So a new
//    table entry whose engine entity is a tdbg::rules function taking those arguments needs no
//    change here. Special cases are those of the loader: `only_saved` (a member of selection),
//    element functions of a constant (abs sqrt log exp square clamp) folded, arithmetic and
//    negation of constants folded, `x in MODE` → `x.in(MODE)`;
//  * a number parameter used as an operand is `param_(name, value)`, a literal or folded number
//    `constant{v}`, a boolean constant `truth(b)`;
//  * schedule, findings and message come from the same code (rule_options.hpp).
// The rules are first built with the loader (with the same overrides), so whatever it refuses
// (a parameter without value, a window inside prev, a quantile outside [0, 1], ...) is refused
// here with the same diagnostics, and the generated code always compiles.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/lang/ast.hpp"
#include "tdbg/lang/cpp_text.hpp"
#include "tdbg/lang/diagnostics.hpp"
#include "tdbg/lang/entry.hpp"
#include "tdbg/lang/function_table.hpp"
#include "tdbg/lang/model.hpp"
#include "tdbg/lang/overrides.hpp"
#include "tdbg/lang/rule_options.hpp"

// load_rules_text() and parse() are called through their declarations (entry.hpp); the
// header-only form needs their inline definitions here too. Under TDBG_LANG_SEPARATE this header
// instantiates neither the X3 grammar nor the rule vocabulary: parse.hpp and load.hpp are
// compiled in translation units of their own (cmake/TdbgLang.cmake).
#if !defined(TDBG_LANG_SEPARATE)
#include "tdbg/lang/load.hpp"
#include "tdbg/lang/parse.hpp"
#endif

namespace tdbg::lang {

namespace detail {

inline std::string cpp_mode(tdbg::mode m) {
  switch (m) {
    case tdbg::mode::train: return "tdbg::mode::train";
    case tdbg::mode::eval: return "tdbg::mode::eval";
    case tdbg::mode::predict: return "tdbg::mode::predict";
    case tdbg::mode::global: break;
  }
  return "tdbg::mode::global";
}

/// The C++ type of a parameter of kind k in the generated `params` struct.
inline std::string cpp_param_type(value_kind k) {
  switch (k) {
    case value_kind::number: return "double";
    case value_kind::boolean: return "bool";
    case value_kind::string: return "std::string";
    case value_kind::regex: return "std::string";  // the pattern
    case value_kind::mode: return "tdbg::mode";
  }
  return "double";
}

/// A value as a C++ expression of its cpp_param_type.
inline std::string cpp_value(const value& v) {
  if (const double* d = std::get_if<double>(&v)) return cpp_double(*d);
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const std::string* s = std::get_if<std::string>(&v)) return "std::string(" + cpp_string(*s) + ")";
  if (const regex_value* r = std::get_if<regex_value>(&v)) return "std::string(" + cpp_string(r->pattern) + ")";
  return cpp_mode(std::get<tdbg::mode>(v));
}

/// A generated (sub)expression: its static type and its C++ text. For a constant the text is a
/// value (double, bool, std::string, tdbg::mode); otherwise it is a node of tdbg::rules.
struct gen {
  lang::type t;
  std::string code;
  std::string param;  ///< the number parameter a constant is (its node is param_(name, value))
  [[nodiscard]] bool constant() const noexcept { return t.shape == shape::constant; }
};

/// Generates the C++ of the checked rules of one program (already built by the loader: every
/// construct here is known to be valid).
class rule_writer {
 public:
  explicit rule_writer(const program& p) : p_(&p) {}

  /// The struct of rule `info`, whose parameter values are `values` (defaults + overrides).
  std::string write(const rule_info& info, const parameter_values& values) {
    const ast::rule_decl& decl = p_->rules[info.index];
    scope_.clear();
    lines_.clear();
    const std::string sname = cpp_name(info.name);
    std::string out;
    out += fmt::format("/// Rule `{}` of {}.\n", info.name, p_->source.name());
    out += fmt::format("struct {} {{\n", sname);
    out += fmt::format("  static constexpr std::string_view name = {};\n\n", cpp_string(info.name));
    out += "  /// The rule's parameters, with their defaults.\n  struct params {\n";
    for (const auto& pi : info.parameters) {
      const std::string field = cpp_name(pi.name);
      out += fmt::format("    {} {} = {};\n", cpp_param_type(pi.kind), field, cpp_value(values.at(pi.name)));
      gen g;
      g.t = type{shape::constant, pi.kind};
      g.code = "p." + field;
      if (pi.kind == value_kind::number) g.param = pi.name;
      scope_[pi.name] = std::move(g);
    }
    out += "  };\n\n";

    // The condition: bindings as locals, then the `fire when` expression.
    const ast::fire_statement* fire = nullptr;
    for (const auto& st : decl.body) {
      if (const auto* bnd = boost::get<ast::binding>(&st)) {
        gen v = expression(bnd->value);
        if (!v.constant()) {
          const std::string local = "b_" + bnd->name.name;
          lines_.push_back("[[maybe_unused]] const auto " + local + " = " + v.code + ";");
          v.code = local;
        }
        scope_[bnd->name.name] = std::move(v);
      } else if (const auto* f = boost::get<ast::fire_statement>(&st)) {
        fire = f;
      }
    }
    if (!fire) throw usage_error("internal: rule '" + info.name + "' has no 'fire when'");
    const gen cond = expression(fire->condition);
    out += "  /// The condition, a typed expression of tdbg::rules.\n";
    out += "  [[nodiscard]] static auto condition([[maybe_unused]] const params& p) {\n";
    for (const auto& l : lines_) out += "    " + l + "\n";
    out += "    return " + node(cond) + ";\n  }\n";
    out += "  [[nodiscard]] static auto condition() { return condition(params{}); }\n\n";

    // The parameter values (for the message), the schedule, the findings split, the message.
    out += "  /// The parameter values by name (substituted into the message).\n";
    out += "  [[nodiscard]] static tdbg::lang::parameter_values values([[maybe_unused]] const params& p) {\n";
    out += "    tdbg::lang::parameter_values v;\n";
    for (const auto& pi : info.parameters) {
      const std::string field = "p." + cpp_name(pi.name);
      const std::string val = pi.kind == value_kind::regex ? "tdbg::lang::regex_value{" + field + "}" : field;
      out += fmt::format("    v.emplace({}, tdbg::lang::value({}));\n", cpp_string(pi.name), val);
    }
    out += "    return v;\n  }\n\n";
    out += "  /// Schedule, findings and message (tdbg/lang/rule_options.hpp, as the loader does).\n";
    out += "  [[nodiscard]] static tdbg::rules::rule_options options([[maybe_unused]] const params& p) {\n";
    out += "    tdbg::lang::resolved_settings s;\n";
    auto step = [&](const char* field, const std::optional<step_value>& v) {
      if (!v) return;
      if (v->index() == 0)
        out += fmt::format("    s.{} = std::int64_t{{{}}};\n", field, std::get<0>(*v));
      else
        out += fmt::format("    s.{} = static_cast<std::int64_t>(p.{});\n", field, cpp_name(std::get<1>(*v)));
    };
    step("every", info.schedule.every);
    step("warmup", info.schedule.warmup);
    step("from", info.schedule.from);
    step("until", info.schedule.until);
    const resolved_settings defaults;
    const resolved_settings fixed = resolve_settings(info, values);
    if (info.schedule.mode && info.schedule.mode->index() == 1)
      out += fmt::format("    s.mode = p.{};\n", cpp_name(std::get<1>(*info.schedule.mode)));
    else if (fixed.mode != defaults.mode)
      out += fmt::format("    s.mode = {};\n", cpp_mode(fixed.mode));
    if (fixed.findings != defaults.findings) out += "    s.findings = tdbg::rules::findings_per::observation;\n";
    if (info.message) out += fmt::format("    s.message = std::string({});\n", cpp_string(*info.message));
    out += fmt::format("    return tdbg::lang::make_rule_options({}, s, values(p));\n  }}\n", cpp_string(info.name));
    out += "  [[nodiscard]] static tdbg::rules::rule_options options() { return options(params{}); }\n\n";
    out += "  /// The rule, ready to run (tdbg::rules::run, attach, tdbg::catch2::satisfies ...).\n";
    out += "  [[nodiscard]] static tdbg::rules::any_rule make(const params& p) {\n";
    out += fmt::format("    return tdbg::rules::make_rule({}, condition(p), options(p));\n  }}\n", cpp_string(info.name));
    out += "  [[nodiscard]] static tdbg::rules::any_rule make() { return make(params{}); }\n};\n";
    return out;
  }

 private:
  // --- node forms -----------------------------------------------------------------------------
  /// `g` as a node of tdbg::rules (constants become param_/constant/truth, as in the loader).
  static std::string node(const gen& g) {
    if (!g.constant()) return g.code;
    if (g.t.value == value_kind::number)
      return g.param.empty() ? "tdbg::rules::constant{" + g.code + "}"
                             : "tdbg::rules::param_(" + cpp_string(g.param) + ", " + g.code + ")";
    if (g.t.value == value_kind::boolean) return "tdbg::rules::truth(" + g.code + ")";
    throw usage_error("internal: a " + std::string(value_kind_name(g.t.value)) + " is not an expression");
  }

  static gen constant(value_kind k, std::string code) {
    gen g;
    g.t = type{shape::constant, k};
    g.code = std::move(code);
    return g;
  }

  /// The wider of two shapes for an operation's result (a non-folded constant is a scalar node).
  static shape wider(shape a, shape b) {
    auto s = [](shape x) { return x == shape::constant ? shape::scalar : x; };
    return std::max(s(a), s(b));
  }

  // --- expressions ----------------------------------------------------------------------------
  gen expression(const ast::expression& e) {
    gen lhs = operand(e.first);
    for (const auto& op : e.rest) lhs = binary(op.op, std::move(lhs), operand(op.operand_));
    return lhs;
  }

  gen operand(const ast::operand& o) {
    switch (o.get().which()) {
      case 1: return constant(value_kind::number, cpp_double(boost::get<ast::number_literal>(o).value));
      case 2: return constant(value_kind::string, "std::string(" + cpp_string(boost::get<ast::string_literal>(o).value) + ")");
      case 3: return constant(value_kind::regex, "std::string(" + cpp_string(boost::get<ast::regex_literal>(o).pattern) + ")");
      case 4: return constant(value_kind::boolean, boost::get<ast::bool_literal>(o).value ? "true" : "false");
      case 5: return constant(value_kind::mode, cpp_mode(boost::get<ast::mode_literal>(o).value));
      case 6: {
        const auto& id = boost::get<ast::identifier>(o);
        auto it = scope_.find(id.name);
        if (it == scope_.end()) throw usage_error("internal: unknown name '" + id.name + "'");
        return it->second;
      }
      case 7: return call(boost::get<x3::forward_ast<ast::call>>(o).get());
      case 8: {
        const auto& u = boost::get<x3::forward_ast<ast::unary>>(o).get();
        gen x = operand(u.operand_);
        gen out;
        out.t = x.t;
        out.t.selection = false;
        out.t.has_mode = false;
        if (x.constant()) {
          out.code = std::string(u.op == ast::optoken::negate ? "(-" : "(!") + x.code + ")";
          return out;
        }
        out.code = std::string(u.op == ast::optoken::negate ? "-" : "!") + "(" + x.code + ")";
        return out;
      }
      case 9: return expression(boost::get<x3::forward_ast<ast::expression>>(o).get());
      default: throw usage_error("internal: an empty operand");
    }
  }

  static gen binary(ast::optoken op, gen a, gen b) {
    if (op == ast::optoken::in) {
      gen out = a;
      out.code = "(" + a.code + ").in(" + b.code + ")";
      out.t.has_mode = true;
      return out;
    }
    const bool arithmetic = op == ast::optoken::plus || op == ast::optoken::minus || op == ast::optoken::times ||
                            op == ast::optoken::divide;
    if (arithmetic && a.constant() && b.constant() && a.t.value == value_kind::number &&
        b.t.value == value_kind::number)
      return constant(value_kind::number, "(" + a.code + " " + ast::op_text(op) + " " + b.code + ")");
    gen out;
    out.t = type{wider(a.t.shape, b.t.shape), arithmetic ? value_kind::number : value_kind::boolean};
    out.code = "(" + node(a) + " " + ast::op_text(op) + " " + node(b) + ")";
    return out;
  }

  gen call(const ast::call& c) {
    std::vector<gen> args;
    for (const auto& a : c.args) args.push_back(expression(a));
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
    if (!sig) throw usage_error("internal: no overload of '" + c.function.name + "' takes these arguments");
    return bind_call(*sig, args);
  }

  /// The call of `s` over generated arguments (see the header comment: table-driven, with the
  /// loader's special cases only).
  static gen bind_call(const signature& s, const std::vector<gen>& a) {
    const std::string& e = s.engine_name;
    gen out;
    out.t = result_type(s, a.empty() ? type{} : a[0].t);
    // Element functions of a constant are folded (loader: fold_or).
    if (a.size() >= 1 && a[0].constant() && a[0].t.value == value_kind::number) {
      const std::string& x = a[0].code;
      std::optional<std::string> folded;
      if (e == "abs") folded = "std::fabs(" + x + ")";
      if (e == "sqrt") folded = "std::sqrt(" + x + ")";
      if (e == "log") folded = "std::log(" + x + ")";
      if (e == "exp") folded = "std::exp(" + x + ")";
      if (e == "square") folded = "(" + x + " * " + x + ")";
      if (e == "clamp") folded = "tdbg::rules::ops::clamp_fn{" + a[1].code + ", " + a[2].code + "}(" + x + ")";
      if (folded) return constant(value_kind::number, *folded);
    }
    if (out.t.shape == shape::constant) out.t.shape = shape::scalar;  // not folded: a node
    if (e == "only_saved") {
      out.code = "(" + a[0].code + ").only_saved()";
      return out;
    }
    std::string code = "tdbg::rules::" + e + "(";
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (i) code += ", ";
      switch (s.params[i]) {
        case param_kind::constant:
        case param_kind::string:
        case param_kind::regex:
        case param_kind::mode:
        case param_kind::flag: code += a[i].code; break;
        case param_kind::count: code += "tdbg::lang::whole{" + a[i].code + "}"; break;
        default: code += node(a[i]); break;
      }
    }
    out.code = code + ")";
    return out;
  }

  const program* p_;
  std::map<std::string, gen> scope_;
  std::vector<std::string> lines_;
};

}  // namespace detail

/// Generates the header of the rules of `texts` (see the header comment). Throws parse_error
/// with every diagnostic (syntax, semantics, a bad override, what the loader refuses, a rule name
/// declared in two files) when anything is wrong.
TDBG_LANG_ENTRY std::string generate_header_text(const std::vector<rule_text>& texts, const codegen_options& options) {
  std::vector<program> programs;
  std::vector<diagnostic> ds;
  for (const auto& t : texts) {
    programs.push_back(parse(t.text, t.file));
    ds.insert(ds.end(), programs.back().diagnostics.begin(), programs.back().diagnostics.end());
  }
  if (error_count(ds) != 0) throw parse_error(std::move(ds));
  ds.clear();

  // Rule names are unique across the files (they become struct names of one namespace).
  std::map<std::string, std::string> first_file;
  for (const auto& p : programs)
    for (const auto& r : p.checked) {
      auto [it, inserted] = first_file.emplace(r.name, p.source.name());
      if (!inserted) {
        const auto& decl = p.rules[r.index];
        const char* at = p.positions->position_of(decl.head.name).begin();
        ds.push_back(p.source.at(at, "rule '" + r.name + "' is already declared in " + it->second));
      }
    }
  // Overrides: validated against every rule, then handed to the file declaring the rule.
  std::vector<rule_info> all;
  for (const auto& p : programs) all.insert(all.end(), p.checked.begin(), p.checked.end());
  std::map<std::string, std::map<std::string, value>> values;
  std::map<std::string, std::vector<std::string>> overrides_of;  // by rule
  for (const auto& o : options.overrides) {
    try {
      auto v = validate_override(all, o);
      overrides_of[v.rule].push_back(o);
      values[v.rule][v.parameter] = std::move(v.value);
    } catch (const parse_error& e) {
      ds.insert(ds.end(), e.diagnostics().begin(), e.diagnostics().end());
    }
  }
  if (!ds.empty()) throw parse_error(std::move(ds));
  // The loader builds every rule first: what it refuses is refused here, with its diagnostics.
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::string> mine;
    for (const auto& r : programs[i].checked)
      if (auto it = overrides_of.find(r.name); it != overrides_of.end()) mine.insert(mine.end(), it->second.begin(), it->second.end());
    try {
      (void)load_rules_text(texts[i].text, texts[i].file, mine);
    } catch (const parse_error& e) {
      ds.insert(ds.end(), e.diagnostics().begin(), e.diagnostics().end());
    }
  }
  if (!ds.empty()) throw parse_error(std::move(ds));

  std::string out;
  out += "// Generated by `tdbg compile` from the .rule files below; do not edit (regenerate instead).\n";
  for (const auto& t : texts) out += "//   " + t.file + "\n";
  for (const auto& o : options.overrides) out += "//   --param " + o + "\n";
  out += "// Each rule is a struct: params (defaults), condition(p) (the typed expression), options(p),\n";
  out += "// make(p) (a tdbg::rules::any_rule). all_rules() makes every rule with its defaults.\n";
  out += "#pragma once\n\n#include <cmath>\n#include <cstdint>\n#include <limits>\n#include <string>\n"
         "#include <string_view>\n#include <vector>\n\n#include \"tdbg/core/mode.hpp\"\n"
         "#include \"tdbg/lang/rule_options.hpp\"\n#include \"tdbg/rules/rules.hpp\"\n\n";
  out += "namespace " + options.ns + " {\n\n";
  std::vector<std::string> names;
  for (const auto& p : programs) {
    detail::rule_writer w(p);
    for (const auto& info : p.checked) {
      parameter_values v;
      for (const auto& pi : info.parameters) {
        std::optional<value> x = pi.default_value;
        if (auto it = values.find(info.name); it != values.end())
          if (auto jt = it->second.find(pi.name); jt != it->second.end()) x = jt->second;
        v[pi.name] = *x;  // the loader refused a parameter without value
      }
      out += w.write(info, v) + "\n";
      names.push_back(detail::cpp_name(info.name));
    }
  }
  out += "/// Every rule of this header, with its parameters' defaults, in declaration order.\n";
  out += "[[nodiscard]] inline std::vector<tdbg::rules::any_rule> all_rules() {\n";
  out += "  std::vector<tdbg::rules::any_rule> r;\n";
  for (const auto& n : names) out += "  r.push_back(" + n + "::make());\n";
  out += "  return r;\n}\n\n";
  out += "}  // namespace " + options.ns + "\n";
  return out;
}

/// Reads the `.rule` files (io_error if one cannot be read) and generates their header; see
/// generate_header_text.
TDBG_LANG_ENTRY std::string generate_header(const std::vector<std::filesystem::path>& files,
                                          const codegen_options& options) {
  std::vector<rule_text> texts;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw io_error("cannot read rule file '" + f.string() + "'");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw io_error("error reading rule file '" + f.string() + "'");
    texts.push_back(rule_text{f.string(), std::move(text)});
  }
  return generate_header_text(texts, options);
}

/// Names of the rules generate_header_text would generate, in order, as C++ identifiers (for
/// generated test harnesses). Assumes the texts compile.
TDBG_LANG_ENTRY std::vector<std::string> compiled_rule_names(const std::vector<rule_text>& texts) {
  std::vector<std::string> out;
  for (const auto& t : texts)
    for (const auto& r : parse(t.text, t.file).checked) out.push_back(detail::cpp_name(r.name));
  return out;
}

}  // namespace tdbg::lang
