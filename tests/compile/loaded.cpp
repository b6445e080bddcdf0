// The one translation unit of tests/compile that instantiates the `.rule` front end (loader and
// code generator): the run-time forms for the equivalence test, and the unit tests of codegen.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "support.hpp"
#include "tdbg/lang/lang.hpp"

namespace compile_test {

std::vector<tdbg::rules::any_rule> load_files(const std::vector<std::string>& files,
                                              const std::vector<std::string>& overrides) {
  std::vector<tdbg::rules::any_rule> out;
  for (const auto& f : files) {
    // An override goes to the file of its rule (a file declares the rule of its stem's name).
    std::vector<std::string> mine;
    const std::string stem = std::filesystem::path(f).stem().string();
    for (const auto& o : overrides)
      if (o.rfind(stem + ".", 0) == 0) mine.push_back(o);
    auto rs = tdbg::lang::load_rules(f, mine);
    for (auto& r : rs) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace compile_test

using Catch::Matchers::Contains;
namespace lang = tdbg::lang;

namespace {

std::string generate(const std::string& text, const std::vector<std::string>& overrides = {}) {
  lang::codegen_options o;
  o.ns = "gen";
  o.overrides = overrides;
  return lang::generate_header_text({{"t.rule", text}}, o);
}

std::string diagnostics_of(const std::vector<lang::rule_text>& texts, const std::vector<std::string>& overrides = {}) {
  lang::codegen_options o;
  o.overrides = overrides;
  try {
    (void)lang::generate_header_text(texts, o);
  } catch (const lang::parse_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("codegen writes each rule as a typed expression with its parameters", "[compile][codegen]") {
  const std::string h = generate(R"(rule vanishing_gradient(threshold = 1e-7) {
  gradients = collection("gradients")
  fire when any(mean(abs(gradients)) < threshold)
  every 2 steps
  message "{tensor}: {value} < {threshold}"
})");
  CHECK_THAT(h, Contains("namespace gen {"));
  CHECK_THAT(h, Contains("struct vanishing_gradient {"));
  CHECK_THAT(h, Contains("double threshold = 1e-07;"));
  CHECK_THAT(h, Contains("const auto b_gradients = tdbg::rules::collection(std::string(\"gradients\"));"));
  CHECK_THAT(h, Contains("tdbg::rules::any((tdbg::rules::mean(tdbg::rules::abs(b_gradients)) < "
                         "tdbg::rules::param_(\"threshold\", p.threshold)))"));
  CHECK_THAT(h, Contains("s.every = std::int64_t{2};"));
  CHECK_THAT(h, Contains("s.message = std::string(\"{tensor}: {value} < {threshold}\");"));
  CHECK_THAT(h, Contains("r.push_back(vanishing_gradient::make());"));
}

TEST_CASE("codegen folds constants as the loader does and bakes overrides into the defaults", "[compile][codegen]") {
  const std::string h = generate(R"(rule r(a = 2, n = 3, s: string = "x\"y", re = /a\/b/, m: mode = EVAL, on = true) {
  fire when any(mean(tensor(s) in m) > -a * sqrt(4) + abs(-1)) && on && window_any(scalar(max(tensors(re))) > 0, n)
  every n steps
})", {"r.a=5", "r.n=4"});
  CHECK_THAT(h, Contains("double a = 5.0;"));
  CHECK_THAT(h, Contains("double n = 4.0;"));
  CHECK_THAT(h, Contains("std::string s_ = std::string(\"x\\\"y\");"));  // `s` is taken by the generated code
  CHECK_THAT(h, Contains("std::string re = std::string(\"a/b\");"));
  CHECK_THAT(h, Contains("tdbg::mode m = tdbg::mode::eval;"));
  CHECK_THAT(h, Contains("(tdbg::rules::tensor_named(p.s_)).in(p.m)"));
  CHECK_THAT(h, Contains("tdbg::rules::constant{(((-p.a) * std::sqrt(4.0)) + std::fabs((-1.0)))}"));
  CHECK_THAT(h, Contains("tdbg::rules::truth(p.on)"));
  CHECK_THAT(h, Contains("tdbg::lang::whole{p.n}"));
  CHECK_THAT(h, Contains("s.every = static_cast<std::int64_t>(p.n);"));
}

TEST_CASE("codegen gives C++ keywords a trailing underscore", "[compile][codegen]") {
  const std::string h = generate("rule class(default = 1, p = 2) { fire when default < p }");
  CHECK_THAT(h, Contains("struct class_ {"));
  CHECK_THAT(h, Contains("double default_ = 1.0;"));
  CHECK_THAT(h, Contains("double p_ = 2.0;"));
  CHECK_THAT(h, Contains("static constexpr std::string_view name = \"class\";"));
}

TEST_CASE("codegen refuses what the loader refuses, with the loader's diagnostics", "[compile][codegen]") {
  // syntax
  CHECK_THAT(diagnostics_of({{"bad.rule", "rule r {\n  fire when any(mean(x) <\n}\n"}}), Contains("bad.rule:"));
  // semantics, with a caret
  const std::string d = diagnostics_of({{"sem.rule", "rule r {\n  fire when any(meen(collection(\"g\"))) > 1\n}\n"}});
  CHECK_THAT(d, Contains("sem.rule:2:17: error: unknown function 'meen'"));
  CHECK_THAT(d, Contains("^"));
  // the engine: a window inside prev
  CHECK_THAT(diagnostics_of({{"w.rule", "rule r { fire when prev(window_mean(scalar(mean(tensor(\"l\"))), 3)) > 1 }"}}),
             Contains("w.rule:1:"));
  // a parameter without value, a bad override
  CHECK_THAT(diagnostics_of({{"p.rule", "rule r(x: number) { fire when x > 1 }"}}), Contains("has no default"));
  CHECK_THAT(diagnostics_of({{"p.rule", "rule r(x = 1) { fire when x > 1 }"}}, {"r.y=2"}),
             Contains("rule 'r' has no parameter 'y'"));
  // one rule name in two files
  CHECK_THAT(diagnostics_of({{"a.rule", "rule r { fire when any(mean(tensor(\"a\")) > 0) }"}, {"b.rule", "\nrule r { fire when any(mean(tensor(\"b\")) > 0) }"}}),
             Contains("b.rule:2:6: error: rule 'r' is already declared in a.rule"));
}
