#pragma once

// on_read's messages as CAF 0.17 typed interfaces (see
// actors/policies/eager_broadcast/interface.hpp for how they are used). The
// variable actor adds a read of rows to every variable's interface; none
// (local_only) uses that interface as it is.

#include "actors/policies/variable_interface.hpp"
#include "actors/protocol.hpp"

#include <caf/all.hpp>
#include <cstdint>

namespace varsync {

/// The variable actor of an on_read variable.
using reduce_on_read_variable = variable_actor_interface::extend<
    // A cross-replica read of rows (row indices, i64 [n], timeout_ms): 0
    // (no versions) and the aggregate of every copy's rows.
    caf::replies_to<read_rows_atom, tensor, std::int64_t>::with<std::uint64_t,
                                                                tensor>>;

/// The replica actor's on_read handlers (the variable actor's gather and
/// cross-replica writes).
using reduce_on_read_replica = caf::typed_actor<
    // The replica's copy of a variable.
    caf::replies_to<copy_get_atom, variable_id>::with<tensor>,
    // The rows (row indices, i64 [n]) of the replica's copy.
    caf::replies_to<copy_rows_atom, variable_id, tensor>::with<tensor>,
    // Applies (op byte, operand) to the replica's copy; op add_rows takes
    // a packed row delta and adds it in place.
    caf::replies_to<copy_set_atom, variable_id, std::uint8_t,
                    tensor>::with<ok_atom>>;

} // namespace varsync
