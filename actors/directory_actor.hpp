#pragma once

// The directory actor: one acting per cluster, on its holder node (the seed
// first; an embedded runtime is a cluster of one). The authority on names
// and membership. Every node keeps a copy of its state and a new holder
// takes over when the holder is lost (actors/directory_snapshot.hpp,
// actors/directory_election.hpp).
//
// How it works. Nodes register their agent (node_atom); the reply lists the
// other nodes so that the newcomer connects to each directly. Processes
// join replicas to a group by index (group_atom); a join is answered when
// every index of the group has joined, so every process leaves
// `join_group` with a complete group, or with `timeout` naming the missing
// indices at its deadline. Variables are created (create-or-get) once the
// group is complete: the directory picks a node (the seed, or round robin
// over serving nodes when spreading), asks its agent to spawn the variable
// actor, has that actor attach to every replica, and only then answers.
// Concurrent creations of one name queue behind the first: they get the
// same variable, or `already_exists` naming what differs.
//
// The directory monitors every node agent, replica actor and variable
// actor: a lost node, replica or variable shows up in `status` (and in
// `runtime::membership`), and lookups of a lost variable still answer so
// that callers get `variable_unavailable` from the call itself.
//
// Rejoin. A node that comes back registers under its old name (its status
// row is reused). A join naming a lost index of a complete group replaces
// that index's replica actor: the directory sends every available variable
// of the group (rejoin_atom, index, new actor) and answers the join once
// all said ok. Each variable actor attaches the new replica and brings it
// to its current state by its policy's rule (policies/<policy>/
// variable_side.cpp): on_write/periodic the current version and the first
// step it takes part in, on_read a copy that leaves cross-replica reads
// unchanged, bounded_staleness the current snapshot at the minimum clock
// (held there until it pushes), none the initial value. A join naming a
// live index is still `already_exists`.
//
// Re-hosting. When a variable actor's node is lost (not shut down), the
// directory re-creates the actor on the next live node that serves
// variables after the lost one (registration order, wrapping; else the
// seed) — a rule every node's view of the membership agrees on, without a
// vote. The new actor takes its state from the surviving replicas
// (actors/variable_actor.hpp, "Re-hosting"); lookups wait until it is
// done and then get the new actor. If it cannot be done (no live node, no
// surviving replica), waiting lookups and the replicas' held updates fail
// with `variable_unavailable` saying why. The seed's own variables are
// re-hosted by the next holder.
//
// See actors/cluster_protocol.hpp for the messages.

#include "actors/actor_counters.hpp"
#include "actors/cluster_protocol.hpp"
#include "actors/directory_handle.hpp"
#include "actors/directory_snapshot.hpp"

#include <caf/all.hpp>
#include <functional>
#include <memory>

namespace varsync {

/// Who elects the holder: a majority of the nodes (built in), or etcd
/// (runtime/etcd_coordinator.hpp), which also decides the first epoch.
struct directory_election_rule {
  bool by_etcd = false;
  std::uint64_t first_epoch = 1;
  /// With etcd: stores each new copy there too (must not block).
  std::function<void(const directory_snapshot&)> persist;
};

/// Spawns the directory of a new cluster (epoch `rule.first_epoch`) on
/// node `holder`.
/// `spread_variables`: place variable actors round robin over the nodes
/// that serve variables instead of on the first registered node (the seed).
caf::actor spawn_directory_actor(caf::actor_system& system,
                                 bool spread_variables,
                                 std::shared_ptr<actor_counters> counters,
                                 directory_holder holder = {"local", "", 0},
                                 directory_election_rule rule = {});

/// Spawns the directory of node `holder` as the candidate to succeed the
/// lost holder of `copy` (this node's newest copy) in `epoch` (higher than
/// any this node followed; actors/directory_election.hpp). Requests wait while
/// it gathers a majority of the nodes alive in `copy`; it then holds the
/// directory, or refuses every change when it could not. With
/// `rule.by_etcd` it won the epoch in etcd and needs no majority.
caf::actor spawn_elected_directory(caf::actor_system& system,
                                   directory_snapshot copy, std::uint64_t epoch,
                                   std::shared_ptr<actor_counters> counters,
                                   directory_holder holder,
                                   directory_election_rule rule = {});

} // namespace varsync
