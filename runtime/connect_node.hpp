#pragma once

// Opening an authenticated CAF connection to another varsync node (see
// runtime/basp_link.hpp), with the workaround for CAF 0.17.6's spurious
// connection timeout (see connect_node.cpp).

#include "runtime/basp_link.hpp"
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

/// Opens a TCP connection to `host:port`, proves this process holds the
/// cluster secret of `link` (and checks the peer holds it too), hands the
/// socket to `system`'s BASP broker and returns what that node published.
/// Blocks the calling thread (not an actor) for at most `timeout`, even
/// when the peer accepts and stays silent. Fails with `unauthenticated`
/// when either side's proof fails, `unreachable` when the connection is
/// refused ("connection refused by HOST:PORT") or lost, `not_varsync` as
/// soon as what answers is not a varsync node, and `timeout` (naming the
/// deadline) when no handshake completes within `timeout`. Thread-safe.
expected<connected_node> connect_node(caf::actor_system& system,
                                      const std::string& host,
                                      std::uint16_t port,
                                      std::chrono::milliseconds timeout,
                                      const link_settings& link);

} // namespace varsync::detail
