#pragma once

// `varsync checkpoint inspect DIR`: what whole-job checkpoints hold
// (runtime/job_checkpoint.hpp).

#include "runtime/cli/program_flags.hpp"

#include <CLI/CLI.hpp>

/// Adds the subcommand `checkpoint` (with its own `inspect DIR`) to
/// `varsync`. Its `run` lists the checkpoints once the command line
/// parsed; returns the exit status (0, or 1 when the newest checkpoint is
/// damaged or none is found). Blocking.
varsync::cli::command add_checkpoint_command(CLI::App& varsync);
