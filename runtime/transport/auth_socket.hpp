#pragma once

// Blocking drivers of the cluster handshake (auth_handshake.hpp) on a
// socket, each bounded by a deadline: for a thread that opens a connection
// (CAF connects, bulk plane writers) or already owns one (bulk plane
// readers). Many concurrent accepts are the business of auth_acceptor.hpp.

#include "runtime/transport/auth_handshake.hpp"
#include "varsync/error.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace varsync::auth {

using deadline_type = std::chrono::steady_clock::time_point;

/// A TCP connection to `host:port` (blocking mode, TCP_NODELAY,
/// close-on-exec), opened before `deadline` even when the peer accepts the
/// SYN but never answers. `timeout` when the deadline passes, otherwise
/// `unreachable` naming the address and the reason ("connection refused
/// by HOST:PORT" when nothing listens there).
/// Blocks the calling thread. The caller owns the descriptor.
expected<int> connect_with_deadline(const std::string& host, std::uint16_t port,
                                    deadline_type deadline);

/// Runs the client side of the handshake on `fd` (which this process
/// opened to `peer`, a "host:port" for messages). `not_varsync` as soon as
/// the peer's first bytes are not a varsync hello for `purpose` (naming
/// what it sent), `unauthenticated` when either side's proof fails,
/// `timeout` when the deadline passes, `unreachable` when the connection
/// breaks. Blocks.
expected<void> prove_membership(int fd, const cluster_secret& secret,
                                channel purpose, deadline_type deadline,
                                const std::string& peer);

/// Runs the server side of the handshake on `fd` (accepted from `peer`).
/// On failure: `unauthenticated` (with the refusal in `reason`), `timeout`,
/// or `unreachable`; the caller closes the descriptor. Blocks.
expected<void> check_membership(int fd, const cluster_secret& secret,
                                channel purpose, deadline_type deadline,
                                const std::string& peer,
                                refusal* reason = nullptr);

} // namespace varsync::auth
