#pragma once

// Handing authenticated sockets to CAF's BASP broker, and bounding what a
// BASP peer may make this node allocate.
//
// CAF 0.17.6 accepts and connects with its own doorman and scribes, and
// its BASP broker allocates (and zero-fills) a receive buffer of whatever
// payload size a header announces, before a byte of payload arrives. So
// varsync accepts and connects itself (runtime/transport/auth_acceptor.hpp,
// auth_socket.hpp), runs the cluster handshake, and only then gives the
// socket to the BASP broker, with the two messages the broker's own
// behavior takes (caf/io/basp_broker.cpp, 0.17.6):
//   - `(publish_atom, scribe_ptr, port, actor, signatures)`: an accepted
//     connection; the broker adopts the scribe, (re)registers `actor` as
//     published at `port` and writes its server handshake, exactly as for a
//     connection its doorman accepted;
//   - `(connect_atom, scribe_ptr, port)`: an outgoing one; the broker
//     writes its client handshake and answers with (node_id, actor, sigs)
//     once the peer's handshake arrived.
// The scribe is ours (`bounded_scribe`): when BASP asks it to read a
// payload above `max_message` bytes it closes the connection instead of
// allocating; BASP then cleans up as for any lost connection.

#include "runtime/transport/cluster_secret.hpp"
#include "varsync/error.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace varsync::detail {

/// Told when a connection handed to CAF is refused: the peer's address
/// (no port) and why (a message above the limit; a failed TLS
/// handshake). Called on CAF's I/O thread.
using link_refusal_handler =
    std::function<void(const std::string& address, const std::string& reason)>;

/// How this process opens and bounds CAF connections.
struct link_settings {
  /// The cluster secret proven on every connection.
  std::shared_ptr<const auth::cluster_secret> secret;
  /// Largest BASP message a peer may announce (node_config::max_message).
  std::uint64_t max_message = std::uint64_t{1} << 30;
  /// Told about refused connections (for the log); may be empty.
  link_refusal_handler on_refused;
  /// Whether connections run TLS (CAF's openssl module must be loaded with
  /// the node's certificate, key and CA; see caf_setup.hpp).
  bool tls = false;
  /// Counts the scribes made with these settings that are alive (for the
  /// cap on members' connections); null: not counted.
  std::shared_ptr<std::atomic<std::size_t>> open_connections;
};

/// A CAF scribe for `fd` (ownership passes) that refuses to read messages
/// above `link.max_message` bytes; over TLS with mutual certificates when
/// `link.tls` (the handshake runs on CAF's I/O thread; `accepted`: this
/// side accepted the connection; the session's context comes from the
/// system's `openssl.*` settings, which must have been checked with
/// check_tls_files: CAF raises on files it cannot load). Does not start
/// reading: hand it to the BASP broker. Null when a TLS session cannot
/// start (then `fd` is closed). Thread-safe (creates an object only).
caf::io::scribe_ptr make_scribe(caf::actor_system& system, int fd,
                                bool accepted, const link_settings& link);

/// CAF's BASP broker of `system`.
caf::actor basp_broker_of(caf::actor_system& system);

/// The registry of proxies for remote actors that `system`'s BASP broker
/// keeps: what a deserializer needs to read handles of actors on other
/// nodes outside a message from the network (CAF's BASP workers read them
/// with it). Never null once the middleman started; the registry is
/// thread-safe.
caf::proxy_registry* basp_proxies(caf::actor_system& system);

} // namespace varsync::detail
