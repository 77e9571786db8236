#pragma once

// `varsync certs init DIR | issue DIR NAME`: a cluster CA and node
// certificates for mutual TLS (runtime/transport/tls_certificates.hpp).

#include "runtime/cli/program_flags.hpp"

#include <CLI/CLI.hpp>

/// Adds the subcommand `certs` (with its own `init DIR` and `issue DIR
/// NAME`) to `varsync`. Its `run` makes the files once the command line
/// parsed; returns the exit status (0, or 1 on a failure, named on
/// stderr). Blocking.
varsync::cli::command add_certs_command(CLI::App& varsync);
