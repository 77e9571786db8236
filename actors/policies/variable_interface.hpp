#pragma once

// What every variable actor answers, whatever its policy, as a CAF 0.17
// typed interface: the directory attaches it and asks its status, the host
// reads and updates it cross-replica. Each policy's interface extends this
// one with its own protocol (actors/policies/<policy>/interface.hpp), and
// its variable side is built as a typed_behavior of it, so the compiler
// checks every handler.

#include "actors/cluster_protocol.hpp"
#include "actors/protocol.hpp"

#include <caf/all.hpp>
#include <cstdint>

namespace varsync {

/// The messages every variable actor handles.
using variable_actor_interface = caf::typed_actor<
    // From the directory: attach every replica, then ok.
    caf::replies_to<attach_atom>::with<ok_atom>,
    // (version, min clock); 0 where the policy has none.
    caf::replies_to<status_atom>::with<std::uint64_t, std::uint64_t>,
    // Cross-replica read (timeout_ms): the aggregated or current value, or
    // the policy's error.
    caf::replies_to<read_atom, std::int64_t>::with<tensor>,
    // Cross-replica update (op byte, operand, timeout_ms).
    caf::replies_to<cross_update_atom, std::uint8_t, tensor,
                    std::int64_t>::with<ok_atom>,
    // From the directory: the lost replica `index` joined again as this
    // actor; ok once it holds the variable's current state and takes part
    // from the next step (or the policy's refusal).
    caf::replies_to<rejoin_atom, std::uint64_t, caf::actor>::with<ok_atom>>;

} // namespace varsync
