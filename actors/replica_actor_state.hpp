#pragma once

// What every policy's replica side shares: the replica actor's state. The
// handlers live with their protocol in actors/policies/<policy>/
// replica_side.cpp; actors/replica_actor.cpp combines them.

#include "actors/actor_counters.hpp"
#include "actors/counted_actor.hpp"
#include "actors/deadline_alarm.hpp"
#include "actors/local_store.hpp"
#include "actors/policies/bounded_staleness/replica_cache.hpp"
#include "actors/protocol.hpp"
#include "actors/update_reply.hpp"
#include "runtime/transport/bulk_plane.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace varsync {

using clock_type = std::chrono::steady_clock;

/// An update waiting behind the one in flight (on_write).
struct queued_update {
  update_op op;
  tensor operand;
  clock_type::time_point deadline;
  update_reply reply;
};

struct attached_variable {
  std::string name;
  caf::actor variable_actor;
  /// bounded_staleness only: the SSP cache feeding the slot.
  std::shared_ptr<staleness_cache> cache;
  /// The number this replica gives its next collective update.
  std::uint64_t next_step = 0;
  bool in_flight = false;
  /// The caller of the update in flight.
  update_reply in_flight_reply;
  /// The update in flight as the caller made it: sent again to a
  /// re-created variable actor when the lost one had not committed it.
  update_op in_flight_op = update_op::assign;
  tensor in_flight_operand;
  clock_type::time_point in_flight_call_deadline;
  /// When the update in flight fails with a timeout if unanswered.
  clock_type::time_point in_flight_deadline;
  std::deque<queued_update> queue;
  /// Whether updates travel on the bulk plane, and where to.
  bool use_bulk = false;
  std::string bulk_host;
  std::uint16_t bulk_port = 0;
  /// The variable actor's node, as its bulk plane names itself in hellos.
  std::string bulk_node;
  /// Tags the attempts: an answer ends only the attempt with its tag.
  std::uint64_t tag = 0;
  /// Set once the variable actor is gone for good (it stopped, or it
  /// cannot be re-hosted): every call that needs it fails with this error
  /// from then on.
  std::optional<error> unavailable;
  /// The variable actor's node was lost and the directory re-creates it
  /// elsewhere: updates wait (the one in flight included) until the new
  /// actor took this replica's state, or fail at their deadline.
  bool rehosting = false;
  /// on_write/periodic: the latest version installed here, the steps it
  /// holds and its value (what a re-created actor recovers from).
  std::uint64_t committed_version = 0;
  std::uint64_t committed_steps = 0;
  tensor committed_value;
  /// on_write row steps installed since the last whole install: the slot
  /// holds committed_version's value, and committed_value is empty (kept,
  /// it would share the slot's buffer and turn each row step into a copy).
  bool committed_in_slot = false;
  /// Row steps that arrived before the version they follow (whole installs
  /// and row steps may come on different channels: CAF, the bulk plane):
  /// by version, with the steps each holds and its packed delta. At most
  /// max_early_row_steps.
  std::map<std::uint64_t, std::pair<std::uint64_t, tensor>> early_rows;
  /// A check of a gap in the row steps is due (rows_gap_atom) or the
  /// latest version was asked for.
  bool rows_gap_pending = false;
};

/// How many early row steps a replica keeps per variable; one more drops
/// the newest (the latest version, asked for after rows_gap_wait, catches
/// the copy up).
inline constexpr std::size_t max_early_row_steps = 64;

/// How long a gap in a variable's row steps may last before the replica
/// asks its variable actor for the latest version: far longer than the
/// reordering of two channels (microseconds), far shorter than a human
/// notices a stale read.
inline constexpr std::chrono::milliseconds rows_gap_wait{200};

/// A clock() or read waiting for fresher bounded_staleness snapshots.
struct staleness_waiter {
  /// Identifies the waiter's expiry message.
  std::uint64_t token = 0;
  /// The clock the replica must be allowed to be at.
  std::uint64_t clock = 0;
  /// For a read: the variable read; nullopt for clock() and catch-up.
  std::optional<variable_id> read;
  /// Catch-up: wait for min clock >= clock itself, not clock - s.
  bool exact = false;
  caf::response_promise promise;
};

/// A replica-context update with its variable, as it arrived.
struct numbered_update {
  variable_id id;
  queued_update update;
  /// Rejected on arrival (already answered): only its number counts.
  bool rejected = false;
};

struct replica_state {
  /// The number of the next host call to accept (calls are numbered from
  /// 1 by the replica handles; 0 means "no order needed").
  std::uint64_t next_call = 1;
  /// Calls that arrived before an earlier one, by number.
  std::map<std::uint64_t, numbered_update> out_of_order;
  std::vector<staleness_waiter> waiters;
  std::uint64_t next_token = 1;
  std::size_t index = 0;
  std::shared_ptr<local_store> store;
  std::shared_ptr<actor_counters> counters;
  std::unordered_map<variable_id, attached_variable> variables;
  std::shared_ptr<bulk_plane> bulk;
  std::optional<std::uint64_t> bulk_threshold;
  /// Guards the updates in flight of every variable (their deadlines).
  deadline_alarm<update_alarm_atom> update_alarm;
  static inline const char* name = "varsync.replica";
};

/// The runtime's counters (actors/counted_actor.hpp counts every message).
inline actor_counters* message_counters(replica_state& state) {
  return state.counters.get();
}

using replica_actor_type = counted_actor<replica_state>;

/// The error for a variable this replica does not hold.
inline error not_attached(std::size_t index, variable_id id) {
  return error{errc::unknown_variable, "replica " + std::to_string(index) +
                                           " holds no variable with id " +
                                           std::to_string(id)};
}

} // namespace varsync
