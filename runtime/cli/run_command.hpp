#pragma once

// `varsync run -np N [--hosts h1:2,h2:2] [--secret-file F] [--port P]
// -- PROGRAM ARGS...`: starts a seed and N workers of PROGRAM that find
// each other through the environment (`runtime::start_from_env`).

#include "runtime/cli/program_flags.hpp"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

/// Adds the subcommand `run` to `varsync`, which parses the command line
/// `words` (kept by reference: it must outlive the returned command). Its
/// `run` starts the job once the command line parsed and returns the exit
/// status: 0 when every worker exited 0, the first failing worker's status
/// otherwise (its exit code, or 128 + the signal that killed it), 128 +
/// the signal when the launcher was stopped by SIGINT or SIGTERM, 2 on a
/// usage error, 127 when the program cannot be started. Blocks until the
/// job ends.
varsync::cli::command add_run_command(CLI::App& varsync,
                                      const std::vector<std::string>& words);
