#pragma once

// One CAF timer for an actor's many deadlines.
//
// Why: in CAF 0.17 every request with a timeout and every delayed_send hands
// an event to the clock thread, and the clock thread wakes up for each (and
// again to drop a request's timeout once its answer came). On an on_write
// step that was one or two thread wake-ups per message on the critical
// path; a profile of the P = 2, 8-byte step showed more than half of the
// CPU in futex wake-ups and context switches.
//
// How it works: the actor keeps its deadlines in its own state and arms the
// alarm with each new one. The alarm schedules a message only when none is
// pending for an earlier or equal time. Deadlines of successive steps mostly
// grow, so in steady state one message is pending and the clock thread
// sleeps. When the message arrives, the actor calls `fired` with the time it
// carries, handles every deadline that passed and arms the alarm again with
// the earliest one left. A stale message (one overtaken by an earlier arm)
// only makes the actor look at its deadlines once more.

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <optional>

namespace varsync {

/// Schedules `(Atom, due)` messages to its owner, at most one per distinct
/// earliest deadline. Not thread-safe: only the owning actor calls it.
template <class Atom> class deadline_alarm {
public:
  using clock = std::chrono::steady_clock;

  /// Makes sure the owner `self` receives `(Atom, ticks)` no later than
  /// `due` (ticks: `due`'s count since the clock's epoch). Returns at once.
  template <class Actor> void arm(Actor* self, clock::time_point due) {
    if (pending_ && *pending_ <= due)
      return;
    pending_ = due;
    auto wait = due - clock::now();
    if (wait < clock::duration::zero())
      wait = clock::duration::zero();
    self->delayed_send(
        self, std::chrono::duration_cast<caf::timespan>(wait), Atom::value,
        static_cast<std::int64_t>(due.time_since_epoch().count()));
  }

  /// The owner received the message for `ticks`: the pending alarm is gone
  /// if that was it. Returns the current time, for checking deadlines.
  clock::time_point fired(std::int64_t ticks) {
    if (pending_ && pending_->time_since_epoch().count() == ticks)
      pending_.reset();
    return clock::now();
  }

private:
  std::optional<clock::time_point> pending_;
};

} // namespace varsync
