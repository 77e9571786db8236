#pragma once

// Electing the next holder of the directory when the holder is lost.
//
// How it works. Every node agent monitors the directory it follows and the
// agents of the nodes in its newest copy (actors/directory_snapshot.hpp).
// When the directory dies with its node (not at a shutdown), each agent
// names the same candidate without a vote: the first node in registration
// order that is alive in its copy, is not the lost holder, and whose agent
// it did not see die. The candidate's agent spawns a directory for epoch
// e + 1 (e: the highest epoch it knows of), which asks every other node
// alive in its copy to follow it (follow_atom). A node follows a candidate
// of an epoch higher than any it followed before, once per epoch, and
// answers with its newest copy; from then on it refuses copies, spawns and
// re-hosts from anyone else. With a majority of the nodes alive in the
// copy (itself included) the candidate takes the newest copy it was
// given, records the old holder's node as lost — its variables are
// re-hosted as for any lost node — and acts. Without a majority it changes
// nothing: replicas waiting for the old holder's variables fail at once,
// later changes are refused with the reason. If the candidate dies too,
// the agents name the next one for a higher epoch.
//
// The rule that keeps two holders from accepting conflicting changes: a
// holder changes nothing unless it sees a majority of its membership
// (actors/directory_replication.cpp), and a node that followed epoch e
// fences every older holder. A frozen holder that comes back finds its
// copies refused by nodes that follow a newer epoch and stops acting.

#include "actors/directory_snapshot.hpp"

#include <chrono>

namespace varsync {

/// How long a candidate waits for each node's answer.
inline constexpr std::chrono::seconds election_timeout{5};

} // namespace varsync
