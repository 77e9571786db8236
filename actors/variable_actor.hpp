#pragma once

// The variable actor: one per variable. It owns the variable's protocol
// state (one policy of actors/policies/) and talks to the replica actors of
// the variable's group. Its behavior is chosen by the policy:
//   on_write  -> eager_broadcast: collects steps, publishes versions
//   on_read   -> reduce_on_read:  gathers / writes the replicas' copies
//   none      -> local_only:      refuses cross-replica calls
//   bounded_staleness -> bounded_staleness: sums pushed deltas per clock,
//                        refreshes replicas as the minimum clock advances
// Every behavior first handles `attach_atom` (sent once by the directory):
// it attaches the variable to every replica actor with the initial value
// and answers when all did.
//
// Re-hosting. When a variable actor's node is lost, the directory spawns
// a new one elsewhere (spec.rehosted) and sends it (rehost_atom). The new
// actor asks every surviving replica to take it as the variable's actor
// and to report what it holds (actors/policies/replica_recovery.hpp);
// until all answered (a replica that does not is treated as lost) every
// other message waits in its mailbox. Then its policy's re-hosted side
// (actors/policies/table.hpp) rebuilds the protocol state from the
// reports, tells the survivors what they need to go on, and the actor
// answers the directory.

#include "actors/actor_counters.hpp"
#include "actors/protocol.hpp"
#include "runtime/transport/bulk_plane.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable_options.hpp"

#include <caf/all.hpp>
#include <memory>
#include <string>
#include <vector>

namespace varsync {

/// What a variable actor is spawned with.
struct variable_spec {
  variable_id id = 0;
  std::string name;
  dtype type = dtype::f32;
  shape_type shape;
  /// Resolved options (no `automatic`).
  variable_options options;
  /// The replica actors of the group, by index.
  std::vector<caf::actor> replicas;
  /// The initial value of every replica.
  tensor initial;
  /// Counters of the runtime.
  std::shared_ptr<actor_counters> counters;
  /// This node's bulk plane, or null: remote replicas may then contribute
  /// on_write updates as bulk frames (answered on the same connection).
  std::shared_ptr<bulk_plane> bulk;
  /// Re-created after its first actor's node was lost: the actor starts
  /// with (rehost_atom) from the directory instead of attach_atom and takes
  /// its state from the surviving replicas (`initial` is unused then).
  bool rehosted = false;
  /// Replicas already lost, by index (empty: none).
  std::vector<bool> lost;
};

/// Spawns the variable actor for `spec` (policy from spec.options.sync).
caf::actor spawn_variable_actor(caf::actor_system& system, variable_spec spec);

} // namespace varsync
