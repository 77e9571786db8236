#pragma once

// Child processes for multi-process tests: start a program (no shell), wait
// for a line of its output, signal it, wait for its exit, and be sure that
// nothing it started outlives the test.
//
// Every child runs in its own process group, so destroying its
// `child_process` (SIGKILL to the group) takes the child's own children
// too, and it has PR_SET_PDEATHSIG=SIGKILL, so it dies when the test
// process dies. One background thread per child reads its stdout and stderr
// (so a chatty child never blocks on a full pipe) and reaps it once it
// exits.

#include <chrono>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <varsync/error.hpp>
#include <vector>

namespace varsync::test {

/// How a child process ended, decoded from a waitpid status.
struct exit_status {
  /// True when the process exited (returned from main or called exit);
  /// false when a signal killed it.
  bool exited = false;
  /// The exit code; meaningful only when `exited`.
  int code = 0;
  /// The signal that killed the process; meaningful only when `!exited`.
  int signal = 0;

  /// A process that exited with `code`.
  static exit_status exited_with(int code) noexcept { return {true, code, 0}; }

  /// A process that `signal` killed.
  static exit_status killed_by(int signal) noexcept {
    return {false, 0, signal};
  }

  /// Decodes `status` as returned by waitpid.
  static exit_status from_wait_status(int status) noexcept;

  friend bool operator==(const exit_status&,
                         const exit_status&) noexcept = default;
};

/// "exited with code 3" or "killed by signal 9 (Killed)".
std::string to_string(const exit_status& status);

/// Prints `to_string(status)`, so doctest shows both sides of a failed
/// CHECK_EQ.
std::ostream& operator<<(std::ostream& out, const exit_status& status);

/// A running (or finished) child process whose stdout and stderr are
/// captured. Movable, not copyable; a moved-from object holds no process
/// and may only be destroyed or assigned to. All members except the move
/// operations and the destructor are thread-safe.
class child_process {
public:
  /// Starts `executable` (a path; no PATH search, no shell) with arguments
  /// `args` (argv[0] is `executable`) in its own process group, with stdin
  /// from /dev/null, stdout and stderr captured, the environment of this
  /// process plus `extra_env` (which overrides variables of the same name),
  /// and PR_SET_PDEATHSIG=SIGKILL. Blocks until the program is executing or
  /// failed to; an executable that cannot be run (missing, not executable,
  /// ...) gives errc::invalid_argument with the path and the reason, as do
  /// failures of pipe() or fork(). Note: the death signal fires when the
  /// *thread* that called start() exits, so call it from a thread that
  /// lives as long as the child should.
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
  /// moment to disappear; see `wait_for_no_process_matching`.
  ~child_process();

  /// The child's process id, which is also its process group id; -1 for a
  /// moved-from object. Never blocks.
  pid_t pid() const noexcept { return pid_; }

  /// Blocks until a line of stdout after the previously returned line
  /// contains `needle`, and returns that line (without '\n'); nullopt when
  /// `timeout` passes or stdout ends first. Lines passed over are not
  /// offered again (expect-style: wait for "a", then for "b" printed after
  /// it), but all of them stay in `output()`. A last line without '\n'
  /// counts once stdout has ended. Thread-safe.
  std::optional<std::string> wait_for_line(std::string_view needle,
                                           std::chrono::milliseconds timeout);

  /// Sends `signal` to the child only (not to its group); returns false
  /// when the child has already been reaped (then nothing is sent). Never
  /// blocks; thread-safe.
  bool signal(int signal);

  /// Blocks until the child has exited or `timeout` passes; returns how it
  /// ended, or nullopt on timeout. Once it returns a status, `output()` and
  /// `errors()` hold everything the child wrote before exiting. May be
  /// called again (returns the same status). Thread-safe.
  std::optional<exit_status> wait(std::chrono::milliseconds timeout);

  /// True until the child's exit has been observed (it may have exited a
  /// moment ago). Never blocks; thread-safe.
  bool running();

  /// Everything read from stdout so far. Never blocks; thread-safe.
  std::string output();

  /// Everything read from stderr so far. Never blocks; thread-safe.
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

/// Process ids of live processes whose command line (/proc/<pid>/cmdline,
/// arguments joined by spaces) contains `needle`, excluding the calling
/// process and zombies; for "no process left behind" checks. Never blocks.
std::vector<pid_t> processes_matching(std::string_view needle);

/// Blocks until `processes_matching(needle)` is empty or `timeout` passes
/// (checking every few milliseconds); returns the processes still matching,
/// so an empty result means success. For processes that were just sent
/// SIGKILL and need a moment to die.
std::vector<pid_t>
wait_for_no_process_matching(std::string_view needle,
                             std::chrono::milliseconds timeout);

/// `binary_dir` + "/" + `relative`: the path of an executable built by this
/// project.
std::string binary_path(std::string_view binary_dir, std::string_view relative);

#ifdef VARSYNC_BINARY_DIR
/// The path of an executable built by this project, `relative` to the
/// build directory (e.g. "varsync_example_counter"). Only in test targets,
/// which define VARSYNC_BINARY_DIR.
inline std::string binary_path(std::string_view relative) {
  return binary_path(VARSYNC_BINARY_DIR, relative);
}
#endif

} // namespace varsync::test
