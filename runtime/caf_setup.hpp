#pragma once

// The one place where varsync configures CAF: scheduler settings and the
// registration of every message type that may cross a process boundary.

#include "varsync/runtime.hpp"

#include <caf/all.hpp>

namespace varsync {

/// Applies `options` to `config` and registers varsync's message types.
void configure_caf(caf::actor_system_config& config,
                   const runtime_options& options);

} // namespace varsync
