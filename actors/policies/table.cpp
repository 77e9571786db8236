#include "actors/policies/table.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/bounded_staleness/host_side.hpp"
#include "actors/policies/bounded_staleness/replica_side.hpp"
#include "actors/policies/bounded_staleness/variable_side.hpp"
#include "actors/policies/eager_broadcast/host_side.hpp"
#include "actors/policies/eager_broadcast/replica_side.hpp"
#include "actors/policies/eager_broadcast/variable_side.hpp"
#include "actors/policies/local_only/host_side.hpp"
#include "actors/policies/local_only/variable_side.hpp"
#include "actors/policies/periodic/host_side.hpp"
#include "actors/policies/reduce_on_read/replica_side.hpp"
#include "actors/policies/reduce_on_read/variable_side.hpp"

#include <string>

namespace varsync::policies {

namespace {

error no_row(synchronization sync, const char* what) {
  return error{errc::invalid_policy,
               std::string{"no "} + what + " for synchronization " +
                   std::to_string(static_cast<int>(sync)) +
                   " (automatic must be resolved first)"};
}

/// A policy whose variable actor holds no state (the replicas' copies
/// are the state): the re-created actor is a new one.
template <caf::behavior (*Side)(variable_actor_type*)>
caf::behavior from_copies(variable_actor_type* self,
                          const std::vector<replica_recovery>&) {
  return Side(self);
}

} // namespace

expected<rehosted_side_factory> rehosted_side_of(synchronization sync) {
  // No default: the compiler (-Wswitch) names a policy without a row.
  switch (sync) {
  case synchronization::on_write:
  case synchronization::periodic:
    return &eager_broadcast_rehosted_side;
  case synchronization::on_read:
    return &from_copies<&reduce_on_read_variable_side>;
  case synchronization::none:
    return &from_copies<&local_only_variable_side>;
  case synchronization::bounded_staleness:
    return &bounded_staleness_rehosted_side;
  case synchronization::automatic:
    break; // resolved before a variable actor exists
  }
  return no_row(sync, "re-hosted variable actor behavior");
}

expected<variable_side_factory> variable_side_of(synchronization sync) {
  // No default: the compiler (-Wswitch) names a policy without a row.
  switch (sync) {
  case synchronization::on_write:
    return &eager_broadcast_variable_side;
  case synchronization::on_read:
    return &reduce_on_read_variable_side;
  case synchronization::none:
    return &local_only_variable_side;
  case synchronization::bounded_staleness:
    return &bounded_staleness_variable_side;
  case synchronization::periodic:
    // Each synchronization is an on_write step of accumulated changes
    // (actors/policies/periodic/replica_accumulator.hpp).
    return &eager_broadcast_variable_side;
  case synchronization::automatic:
    break; // resolved before a variable actor exists
  }
  return no_row(sync, "variable actor behavior");
}

caf::message_handler replica_sides(replica_actor_type* self) {
  // periodic's replica side is on_write's; none has no replica messages.
  return eager_broadcast_replica_side(self)
      .or_else(bounded_staleness_replica_side(self))
      .or_else(reduce_on_read_replica_side(self));
}

void fail_pending_calls(replica_actor_type* self, attached_variable& entry,
                        variable_id id) {
  fail_pending_updates(entry);
  fail_waiting_reads(self, id, to_caf_error(*entry.unavailable));
}

expected<local_part_factory> local_part_of(synchronization sync) {
  // No default: the compiler (-Wswitch) names a policy without a row.
  switch (sync) {
  case synchronization::on_write:
    return &make_eager_broadcast_local_part;
  case synchronization::on_read:
  case synchronization::none:
    // Updates change the replica's own copy; on_read aggregates on read.
    return &make_local_copy_part;
  case synchronization::bounded_staleness:
    return &make_bounded_staleness_local_part;
  case synchronization::periodic:
    return &make_periodic_local_part;
  case synchronization::automatic:
    break; // resolved before a variable attaches
  }
  return no_row(sync, "replica-side local part");
}

} // namespace varsync::policies
