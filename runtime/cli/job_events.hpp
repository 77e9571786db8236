#pragma once

// What `varsync run` (runtime/cli/job_supervisor.hpp) hears from its
// processes and prints: whole lines to the terminal, and exits and signals
// as events on one queue for the main thread.

#include "runtime/launch/exit_status.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace varsync::cli {

/// Prints whole lines to stdout or stderr, one write() each, never two at
/// once: lines of different processes do not interleave. Thread-safe.
class line_printer {
public:
  /// Writes `prefix` `line` '\n' to `fd`. Blocks while another line is
  /// being written.
  void print(int fd, std::string_view prefix, std::string_view line);

  /// A message of the launcher itself ("varsync run: ..."), on stderr.
  void say(std::string_view message);

private:
  std::mutex mutex_;
};

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
  launch::exit_status status;
  /// The seed's HOST:PORT.
  std::string address;
  int signal = 0;
};

/// Events from reader threads and the signal thread to the main thread.
/// Thread-safe.
class event_queue {
public:
  /// Adds `event`; never blocks (beyond the lock).
  void push(job_event event);

  /// Blocks until an event is there (and returns the oldest) or `deadline`
  /// passes (nullopt).
  std::optional<job_event> pop(std::chrono::steady_clock::time_point deadline);

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<job_event> events_;
};

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread
/// it starts later) and turns them into events on `events` from a thread
/// of their own, which lives until the process exits. Call it before
/// starting any thread.
void forward_stop_signals(std::shared_ptr<event_queue> events);

} // namespace varsync::cli
