// Loads healthy.rule and fires.rule at run time with tdbg's `.rule` language compiled separately
// (tdbg_add_lang_library) and runs it over a trial: weights_finite and loss_bounded must hold,
// always_some_weight must fire at every evaluated step with one finding per weight tensor.
#include <tdbg/lang/lang.hpp>
#include <tdbg/rules/runner.hpp>
#include <tdbg/rules/trial_source.hpp>
#include <tdbg/trial/trial.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#ifndef TDBG_LANG_SEPARATE
#error "tdbg_add_lang_library must give its users TDBG_LANG_SEPARATE"
#endif

int main() {
  try {
    auto rules = tdbg::lang::load_rules(CONSUMER_RULE_FILE);
    for (auto& r : tdbg::lang::load_rules(CONSUMER_FIRING_RULE_FILE)) rules.push_back(std::move(r));
    if (rules.size() != 3) {
      std::fprintf(stderr, "expected 3 rules, loaded %zu\n", rules.size());
      return 1;
    }
    tdbg::trial::trial trial{CONSUMER_TRIAL_DIR};
    trial.refresh();
    tdbg::rules::trial_source source(trial);
    const auto result = tdbg::rules::run(rules, source);
    int failures = 0;
    std::size_t always = 0;
    for (const auto& f : result.findings) {
      if (f.rule == "always_some_weight") {
        ++always;
      } else {
        std::fprintf(stderr, "unexpected finding: %s\n", f.message.c_str());
        ++failures;
      }
    }
    if (always == 0) {
      std::fprintf(stderr, "always_some_weight did not fire\n");
      ++failures;
    }
    std::printf("loaded %zu rules; always_some_weight: %zu findings\n", rules.size(), always);
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
