#pragma once

// The node agent: one per node. It spawns the actors the cluster places on
// this node (variable actors, at the directory's request) and owns them:
// stopping the agent (an exit message) stops every actor it spawned.
//
//   (spawn_atom, variable_info, initial, replicas) -> caf::actor
//   (rehost_atom, variable_info, replicas, lost) -> caf::actor
//       both only from the directory this node follows
//   (node_atom) -> (directory, holder host, holder port, epoch)
//       how a joining node finds the directory (through any node)
//   (node_atom, ok_atom)                  follow the directory and take the
//                                         identity the shared handle holds
//   (status_atom, timeout_ms) -> cluster_status   forwarded to the directory
//   (directory_state_atom, copy) -> followed epoch, (follow_atom, epoch,
//       holder) -> copy: the replicated directory
//       (actors/directory_follower.hpp)
//
// Every node publishes its agent on its port, so any node's address
// answers `varsync status`.
// The directory monitors the agent: its DOWN message is how the cluster
// learns that the node is gone.

#include "actors/actor_counters.hpp"
#include "actors/cluster_protocol.hpp"
#include "actors/directory_handle.hpp"
#include "runtime/transport/bulk_plane.hpp"

#include <caf/all.hpp>
#include <memory>

namespace varsync {

/// Spawns the agent of this node; `directory` may be null until joined.
/// With `bulk`, the variable actors it spawns accept bulk contributions.
/// `handle`: where it publishes the directory it follows to the host
/// threads (when a new holder is elected).
caf::actor spawn_node_agent(caf::actor_system& system, caf::actor directory,
                            std::shared_ptr<actor_counters> counters,
                            std::shared_ptr<bulk_plane> bulk = nullptr,
                            std::shared_ptr<directory_handle> handle = nullptr);

} // namespace varsync
