#pragma once

// none, variable side: names the variable and refuses cross-replica calls.

#include "actors/variable_actor_state.hpp"

namespace varsync {

/// The variable actor's behavior under this policy. Handles attach_atom
/// first (sent once by the directory), then the protocol's messages.
caf::behavior local_only_variable_side(variable_actor_type* self);

} // namespace varsync
