#pragma once

// on_write, replica side: numbers a replica's updates of each variable as
// steps, keeps one in flight and queues the rest, sends each as a CAF
// request or a bulk frame, installs published versions and completes the
// caller when its step is acknowledged (see the sketch in
// actors/replica_actor.hpp).

#include "actors/replica_actor_state.hpp"

namespace varsync {

/// The replica actor's handlers for on_write: update_atom,
/// local_update_atom, install_atom, bulk_ack_atom, update_alarm_atom.
caf::message_handler eager_broadcast_replica_side(replica_actor_type* self);

/// The variable actor of `entry` is gone: fails its update in flight and
/// the queued ones with `entry.unavailable`.
void fail_pending_updates(attached_variable& entry);

} // namespace varsync
