// The one translation unit of the built-in rule tests that instantiates the `.rule` loader.
#include "support.hpp"

#include <system_error>

#include "tdbg/lang/lang.hpp"
#include "tdbg/rules/trial_source.hpp"
#include "tdbg/trial/trial.hpp"

namespace builtin_test {

std::filesystem::path rule_file(std::string_view stem) {
  return std::filesystem::path(TDBG_RULES_DIR) / (std::string(stem) + ".rule");
}

std::vector<tdbg::rules::any_rule> load(std::string_view stem, const std::vector<std::string>& overrides) {
  return tdbg::lang::load_rules(rule_file(stem), overrides);
}

tdbg::rules::run_result check(const std::filesystem::path& dir, std::string_view stem,
                              const std::vector<std::string>& overrides, const tdbg::rules::run_options& o) {
  tdbg::trial::trial t{dir};
  t.refresh();
  tdbg::rules::trial_source src(t);
  return tdbg::rules::run(load(stem, overrides), src, o);
}

scratch_dir::scratch_dir(std::string_view name)
    : path_(std::filesystem::path(TDBG_TEST_BINARY_DIR) / "scratch" / std::string(name)) {
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

scratch_dir::~scratch_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace builtin_test
