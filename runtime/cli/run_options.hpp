#pragma once

// The command line of `varsync run` (runtime/cli/run_command.hpp), parsed
// and checked apart from what the launcher does with it.

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <varsync/error.hpp>
#include <vector>

namespace varsync::cli {

/// One entry of --hosts: a host and how many ranks it runs.
struct host_slots {
  std::string host;
  std::size_t slots = 1;
};

/// What `varsync run` was asked to do. Every field has a default.
struct run_options {
  /// -np: the number of worker processes (ranks); 0 when not given.
  std::size_t processes = 0;
  /// --hosts h1:2,h2:2: where the ranks run, filled in order; empty: all
  /// on this machine.
  std::vector<host_slots> hosts;
  /// --secret-file: the cluster secret; empty: a fresh one for the job.
  std::string secret_file;
  /// --port: the seed's port; 0 picks a free one.
  std::uint16_t port = 0;
  /// --seed-host: the address the seed listens on, which the ranks join.
  std::string seed_host = "127.0.0.1";
  /// --ssh: start the ranks on other hosts through ssh instead of printing
  /// their command lines.
  bool ssh = false;
  /// The worker program (a path, or a name looked up in PATH) and its
  /// arguments: everything after `--`.
  std::string program;
  std::vector<std::string> program_args;
};

/// Adds the flags of `varsync run` to its subcommand `run`, parsed into
/// `options` (which must outlive every parse of `run`): `--np N` (also
/// `-np N`, see `mpirun_style_words`), `-H, --hosts H:S,...`,
/// `--secret-file F`, `--port P`, `--seed-host H`, `--ssh`, and
/// `PROGRAM ARGS...` as a positional. A malformed value throws
/// `CLI::ValidationError` naming the flag and the value. Not thread-safe.
void add_run_options(CLI::App& run, run_options& options);

/// `words` (a command line) with mpirun's `-np` spelled `--np` up to the
/// first `--`: CLI11 takes `-np` for `-n p`, and takes no name of two
/// letters after one dash.
std::vector<std::string> mpirun_style_words(std::vector<std::string> words);

/// Checks `options` once `run` parsed the command line `words` (as
/// parsed, after `mpirun_style_words`): -np given, the program exactly
/// the words after the first `--` (CLI11 gives a word before `--` to the
/// same positional), and --hosts with at least -np slots. An error is
/// `invalid_argument` saying what was wrong.
expected<void> check_run_options(const run_options& options,
                                 const std::vector<std::string>& words);

/// Whether `host` names this machine: loopback names and addresses, or
/// this machine's host name (with or without its domain).
bool is_this_machine(const std::string& host);

} // namespace varsync::cli
