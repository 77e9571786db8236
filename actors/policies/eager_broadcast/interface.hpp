#pragma once

// on_write's messages as CAF 0.17 typed interfaces: the compiler checks
// that each side implements exactly these handlers (typed_behavior) and
// that every send names a message the receiver declares, with the reply
// the sender expects (sends go through these handle types). The generic
// actors stay untyped (one actor serves every policy): the handles are
// cast from their caf::actor, and the behaviors unboxed into them.
// periodic uses the same messages (its variable side is on_write's).

#include "actors/policies/variable_interface.hpp"
#include "actors/protocol.hpp"
#include "actors/update_reply.hpp"

#include <caf/all.hpp>
#include <cstdint>
#include <string>

namespace varsync {

/// An on_write replica missing a row step asks its variable actor for the
/// latest version: (version, the steps it holds, the whole value).
using latest_atom = caf::atom_constant<caf::atom("latest")>;
/// The replica actor's own check of a gap in a variable's row steps
/// (variable, the version its copy held when the gap appeared).
using rows_gap_atom = caf::atom_constant<caf::atom("rowsgap")>;

/// The variable actor of an on_write or periodic variable.
using eager_broadcast_variable = variable_actor_interface::extend<
    // A replica's update for step `step` (replica index, step, op byte,
    // operand, timeout_ms): ok once the step's version was sent to every
    // replica.
    caf::replies_to<contribute_atom, std::uint64_t, std::uint64_t, std::uint8_t,
                    tensor, std::int64_t>::with<ok_atom>,
    // The same from the bulk plane (connection, the node at its other end,
    // replica actor id, replica index, step, op byte, operand, timeout_ms,
    // tag, part offset, part count): answered with bulk frames on that
    // connection. A contribution in parts arrives once per part (the
    // whole operand, filled up to offset + count; bulk_delivery.hpp).
    caf::reacts_to<bulk_contribute_atom, std::uint64_t, std::string,
                   std::uint64_t, std::uint64_t, std::uint64_t, std::uint8_t,
                   tensor, std::int64_t, std::uint64_t, std::uint64_t,
                   std::uint64_t>,
    // The actor's own deadline alarm (due ticks).
    caf::reacts_to<step_alarm_atom, std::int64_t>,
    // A cross-replica read of rows (row indices, i64 [n], timeout_ms): the
    // version and its rows (invalid_argument for a bad index).
    caf::replies_to<read_rows_atom, tensor, std::int64_t>::with<std::uint64_t,
                                                                tensor>,
    // A replica that missed a row step: the latest version, the steps it
    // holds and its whole value.
    caf::replies_to<latest_atom>::with<std::uint64_t, std::uint64_t, tensor>>;

/// The replica actor's on_write handlers.
using eager_broadcast_replica = caf::typed_actor<
    // A replica-context update from a CAF peer (variable, call number,
    // op byte, operand, timeout_ms): ok once its step is acknowledged.
    caf::replies_to<update_atom, variable_id, std::uint64_t, std::uint8_t,
                    tensor, std::int64_t>::with<ok_atom>,
    // The same from the host thread, reported through the completion.
    caf::reacts_to<local_update_atom, variable_id, std::uint64_t, std::uint8_t,
                   tensor, std::int64_t, update_completion_ptr>,
    // A published version (variable, version, the steps it holds, value).
    caf::reacts_to<install_atom, variable_id, std::uint64_t, std::uint64_t,
                   tensor>,
    // A published version as the row delta (packed) from the version
    // before (variable, version, the steps it holds, delta).
    caf::reacts_to<install_rows_atom, variable_id, std::uint64_t, std::uint64_t,
                   tensor>,
    // The actor's own check of a gap in the row steps of a variable
    // (variable, the version its copy held when the gap appeared).
    caf::reacts_to<rows_gap_atom, variable_id, std::uint64_t>,
    // The outcome of a bulk contribution (variable, step, tag, errc byte
    // or 0, message).
    caf::reacts_to<bulk_ack_atom, variable_id, std::uint64_t, std::uint64_t,
                   std::uint8_t, std::string>,
    // The actor's own deadline alarm (due ticks).
    caf::reacts_to<update_alarm_atom, std::int64_t>,
    // This replica rejoined the group (variable, version, the steps it
    // holds, this replica's first step, the current value): ok once it
    // holds the value and numbers its next update with that step.
    caf::replies_to<rejoin_atom, variable_id, std::uint64_t, std::uint64_t,
                    std::uint64_t, tensor>::with<ok_atom>,
    // The variable's actor was re-created from the replicas (variable,
    // version, the steps it holds, value): the update in flight succeeded
    // if its step is among them, else it is sent again; then the waiting
    // updates go on.
    caf::reacts_to<rehosted_atom, variable_id, std::uint64_t, std::uint64_t,
                   tensor>>;

} // namespace varsync
