#pragma once

// The one way varsync starts processes: `varsync run`, the cluster example,
// the cluster_step bench and the multi-process tests all start their
// children through `child_process`. Start a program (no shell), read its
// output line by line (waiting for a line, or a callback per line), write
// to its stdin, signal it, wait for its exit, and be sure that nothing it
// started outlives its owner.
//
// Every child runs in its own process group, so destroying its
// `child_process` (SIGKILL to the group) takes the child's own children
// too, and it has PR_SET_PDEATHSIG=SIGKILL, so it dies when its starter
// dies. One background thread per child reads its stdout and stderr (so a
// chatty child never blocks on a full pipe), delivers line callbacks and
// reaps it once it exits.
//
// Why fork/exec by hand and not Boost.Process (1.74, Debian's): process
// groups there only know SIGKILL (`group::terminate` is killpg(SIGKILL)),
// as does `child::terminate`, so SIGTERM/SIGINT cannot be forwarded through
// it; PR_SET_PDEATHSIG, resetting the signal mask and dispositions and
// closing inherited descriptors would all be `on_exec_setup` extensions,
// i.e. this same code; its posix `wait_for` swaps the process-wide SIGCHLD
// handler while it waits, which is not safe with several threads waiting
// for several children; and reading two pipes without blocking needs an
// io_context per child. What is left of ours is small: fork, a few
// async-signal-safe calls, execve, and a poll loop.

#include "runtime/launch/exit_status.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <varsync/error.hpp>
#include <vector>

namespace varsync::launch {

/// Where a child's standard stream goes.
enum class stream {
  /// Stdin only: read from /dev/null.
  null,
  /// A pipe to or from the starter: stdout and stderr are read by the
  /// reader thread (kept for `output()` or passed to a line callback),
  /// stdin is written with `write_stdin`.
  pipe,
  /// The starter's own descriptor (its terminal, its log file ...).
  inherit,
};

/// How to start a child. Every field has a default: stdin from /dev/null,
/// stdout and stderr captured and kept, the starter's environment.
struct launch_options {
  /// Variables added to this process's environment for the child;
  /// they override inherited variables of the same name.
  std::vector<std::pair<std::string, std::string>> environment;

  /// The child's argv[0]; empty: the executable's path. Lets a program
  /// started as /proc/self/exe show its own name in `ps`.
  std::string argv0;

  /// The child's stdin: `null` or `pipe` (`inherit` counts as `null`: a
  /// child never reads the starter's terminal).
  stream stdin_from = stream::null;

  /// The child's stdout: `pipe` (captured) or `inherit`.
  stream stdout_to = stream::pipe;

  /// The child's stderr: `pipe` (captured) or `inherit`.
  stream stderr_to = stream::pipe;

  /// When set (with `stdout_to == pipe`), each line of stdout, without its
  /// '\n', is passed to it on the reader thread, in order, and is not kept:
  /// `output()` and `wait_for_line` do not see it. A last line without
  /// '\n' is passed once stdout ends. Must not call members of the same
  /// `child_process` that block on its output (wait_for_line, wait).
  std::function<void(std::string_view line)> on_stdout_line;

  /// Like `on_stdout_line`, for stderr (`errors()` does not see the lines).
  std::function<void(std::string_view line)> on_stderr_line;

  /// When set, called once on the reader thread after the child has been
  /// reaped, after the line callbacks of everything it wrote before it
  /// exited. Not called when the `child_process` is destroyed first.
  std::function<void(const exit_status& status)> on_exit;
};

/// A running (or finished) child process. Movable, not copyable; a
/// moved-from object holds no process and may only be destroyed or
/// assigned to. All members except the move operations and the destructor
/// are thread-safe.
class child_process {
public:
  /// Starts `executable` (a path; no PATH search, no shell) with arguments
  /// `args` in its own process group, as `options` say, with
  /// PR_SET_PDEATHSIG=SIGKILL and default signal dispositions and an empty
  /// signal mask. Blocks until the program is executing or failed to; an
  /// executable that cannot be run (missing, not executable, ...) gives
  /// errc::invalid_argument with the path and the reason, as do failures
  /// of pipe() or fork(). Note: the death signal fires when the *thread*
  /// that called start() exits, so call it from a thread that lives as
  /// long as the child should.
  static expected<child_process> start(const std::string& executable,
                                       const std::vector<std::string>& args,
                                       launch_options options);

  /// Starts `executable` with `args`, stdin from /dev/null, stdout and
  /// stderr captured and kept, and `extra_env` added to the environment.
  /// Blocks as the general `start` does.
  static expected<child_process>
  start(const std::string& executable, const std::vector<std::string>& args,
        const std::vector<std::pair<std::string, std::string>>& extra_env = {});

  child_process(child_process&& other) noexcept;

  /// Destroys the current process as the destructor does, then takes over
  /// `other`'s.
  child_process& operator=(child_process&& other) noexcept;

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Sends SIGKILL to the process group (the child and whatever it started
  /// there), reaps the child, and stops the reader thread. Blocks only
  /// until the killed child is reaped (at most a few seconds, even if it is
  /// stuck). Other members of the group receive SIGKILL but may take a
  /// moment to disappear.
  ~child_process();

  /// The child's process id, which is also its process group id; -1 for a
  /// moved-from object. Never blocks.
  pid_t pid() const noexcept { return pid_; }

  /// Blocks until a line of stdout after the previously returned line
  /// contains `needle`, and returns that line (without '\n'); nullopt when
  /// `timeout` passes or stdout ends first. Lines passed over are not
  /// offered again (expect-style: wait for "a", then for "b" printed after
  /// it), but all of them stay in `output()`. An empty `needle` returns
  /// the next line. A last line without '\n' counts once stdout has ended.
  /// Thread-safe.
  std::optional<std::string> wait_for_line(std::string_view needle,
                                           std::chrono::milliseconds timeout);

  /// Sends `signal` to the child only (not to its group); returns false
  /// when the child has already been reaped (then nothing is sent). Never
  /// blocks; thread-safe.
  bool signal(int signal);

  /// Writes `text` to the child's stdin (`stdin_from == pipe`); false when
  /// the pipe is closed, the child stopped reading (EPIPE, without
  /// SIGPIPE for the caller) or stdin is not a pipe. Blocks while the pipe
  /// is full; thread-safe (writes do not interleave).
  bool write_stdin(std::string_view text);

  /// Closes the child's stdin: it reads end of file. Blocks only while a
  /// `write_stdin` is in progress; thread-safe.
  void close_stdin();

  /// Blocks until the child has exited or `timeout` passes; returns how it
  /// ended, or nullopt on timeout. Once it returns a status, `output()` and
  /// `errors()` hold everything the child wrote before exiting (line
  /// callbacks may still be running). May be called again (returns the
  /// same status). Thread-safe.
  std::optional<exit_status> wait(std::chrono::milliseconds timeout);

  /// True until the child's exit has been observed (it may have exited a
  /// moment ago). Never blocks; thread-safe.
  bool running();

  /// Everything read from stdout so far (lines passed to a callback
  /// excepted). Never blocks; thread-safe.
  std::string output();

  /// Everything read from stderr so far (lines passed to a callback
  /// excepted). Never blocks; thread-safe.
  std::string errors();

  /// Blocks until the child's stderr contains `needle` or `timeout` passes
  /// (or its output ended); returns whether it does. Thread-safe.
  bool wait_for_errors(std::string_view needle,
                       std::chrono::milliseconds timeout);

private:
  struct state;

  explicit child_process(std::unique_ptr<state> process);

  void destroy() noexcept;

  std::unique_ptr<state> state_;
  pid_t pid_ = -1;
};

} // namespace varsync::launch
