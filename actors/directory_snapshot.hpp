#pragma once

// A copy of the directory's state (nodes, groups, variables, placement
// counters) as the holder sends it to every node, and the rules a node
// applies to the copies it receives.
//
// How the directory is replicated. The holder of the directory (the seed
// first) sends its whole state, numbered (epoch, seq), to every live node
// agent after each change; the state is small (names, sizes and actor
// handles, no tensors), so a whole copy is simpler and no slower than a
// log of changes, and a copy is applied in order by its number alone. An
// agent keeps the newest copy it received from the holder it follows and
// acknowledges it; a copy from any other actor, or older than what it has,
// is dropped. The epoch grows by one with each new holder
// (actors/directory_election.hpp): a node that promised to follow epoch e
// refuses every copy, spawn and re-host of a holder of an older epoch, so a
// holder that was frozen and comes back cannot change anything.

#include "actors/cluster_protocol.hpp"

#include <caf/all.hpp>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace varsync {

/// Holder -> agent: (directory_state_atom, directory_snapshot) -> u64, the
/// epoch the agent follows (higher than the sender's: the sender no longer
/// holds the directory).
using directory_state_atom = caf::atom_constant<caf::atom("dirstate")>;

/// New holder -> agent: (follow_atom, epoch, holder name) ->
/// directory_snapshot (the agent's newest copy), or an error when the agent
/// already follows this or a newer epoch.
using follow_atom = caf::atom_constant<caf::atom("follow")>;

/// A node as the directory records it.
struct directory_node_row {
  node_info info;
  bool alive = true;
  /// Not alive because it shut down in order (else it was lost).
  bool left = false;
  /// When it left or was lost (Unix ms, the holder's clock); 0 if alive.
  std::int64_t ended_unix_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, directory_node_row& x) {
  return f(caf::meta::type_name("directory_node_row"), x.info, x.alive, x.left,
           x.ended_unix_ms);
}

/// A replica group as the directory records it; every list has `size`
/// entries (validated on arrival).
struct directory_group_row {
  std::string name;
  std::uint64_t size = 0;
  std::vector<caf::actor> replicas;
  std::vector<std::string> nodes;
  /// 1 for a replica that was lost (CAF 0.17 has no vector<bool> form).
  std::vector<std::uint8_t> lost;
  std::vector<std::uint64_t> rejoins;
  bool complete = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, directory_group_row& x) {
  return f(caf::meta::type_name("directory_group_row"), x.name, x.size,
           x.replicas, x.nodes, x.lost, x.rejoins, x.complete);
}

/// A variable as the directory records it.
struct directory_variable_row {
  variable_info info;
  bool available = true;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        directory_variable_row& x) {
  return f(caf::meta::type_name("directory_variable_row"), x.info, x.available);
}

/// The whole directory state at one point of its history.
struct directory_snapshot {
  /// The holder's term: 1 for the seed, one more for each new holder.
  std::uint64_t epoch = 0;
  /// Changes within the epoch; 0 before the first.
  std::uint64_t seq = 0;
  /// The node holding the directory and its address (new nodes connect
  /// to it directly).
  std::string holder;
  std::string holder_host;
  std::uint16_t holder_port = 0;
  bool spread = false;
  std::uint64_t next_id = 1;
  std::uint64_t next_placement = 0;
  /// In registration order.
  std::vector<directory_node_row> nodes;
  std::vector<directory_group_row> groups;
  std::vector<directory_variable_row> variables;

  /// Whether this copy comes later in the directory's history than
  /// `other`.
  bool newer_than(const directory_snapshot& other) const noexcept {
    return std::tie(epoch, seq) > std::tie(other.epoch, other.seq);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, directory_snapshot& x) {
  return f(caf::meta::type_name("directory_snapshot"), x.epoch, x.seq, x.holder,
           x.holder_host, x.holder_port, x.spread, x.next_id, x.next_placement,
           x.nodes, x.groups, x.variables);
}

/// Most nodes, groups and variables a copy from the network may list;
/// larger copies are refused (bounded memory on every node).
inline constexpr std::size_t max_snapshot_rows = 100000;

/// An empty string, or why `snapshot` (from the network) is malformed.
std::string check_snapshot(const directory_snapshot& snapshot);

} // namespace varsync
