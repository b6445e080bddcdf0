// Support for the tests of the built-in rule library (rules/*.rule): load a rule file by its
// stem, run it over a trial directory, and make a scratch trial directory.
// tdbg/lang/load.hpp (the X3 grammar) is compiled ONCE, in support.cpp; the test files include
// only this header, so each of them builds in a few seconds.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/runner.hpp"

namespace builtin_test {

/// rules/<stem>.rule of the source tree.
[[nodiscard]] std::filesystem::path rule_file(std::string_view stem);

/// The rules of rules/<stem>.rule, with `--param`-style overrides ("rule.param=value").
[[nodiscard]] std::vector<tdbg::rules::any_rule> load(std::string_view stem,
                                                      const std::vector<std::string>& overrides = {});

/// Runs rules/<stem>.rule over the trial in `dir` (offline, as `tdbg check` does).
[[nodiscard]] tdbg::rules::run_result check(const std::filesystem::path& dir, std::string_view stem,
                                            const std::vector<std::string>& overrides = {},
                                            const tdbg::rules::run_options& o = {});

/// A fresh, empty directory under the test's binary directory, removed when destroyed.
class scratch_dir {
 public:
  explicit scratch_dir(std::string_view name);
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace builtin_test
