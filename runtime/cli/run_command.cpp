// `varsync run`: the command line, the secret and where each rank runs;
// runtime/cli/job_supervisor.cpp starts the processes and supervises them.

#include "runtime/cli/run_command.hpp"

#include "runtime/cli/job_supervisor.hpp"
#include "runtime/cli/run_options.hpp"
#include "runtime/core/wording.hpp"
#include "runtime/node_secret.hpp"
#include "runtime/transport/cluster_secret.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <varsync/node_config.hpp>
#include <vector>

namespace {

using varsync::cli::job_supervisor;
using varsync::cli::line_printer;

constexpr int usage_error = 2;
/// A shell's status for "command not found / cannot execute".
constexpr int cannot_execute = 127;

// -- helpers
// --------------------------------------------------------------------

/// Whether `path` is a regular file this process may execute.
bool is_executable_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

/// `program` as a shell finds it: a name with '/' as it is, otherwise the
/// first executable regular file of that name in $PATH; nullopt when there
/// is none (checked here so that nothing starts for a typo).
std::optional<std::string> find_program(const std::string& program) {
  if (program.find('/') != std::string::npos)
    return is_executable_file(program) ? std::optional{program} : std::nullopt;
  const char* path = std::getenv("PATH");
  std::string_view directories = path != nullptr ? path : "/usr/bin:/bin";
  for (;;) {
    auto end = directories.find(':');
    auto directory = directories.substr(0, end);
    auto candidate =
        (directory.empty() ? std::string{"."} : std::string{directory}) + "/" +
        program;
    if (is_executable_file(candidate))
      return candidate;
    if (end == std::string_view::npos)
      return std::nullopt;
    directories.remove_prefix(end + 1);
  }
}

/// Removes a directory tree when destroyed (the generated secret's).
struct directory_remover {
  std::filesystem::path directory;

  ~directory_remover() {
    if (directory.empty())
      return;
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
};

/// Prints how to start the ranks --hosts puts on other machines.
void print_remote_ranks(const varsync::cli::run_options& options,
                        const std::vector<std::pair<int, std::string>>& remote,
                        const job_supervisor& local, const std::string& seed,
                        const std::string& secret_file, line_printer& printer) {
  printer.say(std::to_string(remote.size()) +
              " rank(s) run on other hosts: start them there (with " +
              secret_file + " copied to the same path, mode 0600):");
  if (varsync::is_loopback(options.seed_host))
    printer.say("note: the seed listens on " + options.seed_host +
                ", which other hosts cannot reach; pass --seed-host with an "
                "address they can");
  for (const auto& [rank, host] : remote)
    printer.print(STDOUT_FILENO, "",
                  "  on " + host + ": " +
                      local.remote_command(rank, seed, secret_file));
}

/// Starts and supervises the job `options` describes (see add_run_command).
int run_job(const varsync::cli::run_options& options,
            const std::vector<std::string>& words) {
  if (auto valid = varsync::cli::check_run_options(options, words); !valid) {
    std::cerr << "varsync run: " << valid.error().message()
              << "\n(see varsync run --help)\n";
    return usage_error;
  }
  line_printer printer;
  auto executable = find_program(options.program);
  if (!executable) {
    printer.say("'" + varsync::wording::excerpt(options.program) + "': " +
                (options.program.find('/') != std::string::npos
                     ? "no such file, or not an executable file"
                     : "no such program in PATH"));
    return cannot_execute;
  }

  // The secret: the one named, else the environment's, else a fresh one
  // in a private directory removed when the job ends.
  directory_remover generated;
  std::string secret_file = options.secret_file;
  if (secret_file.empty())
    if (const char* inherited =
            std::getenv(varsync::detail::secret_file_variable))
      secret_file = inherited;
  if (secret_file.empty()) {
    auto fresh = varsync::auth::generate_secret_file();
    if (!fresh) {
      printer.say(fresh.error().to_string());
      return 1;
    }
    secret_file = *fresh;
    generated.directory = std::filesystem::path{secret_file}.parent_path();
  } else if (auto loaded = varsync::auth::load_secret(secret_file); !loaded) {
    printer.say(loaded.error().message());
    return usage_error;
  }
  secret_file = std::filesystem::absolute(secret_file).string();

  // Which ranks run here: --hosts fills each host's slots in order.
  std::vector<int> local_ranks;
  std::vector<std::pair<int, std::string>> remote_ranks;
  if (options.hosts.empty()) {
    for (std::size_t rank = 0; rank < options.processes; ++rank)
      local_ranks.push_back(static_cast<int>(rank));
  } else {
    std::size_t rank = 0;
    for (const auto& host : options.hosts)
      for (std::size_t slot = 0; slot < host.slots && rank < options.processes;
           ++slot, ++rank)
        if (varsync::cli::is_this_machine(host.host))
          local_ranks.push_back(static_cast<int>(rank));
        else
          remote_ranks.emplace_back(static_cast<int>(rank), host.host);
  }

  if (options.ssh && !remote_ranks.empty() && !generated.directory.empty()) {
    printer.say("--ssh: ranks on other hosts need --secret-file naming a "
                "secret at the same path on every host");
    return usage_error;
  }

  auto events = std::make_shared<varsync::cli::event_queue>();
  varsync::cli::forward_stop_signals(events);
  job_supervisor running{options, events, printer};
  auto seed = running.start_seed(secret_file);
  if (!seed)
    return running.exit_code() != 0 ? running.exit_code() : 1;
  for (auto rank : local_ranks)
    if (!running.start_rank(rank, *executable, *seed, secret_file))
      return cannot_execute;
  if (remote_ranks.empty())
    return running.supervise(false);
  if (!options.ssh) {
    print_remote_ranks(options, remote_ranks, running, *seed, secret_file,
                       printer);
    return running.supervise(true);
  }
  // $VARSYNC_SSH replaces ssh, as GIT_SSH does for git (the tests use a
  // stand-in that runs the command here).
  const char* ssh = std::getenv("VARSYNC_SSH");
  auto ssh_program = find_program(ssh != nullptr && *ssh != '\0' ? ssh : "ssh");
  if (!ssh_program) {
    printer.say("--ssh: no ssh program in PATH");
    return cannot_execute;
  }
  for (const auto& [rank, host] : remote_ranks)
    if (!running.start_remote_rank(rank, host, *ssh_program, *seed,
                                   secret_file))
      return cannot_execute;
  return running.supervise(false);
}

} // namespace

varsync::cli::command add_run_command(CLI::App& varsync,
                                      const std::vector<std::string>& words) {
  auto* run = varsync.add_subcommand(
      "run", "start a seed and N worker processes of a program (a job)");
  run->footer(
      "Starts a seed (a bare `varsync node`) and N worker processes of "
      "PROGRAM, each\nwith VARSYNC_RANK (0..N-1), VARSYNC_SIZE (N), "
      "VARSYNC_JOIN (the seed's HOST:PORT)\nand VARSYNC_SECRET_FILE; a "
      "program calls varsync::runtime::start_from_env() to\njoin. Each "
      "line a worker prints is prefixed with its rank ([2] ...), the "
      "seed's\nwith [seed]. SIGINT and SIGTERM are forwarded to the "
      "workers and the seed.\n\n"
      "Exit status: 0 when every worker exited 0; else the first failing "
      "worker's\n(its exit code, or 128 + the signal that killed it); "
      "128 + the signal when\nstopped by SIGINT/SIGTERM; 2 on a usage "
      "error; 127 when PROGRAM cannot start.");
  // Filled while the command line parses, read when the job starts.
  auto options = std::make_shared<varsync::cli::run_options>();
  varsync::cli::add_run_options(*run, *options);
  return {run, [options, &words] { return run_job(*options, words); }};
}
