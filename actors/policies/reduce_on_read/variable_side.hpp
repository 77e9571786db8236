#pragma once

// on_read, variable side: gathers the replicas' copies for a cross-replica
// read and writes them for a cross-replica update.

#include "actors/variable_actor_state.hpp"

namespace varsync {

/// The variable actor's behavior under this policy. Handles attach_atom
/// first (sent once by the directory), then the protocol's messages.
caf::behavior reduce_on_read_variable_side(variable_actor_type* self);

} // namespace varsync
