#pragma once

// on_read, replica side: hands out the local copy for a cross-replica read
// and applies a cross-replica write to it.

#include "actors/replica_actor_state.hpp"

namespace varsync {

/// The replica actor's handlers for on_read: copy_get_atom, copy_set_atom.
caf::message_handler reduce_on_read_replica_side(replica_actor_type* self);

} // namespace varsync
