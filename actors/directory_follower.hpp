#pragma once

// A node agent's side of the replicated directory: which directory it
// follows, its newest copy of the directory's state, and its part in
// electing the next holder (actors/directory_election.hpp says how).

#include "actors/actor_counters.hpp"
#include "actors/directory_actor.hpp"
#include "actors/directory_handle.hpp"
#include "actors/directory_snapshot.hpp"

#include <caf/all.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace varsync {

/// What one node agent knows about the directory. Used on the agent's
/// thread only (the handle is thread-safe).
struct directory_follower {
  /// Shared with the host threads; null when nobody else needs it.
  std::shared_ptr<directory_handle> handle;
  /// The directory this node follows (null before joining).
  caf::actor directory;
  /// The epoch it follows; it refuses anything from older holders.
  std::uint64_t epoch = 0;
  /// The newest copy from the directory it follows (epoch 0: none yet).
  directory_snapshot copy;
  /// This node; its name is empty until it registered.
  directory_holder own;
  std::shared_ptr<actor_counters> counters;
  /// Agents of other nodes this one monitors, and those it saw die.
  std::map<caf::actor_addr, std::string> watched;
  std::set<std::string> lost_nodes;
  /// The followed directory died and no successor asked yet.
  bool orphaned = false;
  /// This node saw most nodes of its copy die and asked the host to look
  /// for a newer holder (once, until it follows another directory).
  bool isolated = false;
};

/// Follows `directory` (of `epoch`, or 0 when unknown until its first
/// copy) from now on.
void follow(caf::event_based_actor* self, directory_follower& follower,
            caf::actor directory, std::uint64_t epoch);

/// A copy from the current sender: kept when it comes from the followed
/// directory and is newer. Answers with the epoch this node follows (the
/// sender steps down when it is higher than its own), or an error for a
/// malformed copy.
caf::result<std::uint64_t> accept_copy(caf::event_based_actor* self,
                                       directory_follower& follower,
                                       directory_snapshot& copy);

/// A candidate (the current sender) of `epoch` on node `holder` asks this
/// node to follow it: yes (with the newest copy) when `epoch` is higher
/// than any this node followed.
caf::result<directory_snapshot> answer_follow(caf::event_based_actor* self,
                                              directory_follower& follower,
                                              std::uint64_t epoch,
                                              const std::string& holder);

/// Follows what `follower.handle` names, a directory the host found after
/// this node was cut off (or joined): forgets which nodes it saw die.
void follow_handle(caf::event_based_actor* self, directory_follower& follower);

/// Takes the directory over for the epoch this node won in etcd (what the
/// handle's won_epoch says), from its newest copy, if that epoch is newer
/// than the one it follows.
void take_over_won_epoch(caf::event_based_actor* self,
                         directory_follower& follower);

/// Handles `msg` if it is the DOWN of the followed directory or of a
/// watched agent (then maybe starts an election); false otherwise.
bool follower_down(caf::event_based_actor* self, directory_follower& follower,
                   const caf::down_msg& msg);

} // namespace varsync
