#pragma once

// bounded_staleness, variable side: sums pushed deltas per clock and
// refreshes the replicas' caches as the minimum clock advances.

#include "actors/variable_actor_state.hpp"

namespace varsync {

/// The variable actor's behavior under this policy. Handles attach_atom
/// first (sent once by the directory), then the protocol's messages.
caf::behavior bounded_staleness_variable_side(variable_actor_type* self);

} // namespace varsync
