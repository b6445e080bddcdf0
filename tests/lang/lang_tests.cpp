// Tests of the `.rule` front end (tdbg/lang): grammar, AST, semantic checks, diagnostics,
// overrides, and the golden diagnostics of tests/lang/errors/.
#include <catch2/catch.hpp>

#include <boost/regex.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tdbg/lang/lang.hpp"  // header-only form: defines the entry points inline
#include "tdbg/lang/overrides.hpp"
#include "tdbg/lang/parse.hpp"

namespace fs = std::filesystem;
namespace ast = tdbg::lang::ast;
using tdbg::lang::parse;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Prints an expression as an s-expression, so tests can check how it was grouped.
struct printer {
  std::string operator()(const ast::nil&) const { return "nil"; }
  std::string operator()(const ast::number_literal& n) const {
    std::ostringstream s;
    s << n.value;
    return s.str();
  }
  std::string operator()(const ast::string_literal& s) const { return "\"" + s.value + "\""; }
  std::string operator()(const ast::regex_literal& r) const { return "/" + r.pattern + "/"; }
  std::string operator()(const ast::bool_literal& b) const { return b.value ? "true" : "false"; }
  std::string operator()(const ast::mode_literal& m) const { return std::string(tdbg::mode_name(m.value)); }
  std::string operator()(const ast::identifier& i) const { return i.name; }
  std::string operator()(const ast::call& c) const {
    std::string out = c.function.name + "(";
    bool first = true;
    for (const auto& a : c.args) {
      out += (first ? "" : ", ") + (*this)(a);
      first = false;
    }
    return out + ")";
  }
  std::string operator()(const ast::unary& u) const {
    return std::string("(") + ast::op_text(u.op) + " " + boost::apply_visitor(*this, u.operand_) + ")";
  }
  std::string operator()(const ast::expression& e) const {
    std::string acc = boost::apply_visitor(*this, e.first);
    for (const auto& op : e.rest)
      acc = std::string("(") + ast::op_text(op.op) + " " + acc + " " + boost::apply_visitor(*this, op.operand_) + ")";
    return acc;
  }
};

// The condition of the first rule of `text`, printed.
std::string condition_of(const std::string& text) {
  const auto p = parse(text);
  INFO(tdbg::lang::format_diagnostics(p.diagnostics));
  REQUIRE(p.rules.size() == 1);
  for (const auto& st : p.rules[0].body)
    if (st.get().which() == 1) return printer{}(boost::get<ast::fire_statement>(st).condition);
  FAIL("no fire statement");
  return {};
}

std::string fire(const std::string& expr) { return "rule r(t = 1, n = 3) {\n  g = collection(\"g\")\n  fire when " + expr + "\n}\n"; }

}  // namespace

TEST_CASE("the example of the issue parses and is checked", "[lang]") {
  const auto p = parse(R"(# Fires when any gradient's mean absolute value falls below the threshold.
rule vanishing_gradient(threshold = 1e-7) {
  gradients = collection("gradients") in TRAIN
  fire when any(mean(abs(gradients)) < threshold)
  every 1 steps                       # schedule: every k steps, after warmup n, from start to end
  message "{tensor}: mean |gradient| {value} < {threshold} at step {step}"
}

rule loss_not_decreasing(num_steps = 10, diff_percent = 0.1, losses: regex = /loss/, m: mode = TRAIN) {
  loss = tensors(losses) in m
  fire when any(mean(loss) > at(mean(loss), num_steps) * (1 - diff_percent / 100))
  every num_steps steps; warmup 2 steps
  from step 5
  until step 1000
}
)", "ok.rule");
  INFO(tdbg::lang::format_diagnostics(p.diagnostics));
  REQUIRE(p.ok());
  REQUIRE(p.checked.size() == 2);
  const auto& v = p.checked[0];
  CHECK(v.name == "vanishing_gradient");
  REQUIRE(v.parameters.size() == 1);
  CHECK(v.parameters[0].name == "threshold");
  CHECK(v.parameters[0].kind == tdbg::lang::value_kind::number);
  CHECK(std::get<double>(*v.parameters[0].default_value) == 1e-7);
  CHECK_FALSE(v.parameters[0].whole_number);
  CHECK(std::get<std::int64_t>(*v.schedule.every) == 1);
  CHECK_FALSE(v.schedule.warmup);
  CHECK(*v.message == "{tensor}: mean |gradient| {value} < {threshold} at step {step}");

  const auto* l = p.rule("loss_not_decreasing");
  REQUIRE(l != nullptr);
  CHECK(l->index == 1);
  REQUIRE(l->parameters.size() == 4);
  CHECK(l->parameters[0].whole_number);  // used by `every` and as at(..., k): a whole number >= 1
  CHECK(l->parameters[0].minimum == 1);
  CHECK(std::get<tdbg::lang::regex_value>(*l->parameters[2].default_value).pattern == "loss");
  CHECK(std::get<tdbg::mode>(*l->parameters[3].default_value) == tdbg::mode::train);
  CHECK(std::get<std::string>(*l->schedule.every) == "num_steps");
  CHECK(std::get<std::int64_t>(*l->schedule.warmup) == 2);
  CHECK(std::get<std::int64_t>(*l->schedule.from) == 5);
  CHECK(std::get<std::int64_t>(*l->schedule.until) == 1000);
  CHECK_FALSE(l->message);
}

TEST_CASE("'evaluate in' sets the schedule's mode; 'findings per' the findings split", "[lang]") {
  const auto p = parse(R"(rule a(m: mode = EVAL) {
  fire when any(max(collection("g")) > 1)
  evaluate in m
  findings per tensor
}
rule b {
  fire when any(max(collection("g")) > 1)
  evaluate in TRAIN; findings per evaluation
}
rule c {
  evaluate = 1                  # not reserved: a binding may have these names
  findings = evaluate + 1
  fire when findings > 1
}
)", "modes.rule");
  INFO(tdbg::lang::format_diagnostics(p.diagnostics));
  REQUIRE(p.ok());
  REQUIRE(p.checked.size() == 3);
  CHECK(std::get<std::string>(*p.checked[0].schedule.mode) == "m");
  CHECK(p.checked[0].schedule.findings_per_tensor);
  CHECK(std::get<tdbg::mode>(*p.checked[1].schedule.mode) == tdbg::mode::train);
  CHECK_FALSE(p.checked[1].schedule.findings_per_tensor);
  CHECK_FALSE(p.checked[2].schedule.mode);
  CHECK_FALSE(p.checked[2].schedule.findings_per_tensor);

  // resolved with the parameters' values, as the loader and generated headers do
  const auto s = tdbg::lang::resolve_settings(p.checked[0], {{"m", tdbg::lang::value(tdbg::mode::predict)}});
  CHECK(s.mode == tdbg::mode::predict);
  CHECK(s.findings == tdbg::rules::findings_per::observation);
  const auto o = tdbg::lang::make_rule_options("a", s, {{"m", tdbg::lang::value(tdbg::mode::predict)}});
  CHECK(o.when.mode == tdbg::mode::predict);
  CHECK(o.findings == tdbg::rules::findings_per::observation);
}

TEST_CASE("operators group with the usual precedence, left to right", "[lang]") {
  CHECK(condition_of(fire("1 + 2 * 3 - 4 / 5 < t")) == "(< (- (+ 1 (* 2 3)) (/ 4 5)) t)");
  CHECK(condition_of(fire("t > 1 || t < 0 && !(t == 2)")) == "(|| (> t 1) (&& (< t 0) (! (== t 2))))");
  CHECK(condition_of(fire("-t * 2 >= -(1 - t)")) == "(>= (* (- t) 2) (- (- 1 t)))");
  CHECK(condition_of(fire("any(mean(g in EVAL) != 0)")) == "any((!= mean((in g EVAL)) 0))");
  CHECK(condition_of(fire("(t)")) == "t");
}

TEST_CASE("literals: numbers with exponents, strings with escapes, regexes, booleans, modes", "[lang]") {
  CHECK(condition_of(fire("t < 1e-7 || t > 2.5E+3 || t == .5 || t == 7.")) ==
        "(|| (|| (|| (< t 1e-07) (> t 2500)) (== t 0.5)) (== t 7))");
  const auto p = parse(R"(rule r(s = "a\"b\\c\td", re = /a\/b\d+/, yes = true, m = EVAL, neg = -2e3) { fire when yes })");
  INFO(tdbg::lang::format_diagnostics(p.diagnostics));
  REQUIRE(p.ok());
  const auto& ps = p.checked.at(0).parameters;
  CHECK(std::get<std::string>(*ps[0].default_value) == "a\"b\\c\td");
  CHECK(std::get<tdbg::lang::regex_value>(*ps[1].default_value).pattern == "a/b\\d+");
  CHECK(std::get<bool>(*ps[2].default_value) == true);
  CHECK(std::get<tdbg::mode>(*ps[3].default_value) == tdbg::mode::eval);
  CHECK(std::get<double>(*ps[4].default_value) == -2000.0);
}

TEST_CASE("words: keywords are whole words; nan/inf are not numbers", "[lang]") {
  // `index`, `info`, `trueish` and `rules` are names, not `in`, `inf`, `true` or `rule`.
  const auto p = parse("rule r(info = 1, index = 2, trueish = 3) { rules = tensor(\"x\") in TRAIN\n"
                       "fire when any(mean(rules) > info + index + trueish) }");
  INFO(tdbg::lang::format_diagnostics(p.diagnostics));
  CHECK(p.ok());
  const auto q = parse("rule r() { fire when nan > 1 }");
  REQUIRE(q.diagnostics.size() == 1);
  CHECK(q.diagnostics[0].message == "unknown name 'nan'");
}

TEST_CASE("every vocabulary function type-checks in a realistic use", "[lang]") {
  const char* good[] = {
      "any(l2(g) > t)", "all(max_abs(abs(g)) <= t)", "count(min(g) < 0) >= 2", "fraction(sum(g) > 0) > 0.5",
      "any(fraction(g <= 0) > 0.9)", "any(count(g == 0) > 10)", "any(count(g) == 0)",
      "any(quantile(g, 0.9) > t)", "any(percentile(sqrt(abs(g)), 99) > t)",
      "any(prod(exp(clamp(g, -1, 1))) > t)", "any(std_pop(g) > 0) && any(std_sample(g) > 0)",
      "any(variance_pop(g) > 0) || any(variance_sample(log(abs(g) + 1)) > 0)",
      "any(l1(g - prev(g)) / (l1(prev(g)) + 1e-8) > t)", "any(fraction_zeros(g) >= t)",
      "any(fraction_nonfinite(g) > 0)", "max_over(mean(g)) > t", "min_over(mean(g)) < t",
      "mean_over(mean(g)) > t", "sum_over(mean(g)) > t", "scalar(mean(tensor(\"loss\"))) > t",
      "scalar(mean(tensor(\"loss\")) > t)", "any(delta(mean(g)) > 0)", "any(prev(mean(g), n) > 0)",
      "any(ratio(mean(g)) > 2)", "any(in_mode(mean(g), EVAL) > 2)", "window_mean(max_over(mean(g)), 5) > t",
      "window_min(max_over(mean(g)), n) > t", "window_max(max_over(mean(g)), n) > t",
      "window_slope(mean_over(mean(g)), 10) >= 0", "window_count(any(mean(g) > t), 5) >= 3",
      "window_all(any(mean(g) > t), 5)", "window_any(any(mean(g) > t), 5)", "patience(any(mean(g) > t), n)",
      "then(any(mean(g) > t), all(mean(g) > t), 100)", "any(between(mean(g), -t, t))",
      "between(max_over(mean(g)), 0, 1)", "max_over_workers(max_over(l2(g))) - min_over_workers(min_over(l2(g))) > t",
      "mean_over_workers(max_over(l2(g))) > t",
      "any(group_max(mean(tensors(/relu/)), /(.*)\\/relu/) > t)", "any(max(g - mean(g)) > t)",
      "any(mean(g) - mean(in_trial(g, \"baseline\")) > t)", "any(mean(g in EVAL) > mean(g in TRAIN))",
      "true", "!any(mean(g) > t)"};
  for (const char* e : good) {
    INFO(e);
    const auto p = parse(fire(e));
    INFO(tdbg::lang::format_diagnostics(p.diagnostics));
    CHECK(p.ok());
  }
}

TEST_CASE("nonsense compositions are rejected with the reason", "[lang]") {
  struct bad {
    const char* expr;
    const char* message;
  };
  const bad cases[] = {
      {"all(3.0)", "argument 1 of 'all' must be a per-tensor boolean (a comparison of a reduction), got a number constant"},
      {"count(3.0) > 1", "no overload of 'count' takes (number constant); candidates: count(elements), count(mask), count(per_tensor_bool)"},
      {"any(mean(g) > 1) < 2", "operator '<' needs numbers, got a scalar boolean and a number constant"},
      {"window_mean(mean(g), 5) > t", "argument 1 of 'window_mean' must be a scalar number that changes with the step, got a per-tensor number"},
      {"any(mean(g) > 1) && mean(g) > 1", "the 'fire when' condition must be a scalar boolean, got a per-tensor boolean; quantify it over the tensors with any(...) or all(...)"},
      {"patience(true, 0)", "argument 2 of 'patience' must be a whole number >= 1"},
      {"patience(true, t + 1)", "argument 2 of 'patience' must be a number literal or a parameter"},
      {"any(mean(g in EVAL in TRAIN) > 0)", "the selection already has a mode"},
      {"any(mean(tensors(\"x\")) > 0)", "argument 1 of 'tensors' must be a regex (/.../), got a string"},
      {"any(mean(tensors(//)) > 0)", "a regex must not be empty"},
      {"-true", "operator '-' needs a number, got a boolean constant"},
      {"any(mean() > 1)", "function 'mean' takes 1 argument, got 0"},
      {"mean(g)", "the 'fire when' condition must be a scalar boolean, got a per-tensor number; compare it with a threshold"},
      {"any(at(mean(g)) > 1)", "function 'at' takes 2 arguments, got 1"},
      {"any(delta(mean(g), 1, 2) > 1)", "function 'delta' takes 1 argument, got 3"},
  };
  for (const auto& c : cases) {
    INFO(c.expr);
    const auto p = parse(fire(c.expr));
    REQUIRE_FALSE(p.ok());
    CHECK(p.diagnostics[0].message == c.message);
  }
}

TEST_CASE("every syntax error of a file is reported; rules after an error are checked", "[lang]") {
  const auto p = parse("rule a() {\n  x = \n  fire when true\n}\n"
                       "rule b() {\n  fire when meen(1)\n}\n"
                       "garbage here\n"
                       "rule c() {\n  fire when true\n}\n");
  REQUIRE(p.diagnostics.size() == 3);
  CHECK(p.diagnostics[0].line == 3);  // `x = ` then a new statement: "expected an expression, found 'fire'"
  CHECK(p.diagnostics[0].message == "expected an expression, found 'fire'");
  CHECK(p.diagnostics[1].line == 8);  // top-level garbage (parsing order: syntax first)
  CHECK(p.diagnostics[2].line == 6);  // semantic error in the intact rule b
  CHECK(p.diagnostics[2].message == "unknown function 'meen'; did you mean 'mean'?");
  REQUIRE(p.checked.size() == 1);     // a: syntax error (not checked), b: semantic error
  CHECK(p.checked[0].name == "c");
}

TEST_CASE("diagnostics render file:line:col, the line and a caret (tabs and UTF-8 kept aligned)", "[lang]") {
  const tdbg::lang::source_file src("x.rule", "a\n\tfé = zz\n");
  const auto d = src.at(std::string_view("a\n\tfé = ").size(), "unknown name 'zz'");
  CHECK(d.line == 2);
  CHECK(d.column == 7);  // after tab, f, é (2 bytes, 1 column), space, =, space
  CHECK(d.str() == "x.rule:2:7: error: unknown name 'zz'\n\tfé = zz\n\t     ^\n");
  CHECK_THROWS_AS(parse("rule r() { fire when x }").throw_if_errors(), tdbg::lang::parse_error);
  CHECK_THROWS_AS(tdbg::lang::parse_file(fs::path(TDBG_TEST_BINARY_DIR) / "no_such.rule"), tdbg::io_error);
}

TEST_CASE("hostile input gives diagnostics, never a crash", "[lang]") {
  CHECK_FALSE(parse(std::string(200000, '(')).ok());
  CHECK_FALSE(parse("rule r() { fire when " + std::string(100000, '-') + "1 }").ok());
  CHECK_FALSE(parse("rule r() { fire when " + std::string(100000, '!') + "true }").ok());
  CHECK(parse("rule r() { fire when 1e999999 > 1 }").diagnostics.at(0).message == "number out of range");
  CHECK(parse("rule r() { fire when 1e-999999 < 1 }").ok());  // underflow is 0
  CHECK(parse("rule r(x = -1e999) { fire when x > 1 }").diagnostics.at(0).message == "number out of range");
  CHECK(parse("rule r() { fire when " + std::string(5000, '9') + " > 1 }").diagnostics.at(0).message ==
        "number out of range");
  CHECK_FALSE(parse(std::string("rule r() { fire when \"\xff\xfe\0\" }", 29)).ok());
  CHECK(parse("").ok());
  CHECK(parse("# only a comment").ok());
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "rule r" + std::to_string(i) + "() { fire when any(mean(collection(\"g\")) > " + std::to_string(i) + ") }\n";
  CHECK(parse(many).checked.size() == 2000);
  std::string garbage = "rule r() {\n";
  for (int i = 0; i < 20000; ++i) garbage += "  x" + std::to_string(i) + " = @\n";
  const auto g = parse(garbage + "}\n");
  CHECK(g.diagnostics.size() == 20000);  // one per bad statement, each positioned
  CHECK(g.diagnostics.back().line == 20001);
  CHECK(g.diagnostics.back().column == 12);
  // lines that start no statement are skipped after an error: one error, no cascade
  CHECK(parse("rule r() {\n  @ a\n  b c\n  d e\n  fire when true\n}\n").diagnostics.size() == 1);
}

TEST_CASE("the function table is consistent", "[lang]") {
  const auto& table = tdbg::lang::builtin_functions();
  REQUIRE(table.all().size() > 50);
  for (const auto& s : table.all()) {
    INFO(s.name);
    CHECK_FALSE(s.engine_name.empty());
    CHECK_FALSE(s.summary.empty());
    // no two overloads of one name accept the same argument kinds
    for (const auto* o : table.overloads(s.name))
      if (o != &s) CHECK(o->params != s.params);
  }
  CHECK(table.overloads("count").size() == 3);
  CHECK(table.overloads("no_such_function").empty());
  using tdbg::lang::accepts;
  using tdbg::lang::param_kind;
  using tdbg::lang::shape;
  using tdbg::lang::type;
  using tdbg::lang::value_kind;
  CHECK(accepts(param_kind::selection, type{shape::elements, value_kind::number, true}));
  CHECK_FALSE(accepts(param_kind::selection, type{shape::elements, value_kind::number, false}));
  CHECK(accepts(param_kind::scalar, type{shape::constant, value_kind::number}));
  CHECK_FALSE(accepts(param_kind::series, type{shape::constant, value_kind::number}));
  CHECK_FALSE(accepts(param_kind::per_tensor_bool, type{shape::scalar, value_kind::boolean}));
}

TEST_CASE("--param overrides are validated against the declared parameters", "[lang]") {
  const auto p = parse("rule lnd(num_steps = 10, diff = 0.1, on = true, name = \"x\", re = /a/, m = TRAIN) {\n"
                       "  fire when on\n  every num_steps steps\n}\n");
  REQUIRE(p.ok());
  using tdbg::lang::validate_override;
  CHECK(validate_override(p.checked, "lnd.num_steps=20").value == tdbg::lang::value(20.0));
  CHECK(validate_override(p.checked, "lnd.diff=2.5e-3").value == tdbg::lang::value(2.5e-3));
  CHECK(validate_override(p.checked, "lnd.on=false").value == tdbg::lang::value(false));
  CHECK(validate_override(p.checked, "lnd.name=a=b").value == tdbg::lang::value(std::string("a=b")));
  CHECK(validate_override(p.checked, "lnd.re=/w.*/").value == tdbg::lang::value(tdbg::lang::regex_value{"w.*"}));
  CHECK(validate_override(p.checked, "lnd.m=eval").value == tdbg::lang::value(tdbg::mode::eval));
  const auto override_error = [&](const char* arg) {
    try {
      (void)validate_override(p.checked, arg);
    } catch (const tdbg::lang::parse_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(override_error("lnd.num_steps=abc") ==
        "--param:1:15: error: parameter 'num_steps' of rule 'lnd' is a number, got 'abc'\nlnd.num_steps=abc\n              ^\n");
  CHECK(override_error("lnd.num_steps=2.5") ==
        "--param:1:15: error: parameter 'num_steps' of rule 'lnd' must be a whole number >= 1, got '2.5'\nlnd.num_steps=2.5\n              ^\n");
  CHECK(override_error("lnd.diff=nan").find("is a number, got 'nan'") != std::string::npos);
  CHECK(override_error("lnd.diff=").find("is a number, got ''") != std::string::npos);
  CHECK(override_error("lnd.on=yes").find("is a bool (true or false), got 'yes'") != std::string::npos);
  CHECK(override_error("lnd.m=TEST").find("is a mode (TRAIN, EVAL, PREDICT or GLOBAL), got 'TEST'") != std::string::npos);
  CHECK(override_error("lnd.re=(").find("invalid regex") != std::string::npos);
  CHECK(override_error("lnd.nope=1") == "--param:1:5: error: rule 'lnd' has no parameter 'nope'\nlnd.nope=1\n    ^\n");
  CHECK(override_error("other.x=1").find("unknown rule 'other'") != std::string::npos);
  CHECK(override_error("lnd.num_steps").find("expected rule.parameter=value") != std::string::npos);
  CHECK(override_error("num_steps=1").find("expected rule.parameter=value") != std::string::npos);
}

TEST_CASE("golden diagnostics of tests/lang/errors", "[lang][golden]") {
  const fs::path dir = fs::path(TDBG_TEST_SOURCE_DIR) / "errors";
  const fs::path received_dir = fs::path(TDBG_TEST_BINARY_DIR) / "received";
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".rule") inputs.push_back(e.path());
  std::sort(inputs.begin(), inputs.end());
  REQUIRE(inputs.size() >= 25);
  std::size_t mismatches = 0;
  for (const auto& in : inputs) {
    const std::string name = "errors/" + in.filename().string();
    const auto p = parse(read(in), name);
    const std::string got = tdbg::lang::format_diagnostics(p.diagnostics);
    fs::path expected_path = in;
    expected_path.replace_extension(".expected");
    const bool exists = fs::exists(expected_path);
    const std::string expected = exists ? read(expected_path) : std::string();
    INFO(name);
    CHECK(exists);
    CHECK_FALSE(p.ok());  // every input is wrong
    if (got != expected) {
      ++mismatches;
      fs::create_directories(received_dir);
      fs::path r = received_dir / in.filename();
      r.replace_extension(".received");
      std::ofstream(r, std::ios::binary) << got;
      UNSCOPED_INFO("received output written to " << r.string());
      CHECK(got == expected);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("every `fire when` example of docs/rule-language.md checks", "[lang][docs]") {
  const std::string doc = read(fs::path(TDBG_TEST_SOURCE_DIR) / ".." / ".." / "docs" / "rule-language.md");
  REQUIRE_FALSE(doc.empty());
  std::istringstream lines(doc);
  std::string line;
  std::size_t n = 0;
  std::string bindings;  // `name = ...` lines seen so far in the current code block
  const boost::regex binding_line(R"(^[A-Za-z_][A-Za-z0-9_]*\s*=[^=].*)");
  while (std::getline(lines, line)) {
    if (line.rfind("```", 0) == 0) bindings.clear();
    if (boost::regex_match(line, binding_line)) bindings += "  " + line + "\n";
    if (line.rfind("fire when ", 0) != 0) continue;
    ++n;
    const std::string text =
        "rule r(threshold = 1, t = 1, r = 1, hi = 1, lo = 0, limit = 1, num_steps = 3, use_argmax = false) {\n"
        "  g = collection(\"g\"); w = collection(\"w\"); grads = g; loss = tensor(\"loss\")\n"
        "  val = tensor(\"loss\") in EVAL; train = tensor(\"loss\") in TRAIN\n"
        "  relu = tensors(/relu_output/); images = tensor(\"images\"); sig = tensors(/sigmoid_input/)\n"
        "  probabilities = tensor(\"probabilities\"); labels = tensor(\"labels\"); p_raw = tensor(\"predictions\")\n" +
        bindings + "  " + line + "\n}\n";
    INFO(line);
    const auto p = parse(text, "doc");
    INFO(tdbg::lang::format_diagnostics(p.diagnostics));
    CHECK(p.ok());
  }
  CHECK(n >= 20);
}

TEST_CASE("every whole rule shown in README.md parses and checks", "[lang][docs]") {
  const std::string doc = read(fs::path(TDBG_TEST_SOURCE_DIR) / ".." / ".." / "README.md");
  REQUIRE_FALSE(doc.empty());
  // Code blocks without a language (```) that declare a rule at the start of a line.
  std::istringstream lines(doc);
  std::string line, block;
  bool in_block = false, plain = false;
  std::size_t n = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("```", 0) == 0) {
      if (in_block && plain && (block.rfind("rule ", 0) == 0 || block.find("\nrule ") != std::string::npos)) {
        ++n;
        INFO(block);
        const auto p = parse(block, "README.md");
        INFO(tdbg::lang::format_diagnostics(p.diagnostics));
        CHECK(p.ok());
      }
      plain = !in_block && line == "```";
      in_block = !in_block;
      block.clear();
      continue;
    }
    if (in_block) block += line + "\n";
  }
  CHECK(n >= 2);
}
