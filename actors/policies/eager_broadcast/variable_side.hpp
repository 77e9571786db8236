#pragma once

// on_write, variable side: collects each step's contributions (CAF requests
// or bulk frames), publishes versions to every replica and answers the
// contributors. The state machine is state_machine.hpp.

#include "actors/policies/replica_recovery.hpp"
#include "actors/variable_actor_state.hpp"

#include <vector>

namespace varsync {

/// The variable actor's behavior under this policy. Handles attach_atom
/// first (sent once by the directory), then the protocol's messages.
caf::behavior eager_broadcast_variable_side(variable_actor_type* self);

/// The behavior of an actor re-created from the surviving replicas (`held`,
/// each pointed at this actor already): it continues from the latest
/// version any of them holds and tells each survivor that version and the
/// steps it holds.
caf::behavior
eager_broadcast_rehosted_side(variable_actor_type* self,
                              const std::vector<replica_recovery>& held);

} // namespace varsync
