#pragma once

// The host gateway: one actor per runtime through which host threads make
// requests to actors (cross-replica calls, clock(), SSP waits, directory
// lookups), instead of spawning a helper actor per call.
//
// How it works. A host thread sends (host_ask_atom, host_request). The
// gateway runs the request's `send` in its own context (one CAF request
// whose typed handlers report to the request's host_call) and, for a
// target on another node, monitors it once and remembers the call: CAF
// 0.17 leaves a request to an actor on a dead node pending until its
// timeout, so on the target's DOWN message the gateway fails every call
// still waiting for it with `variable_unavailable`. The runtime links the
// gateway to its lifetime actor: when the runtime stops, the gateway dies,
// its pending handlers are destroyed, and every call still waiting reports
// `shutting_down` (see host_call).
//
// Guarantee: every host_request's call reports exactly once, by its
// deadline plus the reply grace at the latest.

#include "actors/host_call.hpp"

#include <caf/all.hpp>

namespace varsync {

using host_ask_atom = caf::atom_constant<caf::atom("hostask")>;

/// Spawns the gateway, linked to `lifetime` (it dies with it).
caf::actor spawn_host_gateway(caf::actor_system& system,
                              const caf::actor& lifetime);

} // namespace varsync
