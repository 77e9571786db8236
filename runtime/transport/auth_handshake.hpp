#pragma once

// The handshake that proves a connection's peer holds the cluster secret,
// before any of its bytes reach CAF's BASP parser or the bulk plane's frame
// decoder. As Erlang's distribution cookie, but the secret never crosses
// the wire: both sides prove they hold it with HMAC-SHA256 over nonces
// from both sides.
//
// How it works (fixed sizes, so a peer can make us read at most 72 bytes):
//   1. server -> client, hello (41 B): magic "VSA1\r\n\r\n", the channel byte
//      (BASP or bulk: a proof for one cannot open the other), a 32-byte
//      random server nonce.
//   2. client -> server, proof (72 B): magic, a 32-byte random client
//      nonce, HMAC(secret, "varsync client" | channel | server nonce |
//      client nonce).
//   3. server -> client, verdict (33 B): 1 (accepted) and HMAC(secret,
//      "varsync server" | channel | client nonce | server nonce), or 0
//      (refused) and zeros; a refused connection is closed.
// The client sends the proof's magic (its first 8 bytes, the same in every
// proof) at once, before the hello arrives: a line-based server that is
// not a varsync node (HTTP, Redis, SMTP ...) reads that "request" up to its
// empty line and answers with an error at once, and the client, which
// checks each byte of the hello as it arrives, reports "not a varsync
// node" without waiting for its deadline.
// The server compares in constant time (CRYPTO_memcmp). The client checks
// the server's proof too, so a process that listens on a member's address
// cannot pose as the cluster. The two labels differ, so a proof cannot be
// reflected back. After the handshake the bytes of the connection are not
// authenticated one by one: this keeps out processes that cannot see the
// traffic (local users on loopback, hosts on a trusted network); on
// networks where others can read or inject packets use TLS.
//
// The classes here only compute and check messages (no I/O); the drivers
// are auth_socket.hpp (blocking, with deadlines) and auth_acceptor.hpp
// (Boost.Asio, many handshakes on one thread).

#include "runtime/transport/cluster_secret.hpp"
#include "varsync/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace varsync::auth {

/// Which port a handshake opens: a proof for one is refused by the other.
enum class channel : std::uint8_t {
  basp = 'B',
  bulk = 'D',
};

inline constexpr std::size_t nonce_size = 32;
inline constexpr std::size_t mac_size = 32;
inline constexpr std::size_t magic_size = 8;
inline constexpr std::size_t hello_size = magic_size + 1 + nonce_size;
inline constexpr std::size_t proof_size = magic_size + nonce_size + mac_size;
inline constexpr std::size_t verdict_size = 1 + mac_size;

/// The first bytes of a hello and of a proof. It ends with an empty line
/// (see above) and contains no byte a terminal would interpret.
inline constexpr std::array<std::byte, magic_size> magic{
    std::byte{'V'},  std::byte{'S'},  std::byte{'A'},  std::byte{'1'},
    std::byte{'\r'}, std::byte{'\n'}, std::byte{'\r'}, std::byte{'\n'}};

using hello_bytes = std::array<std::byte, hello_size>;
using proof_bytes = std::array<std::byte, proof_size>;
using verdict_bytes = std::array<std::byte, verdict_size>;

/// Why a handshake failed, for logs and error messages.
enum class refusal : std::uint8_t {
  /// Not a varsync handshake (wrong magic): some other program.
  not_varsync,
  /// A varsync handshake for the other port (BASP vs bulk plane).
  wrong_channel,
  /// The peer's proof does not match our secret.
  wrong_secret,
  /// The server refused our proof.
  refused_by_peer,
};

/// "wrong cluster secret", ...
const char* to_string(refusal reason) noexcept;

/// The listening side of one handshake. Not thread-safe (one per
/// connection).
class server_handshake {
public:
  /// Keeps a copy of `secret` (wiped with it) and draws a fresh nonce
  /// (OpenSSL's RAND_bytes; without random bytes every handshake fails).
  server_handshake(const cluster_secret& secret, channel purpose);

  /// The first message, to send as soon as the connection is accepted.
  const hello_bytes& hello() const noexcept { return hello_; }

  /// Checks the client's proof. `accepted` tells whether to hand the
  /// connection on; `verdict` is what to send either way (then close a
  /// refused connection).
  struct outcome {
    verdict_bytes verdict{};
    bool accepted = false;
    refusal reason = refusal::wrong_secret;
  };
  outcome answer(std::span<const std::byte, proof_size> proof) const;

private:
  cluster_secret secret_;
  channel purpose_;
  std::array<std::byte, nonce_size> nonce_{};
  bool seeded_ = false;
  hello_bytes hello_{};
};

/// The connecting side of one handshake. Not thread-safe (one per
/// connection).
class client_handshake {
public:
  /// Keeps a copy of `secret` (wiped with it) and draws a fresh nonce
  /// (OpenSSL's RAND_bytes; without random bytes every handshake fails).
  client_handshake(const cluster_secret& secret, channel purpose);

  /// The proof answering the server's hello; `not_varsync` when the hello
  /// is not a varsync hello for `purpose`.
  expected<proof_bytes> prove(std::span<const std::byte, hello_size> hello);

  /// Checks the server's verdict: ok when it accepted us and proved it
  /// holds the secret too. Call after `prove` succeeded.
  expected<void> check(std::span<const std::byte, verdict_size> verdict) const;

  /// Why the last `prove` or `check` failed.
  refusal reason() const noexcept { return reason_; }

private:
  cluster_secret secret_;
  channel purpose_;
  std::array<std::byte, nonce_size> nonce_{};
  std::array<std::byte, nonce_size> server_nonce_{};
  bool seeded_ = false;
  mutable refusal reason_ = refusal::not_varsync;
};

} // namespace varsync::auth
