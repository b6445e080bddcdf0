// tools/tdbg/main.cpp — the tdbg command-line tool.
// Exit codes: 0 ok, 2 usage error, 3 data error (missing trial, unreadable or corrupt file,
// unknown tensor). Errors are one line on stderr: "tdbg: error: <message>".
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "command.hpp"
#include "commands.hpp"
#include "compile_command.hpp"
#include "check_command.hpp"
#include "rules_command.hpp"
#include "watch_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tdbg — debug neural-network training: list and read smdebug-format trials"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(tdbg::cli::version));

  tdbg::cli::command_list commands;
  tdbg::cli::add_ls_command(app, commands);
  tdbg::cli::add_values_command(app, commands);
  tdbg::cli::add_compile_command(app, commands);
  tdbg::cli::add_check_command(app, commands);
  tdbg::cli::add_watch_command(app, commands);
  tdbg::cli::add_rules_command(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "tdbg: usage error: {}\nRun 'tdbg --help' for usage.\n", e.what());
    return tdbg::cli::exit_usage;
  }

  const auto* run = commands.chosen();
  if (!run) {
    fmt::print(stderr, "tdbg: usage error: no command given\nRun 'tdbg --help' for usage.\n");
    return tdbg::cli::exit_usage;
  }
  return tdbg::cli::run_guarded(*run);
}
