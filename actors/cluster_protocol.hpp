#pragma once

// The messages of the cluster directory and the node agents, and the wire
// forms of what they exchange. Every type here may cross a process
// boundary: each has an `inspect` overload and is registered (with a
// versioned name) in runtime/caf_setup.cpp.
//
// Node -> directory (on the seed):
//   (node_atom, node_info) -> std::vector<node_info>
//       registers a node; the reply lists the other live nodes, which the
//       new node connects to directly (CAF 0.17 does not route reliably
//       through a third node)
//   (group_atom, name, size, indices, replica actors, node name,
//    timeout_ms) -> group_info
//       joins replicas to a group; answered once every index joined, or
//       `timeout` naming the missing indices at the deadline
//   (variable_atom, group name, name, initial tensor, variable_options)
//       -> variable_info          create-or-get; the group must be complete
//   (variable_atom, group name, name, initial tensor, variable_options,
//    placement) -> variable_info
//                                 the same for shard `placement` of a
//                                 sharded variable: hosted by the serving
//                                 node at that position
//   (lookup_atom, name) -> variable_info
//   (status_atom, timeout_ms) -> cluster_status
//   (leave_atom, node name) -> bool
//                                 a node shutting down in order says so
//                                 before it closes its connections: status
//                                 reports it "left", not "lost". Accepted
//                                 only from that node itself; false when
//                                 no live node has that name.
// Directory -> node agent:
//   (spawn_atom, variable_info, initial tensor, replica actors)
//       -> caf::actor                                spawns a variable actor
// Anyone -> variable actor:
//   (status_atom) -> (version u64, min clock u64)

#include "actors/protocol.hpp"
#include "varsync/cluster_status.hpp"

#include <caf/all.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace varsync {

using node_atom = caf::atom_constant<caf::atom("node")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using spawn_atom = caf::atom_constant<caf::atom("spawn")>;

/// A node as it registers with the directory.
struct node_info {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
  bool serves_variables = false;
  /// The node's agent: spawns variable actors there.
  caf::actor agent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("node_info"), x.name, x.host, x.port,
           x.serves_variables, x.agent);
}

/// A complete replica group.
struct group_info {
  std::string name;
  std::uint64_t size = 0;
  /// Replica actors by index.
  std::vector<caf::actor> replicas;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, group_info& x) {
  return f(caf::meta::type_name("group_info"), x.name, x.size, x.replicas);
}

/// A variable as the directory knows it.
struct variable_info {
  variable_id id = 0;
  std::string name;
  std::string group;
  std::uint64_t group_size = 0;
  dtype type = dtype::f32;
  shape_type shape;
  variable_options requested;
  variable_options resolved;
  caf::actor actor;
  std::string node;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, variable_info& x) {
  auto type = static_cast<std::uint8_t>(x.type);
  return f(caf::meta::type_name("variable_info"), x.id, x.name, x.group,
           x.group_size, type, x.shape, x.requested, x.resolved, x.actor,
           x.node, caf::meta::load_callback([&]() -> caf::error {
             if (type > static_cast<std::uint8_t>(dtype::i64))
               return caf::sec::invalid_argument;
             x.type = static_cast<dtype>(type);
             return caf::none;
           }));
}

// -- the public status types on the wire
// ---------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("node_status"), x.name, x.address, x.holder,
           x.serves_variables, x.alive, x.left, x.ended_unix_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_status& x) {
  auto index = static_cast<std::uint64_t>(x.index);
  return f(caf::meta::type_name("replica_status"), index, x.node, x.alive,
           x.rejoins, caf::meta::load_callback([&]() -> caf::error {
             x.index = static_cast<std::size_t>(index);
             return caf::none;
           }));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, group_status& x) {
  auto size = static_cast<std::uint64_t>(x.size);
  return f(caf::meta::type_name("group_status"), x.name, size, x.replicas,
           x.complete, caf::meta::load_callback([&]() -> caf::error {
             x.size = static_cast<std::size_t>(size);
             return caf::none;
           }));
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, variable_status& x) {
  return f(caf::meta::type_name("variable_status"), x.name, x.group,
           x.description, x.node, x.available, x.version, x.clock);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_status& x) {
  return f(caf::meta::type_name("cluster_status"), x.holder, x.epoch,
           x.directory_note, x.nodes, x.groups, x.variables);
}

} // namespace varsync
