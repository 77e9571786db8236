#pragma once

// Opening a CAF connection to another varsync node, with the workaround for
// CAF 0.17.6's spurious connection timeout (see connect_node.cpp).

#include "varsync/error.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace varsync::detail {

/// A node reached by `connect_node`: its CAF node id and the actor it
/// published on that port (null when it publishes none).
struct connected_node {
  caf::node_id node;
  caf::actor published;
};

/// Connects `system`'s middleman to `host:port` (or finds the existing
/// connection) and returns what that node published. Blocks the calling
/// thread (not an actor) for at most `timeout`. Fails with
/// `variable_unavailable` when the connection is refused or lost, and with
/// `timeout` when no handshake completes within `timeout`. Thread-safe.
expected<connected_node> connect_node(caf::actor_system& system,
                                      const std::string& host,
                                      std::uint16_t port,
                                      std::chrono::milliseconds timeout);

} // namespace varsync::detail
