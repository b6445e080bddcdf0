// Support for the tests of the build-time path (tdbg compile): the run-time forms of the same
// rules (tdbg/lang/load.hpp, instantiated ONCE, in loaded.cpp) and a hook-written trial.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tdbg/rules/rule.hpp"

namespace compile_test {

/// The rules of the files, loaded at run time (tdbg::lang::load_rules), in file order.
[[nodiscard]] std::vector<tdbg::rules::any_rule> load_files(const std::vector<std::string>& files,
                                                            const std::vector<std::string>& overrides = {});

/// Writes a synthetic trial with tdbg's hook: weights, biases, gradients and a loss, saved in
/// TRAIN and EVAL (and a few GLOBAL) steps, with a vanishing gradient and a rising eval loss.
void write_synthetic_trial(const std::filesystem::path& dir);

}  // namespace compile_test
