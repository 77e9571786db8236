#pragma once

// The one place where varsync configures CAF: scheduler settings, the
// network (middleman, heartbeats) and the registration of every message
// type that may cross a process boundary.

#include "varsync/node_config.hpp"
#include "varsync/runtime.hpp"

#include <caf/all.hpp>

namespace varsync {

/// Applies `options` to `config` and registers varsync's message types.
void configure_caf(caf::actor_system_config& config,
                   const runtime_options& options);

/// Loads CAF's io middleman with the settings of `node`: heartbeats and a
/// connection timeout (off in CAF 0.17 by default), BASP messages decoded
/// on the I/O thread.
void configure_network(caf::actor_system_config& config,
                       const node_config& node);

} // namespace varsync
