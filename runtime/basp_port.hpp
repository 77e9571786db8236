#pragma once

// This node's CAF port: connections are accepted and authenticated by an
// auth_acceptor (runtime/transport/auth_acceptor.hpp); each member's socket
// is handed to CAF's BASP broker as a connection to the actor this node
// publishes (runtime/basp_link.hpp). CAF's own doorman is never opened, so
// no unauthenticated byte reaches BASP.

#include "runtime/basp_link.hpp"
#include "runtime/transport/auth_acceptor.hpp"
#include "runtime/transport/refusal_log.hpp"

#include <caf/all.hpp>
#include <memory>
#include <string>

namespace varsync::detail {

/// The listening BASP port of a node. Thread-safe.
class basp_port {
public:
  /// Binds `host:port` (0: a free one) and starts admitting members, each
  /// as a peer of `published`, at most `max_connections` at a time (more
  /// are closed after their handshake and logged). Blocks while binding;
  /// as `auth::auth_acceptor::listen` when it cannot bind
  /// (`address_in_use`, `invalid_argument`).
  static expected<std::unique_ptr<basp_port>>
  open(caf::actor_system& system, const std::string& host, std::uint16_t port,
       caf::actor published, link_settings link, auth::acceptor_limits limits,
       std::size_t max_connections);

  /// Stops (see `stop`).
  ~basp_port();

  /// The bound port.
  std::uint16_t port() const noexcept;

  /// Stops accepting and closes unfinished handshakes; connections already
  /// handed to CAF stay (they close with the actor system). Blocks until
  /// the acceptor's thread ended. Idempotent.
  void stop();

  /// What the acceptor did (members, refusals).
  const auth::acceptor_counters& counters() const noexcept;

  /// Refusals logged or counted (handshakes and oversized messages).
  const refusal_log& refusals() const noexcept { return *refusals_; }

private:
  basp_port() = default;
  std::unique_ptr<auth::auth_acceptor> acceptor_;
  std::shared_ptr<refusal_log> refusals_;
};

} // namespace varsync::detail
