// tools/tdbg/main.cpp — the tdbg command-line tool.
// Exit codes: 0 ok, 2 usage error, 3 data error (missing trial, unreadable or corrupt file,
// unknown tensor). Errors are one line on stderr: "tdbg: error: <message>".
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tdbg — debug neural-network training: list and read smdebug-format trials"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(tdbg::cli::version));

  tdbg::cli::ls_args ls;
  auto* ls_cmd = app.add_subcommand("ls", "List a trial: workers, steps per mode, tensors, collections");
  ls_cmd->add_option("TRIAL", ls.trial, "Trial directory")->required();
  ls_cmd->add_flag("--json", ls.json, "Print the tdbg.ls/1 JSON document");

  tdbg::cli::values_args values;
  auto* values_cmd = app.add_subcommand("values", "Print the saved values of one tensor");
  values_cmd->add_option("TRIAL", values.trial, "Trial directory")->required();
  values_cmd->add_option("TENSOR", values.tensor, "Tensor name")->required();
  values_cmd->add_option("--mode", values.mode, "Only this mode (TRAIN, EVAL, PREDICT, GLOBAL)");
  values_cmd->add_option("--worker", values.worker, "Only this worker");
  values_cmd->add_option("--step", values.step,
                         "Only this step: a mode step with --mode, else a global step");
  values_cmd->add_flag("--json", values.json, "Print the tdbg.values/1 JSON document");
  values_cmd->add_flag("--no-data", values.no_data, "Leave the element values out");

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

  return tdbg::cli::run_guarded([&] {
    if (*ls_cmd) return tdbg::cli::run_ls(ls, std::cout);
    return tdbg::cli::run_values(values, std::cout);
  });
}
