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
// With the bulk plane, the contribution of a remote on_write variable is a
// bulk frame to the variable's node instead of a CAF request; the variable
// actor answers on the same connection (installs, then the ack). Either
// way the replica actor fails the call itself when no answer came by the
// deadline plus reply_grace (one alarm for all variables,
// actors/deadline_alarm.hpp). Each attempt carries a tag so that a late
// answer to an earlier attempt is ignored.
//
// One update per variable is in flight at a time, so a replica's updates of
// a variable are applied in call order and a failed step (timeout,
// mismatch) is retried with the same step number; updates of different
// variables proceed independently.

#include "actors/actor_counters.hpp"
#include "actors/local_store.hpp"
#include "runtime/transport/bulk_plane.hpp"

#include <caf/all.hpp>
#include <cstddef>
#include <memory>
#include <optional>

namespace varsync {

/// Spawns the actor of replica `index`, holding its copies in `store`.
/// With `bulk`, updates of remote on_write variables whose tensors have at
/// least `bulk_threshold` bytes travel on the bulk plane (register the
/// actor with `add_bulk_target` so that replies reach it). When a
/// variable's actor is lost with its node, the replica holds that
/// variable's updates until the directory re-created the actor elsewhere,
/// until their deadlines, or until the directory gives up
/// (rehost_failed_atom).
caf::actor
spawn_replica_actor(caf::actor_system& system, std::size_t index,
                    std::shared_ptr<local_store> store,
                    std::shared_ptr<actor_counters> counters,
                    std::shared_ptr<bulk_plane> bulk = nullptr,
                    std::optional<std::uint64_t> bulk_threshold = {});

} // namespace varsync
