#pragma once

// on_write, variable side: collects each step's contributions (CAF requests
// or bulk frames), publishes versions to every replica and answers the
// contributors. The state machine is state_machine.hpp.

#include "actors/variable_actor_state.hpp"

namespace varsync {

/// The variable actor's behavior under this policy. Handles attach_atom
/// first (sent once by the directory), then the protocol's messages.
caf::behavior eager_broadcast_variable_side(variable_actor_type* self);

} // namespace varsync
