// The processes of a `varsync run` job.
//
// How it works. The launcher starts a seed (`varsync node`, this same
// binary) and waits for its "listening on HOST:PORT" line; then it starts
// the local ranks of PROGRAM, each with VARSYNC_RANK, VARSYNC_SIZE,
// VARSYNC_JOIN (the seed's address) and VARSYNC_SECRET_FILE
// (runtime/job_environment.hpp), and prints the command lines of the ranks
// --hosts puts on other machines (or, with --ssh, starts them through ssh
// as local processes whose lines and exit are the remote rank's). Every
// process is a launch::child_process (its own process group; it dies with
// the launcher). Its lines arrive on
// its reader thread and are printed whole, prefixed with the rank ("[2]
// ...") or "[seed]", one write per line under one mutex, so lines of
// different processes never interleave. Exits and signals arrive as events
// on one queue, which the main thread handles in order:
//   - a rank exits non-zero (or is killed), the first to: its status is the
//     job's; the other ranks and the seed get SIGTERM, and SIGKILL when
//     they have not exited `stop_grace` later;
//   - every rank exited 0: the seed gets SIGTERM and leaves gracefully;
//   - SIGINT or SIGTERM to the launcher: forwarded to every rank and the
//     seed, which then have `stop_grace` to exit; a second signal kills them;
//   - the seed exits while ranks run: the job failed.
// Nothing outlives the launcher: every child_process kills its group when
// it is destroyed, and PR_SET_PDEATHSIG kills them if the launcher dies.

#include "runtime/cli/job_supervisor.hpp"

#include "runtime/job_environment.hpp"
#include "runtime/node_secret.hpp"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <string_view>
#include <unistd.h>

namespace varsync::cli {

namespace {

using steady = std::chrono::steady_clock;
using launch::child_process;
using launch::exit_status;
using launch::launch_options;

/// The path of this executable (the seed is `varsync node`).
std::string this_executable() {
  std::error_code ignored;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ignored);
  return ignored ? std::string{"/proc/self/exe"} : path.string();
}

} // namespace

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

std::optional<std::string>
job_supervisor::start_seed(const std::string& secret_file) {
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

bool job_supervisor::start_rank(int rank, const std::string& executable,
                                const std::string& seed,
                                const std::string& secret_file) {
  return start_rank_process(rank, executable, options_.program_args,
                            options_.program,
                            environment(rank, seed, secret_file));
}

bool job_supervisor::start_remote_rank(int rank, const std::string& host,
                                       const std::string& ssh_program,
                                       const std::string& seed,
                                       const std::string& secret_file) {
  std::error_code ignored;
  auto command = "cd " + shell_quoted(std::filesystem::current_path(ignored)) +
                 " && " + remote_command(rank, seed, secret_file);
  return start_rank_process(rank, ssh_program,
                            {"-o", "BatchMode=yes", host, command}, "ssh", {});
}

std::string
job_supervisor::remote_command(int rank, const std::string& seed,
                               const std::string& secret_file) const {
  std::string command;
  for (const auto& [name, value] : environment(rank, seed, secret_file))
    command += name + "=" + shell_quoted(value) + " ";
  command += shell_quoted(options_.program);
  for (const auto& arg : options_.program_args)
    command += " " + shell_quoted(arg);
  return command;
}

bool job_supervisor::start_rank_process(
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

std::vector<std::pair<std::string, std::string>>
job_supervisor::environment(int rank, const std::string& seed,
                            const std::string& secret_file) const {
  using namespace varsync::detail;
  return {{rank_variable, std::to_string(rank)},
          {size_variable, std::to_string(options_.processes)},
          {join_variable, seed},
          {secret_file_variable, secret_file}};
}

int job_supervisor::supervise(bool keep_seed) {
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
      deadline = std::min(deadline, steady::now() + stop_grace);
    }
    if (running == 0 && !seed_running_)
      break;
    auto event = events_->pop(deadline);
    if (!event) {
      printer_.say("processes still running " +
                   std::to_string(stop_grace.count()) +
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

int job_supervisor::exit_code() const {
  if (failure_)
    return failure_->shell_code();
  if (received_signal_ != 0)
    return 128 + received_signal_;
  return 0;
}

std::string job_supervisor::signal_name(int signal) {
  return signal == SIGINT    ? "SIGINT"
         : signal == SIGTERM ? "SIGTERM"
                             : "a signal";
}

void job_supervisor::mark_exited(int rank) {
  for (auto& entry : ranks_)
    if (entry.rank == rank)
      entry.running = false;
}

void job_supervisor::stop(int signal, steady::time_point& deadline) {
  signal_all(signal);
  seed_stopped_ = true;
  deadline = std::min(deadline, steady::now() + stop_grace);
}

void job_supervisor::signal_all(int signal) {
  for (auto& entry : ranks_)
    if (entry.running)
      entry.process->signal(signal);
  if (seed_running_)
    seed_->signal(signal);
}
} // namespace varsync::cli
