#pragma once

// A listening port that lets through only connections whose peer proved it
// holds the cluster secret (auth_handshake.hpp), before any of their bytes
// reach the protocol behind it. CAF's BASP port sits behind one: an
// authenticated socket is handed to CAF (runtime/basp_link.hpp), so
// unauthenticated bytes never reach BASP's parser, whose header makes it
// allocate whatever size a peer announces.
//
// How it works: one thread runs a Boost.Asio io_context. It accepts,
// sends the hello, reads the fixed-size proof (72 bytes: an
// unauthenticated peer costs a few hundred bytes, no thread), answers, and
// passes the socket of an accepted peer to `on_member`. Bounds: handshakes
// in flight in total and per peer address, a deadline per handshake (then
// the socket is closed), and an accept loop that backs off and keeps
// serving when the process is out of descriptors. Every refusal is counted
// and reported to `on_refused` (which rate-limits its logging).

#include "runtime/transport/auth_handshake.hpp"
#include "varsync/error.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace varsync::auth {

/// Bounds on what unauthenticated peers may hold.
struct acceptor_limits {
  /// A peer must complete the handshake within this after its connect.
  std::chrono::milliseconds handshake_deadline{5000};
  /// Handshakes in flight at most (more connections are closed at once).
  std::size_t max_pending = 64;
  /// Handshakes in flight from one peer address at most.
  std::size_t max_pending_per_address = 16;
};

/// What an acceptor did. Thread-safe.
struct acceptor_counters {
  std::atomic<std::uint64_t> members{0};
  /// Closed at accept: over `max_pending` or `max_pending_per_address`.
  std::atomic<std::uint64_t> over_caps{0};
  /// Refused by the handshake (wrong secret, not varsync, wrong port).
  std::atomic<std::uint64_t> unauthenticated{0};
  /// Closed at the handshake deadline or broken during the handshake.
  std::atomic<std::uint64_t> abandoned{0};
  /// Accepts that failed for lack of descriptors or memory (then retried).
  std::atomic<std::uint64_t> accept_retries{0};
};

/// Takes an authenticated connection: `fd` (ownership passes), the peer's
/// "address:port". Called on the acceptor's thread; must not block long.
using member_handler = std::function<void(int fd, const std::string& peer)>;

/// Told about each refused or abandoned connection: the peer's address
/// (no port) and why. Called on the acceptor's thread.
using refusal_handler =
    std::function<void(const std::string& address, const std::string& reason)>;

/// A listening socket and its handshake thread. Thread-safe.
class auth_acceptor {
public:
  /// Binds `host:port` (0: a free port); connections wait in the backlog
  /// until `start`. Blocks while binding; `address_in_use` naming the
  /// address when another socket holds the port, `invalid_argument` when
  /// it cannot bind for another reason.
  static expected<std::unique_ptr<auth_acceptor>>
  listen(const std::string& host, std::uint16_t port,
         std::shared_ptr<const cluster_secret> secret, channel purpose,
         acceptor_limits limits = {});

  /// Starts accepting on a thread of its own: members go to `on_member`,
  /// refusals to `on_refused`. Call once.
  void start(member_handler on_member, refusal_handler on_refused);

  /// Stops (see `stop`).
  ~auth_acceptor();

  auth_acceptor(const auth_acceptor&) = delete;
  auth_acceptor& operator=(const auth_acceptor&) = delete;

  /// The bound port.
  std::uint16_t port() const noexcept;

  /// Closes the listening socket and every unfinished handshake and joins
  /// the thread; no handler runs after it returns. Blocks. Idempotent.
  void stop();

  const acceptor_counters& counters() const noexcept;

  struct impl;

private:
  explicit auth_acceptor(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

} // namespace varsync::auth
