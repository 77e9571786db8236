#include "runtime/launch/child_process.hpp"

#include "runtime/launch/unique_fd.hpp"

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/close_range.h>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace varsync::launch {

namespace {

using clock_type = std::chrono::steady_clock;

/// Both ends of a close-on-exec pipe.
struct pipe_fds {
  unique_fd read_end;
  unique_fd write_end;
};

/// A close-on-exec pipe, or nullopt with errno set.
std::optional<pipe_fds> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return std::nullopt;
  return pipe_fds{unique_fd{fds[0]}, unique_fd{fds[1]}};
}

error start_error(const std::string& executable, std::string_view what,
                  int error_number) {
  return error{errc::invalid_argument, "cannot start '" + executable +
                                           "': " + std::string{what} + ": " +
                                           std::strerror(error_number)};
}

/// Runs in the forked child: only async-signal-safe calls from here on, and
/// no allocation (the arrays were built before fork). A negative
/// `stdout_fd` or `stderr_fd` keeps the starter's descriptor.
[[noreturn]] void exec_child(const char* executable, char* const* argv,
                             char* const* envp, pid_t parent, int stdin_fd,
                             int stdout_fd, int stderr_fd, int status_fd) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl took effect.
  if (::getppid() != parent)
    ::_exit(127);
  // Ignored signals and the signal mask survive execve; give the program
  // the defaults it expects (e.g. SIGPIPE kills it).
  sigset_t empty_set;
  ::sigemptyset(&empty_set);
  ::sigprocmask(SIG_SETMASK, &empty_set, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    ::sigaction(sig, &default_action, nullptr); // fails harmlessly for some
  if (::dup2(stdin_fd, STDIN_FILENO) < 0 ||
      (stdout_fd >= 0 && ::dup2(stdout_fd, STDOUT_FILENO) < 0) ||
      (stderr_fd >= 0 && ::dup2(stderr_fd, STDERR_FILENO) < 0)) {
    int error_number = errno;
    [[maybe_unused]] auto ignored =
        ::write(status_fd, &error_number, sizeof error_number);
    ::_exit(127);
  }
  // Descriptors the starter opened without O_CLOEXEC (sockets of other
  // tests, of its runtime ...) must not leak into the child and keep them
  // open.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(executable, argv, envp);
  int error_number = errno;
  [[maybe_unused]] auto ignored =
      ::write(status_fd, &error_number, sizeof error_number);
  ::_exit(127);
}

} // namespace

// -- child_process::state -----------------------------------------------------

// Shared by the child_process and its reader thread. All reads of the pipes
// happen under `mutex` (the pipes are non-blocking), so the thread that
// reaps the child can drain them and output stays in order.
struct child_process::state {
  pid_t pid = -1;
  /// The write end of the child's stdin pipe (-1 unless `stream::pipe`);
  /// guarded by `stdin_mutex`, not `mutex`: a write may block.
  unique_fd stdin_fd;
  std::mutex stdin_mutex;
  unique_fd stdout_fd;
  unique_fd stderr_fd;
  /// A pidfd, readable once the child exited; -1 where pidfd_open is
  /// missing (then the reader thread checks every 10 ms).
  unique_fd exit_fd;
  /// Writing a byte to `stop_pipe.write_end` ends the reader thread.
  pipe_fds stop_pipe;

  std::mutex mutex;
  /// Notified on new output, end of a stream and the child's exit.
  std::condition_variable changed;
  std::string output;
  std::string errors;
  bool output_ended = false;
  bool errors_ended = false;
  /// Offset in `output` of the first line wait_for_line has not offered.
  std::size_t next_line = 0;
  /// Set once the child has been reaped.
  std::optional<exit_status> status;
  /// Set once the reader thread called (or skipped) `on_exit`.
  bool exit_reported = false;

  /// The callbacks of launch_options; set before the reader starts.
  std::function<void(std::string_view)> on_stdout_line;
  std::function<void(std::string_view)> on_stderr_line;
  std::function<void(const exit_status&)> on_exit;

  std::thread reader;

  /// Appends what `fd` has to `buffer` without blocking; sets `ended` at
  /// end of file. Requires `mutex`.
  static void read_available(int fd, std::string& buffer, bool& ended) {
    char chunk[4096];
    for (;;) {
      auto count = ::read(fd, chunk, sizeof chunk);
      if (count > 0) {
        buffer.append(chunk, static_cast<std::size_t>(count));
      } else if (count == 0) {
        ended = true;
        return;
      } else if (errno == EINTR) {
        continue;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
          ended = true;
        return;
      }
    }
  }

  /// Reads what both pipes have. Requires `mutex`.
  void read_pipes() {
    if (!output_ended)
      read_available(stdout_fd.get(), output, output_ended);
    if (!errors_ended)
      read_available(stderr_fd.get(), errors, errors_ended);
  }

  /// Reaps the child if it exited; true once it has been reaped. Everything
  /// the child wrote before exiting is in the pipes by then, so they are
  /// drained before the status is published. Requires `mutex`.
  bool try_reap() {
    if (status)
      return true;
    int wait_status = 0;
    auto result = ::waitpid(pid, &wait_status, WNOHANG);
    if (result == pid) {
      read_pipes();
      status = exit_status::from_wait_status(wait_status);
    } else if (result < 0 && errno == ECHILD) {
      // Someone else reaped it (waitpid(-1) elsewhere): the status is lost.
      read_pipes();
      status = exit_status{};
    } else {
      return false;
    }
    changed.notify_all();
    return true;
  }

  /// Moves the complete lines at the start of `buffer` into `lines`, and
  /// the rest too once the stream `ended`. Requires `mutex`.
  static void take_lines(std::string& buffer, bool ended,
                         std::vector<std::string>& lines) {
    std::size_t start = 0;
    for (auto end = buffer.find('\n'); end != std::string::npos;
         end = buffer.find('\n', start)) {
      lines.emplace_back(buffer, start, end - start);
      start = end + 1;
    }
    if (ended && start < buffer.size()) {
      lines.emplace_back(buffer, start);
      start = buffer.size();
    }
    buffer.erase(0, start);
  }

  // The reader thread's loop: deliver what the callbacks want (outside the
  // lock, so a callback may take its own locks), then wait in poll for
  // output, the child's exit (its pidfd) or the stop pipe. It ends when
  // both streams ended and the child was reaped, or when stopped.
  void run_reader() {
    for (;;) {
      std::vector<std::string> stdout_lines;
      std::vector<std::string> stderr_lines;
      std::optional<exit_status> exit_to_report;
      bool finished = false;
      pollfd fds[4];
      nfds_t count = 0;
      int stdout_index = -1;
      int stderr_index = -1;
      int exit_index = -1;
      bool check_periodically = false;
      {
        std::lock_guard guard{mutex};
        if (on_stdout_line)
          take_lines(output, output_ended, stdout_lines);
        if (on_stderr_line)
          take_lines(errors, errors_ended, stderr_lines);
        // try_reap drained the pipes before it set `status`: the lines
        // just taken hold everything the child wrote before it exited.
        if (status && !exit_reported) {
          exit_reported = true;
          exit_to_report = status;
        }
        finished = output_ended && errors_ended && status;
        fds[count++] = {stop_pipe.read_end.get(), POLLIN, 0};
        if (!output_ended) {
          stdout_index = static_cast<int>(count);
          fds[count++] = {stdout_fd.get(), POLLIN, 0};
        }
        if (!errors_ended) {
          stderr_index = static_cast<int>(count);
          fds[count++] = {stderr_fd.get(), POLLIN, 0};
        }
        if (!status) {
          if (exit_fd.get() >= 0) {
            exit_index = static_cast<int>(count);
            fds[count++] = {exit_fd.get(), POLLIN, 0};
          } else {
            check_periodically = true;
          }
        }
      }
      for (const auto& line : stdout_lines)
        on_stdout_line(line);
      for (const auto& line : stderr_lines)
        on_stderr_line(line);
      if (exit_to_report && on_exit)
        on_exit(*exit_to_report);
      if (finished)
        return;
      auto ready = ::poll(fds, count, check_periodically ? 10 : -1);
      if (ready < 0) {
        if (errno != EINTR) // cannot happen with valid arguments; no spin
          std::this_thread::sleep_for(std::chrono::milliseconds{10});
        continue;
      }
      if (fds[0].revents != 0)
        return;
      std::lock_guard guard{mutex};
      bool changed_any = false;
      if (stdout_index >= 0 && fds[stdout_index].revents != 0) {
        read_available(stdout_fd.get(), output, output_ended);
        changed_any = true;
      }
      if (stderr_index >= 0 && fds[stderr_index].revents != 0) {
        read_available(stderr_fd.get(), errors, errors_ended);
        changed_any = true;
      }
      if ((exit_index >= 0 && fds[exit_index].revents != 0) ||
          check_periodically)
        try_reap(); // notifies when it reaps
      if (changed_any)
        changed.notify_all();
    }
  }
};

// -- child_process ------------------------------------------------------------

expected<child_process> child_process::start(
    const std::string& executable, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& extra_env) {
  launch_options options;
  options.environment = extra_env;
  return start(executable, args, std::move(options));
}

expected<child_process>
child_process::start(const std::string& executable,
                     const std::vector<std::string>& args,
                     launch_options options) {
  if (executable.empty())
    return error{errc::invalid_argument,
                 "cannot start a child process: the executable is empty"};
  // Everything the forked child needs is built here: it must not allocate.
  std::vector<std::string> argv_strings;
  argv_strings.reserve(args.size() + 1);
  argv_strings.push_back(options.argv0.empty() ? executable : options.argv0);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings)
    argv.push_back(arg.data());
  argv.push_back(nullptr);
  const auto& extra_env = options.environment;
  std::vector<std::string> env_strings;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view variable{*entry};
    auto name = variable.substr(0, variable.find('='));
    bool overridden = false;
    for (const auto& [extra_name, extra_value] : extra_env)
      overridden = overridden || name == extra_name;
    if (!overridden)
      env_strings.emplace_back(variable);
  }
  for (const auto& [name, value] : extra_env)
    env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& variable : env_strings)
    envp.push_back(variable.data());
  envp.push_back(nullptr);

  const bool stdin_piped = options.stdin_from == stream::pipe;
  const bool stdout_piped = options.stdout_to != stream::inherit;
  const bool stderr_piped = options.stderr_to != stream::inherit;
  unique_fd dev_null;
  if (!stdin_piped) {
    dev_null.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (dev_null.get() < 0)
      return start_error(executable, "open(/dev/null)", errno);
  }
  // Pipes the options do not ask for stay empty pairs (both ends -1).
  auto pipe_if = [](bool wanted) {
    return wanted ? make_pipe() : std::optional<pipe_fds>{pipe_fds{}};
  };
  auto stdin_pipe = pipe_if(stdin_piped);
  auto stdout_pipe = stdin_pipe ? pipe_if(stdout_piped) : std::nullopt;
  auto stderr_pipe = stdout_pipe ? pipe_if(stderr_piped) : std::nullopt;
  auto status_pipe = stderr_pipe ? make_pipe() : std::nullopt;
  auto stop_pipe = status_pipe ? make_pipe() : std::nullopt;
  if (!stop_pipe)
    return start_error(executable, "pipe2", errno);

  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid < 0)
    return start_error(executable, "fork", errno);
  if (pid == 0)
    exec_child(executable.c_str(), argv.data(), envp.data(), parent,
               stdin_piped ? stdin_pipe->read_end.get() : dev_null.get(),
               stdout_pipe->write_end.get(), stderr_pipe->write_end.get(),
               status_pipe->write_end.get());

  // Also here, so the group exists whichever process runs first; fails
  // harmlessly (EACCES) once the child has called execve.
  ::setpgid(pid, pid);
  dev_null.reset();
  stdin_pipe->read_end.reset();
  stdout_pipe->write_end.reset();
  stderr_pipe->write_end.reset();
  status_pipe->write_end.reset();

  // End of file: execve succeeded (the pipe is close-on-exec); an int: it
  // failed with that errno.
  int child_errno = 0;
  ssize_t count = 0;
  do {
    count =
        ::read(status_pipe->read_end.get(), &child_errno, sizeof child_errno);
  } while (count < 0 && errno == EINTR);
  if (count != 0) {
    int wait_status = 0;
    while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
      // retry
    }
    if (count < 0)
      return start_error(executable, "reading the exec status", errno);
    return start_error(executable, "execve", child_errno);
  }

  auto process = std::make_unique<state>();
  process->pid = pid;
  process->stdin_fd = std::move(stdin_pipe->write_end);
  process->stdout_fd = std::move(stdout_pipe->read_end);
  process->stderr_fd = std::move(stderr_pipe->read_end);
  process->output_ended = !stdout_piped;
  process->errors_ended = !stderr_piped;
  process->stop_pipe = std::move(*stop_pipe);
  process->on_stdout_line = std::move(options.on_stdout_line);
  process->on_stderr_line = std::move(options.on_stderr_line);
  process->on_exit = std::move(options.on_exit);
  if (stdout_piped)
    ::fcntl(process->stdout_fd.get(), F_SETFL, O_NONBLOCK);
  if (stderr_piped)
    ::fcntl(process->stderr_fd.get(), F_SETFL, O_NONBLOCK);
#ifdef SYS_pidfd_open
  // pidfd_open sets close-on-exec itself.
  process->exit_fd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
#endif
  child_process result{std::move(process)};
  // If this throws, ~child_process kills and reaps the child.
  result.state_->reader =
      std::thread{[raw = result.state_.get()] { raw->run_reader(); }};
  return result;
}

child_process::child_process(std::unique_ptr<state> process)
    : state_(std::move(process)), pid_(state_->pid) {
  // nop
}

child_process::child_process(child_process&& other) noexcept
    : state_(std::move(other.state_)), pid_(std::exchange(other.pid_, -1)) {
  // nop
}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    destroy();
    state_ = std::move(other.state_);
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

child_process::~child_process() {
  destroy();
}

void child_process::destroy() noexcept {
  if (!state_)
    return;
  {
    std::unique_lock lock{state_->mutex};
    // The group outlives a reaped leader while its members live, so its id
    // is not reused then; the leader itself is killed separately in case it
    // left the group.
    ::kill(-state_->pid, SIGKILL);
    if (!state_->status) {
      ::kill(state_->pid, SIGKILL);
      // A killed process dies promptly; the bound only guards against one
      // stuck in the kernel (then it stays a zombie).
      auto deadline = clock_type::now() + std::chrono::seconds{10};
      while (!state_->try_reap() && clock_type::now() < deadline)
        state_->changed.wait_until(lock, deadline);
    }
  }
  if (state_->reader.joinable()) {
    char byte = 0;
    [[maybe_unused]] auto ignored =
        ::write(state_->stop_pipe.write_end.get(), &byte, 1);
    state_->reader.join();
  }
  state_.reset();
  pid_ = -1;
}

std::optional<std::string>
child_process::wait_for_line(std::string_view needle,
                             std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  std::unique_lock lock{state_->mutex};
  auto& out = state_->output;
  auto& next_line = state_->next_line;
  for (;;) {
    for (auto end = out.find('\n', next_line); end != std::string::npos;
         end = out.find('\n', next_line)) {
      std::string_view line{out.data() + next_line, end - next_line};
      next_line = end + 1;
      if (line.find(needle) != std::string_view::npos)
        return std::string{line};
    }
    if (state_->output_ended) {
      std::string_view rest{out.data() + next_line, out.size() - next_line};
      next_line = out.size();
      if (!rest.empty() && rest.find(needle) != std::string_view::npos)
        return std::string{rest};
      return std::nullopt;
    }
    if (clock_type::now() >= deadline)
      return std::nullopt;
    state_->changed.wait_until(lock, deadline);
  }
}

bool child_process::signal(int signal) {
  std::lock_guard guard{state_->mutex};
  // Not yet reaped, so the pid still names our child.
  if (state_->status)
    return false;
  return ::kill(state_->pid, signal) == 0;
}

bool child_process::write_stdin(std::string_view text) {
  std::lock_guard guard{state_->stdin_mutex};
  int fd = state_->stdin_fd.get();
  if (fd < 0)
    return false;
  // A child that stopped reading makes write() fail with EPIPE and raise
  // SIGPIPE, which would kill the caller: block it on this thread for the
  // write and take the pending signal before unblocking.
  sigset_t pipe_signal;
  sigset_t previous;
  ::sigemptyset(&pipe_signal);
  ::sigaddset(&pipe_signal, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
  bool written = true;
  while (!text.empty()) {
    auto count = ::write(fd, text.data(), text.size());
    if (count < 0 && errno == EINTR)
      continue;
    if (count < 0) {
      written = false;
      if (errno == EPIPE) {
        timespec no_wait{};
        ::sigtimedwait(&pipe_signal, nullptr, &no_wait);
      }
      break;
    }
    text.remove_prefix(static_cast<std::size_t>(count));
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return written;
}

void child_process::close_stdin() {
  std::lock_guard guard{state_->stdin_mutex};
  state_->stdin_fd.reset();
}

std::optional<exit_status>
child_process::wait(std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  std::unique_lock lock{state_->mutex};
  for (;;) {
    if (state_->try_reap())
      return state_->status;
    if (clock_type::now() >= deadline)
      return std::nullopt;
    state_->changed.wait_until(lock, deadline);
  }
}

bool child_process::running() {
  std::lock_guard guard{state_->mutex};
  return !state_->try_reap();
}

std::string child_process::output() {
  std::lock_guard guard{state_->mutex};
  return state_->output;
}

std::string child_process::errors() {
  std::lock_guard guard{state_->mutex};
  return state_->errors;
}

bool child_process::wait_for_errors(std::string_view needle,
                                    std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  std::unique_lock lock{state_->mutex};
  for (;;) {
    if (state_->errors.find(needle) != std::string::npos)
      return true;
    if (state_->errors_ended || clock_type::now() >= deadline)
      return false;
    state_->changed.wait_until(lock, deadline);
  }
}

} // namespace varsync::launch
