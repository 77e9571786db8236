#pragma once

// bounded_staleness, variable side: sums pushed deltas per clock and
// refreshes the replicas' caches as the minimum clock advances.

#include "actors/policies/replica_recovery.hpp"
#include "actors/variable_actor_state.hpp"

#include <vector>

namespace varsync {

/// The variable actor's behavior under this policy. Handles attach_atom
/// first (sent once by the directory), then the protocol's messages.
caf::behavior bounded_staleness_variable_side(variable_actor_type* self);

/// The behavior of an actor re-created from the surviving replicas (`held`,
/// each pointed at this actor already): the newest snapshot any of them
/// holds plus every survivor's pushed deltas that it lacks, at each
/// survivor's clock; sends the first refresh. Lost: what replicas lost with
/// the old actor pushed and no survivor's snapshot holds.
caf::behavior
bounded_staleness_rehosted_side(variable_actor_type* self,
                                const std::vector<replica_recovery>& held);

} // namespace varsync
