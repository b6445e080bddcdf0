// tools/tdbg/command.hpp — how a subcommand plugs into the tdbg CLI: each command header
// defines `add_<name>_command(CLI::App&, command_list&)`, which declares its options on a new
// subcommand and registers what runs when that subcommand is chosen. main.cpp only lists them.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <utility>
#include <vector>

namespace tdbg::cli {

/// The registered subcommands: the CLI11 subcommand and its action (returns the exit code).
class command_list {
 public:
  void add(CLI::App* sub, std::function<int()> run) { cmds_.emplace_back(sub, std::move(run)); }

  /// The action of the subcommand that was parsed, or nullptr.
  [[nodiscard]] const std::function<int()>* chosen() const {
    for (const auto& [sub, run] : cmds_)
      if (sub->parsed()) return &run;
    return nullptr;
  }

 private:
  std::vector<std::pair<CLI::App*, std::function<int()>>> cmds_;
};

}  // namespace tdbg::cli
