#pragma once

// The replica actor: one per replica. It holds the replica's local copies
// (a local_store shared with the replica handle, which reads them without
// messages), installs versions broadcast by variable actors, serves on_read
// gathers and writes, and forwards replica-context on_write updates to the
// variable actor as numbered steps.
//
//   update(v, op, x) --> [queue of v] --one in flight--> contribute(r, k, ...)
//                                                          |
//   ok to caller <-- next_step(v) = k + 1 <-- ok ----------+
//   error to caller (step k is reused) <-- error ----------+
//
// One update per variable is in flight at a time, so a replica's updates of
// a variable are applied in call order and a failed step (timeout,
// mismatch) is retried with the same step number; updates of different
// variables proceed independently.

#include "actors/actor_counters.hpp"
#include "actors/local_store.hpp"

#include <caf/all.hpp>
#include <cstddef>
#include <memory>

namespace varsync {

/// Spawns the actor of replica `index`, holding its copies in `store`.
caf::actor spawn_replica_actor(caf::actor_system& system, std::size_t index,
                               std::shared_ptr<local_store> store,
                               std::shared_ptr<actor_counters> counters);

} // namespace varsync
