// The `varsync` command-line tool.
//
//   varsync node [--port P] [--join HOST:PORT] [--name N] [--config FILE] ...
//       runs a bare node until SIGINT or SIGTERM, then shuts down cleanly
//   varsync run -np N [--hosts H:S,...] -- PROGRAM ARGS...
//       starts a seed and N workers of PROGRAM (a job)
//   varsync status HOST:PORT [--timeout 5s] [--json] [--watch]
//       prints the cluster's nodes, replica groups and variables as the node
//       at HOST:PORT (any node of the cluster) reports them; --json as one
//       line of JSON (schema runtime/cli/status.schema.json); --watch again
//       every second until interrupted
//   varsync certs init DIR | varsync certs issue DIR NAME
//       makes a cluster CA and node certificates for TLS
//   varsync checkpoint inspect DIR
//       lists the whole-job checkpoints under DIR and what they hold
//   varsync --help | varsync <command> --help | varsync --version
//
// Each command is a CLI11 subcommand (runtime/cli/*_command.cpp) that
// fills its options while the command line parses and runs afterwards.
// Exit status: 0 on success, 1 on a runtime error, 2 on a usage error.

#include "runtime/cli/certs_command.hpp"
#include "runtime/cli/checkpoint_command.hpp"
#include "runtime/cli/node_command.hpp"
#include "runtime/cli/program_flags.hpp"
#include "runtime/cli/run_command.hpp"
#include "runtime/cli/run_options.hpp"
#include "runtime/cli/status_command.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  // `varsync run` takes mpirun's `-np N` (see mpirun_style_words).
  const auto words = varsync::cli::mpirun_style_words(
      std::vector<std::string>(argv, argv + argc));
  std::vector<const char*> parsed_argv;
  for (const auto& word : words)
    parsed_argv.push_back(word.c_str());

  CLI::App app{"varsync: distributed variables; run a node, a job, or look "
               "at a cluster",
               "varsync"};
  varsync::cli::add_version_flag(app);
  app.require_subcommand(0, 1);
  app.footer("`varsync <command> --help` describes a command's options.");
  const varsync::cli::command commands[] = {
      add_node_command(app), add_run_command(app, words),
      add_status_command(app), add_certs_command(app),
      add_checkpoint_command(app)};
  if (auto done = varsync::cli::parse_flags(
          app, static_cast<int>(parsed_argv.size()), parsed_argv.data()))
    return *done;
  for (const auto& command : commands)
    if (command.app->parsed())
      return command.run();
  // No command: what there is to do.
  std::cerr << app.help();
  return 2;
}
