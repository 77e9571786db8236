#pragma once

// The directory actor: one per runtime, the authority on names. It creates
// replica groups (spawning their replica actors) and variables (spawning a
// variable actor and attaching it to every replica) with create-or-get
// semantics, and answers lookups by name. Being an actor, it serializes
// concurrent creations of one name: a second request for a name that is
// being created waits for the first to finish and then gets the same
// record, or `already_exists` when it asked for something different.
//
//   (group_atom, name, size)                       -> group_record_ptr
//   (variable_atom, group, name, initial, options) -> variable_record_ptr
//   (lookup_atom, name)                            -> variable_record_ptr
//
// Stopping the directory (an exit message) stops every replica and
// variable actor it spawned.

#include "actors/actor_counters.hpp"
#include "actors/records.hpp"

#include <caf/all.hpp>
#include <memory>

namespace varsync {

/// Spawns the directory of `runtime`.
caf::actor spawn_directory_actor(caf::actor_system& system,
                                 detail::runtime_ref runtime,
                                 std::shared_ptr<actor_counters> counters);

} // namespace varsync
