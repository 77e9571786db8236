#pragma once

// CAF's work-sharing scheduler (one shared queue, see runtime/caf_setup.cpp)
// whose idle workers poll the queue for a short while before they sleep.
//
// Why: a message to an idle actor must wake a sleeping scheduler thread,
// and on a VM that wake-up costs ~25 us (runtime/transport/spinning_io.hpp
// says why), several times per step. A worker that keeps looking for a
// while after its last job takes the next one without a wake-up: the
// in-process 4-replica 8-byte on_write step went from ~45 to ~22 us
// (bench/local_ops).
//
// How it works. `dequeue` takes the queue's front under the queue's lock as
// CAF's policy does; while the queue stays empty and less than the spin
// passed since the worker became idle, it yields its core (any other
// runnable thread goes first) and looks again; then it sleeps on the
// queue's condition variable as CAF's does. Enqueueing is CAF's (it
// notifies a sleeper; a polling worker needs none).

#include <caf/actor_system.hpp>
#include <caf/policy/work_sharing.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <chrono>
#include <mutex>
#include <thread>

namespace varsync {

/// The scheduling policy; used only through `spinning_coordinator`.
class spinning_sharing : public caf::policy::work_sharing {
public:
  /// The next job; polls, then sleeps until there is one. Called by a
  /// worker thread when it is idle.
  template <class Worker> caf::resumable* dequeue(Worker* self);
};

/// The scheduler: CAF's coordinator with `spinning_sharing` and the spin.
class spinning_coordinator
    : public caf::scheduler::coordinator<spinning_sharing> {
public:
  /// Idle workers poll for `spin` before sleeping (0: at once).
  spinning_coordinator(caf::actor_system& system,
                       std::chrono::microseconds spin)
      : coordinator(system), spin_(spin) {
    // nop
  }

  std::chrono::microseconds spin() const noexcept { return spin_; }

private:
  std::chrono::microseconds spin_;
};

template <class Worker>
caf::resumable* spinning_sharing::dequeue(Worker* self) {
  // Every worker's parent is the spinning_coordinator that started it.
  auto* parent = static_cast<spinning_coordinator*>(self->parent());
  auto& shared = d(parent);
  auto idle_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - idle_since < parent->spin()) {
    {
      std::lock_guard guard{shared.lock};
      if (!shared.queue.empty()) {
        auto* job = shared.queue.front();
        shared.queue.pop_front();
        return job;
      }
    }
    std::this_thread::yield();
  }
  return work_sharing::dequeue(self);
}

} // namespace varsync
