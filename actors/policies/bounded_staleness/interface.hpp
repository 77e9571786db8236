#pragma once

// bounded_staleness's messages as CAF 0.17 typed interfaces (see
// actors/policies/eager_broadcast/interface.hpp for how they are used).

#include "actors/policies/variable_interface.hpp"
#include "actors/protocol.hpp"

#include <caf/all.hpp>
#include <cstdint>

namespace varsync {

/// The variable actor of a bounded_staleness variable.
using bounded_staleness_variable = variable_actor_interface::extend<
    // A replica's clock (replica index, clock, has delta, delta): one-way;
    // a refresh follows when the minimum clock moved.
    caf::reacts_to<push_atom, std::uint64_t, std::uint64_t, bool, tensor>,
    // The group's minimum clock.
    caf::replies_to<min_clock_atom>::with<std::uint64_t>,
    // The current refresh, whole (min clock, version, snapshot): for a
    // replica that missed one of the row refreshes.
    caf::replies_to<refresh_atom>::with<std::uint64_t, std::uint64_t, tensor>,
    // A cross-replica read of rows (row indices, i64 [n], timeout_ms): 0
    // (shards' clocks are their own) and those rows of the server value.
    caf::replies_to<read_rows_atom, tensor, std::int64_t>::with<std::uint64_t,
                                                                tensor>>;

/// The replica actor's bounded_staleness handlers.
using bounded_staleness_replica = caf::typed_actor<
    // A new snapshot (variable, min clock, version, snapshot).
    caf::reacts_to<refresh_atom, variable_id, std::uint64_t, std::uint64_t,
                   tensor>,
    // A refresh that adds packed rows to the previous version's snapshot
    // (variable, min clock, version, rows; see
    // policies::staleness_refresh::rows).
    caf::reacts_to<refresh_rows_atom, variable_id, std::uint64_t, std::uint64_t,
                   tensor>,
    // The host's clock() (timeout_ms): ok once the replica is at most s
    // clocks ahead of the slowest.
    caf::replies_to<clock_atom, std::int64_t>::with<ok_atom>,
    // A read too stale for the replica's clock (variable, clock,
    // timeout_ms): the value once fresh enough.
    caf::replies_to<wait_read_atom, variable_id, std::uint64_t,
                    std::int64_t>::with<tensor>,
    // The host's catch_up (timeout_ms).
    caf::replies_to<catch_up_atom, std::int64_t>::with<ok_atom>,
    // A waiter's deadline (its token).
    caf::reacts_to<wait_expired_atom, std::uint64_t>,
    // This replica rejoined: its clock moves up to the min clock and its
    // cache starts from this snapshot (variable, min clock, version,
    // snapshot); ok once it does.
    caf::replies_to<rejoin_refresh_atom, variable_id, std::uint64_t,
                    std::uint64_t, tensor>::with<ok_atom>>;

} // namespace varsync
