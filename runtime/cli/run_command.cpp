// `varsync run`: the job launcher.
//
// How it works. The launcher starts a seed (`varsync node`, this same
// binary) and waits for its "listening on HOST:PORT" line; then it starts
// the local ranks of PROGRAM, each with VARSYNC_RANK, VARSYNC_SIZE,
// VARSYNC_JOIN (the seed's address) and VARSYNC_SECRET_FILE
// (runtime/job_environment.hpp), and prints the command lines of the ranks
// --hosts puts on other machines (or, with --ssh, starts them through ssh
// as local processes whose lines and exit are the remote rank's). Every
// process is a launch::child_process
// (its own process group; it dies with the launcher). Its lines arrive on
// its reader thread and are printed whole, prefixed with the rank ("[2]
// ...") or "[seed]", one write per line under one mutex, so lines of
// different processes never interleave. Exits and signals arrive as events
// on one queue, which the main thread handles in order:
//   - a rank exits non-zero (or is killed), the first to: its status is the
//     job's; the other ranks and the seed get SIGTERM, and SIGKILL when
//     they have not exited `grace` later;
//   - every rank exited 0: the seed gets SIGTERM and leaves gracefully;
//   - SIGINT or SIGTERM to the launcher: forwarded to every rank and the
//     seed, which then have `grace` to exit; a second signal kills them;
//   - the seed exits while ranks run: the job failed.
// Nothing outlives the launcher: every child_process kills its group when
// it is destroyed, and PR_SET_PDEATHSIG kills them if the launcher dies.

#include "runtime/cli/run_command.hpp"

#include "runtime/cli/run_options.hpp"
#include "runtime/core/wording.hpp"
#include "runtime/job_environment.hpp"
#include "runtime/launch/child_process.hpp"
#include "runtime/node_secret.hpp"
#include "runtime/transport/cluster_secret.hpp"

#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <varsync/node_config.hpp>
#include <vector>

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using varsync::launch::child_process;
using varsync::launch::exit_status;
using varsync::launch::launch_options;

constexpr int usage_error = 2;
/// A shell's status for "command not found / cannot execute".
constexpr int cannot_execute = 127;

/// How long stopped processes have to exit before they are killed.
constexpr auto grace = 10s;

/// How long the seed may take to print its address.
constexpr auto seed_patience = 60s;

void print_run_usage() {
  std::cout
      << "usage: varsync run -np N [--hosts H1:S1,H2:S2...] "
         "[--secret-file FILE] [--port P]\n"
         "                   [--seed-host ADDRESS] -- PROGRAM ARGS...\n\n"
         "Starts a seed (a bare `varsync node`) and N worker processes of "
         "PROGRAM, each\nwith VARSYNC_RANK (0..N-1), VARSYNC_SIZE (N), "
         "VARSYNC_JOIN (the seed's HOST:PORT)\nand VARSYNC_SECRET_FILE; a "
         "program calls varsync::runtime::start_from_env() to\njoin. Each "
         "line a worker prints is prefixed with its rank ([2] ...), the "
         "seed's\nwith [seed]. SIGINT and SIGTERM are forwarded to the "
         "workers and the seed.\n\n"
         "  -np N              number of worker processes\n"
         "  --hosts H:S,...    ranks fill each host's S slots in order; "
         "ranks on this\n"
         "                     machine are started, for the others the "
         "command lines\n"
         "                     to run there are printed\n"
         "  --secret-file FILE the cluster secret (default: "
         "$VARSYNC_SECRET_FILE, else a\n"
         "                     fresh one, removed when the job ends)\n"
         "  --port P           the seed's port (default 0: a free one)\n"
         "  --seed-host ADDR   the address the seed listens on (default "
         "127.0.0.1)\n"
         "  --ssh              start the ranks on other hosts with ssh "
         "(BatchMode; the\n"
         "                     program and --secret-file at the same paths "
         "there;\n"
         "                     $VARSYNC_SSH replaces ssh)\n\n"
         "Exit status: 0 when every worker exited 0; else the first failing "
         "worker's\n(its exit code, or 128 + the signal that killed it); "
         "128 + the signal when\nstopped by SIGINT/SIGTERM; 2 on a usage "
         "error; 127 when PROGRAM cannot start.\n";
}

// -- output -------------------------------------------------------------------

/// Prints whole lines to stdout or stderr, one write() each, never two at
/// once: lines of different processes do not interleave. Thread-safe.
class line_printer {
public:
  /// Writes `prefix` `line` '\n' to `fd`. Blocks while another line is
  /// being written.
  void print(int fd, std::string_view prefix, std::string_view line) {
    std::string text;
    text.reserve(prefix.size() + line.size() + 1);
    text.append(prefix).append(line).push_back('\n');
    std::lock_guard guard{mutex_};
    std::string_view rest{text};
    while (!rest.empty()) {
      auto written = ::write(fd, rest.data(), rest.size());
      if (written < 0 && errno == EINTR)
        continue;
      if (written <= 0)
        return; // the terminal is gone: nothing else to do with the line
      rest.remove_prefix(static_cast<std::size_t>(written));
    }
  }

  /// A message of the launcher itself, on stderr.
  void say(std::string_view message) {
    print(STDERR_FILENO, "varsync run: ", message);
  }

private:
  std::mutex mutex_;
};

// -- events -------------------------------------------------------------------

/// What the main thread reacts to.
struct job_event {
  enum class kind {
    /// The seed printed its address.
    seed_listening,
    /// A rank (or, with rank == -1, the seed) exited.
    exited,
    /// The launcher received SIGINT or SIGTERM.
    signal,
  };
  kind what = kind::exited;
  /// The rank that exited; -1 for the seed.
  int rank = -1;
  exit_status status;
  /// The seed's HOST:PORT.
  std::string address;
  int signal = 0;
};

/// Events from reader threads and the signal thread to the main thread.
/// Thread-safe.
class event_queue {
public:
  /// Adds `event`; never blocks (beyond the lock).
  void push(job_event event) {
    std::lock_guard guard{mutex_};
    events_.push_back(std::move(event));
    changed_.notify_one();
  }

  /// Blocks until an event is there (and returns the oldest) or `deadline`
  /// passes (nullopt).
  std::optional<job_event> pop(steady::time_point deadline) {
    std::unique_lock lock{mutex_};
    if (!changed_.wait_until(lock, deadline, [&] { return !events_.empty(); }))
      return std::nullopt;
    auto event = std::move(events_.front());
    events_.pop_front();
    return event;
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<job_event> events_;
};

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread
/// it starts later) and turns them into events on a thread of their own,
/// which lives until the process exits.
void forward_stop_signals(std::shared_ptr<event_queue> events) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread{[stop_signals, events = std::move(events)] {
    for (;;) {
      int received = 0;
      if (sigwait(&stop_signals, &received) == 0)
        events->push({job_event::kind::signal, -1, {}, {}, received});
    }
  }}.detach();
}

// -- helpers
// --------------------------------------------------------------------

/// The path of this executable (the seed is `varsync node`).
std::string this_executable() {
  std::error_code ignored;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ignored);
  return ignored ? std::string{"/proc/self/exe"} : path.string();
}

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

/// `word` quoted for a POSIX shell when it needs to be.
std::string shell_quoted(const std::string& word) {
  bool plain = !word.empty();
  for (char c : word)
    plain = plain &&
            (std::isalnum(static_cast<unsigned char>(c)) ||
             std::string_view{"@%+=:,./_-"}.find(c) != std::string_view::npos);
  if (plain)
    return word;
  std::string result = "'";
  for (char c : word)
    result += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return result + "'";
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

// -- the job ------------------------------------------------------------------

/// The seed and the local ranks, and what the main thread knows of them.
/// Destroying it kills whatever still runs (child_process's destructor).
class job {
public:
  job(const varsync::cli::run_options& options,
      std::shared_ptr<event_queue> events, line_printer& printer)
      : options_(options), events_(std::move(events)), printer_(printer) {
    // nop
  }

  /// Starts the seed and blocks until it printed its address (returned),
  /// exited, or `seed_patience` passed; nullopt then, with the reason
  /// printed.
  std::optional<std::string> start_seed(const std::string& secret_file) {
    launch_options how;
    how.argv0 = "varsync";
    how.on_stdout_line = [this, found = false](std::string_view line) mutable {
      printer_.print(STDOUT_FILENO, "[seed] ", line);
      auto at = line.find("listening on ");
      if (found || at == std::string_view::npos)
        return;
      found = true;
      auto address = line.substr(at + 13);
      address = address.substr(0, address.find(' '));
      events_->push(
          {job_event::kind::seed_listening, -1, {}, std::string{address}, 0});
    };
    how.on_stderr_line = [this](std::string_view line) {
      printer_.print(STDERR_FILENO, "[seed] ", line);
    };
    how.on_exit = [this](const exit_status& status) {
      events_->push({job_event::kind::exited, -1, status, {}, 0});
    };
    auto started =
        child_process::start(this_executable(),
                             {"node", "--host", options_.seed_host, "--port",
                              std::to_string(options_.port), "--name", "seed",
                              "--secret-file", secret_file},
                             std::move(how));
    if (!started) {
      printer_.say("cannot start the seed: " + started.error().to_string());
      return std::nullopt;
    }
    seed_ = std::move(*started);
    seed_running_ = true;
    auto deadline = steady::now() + seed_patience;
    for (;;) {
      auto event = events_->pop(deadline);
      if (!event) {
        printer_.say("the seed did not print its address within 60s");
        return std::nullopt;
      }
      switch (event->what) {
      case job_event::kind::seed_listening:
        return event->address;
      case job_event::kind::exited:
        seed_running_ = false;
        printer_.say("the seed " + to_string(event->status) +
                     " before it listened");
        return std::nullopt;
      case job_event::kind::signal:
        received_signal_ = event->signal;
        printer_.say(signal_name(event->signal) + " while the seed started");
        return std::nullopt;
      }
    }
  }

  /// Starts rank `rank` of PROGRAM (at `executable`) joining `seed`; false
  /// when it cannot start (the reason printed).
  bool start_rank(int rank, const std::string& executable,
                  const std::string& seed, const std::string& secret_file) {
    return start_rank_process(rank, executable, options_.program_args,
                              options_.program,
                              environment(rank, seed, secret_file));
  }

  /// Starts rank `rank` on `host` through ssh (`ssh_program`): `ssh -o
  /// BatchMode=yes HOST 'cd CWD && VARIABLES PROGRAM ARGS'`. Its lines and
  /// exit come back through the ssh client like a local rank's; false when
  /// the client cannot start (the reason printed).
  bool start_remote_rank(int rank, const std::string& host,
                         const std::string& ssh_program,
                         const std::string& seed,
                         const std::string& secret_file) {
    std::error_code ignored;
    auto command = "cd " +
                   shell_quoted(std::filesystem::current_path(ignored)) +
                   " && " + remote_command(rank, seed, secret_file);
    return start_rank_process(
        rank, ssh_program, {"-o", "BatchMode=yes", host, command}, "ssh", {});
  }

  /// "VARSYNC_RANK=2 ... PROGRAM ARGS", quoted for a POSIX shell.
  std::string remote_command(int rank, const std::string& seed,
                             const std::string& secret_file) const {
    std::string command;
    for (const auto& [name, value] : environment(rank, seed, secret_file))
      command += name + "=" + shell_quoted(value) + " ";
    command += shell_quoted(options_.program);
    for (const auto& arg : options_.program_args)
      command += " " + shell_quoted(arg);
    return command;
  }

  /// Starts `executable` `args` as rank `rank`: its lines are printed with
  /// the rank, its exit becomes an event.
  bool start_rank_process(
      int rank, const std::string& executable,
      const std::vector<std::string>& args, const std::string& argv0,
      std::vector<std::pair<std::string, std::string>> variables) {
    launch_options how;
    how.argv0 = argv0;
    how.environment = std::move(variables);
    auto prefix = "[" + std::to_string(rank) + "] ";
    how.on_stdout_line = [this, prefix](std::string_view line) {
      printer_.print(STDOUT_FILENO, prefix, line);
    };
    how.on_stderr_line = [this, prefix](std::string_view line) {
      printer_.print(STDERR_FILENO, prefix, line);
    };
    how.on_exit = [this, rank](const exit_status& status) {
      events_->push({job_event::kind::exited, rank, status, {}, 0});
    };
    auto started = child_process::start(executable, args, std::move(how));
    if (!started) {
      printer_.say("rank " + std::to_string(rank) + ": " +
                   started.error().message());
      return false;
    }
    ranks_.push_back({rank, std::move(*started), true});
    return true;
  }

  /// The variables rank `rank` gets.
  std::vector<std::pair<std::string, std::string>>
  environment(int rank, const std::string& seed,
              const std::string& secret_file) const {
    using namespace varsync::detail;
    return {{rank_variable, std::to_string(rank)},
            {size_variable, std::to_string(options_.processes)},
            {join_variable, seed},
            {secret_file_variable, secret_file}};
  }

  /// Handles events until every rank and the seed have exited; returns the
  /// job's exit status (see run_job). With `keep_seed` (ranks on other
  /// hosts need it) the seed runs on after the local ranks, until a signal.
  int supervise(bool keep_seed) {
    auto running = ranks_.size();
    auto deadline = steady::time_point::max();
    if (keep_seed)
      printer_.say("the seed serves the ranks on other hosts until SIGINT or "
                   "SIGTERM");
    for (;;) {
      if (running == 0 && seed_running_ && !seed_stopped_ && !keep_seed) {
        // Every rank is done: the seed leaves gracefully.
        seed_->signal(SIGTERM);
        seed_stopped_ = true;
        deadline = std::min(deadline, steady::now() + grace);
      }
      if (running == 0 && !seed_running_)
        break;
      auto event = events_->pop(deadline);
      if (!event) {
        printer_.say("processes still running " +
                     std::to_string(std::chrono::seconds{grace}.count()) +
                     "s after SIGTERM; killing them");
        signal_all(SIGKILL);
        deadline = steady::time_point::max();
        continue;
      }
      switch (event->what) {
      case job_event::kind::seed_listening:
        break;
      case job_event::kind::exited:
        if (event->rank < 0) {
          seed_running_ = false;
          if (!seed_stopped_) {
            printer_.say("the seed " + to_string(event->status) +
                         " while ranks ran; stopping them");
            if (!failure_)
              failure_ = event->status.succeeded() ? exit_status::exited_with(1)
                                                   : event->status;
            stop(SIGTERM, deadline);
          }
          break;
        }
        --running;
        mark_exited(event->rank);
        if (!event->status.succeeded() && !failure_ && !received_signal_) {
          failure_ = event->status;
          printer_.say("rank " + std::to_string(event->rank) + " " +
                       to_string(event->status) +
                       (running > 0 ? "; stopping the other ranks" : ""));
          stop(SIGTERM, deadline);
        }
        break;
      case job_event::kind::signal:
        if (received_signal_ == 0) {
          received_signal_ = event->signal;
          printer_.say(signal_name(event->signal) +
                       ": forwarding it to the ranks and the seed");
          stop(event->signal, deadline);
        } else {
          printer_.say(signal_name(event->signal) + " again: killing them");
          signal_all(SIGKILL);
        }
        break;
      }
    }
    return exit_code();
  }

  /// The job's status so far (see run_job).
  int exit_code() const {
    if (failure_)
      return failure_->shell_code();
    if (received_signal_ != 0)
      return 128 + received_signal_;
    return 0;
  }

private:
  struct rank_process {
    int rank = 0;
    std::optional<child_process> process;
    bool running = true;
  };

  static std::string signal_name(int signal) {
    return signal == SIGINT    ? "SIGINT"
           : signal == SIGTERM ? "SIGTERM"
                               : "a signal";
  }

  void mark_exited(int rank) {
    for (auto& entry : ranks_)
      if (entry.rank == rank)
        entry.running = false;
  }

  /// Sends `signal` to every running rank and the seed, which then have
  /// until `deadline` (at most `grace` from now) to exit.
  void stop(int signal, steady::time_point& deadline) {
    signal_all(signal);
    seed_stopped_ = true;
    deadline = std::min(deadline, steady::now() + grace);
  }

  void signal_all(int signal) {
    for (auto& entry : ranks_)
      if (entry.running)
        entry.process->signal(signal);
    if (seed_running_)
      seed_->signal(signal);
  }

  const varsync::cli::run_options& options_;
  std::shared_ptr<event_queue> events_;
  line_printer& printer_;
  // Declared after what their callbacks use, so they are destroyed (and
  // their reader threads joined) first.
  std::optional<child_process> seed_;
  std::vector<rank_process> ranks_;
  bool seed_running_ = false;
  /// The seed was sent SIGTERM (or the launcher's signal) on purpose.
  bool seed_stopped_ = false;
  std::optional<exit_status> failure_;
  int received_signal_ = 0;
};

/// Prints how to start the ranks --hosts puts on other machines.
void print_remote_ranks(const varsync::cli::run_options& options,
                        const std::vector<std::pair<int, std::string>>& remote,
                        const job& local, const std::string& seed,
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

} // namespace

int run_job(const std::vector<std::string>& args) {
  auto parsed = varsync::cli::parse_run_options(args);
  if (!parsed) {
    std::cerr << "varsync run: " << parsed.error().message()
              << "\n(see varsync run --help)\n";
    return usage_error;
  }
  const auto& options = *parsed;
  if (options.help) {
    print_run_usage();
    return 0;
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

  auto events = std::make_shared<event_queue>();
  forward_stop_signals(events);
  job running{options, events, printer};
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
