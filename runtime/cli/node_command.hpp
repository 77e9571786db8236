#pragma once

// `varsync node [node flags]`: a bare node until SIGINT or SIGTERM.

#include "runtime/cli/program_flags.hpp"

#include <CLI/CLI.hpp>

/// Adds the subcommand `node` (every node flag and `--config FILE`, from
/// runtime/node_flags.hpp) to `varsync`. Its `run` starts the node once the
/// command line parsed and blocks until SIGINT or SIGTERM stopped it;
/// returns the exit status (0 after a clean stop, 1 when the node cannot
/// start, 2 for a bad combination of flags, 128 + the signal when one came
/// while it was starting).
varsync::cli::command add_node_command(CLI::App& varsync);
