#pragma once

// The processes of one `varsync run` job: the seed and the ranks it starts
// (runtime/launch), and the main thread's handling of their exits and of
// the launcher's signals. How it works is described in
// runtime/cli/job_supervisor.cpp.

#include "runtime/cli/job_events.hpp"
#include "runtime/cli/run_options.hpp"
#include "runtime/launch/child_process.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace varsync::cli {

/// How long stopped processes have to exit before they are killed.
inline constexpr std::chrono::seconds stop_grace{10};

/// How long the seed may take to print its address.
inline constexpr std::chrono::seconds seed_patience{60};

/// `word` quoted for a POSIX shell when it needs to be.
std::string shell_quoted(const std::string& word);

/// The seed and the ranks of a job, and what the main thread knows of
/// them. Not thread-safe: one thread calls its members (the processes'
/// reader threads only print and push events). Destroying it kills
/// whatever still runs (child_process's destructor). Not copyable.
class job_supervisor {
public:
  /// A job as `options` say; events arrive on `events`, lines go to
  /// `printer`, which must outlive the supervisor.
  job_supervisor(const run_options& options,
                 std::shared_ptr<event_queue> events, line_printer& printer)
      : options_(options), events_(std::move(events)), printer_(printer) {
    // nop
  }

  job_supervisor(const job_supervisor&) = delete;
  job_supervisor& operator=(const job_supervisor&) = delete;

  /// Starts the seed (`varsync node`, this executable) and blocks until it
  /// printed its address (returned), exited, a stop signal came, or
  /// `seed_patience` passed; nullopt then, with the reason printed.
  std::optional<std::string> start_seed(const std::string& secret_file);

  /// Starts rank `rank` of the program (at `executable`) joining `seed`;
  /// false when it cannot start (the reason printed). Never blocks beyond
  /// the start.
  bool start_rank(int rank, const std::string& executable,
                  const std::string& seed, const std::string& secret_file);

  /// Starts rank `rank` on `host` through ssh (`ssh_program`): `ssh -o
  /// BatchMode=yes HOST 'cd CWD && VARIABLES PROGRAM ARGS'`. Its lines and
  /// exit come back through the ssh client like a local rank's; false when
  /// the client cannot start (the reason printed).
  bool start_remote_rank(int rank, const std::string& host,
                         const std::string& ssh_program,
                         const std::string& seed,
                         const std::string& secret_file);

  /// "VARSYNC_RANK=2 ... PROGRAM ARGS", quoted for a POSIX shell: what
  /// runs rank `rank` on another host.
  std::string remote_command(int rank, const std::string& seed,
                             const std::string& secret_file) const;

  /// The variables rank `rank` gets (runtime/job_environment.hpp).
  std::vector<std::pair<std::string, std::string>>
  environment(int rank, const std::string& seed,
              const std::string& secret_file) const;

  /// Handles events until every rank and the seed have exited; returns the
  /// job's exit status (see run_job). With `keep_seed` (ranks on other
  /// hosts need it) the seed runs on after the local ranks, until a
  /// signal. Blocks.
  int supervise(bool keep_seed);

  /// The job's status so far: the first failure's shell status, else 128 +
  /// a received stop signal, else 0.
  int exit_code() const;

private:
  struct rank_process {
    int rank = 0;
    std::optional<launch::child_process> process;
    bool running = true;
  };

  bool start_rank_process(
      int rank, const std::string& executable,
      const std::vector<std::string>& args, const std::string& argv0,
      std::vector<std::pair<std::string, std::string>> variables);

  static std::string signal_name(int signal);

  void mark_exited(int rank);

  void stop(int signal, std::chrono::steady_clock::time_point& deadline);

  void signal_all(int signal);

  const run_options& options_;
  std::shared_ptr<event_queue> events_;
  line_printer& printer_;
  // Declared after what their callbacks use, so they are destroyed (and
  // their reader threads joined) first.
  std::optional<launch::child_process> seed_;
  std::vector<rank_process> ranks_;
  bool seed_running_ = false;
  /// The seed was sent SIGTERM (or the launcher's signal) on purpose.
  bool seed_stopped_ = false;
  std::optional<launch::exit_status> failure_;
  int received_signal_ = 0;
};

} // namespace varsync::cli
