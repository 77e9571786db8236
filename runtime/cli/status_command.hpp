#pragma once

// `varsync status HOST:PORT [--timeout DURATION] [--json] [--watch]
// [--secret-file FILE] [--tls-cert FILE --tls-key FILE --tls-ca FILE]`:
// a cluster's nodes, replica groups and variables.

#include "runtime/cli/program_flags.hpp"

#include <CLI/CLI.hpp>

/// Adds the subcommand `status` to `varsync`. Its `run` asks the node
/// once the command line parsed and prints what it reports; returns the
/// exit status (0, or 1 when the node could not be asked). With --watch it
/// asks every second and never returns (SIGINT ends the process).
varsync::cli::command add_status_command(CLI::App& varsync);
