#pragma once

// How a child process ended (runtime/launch/child_process.hpp), as a value
// that prints as a sentence and maps to the exit code a launcher passes on.

#include <iosfwd>
#include <string>

namespace varsync::launch {

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

  /// Whether the process exited with code 0.
  bool succeeded() const noexcept { return exited && code == 0; }

  /// The status a shell reports for it: the exit code, or 128 + the
  /// signal that killed it.
  int shell_code() const noexcept { return exited ? code : 128 + signal; }

  friend bool operator==(const exit_status&,
                         const exit_status&) noexcept = default;
};

/// "exited with code 3" or "killed by signal 9 (SIGKILL)".
std::string to_string(const exit_status& status);

/// Prints `to_string(status)`, so doctest shows both sides of a failed
/// CHECK_EQ.
std::ostream& operator<<(std::ostream& out, const exit_status& status);

} // namespace varsync::launch
