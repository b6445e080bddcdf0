// Tests of the collect layer: save decisions, compile-time configs, defaults, reductions strings,
// regex matching and its cache.
#include <catch2/catch.hpp>

#include "tdbg/collect/config.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/collect/matcher.hpp"

using namespace tdbg;
using namespace tdbg::collect;

namespace {
std::vector<step_t> saved_steps(const save_config_mode& m, step_t upto) {
  std::vector<step_t> out;
  for (step_t s = 0; s <= upto; ++s)
    if (m.should_save(s)) out.push_back(s);
  return out;
}
}  // namespace

TEST_CASE("save_config_mode: interval, start filters without shifting the phase, end exclusive") {
  save_config_mode m{4, {}, 6, 25};
  CHECK(saved_steps(m, 40) == std::vector<step_t>{8, 12, 16, 20, 24});
  save_config_mode e{5, {}, 0, 10};
  CHECK(saved_steps(e, 30) == std::vector<step_t>{0, 5});
}

TEST_CASE("save_config_mode: save_steps are OR-ed with the interval, so mode step 0 is saved") {
  save_config_mode m{500, {1, 6}, 0, std::nullopt};
  CHECK(saved_steps(m, 100) == std::vector<step_t>{0, 1, 6});
  CHECK(m.should_save(500));
  save_config_mode late{10, {3}, 20, std::nullopt};  // explicit steps ignore start
  CHECK(saved_steps(late, 40) == std::vector<step_t>{3, 20, 30, 40});
}

TEST_CASE("save_config_mode::validate names the problem") {
  CHECK_THROWS_WITH(save_config_mode({0, {}, 0, {}}).validate("c"), Catch::Contains("save_interval must be > 0"));
  CHECK_THROWS_WITH(save_config_mode({5, {}, 9, 3}).validate("c"), Catch::Contains("before start_step"));
  CHECK_THROWS_WITH(save_config_mode({5, {-2}, 0, {}}).validate("c"), Catch::Contains("save_steps must be >= 0"));
  CHECK_NOTHROW(save_config_mode({5, {}, 4, 4}).validate("c"));
}

TEST_CASE("collection_config converts to the run-time collection") {
  constexpr auto weights = collection_config{"weights"}
                               .include("^(?!gradient).*weight")
                               .every(5)
                               .in(mode::eval, save_every(10).steps({1, 6}).start(2).end(100))
                               .reductions({reduction{reduction_op::mean, true}, reduction{reduction_op::l2, false}})
                               .raw(false)
                               .shape(true);
  const collection c = weights.to_runtime();
  CHECK(c.name == "weights");
  CHECK(c.include_regex == std::vector<std::string>{"^(?!gradient).*weight"});
  REQUIRE(c.save);
  CHECK((*c.save)[mode::train] == save_config_mode{5, {}, 0, std::nullopt});
  CHECK((*c.save)[mode::eval] == save_config_mode{10, {1, 6}, 2, 100});
  CHECK((*c.save)[mode::predict] == save_config_mode{5, {}, 0, std::nullopt});
  REQUIRE(c.reductions);
  CHECK_FALSE(c.reductions->save_raw_tensor);
  CHECK(c.reductions->save_shape);
  CHECK(c.reductions->reductions == std::vector<reduction>{{reduction_op::mean, true}, {reduction_op::l2, false}});

  constexpr auto bare = collection_config{"acts"}.include("relu").tensor("x/y");
  const collection b = bare.to_runtime();
  CHECK_FALSE(b.save);        // takes the hook's
  CHECK_FALSE(b.reductions);  // takes the hook's
  CHECK(b.tensor_names == std::vector<std::string>{"x/y"});

  constexpr auto one_mode = collection_config{"g"}.in(mode::train, save_every(3));
  const collection g = one_mode.to_runtime();
  REQUIRE(g.save);
  CHECK((*g.save)[mode::train]);
  CHECK_FALSE((*g.save)[mode::eval]);
}

TEST_CASE("collections<...> keeps order; defaults carry smdebug's regexes") {
  const auto cs = collections<defaults::weights, defaults::biases, defaults::gradients, defaults::losses,
                              defaults::default_, defaults::all>::to_runtime();
  REQUIRE(cs.size() == 6);
  CHECK(cs[0].include_regex == std::vector<std::string>{"^(?!gradient).*weight"});
  CHECK(cs[1].include_regex == std::vector<std::string>{"^(?!gradient).*bias"});
  CHECK(cs[2].include_regex == std::vector<std::string>{"^gradient"});
  CHECK(cs[3].include_regex == std::vector<std::string>{"[Ll]oss_(?!input).*output"});
  CHECK(cs[4].name == "default");
  CHECK(cs[4].include_regex.empty());
  CHECK(cs[5].name == "all");
  CHECK(defaults::find("optimizer_variables")->name == "optimizer_variables");
  CHECK(defaults::find("sm_metrics"));
  CHECK_FALSE(defaults::find("nope"));
  CHECK(defaults::pytorch::to_runtime().size() == 6);
}

TEST_CASE("resolve: hook configs fill in; scalar collections are forced to raw") {
  // The reductions_only fixture: hook TRAIN every 5, EVAL 500 + [1, 6], PREDICT/GLOBAL null.
  hook_defaults d;
  d.save = save_config{};
  d.save[mode::train] = save_config_mode{5, {}, 0, {}};
  d.save[mode::eval] = save_config_mode{500, {1, 6}, 0, {}};
  d.reductions = reduction_config{false, {{reduction_op::min, false}}, true};

  const collection weights = resolve(defaults::weights.to_runtime(), d);
  CHECK(*weights.save == d.save);  // as is, null modes included
  CHECK(*weights.reductions == d.reductions);

  constexpr auto grads_cfg = defaults::gradients.in(mode::train, save_every(4).start(6).end(25));
  const collection grads = resolve(grads_cfg.to_runtime(), d);
  CHECK((*grads.save)[mode::train] == save_config_mode{4, {}, 6, 25});
  CHECK((*grads.save)[mode::eval] == save_config_mode{500, {1, 6}, 0, {}});
  CHECK((*grads.save)[mode::predict] == save_config_mode{});  // hook null → defaults
  CHECK((*grads.save)[mode::global] == save_config_mode{});

  constexpr auto loss_cfg = defaults::losses.reductions({{reduction_op::mean, false}}).raw(false);
  const collection losses = resolve(loss_cfg.to_runtime(), d);
  CHECK(losses.reductions->save_raw_tensor);
  CHECK(losses.reductions->reductions.empty());
  CHECK_FALSE(losses.save_histogram);
  CHECK(is_scalar_collection("metrics"));
  CHECK(is_train_only_collection("optimizer_variables"));
  CHECK_FALSE(is_train_only_collection("weights"));
}

TEST_CASE("validate rejects empty and duplicate names and bad save configs") {
  CHECK_THROWS_AS(validate({collection{}}), config_error);
  collection a{"a"}, b{"a"};
  CHECK_THROWS_WITH(validate({a, b}), Catch::Contains("two collections are named 'a'"));
  collection bad{"bad"};
  bad.save = save_config::every(0);
  CHECK_THROWS_WITH(validate({bad}), Catch::Contains("collection 'bad'") && Catch::Contains("save_interval"));
}

TEST_CASE("reductions strings: smdebug order, grammar, errors") {
  const std::string all = "min,max,mean,std,variance,sum,prod,l1_norm,l2_norm,abs_mean,abs_max,abs_l2_norm";
  const auto rs = parse_reductions(all, "t");
  REQUIRE(rs.size() == 12);
  CHECK(rs[7] == reduction{reduction_op::l1, false});
  CHECK(rs[11] == reduction{reduction_op::l2, true});
  CHECK(reductions_string(rs) == all);
  // Any input order comes out grouped: plain, norms, abs, abs norms.
  const auto mixed = parse_reductions(" abs_l2_norm, l1_norm ,abs_max,min,min", "t");
  CHECK(mixed.size() == 4);
  CHECK(reductions_string(mixed) == "min,l1_norm,abs_max,abs_l2_norm");
  CHECK(parse_reductions("", "t").empty());
  CHECK_THROWS_WITH(parse_reductions("mean,median", "ctx"), Catch::Contains("ctx") && Catch::Contains("'median'"));
  CHECK_THROWS_AS(parse_reductions("mean_norm", "t"), config_error);
}

TEST_CASE("matcher: Python re.search semantics with look-ahead") {
  auto cs = defaults::pytorch::to_runtime();
  matcher m(cs);
  auto names_of = [&](std::string_view t) {
    std::vector<std::string> out;
    for (auto i : m.members(t)) out.push_back(cs[i].name);
    return out;
  };
  CHECK(names_of("MLP_fc1.weight") == std::vector<std::string>{"weights"});
  CHECK(names_of("gradient/MLP_fc1.weight") == std::vector<std::string>{"gradients"});
  CHECK(names_of("MLP_fc1.bias") == std::vector<std::string>{"biases"});
  CHECK(names_of("CrossEntropyLoss_output_0") == std::vector<std::string>{"losses"});
  CHECK(names_of("CrossEntropyLoss_input_1").empty());
  CHECK(names_of("act1_output_0").empty());
}

TEST_CASE("matcher caches per name: the regexes run once per name") {
  std::vector<collection> cs{collection{"a", {"x\\d"}}, collection{"b", {"^y", "z$"}}};
  matcher m(cs);
  CHECK(m.regex_evaluations() == 0);
  CHECK(m.members("nothing").empty());
  const auto after_first = m.regex_evaluations();
  CHECK(after_first == 3);  // every pattern tried once
  for (int i = 0; i < 100; ++i) CHECK(m.members("nothing").empty());
  CHECK(m.regex_evaluations() == after_first);
  CHECK(m.members("x1z").size() == 2);
  CHECK(m.regex_evaluations() == after_first + 3);  // x\d matches; ^y fails, z$ matches
  (void)m.members("x1z");
  CHECK(m.regex_evaluations() == after_first + 3);
  CHECK(m.matched(1) == std::vector<std::string>{"x1z"});
  m.add_name(0, "plain");
  CHECK(m.members("plain") == std::vector<std::uint32_t>{0});
}

TEST_CASE("matcher: an invalid regex is a config_error naming the pattern") {
  std::vector<collection> cs{collection{"broken", {"ok", "a(b"}}};
  CHECK_THROWS_AS(matcher(cs), config_error);
  CHECK_THROWS_WITH(matcher(cs), Catch::Contains("'a(b'") && Catch::Contains("collection 'broken'"));
}

