#pragma once

// The directory actor's state (private to actors/directory_*.cpp): what it
// records about nodes, groups and variables, the requests waiting on it,
// and the replication and majority bookkeeping of its holder.

#include "actors/counted_actor.hpp"
#include "actors/directory_actor.hpp"
#include "actors/directory_snapshot.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace varsync::directory_parts {

struct node_entry {
  node_info info;
  bool alive = true;
  /// Not alive because it shut down in order (else it was lost).
  bool left = false;
  /// When it left or was lost (Unix ms, the holder's clock); 0 if alive.
  std::int64_t ended_unix_ms = 0;

  /// Records its end now: left in order, or lost.
  void end(bool in_order);
};

struct join_waiter {
  std::uint64_t token = 0;
  caf::response_promise promise;
};

struct group_entry {
  std::string name;
  std::size_t size = 0;
  /// Replica actors by index; null until joined.
  std::vector<caf::actor> replicas;
  /// The node each replica joined from.
  std::vector<std::string> nodes;
  std::vector<bool> lost;
  /// How often each replica rejoined after it was lost.
  std::vector<std::uint64_t> rejoins;
  bool complete = false;
  std::vector<join_waiter> waiters;

  group_info info() const {
    return group_info{name, static_cast<std::uint64_t>(size), replicas};
  }

  std::vector<std::size_t> missing() const {
    std::vector<std::size_t> result;
    for (std::size_t i = 0; i < size; ++i)
      if (!replicas[i])
        result.push_back(i);
    return result;
  }
};

/// A request for a variable, kept while its name is being created.
struct variable_request {
  std::string group;
  std::string name;
  tensor initial;
  variable_options options;
  caf::response_promise promise;
  /// Shard `*placement` of a sharded variable: hosted by the serving node
  /// at that position (modulo their number), so that the shards of one
  /// variable live on distinct nodes. Unset: the directory's own choice.
  std::optional<std::uint64_t> placement = std::nullopt;
};

struct variable_entry {
  variable_info info;
  bool available = true;
  /// Its actor's node was lost; a new actor is being created elsewhere.
  bool rehosting = false;
  /// Lookups that wait for the re-hosting to end.
  std::vector<caf::response_promise> lookups;
  /// Rejoins that wait for the re-hosting to end: each takes the new actor
  /// (nullptr when the variable could not be re-hosted).
  std::vector<std::function<void(const caf::actor*)>> after_rehosting;
};

/// Sent to itself after a variable actor was lost: re-hosts it once the
/// DOWN messages of the same loss (its node, its replicas) were handled.
using rehost_now_atom = caf::atom_constant<caf::atom("rehostnow")>;

/// Sent to itself once after one or more changes: sends the new copy.
using replicate_now_atom = caf::atom_constant<caf::atom("replnow")>;

/// A copy sent to the nodes and not yet acknowledged by a majority.
struct unconfirmed_copy {
  /// The nodes alive in this copy: the membership once it is confirmed.
  std::set<std::string> alive;
  std::set<std::string> acked;
};

struct directory_state {
  /// This node (the holder) and its address.
  std::string own_node;
  std::string own_host;
  std::uint16_t own_port = 0;
  /// Status stops reporting nodes that ended this long ago.
  std::chrono::milliseconds forget_nodes_after{std::chrono::minutes{10}};
  bool spread = false;
  std::shared_ptr<actor_counters> counters;
  std::vector<node_entry> nodes;
  std::map<std::string, group_entry> groups;
  std::map<std::string, variable_entry> variables;
  /// Requests waiting for a name under creation, by name.
  std::map<std::string, std::vector<variable_request>> creating;
  variable_id next_id = 1;
  std::size_t next_placement = 0;
  std::uint64_t next_token = 1;
  /// etcd elects the holder (it needs no majority of the nodes).
  bool by_etcd = false;
  /// With etcd: stores each new copy there too.
  std::function<void(const directory_snapshot&)> persist;
  /// The holder's term and the number of its last copy.
  std::uint64_t epoch = 1;
  std::uint64_t seq = 0;
  /// A change was made and its copy is not sent yet.
  bool dirty = false;
  /// The nodes whose majority this holder needs to change anything: the
  /// alive nodes of the last copy a majority acknowledged.
  std::set<std::string> membership;
  std::map<std::uint64_t, unconfirmed_copy> unconfirmed;
  /// Set when this directory no longer acts (a newer holder exists, or it
  /// could not gather a majority): why; every request gets it.
  std::optional<std::string> refusal;
  static inline const char* name = "varsync.directory";
};

inline actor_counters* message_counters(directory_state& state) {
  return state.counters.get();
}

using directory_actor_type = counted_actor<directory_state>;

// -- replication (actors/directory_replication.cpp)

/// Milliseconds since the Unix epoch now (the system clock): when nodes
/// ended, as status reports it.
std::int64_t unix_ms_now();

/// The directory's state as a copy.
directory_snapshot to_snapshot(const directory_state& state);

/// Replaces the recorded nodes, groups and variables by `copy`'s (waiting
/// requests are kept).
void load_snapshot(directory_state& state, const directory_snapshot& copy);

/// Records a change: its copy goes to every live node soon (one copy for
/// the changes of one burst of messages).
void changed(directory_actor_type* self);

/// Sends the current copy to every live node agent; majority
/// acknowledgments confirm its membership.
void replicate(directory_actor_type* self);

/// Whether the holder sees a majority of its membership alive.
bool sees_majority(const directory_state& state);

/// The error for a change this holder must not make now (no majority, or
/// it no longer holds the directory); nullopt when it may.
std::optional<caf::error> refuse_change(directory_actor_type* self,
                                        const std::string& what);

// -- the rest of the directory (actors/directory_actor.cpp)

/// The handlers of an acting holder.
caf::behavior acting_directory(directory_actor_type* self);

/// Marks `node` lost (its replicas, its variables to re-host) as a DOWN of
/// its agent would.
void lose_node(directory_actor_type* self, const std::string& node,
               const std::string& why);

/// Ends the re-hosting of variable `name` (lost with `lost_node`) without
/// a new actor: waiting lookups and the surviving replicas' held updates
/// fail with `why`.
void give_up_rehosting(directory_actor_type* self, const std::string& name,
                       const std::string& lost_node, const std::string& why);

/// Monitors every live node agent, replica and variable actor of the
/// recorded state (after an election).
void monitor_recorded(directory_actor_type* self);

} // namespace varsync::directory_parts
