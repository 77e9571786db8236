#pragma once

// The policy table: for each synchronization policy, the variable actor's
// behavior and the local part a replica keeps (actors/policies/
// local_part.hpp: what the host thread does with an update). Generic actors
// dispatch through it and hold no policy's logic; adding a policy adds one row
// here. A synchronization value with no row (e.g. one received from a newer
// peer, or `automatic` unresolved) is an explicit error, never a silent
// default.

#include "actors/policies/local_part.hpp"
#include "actors/policies/replica_recovery.hpp"
#include "actors/replica_actor_state.hpp"
#include "actors/variable_actor_state.hpp"
#include "varsync/error.hpp"
#include "varsync/policy.hpp"

#include <vector>

namespace varsync::policies {

/// Builds the variable actor's behavior for one policy.
using variable_side_factory = caf::behavior (*)(variable_actor_type*);

/// The variable side of `sync`, or `invalid_policy` naming the value when
/// no row exists.
expected<variable_side_factory> variable_side_of(synchronization sync);

/// Builds the behavior of a variable actor re-created on another node from
/// what the surviving replicas hold (`held`: one entry per survivor, each
/// already pointed at the new actor); sends the survivors what they need
/// to go on.
using rehosted_side_factory = caf::behavior (*)(
    variable_actor_type*, const std::vector<replica_recovery>& held);

/// The re-hosted variable side of `sync`, or `invalid_policy`.
expected<rehosted_side_factory> rehosted_side_of(synchronization sync);

/// Every policy's replica-side handlers, combined: one replica actor
/// serves variables of every policy. A policy with replica-side messages
/// adds its handlers here.
caf::message_handler replica_sides(replica_actor_type* self);

/// The variable actor of `entry` (variable `id`) is gone and
/// `entry.unavailable` says why: every policy fails what it holds pending
/// for that variable (updates in flight and queued, reads waiting).
void fail_pending_calls(replica_actor_type* self, attached_variable& entry,
                        variable_id id);

/// The local part factory of `sync`, or `invalid_policy` naming the value
/// when no row exists.
expected<local_part_factory> local_part_of(synchronization sync);

} // namespace varsync::policies
