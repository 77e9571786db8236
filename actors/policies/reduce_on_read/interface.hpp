#pragma once

// on_read's messages as CAF 0.17 typed interfaces (see
// actors/policies/eager_broadcast/interface.hpp for how they are used). The
// variable actor needs no more than every variable's interface; none
// (local_only) uses that interface too.

#include "actors/policies/variable_interface.hpp"
#include "actors/protocol.hpp"

#include <caf/all.hpp>
#include <cstdint>

namespace varsync {

/// The variable actor of an on_read variable.
using reduce_on_read_variable = variable_actor_interface;

/// The replica actor's on_read handlers (the variable actor's gather and
/// cross-replica writes).
using reduce_on_read_replica = caf::typed_actor<
    // The replica's copy of a variable.
    caf::replies_to<copy_get_atom, variable_id>::with<tensor>,
    // Applies (op byte, operand) to the replica's copy.
    caf::replies_to<copy_set_atom, variable_id, std::uint8_t,
                    tensor>::with<ok_atom>>;

} // namespace varsync
