#pragma once

// bounded_staleness, replica side: pushes each clock's delta of every SSP
// variable at clock(), installs refreshes into the replica caches, and
// parks clock(), reads and catch-ups until the caches are fresh enough for
// the staleness bound (or the deadline passed).

#include "actors/replica_actor_state.hpp"

namespace varsync {

/// The replica actor's handlers for bounded_staleness: refresh_atom,
/// clock_atom, wait_read_atom, catch_up_atom, wait_expired_atom.
caf::message_handler bounded_staleness_replica_side(replica_actor_type* self);

/// Variable `id` is gone: fails the reads waiting for it with `failure`
/// and releases clock() and catch-up waiters from waiting for it.
void fail_waiting_reads(replica_actor_type* self, variable_id id,
                        const caf::error& failure);

} // namespace varsync
