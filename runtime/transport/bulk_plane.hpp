#pragma once

// The bulk plane: direct TCP connections between nodes that carry large
// on_write tensors as raw bytes, beside CAF's BASP connection.
//
// Why: CAF 0.17 moves every remote message through one multiplexer thread
// per process, copies a tensor into its send buffer, and copies it again
// out of its receive buffer. For a 16 MiB step the node hosting a variable
// actor spends most of the step doing that. On the bulk plane a tensor is
// written from its own buffer and read straight into the buffer the
// receiving tensor adopts: one kernel copy per side, no user-space copy.
//
// How it works. Every node listens on an extra port, behind an
// auth_acceptor (channel "bulk"): an unauthenticated peer holds a few
// hundred bytes and no thread, and the plane decodes nothing before the
// peer proved it holds the cluster secret; the opening side sends nothing
// before the listener proved it too. With TLS configured, every connection
// then runs mutual TLS (the cluster CA's certificates, as on the BASP
// port). Each side's first frame is a hello naming its node, which binds
// the connection to that node (bulk_connection.hpp). A replica that
// contributes to a remote on_write variable opens (once per process and
// peer node) a connection to the variable's node and sends `contribute`
// frames; the variable actor answers on the connection a contribution
// came in on (`reply`), so installs and acks need no address of the
// replica's node, and an install and the ack that follows it arrive in
// order. What a connection may carry: an accepted one only contributions,
// an opened one only replies naming a replica and variable whose
// contribution went out on it (a process that connects cannot hand this
// node's replicas a value; a member cannot answer for a variable it was
// not asked about). Every frame is validated (magic, kind, dtype, rank,
// sizes against the shape and `max_payload`) and its target looked up
// before its payload is allocated; a frame naming no target is read
// through a small buffer and dropped. A malformed frame closes its
// connection (and is logged, rate-limited); the node keeps serving.
//
// Parts. A large tensor may travel as several frames, each carrying the
// elements from an offset (`bulk_frame::part_offset`, `part_count`; the
// header keeps the whole tensor's shape): on the variable's node the
// reduce of a contribution's first megabyte starts while the rest is on
// its way, and the result's first megabyte goes back before the last one
// is reduced. The receiving connection reads each part straight into one
// buffer of the whole tensor, allocated with the first part (checked
// against max-message like a whole frame). The parts of a frame arrive in
// order on one connection, those of different frames may interleave (at
// most 8 frames open per connection); a part that does not continue its
// frame (wrong offset, number, dtype or shape, a contribution's part in an
// install) is malformed. The last part's header is the frame's (an
// install's last part may be an install_ack). A contribution is delivered
// once per part, the same whole tensor each time with the part that
// arrived (the elements before its end are final); installs only once
// complete. A new first part for the same
// target, sender (reply_to) and variable restarts the frame (a step whose
// reduce started over).
//
// Threads: one Boost.Asio I/O thread runs every connection of the plane
// (plus the acceptor's thread); no thread per connection. Members'
// accepted connections are capped (in total and per address); a closed
// connection's socket is released as soon as its last operation ends.
//
// The plane moves frames; it knows no protocol. What a frame means to an
// actor (which CAF message it becomes) is the sink's business:
// actors/bulk_delivery.hpp. Frame layout: bulk_wire.hpp.
//
// Failure model: the bulk plane carries data, not liveness. A node that
// dies closes its connections (kill -9) or stops reading (SIGSTOP); the
// actors learn about it from CAF's monitors as before, and a frame queued
// for a dead connection is dropped. Senders fall back to CAF when `reply`
// finds the connection gone.

#include "runtime/transport/auth_acceptor.hpp"
#include "runtime/transport/bulk_frame.hpp"
#include "runtime/transport/cluster_secret.hpp"
#include "varsync/error.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace varsync {

/// Deadlines that keep a peer from holding a connection with silence or a
/// trickle of bytes. A connection between frames
/// may stay idle as long as it likes (the caps bound how many there are).
struct bulk_limits {
  /// An accepted connection's first frame must arrive whole within this
  /// (a peer's replica opens a connection to send a contribution at once).
  std::chrono::milliseconds first_frame{5000};
  /// A frame whose header arrived must be complete within this grace plus
  /// its size at `min_rate`.
  std::chrono::milliseconds frame_grace{30000};
  /// Bytes per second a frame must average beyond the grace.
  std::uint64_t min_rate = std::uint64_t{1} << 20;
  /// The cluster handshake must be done within this (both directions;
  /// an opening side's connect counts in).
  std::chrono::milliseconds handshake{5000};
  /// Largest payload a frame may announce (node_config::max_message).
  std::uint64_t max_payload = std::uint64_t{1} << 30;
  /// How long the I/O thread polls after each burst of work before it
  /// sleeps (spinning_io.hpp; node_config::bulk_spin); 0: it sleeps at
  /// once. Not a limit, but set with them.
  std::chrono::microseconds spin{0};
  /// Senders split a contribution of more than twice this many bytes into
  /// parts of this size (node_config::bulk_part); 0: never. Not a limit
  /// either: what this node sends, not what it accepts.
  std::uint64_t part_bytes = std::uint64_t{1} << 20;
};

/// Counters of one node's bulk plane. Thread-safe.
struct bulk_counters {
  std::atomic<std::uint64_t> frames_sent{0};
  std::atomic<std::uint64_t> frames_received{0};
  /// Frames that closed their connection (malformed, or too slow: see
  /// bulk_limits) or named no target.
  std::atomic<std::uint64_t> frames_rejected{0};
  /// Members' connections closed at once: over the caps (in total, per
  /// address). Refusals during the handshake: `gate_counters`.
  std::atomic<std::uint64_t> connections_refused{0};
};

/// Who a node is on the bulk plane.
struct bulk_identity {
  /// This node's name, sent in the hello of every connection (the runtime
  /// uses CAF's node id). Empty: "bulk@HOST:PORT".
  std::string node_name;
  /// PEM files for mutual TLS on every connection (all three or none):
  /// this node's certificate and key, and the cluster CA.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
};

/// Where to send a frame: a peer's bulk plane and the node expected there.
struct bulk_address {
  std::string host;
  std::uint16_t port = 0;
  /// The node whose hello the listener must send (empty: any member).
  std::string node;
};

/// One node's bulk plane: a listening socket, the connections to and from
/// peers and the thread serving them. Thread-safe; every member may be
/// called from any thread (typically actor handlers). Never blocks on the
/// network except `listen` (binding) and `stop` (joining threads).
class bulk_plane {
public:
  /// Listens on `host` at a free port; every connection proves and checks
  /// `secret` first (and runs mutual TLS when `identity` names TLS files).
  /// Blocks while binding; `unauthenticated` without a secret,
  /// `invalid_argument` when the TLS files cannot be loaded.
  static expected<std::shared_ptr<bulk_plane>>
  listen(const std::string& host,
         std::shared_ptr<const auth::cluster_secret> secret,
         bulk_limits limits = {}, bulk_identity identity = {});

  /// Stops (see `stop`).
  ~bulk_plane();

  bulk_plane(const bulk_plane&) = delete;
  bulk_plane& operator=(const bulk_plane&) = delete;

  /// The host this plane listens on.
  const std::string& host() const noexcept;

  /// The port this plane listens on.
  std::uint16_t port() const noexcept;

  /// Lets frames name target `id` (an actor id): they go to `sink`. Call it
  /// for every local actor that receives bulk frames, before its id is
  /// sent anywhere.
  void add_target(std::uint64_t id, bulk_sink sink);

  /// Frames naming `id` are dropped from now on.
  void remove_target(std::uint64_t id);

  /// Queues `frame` for the node listening at `to`, opening a connection
  /// first when there is none (frames wait until both hellos passed).
  /// Returns at once; a frame that cannot be delivered (connection refused
  /// or lost, another node there) is dropped.
  void send(const bulk_address& to, bulk_frame frame);

  /// Bytes per part of a contribution sent in parts (bulk_limits); 0:
  /// whole.
  std::uint64_t part_bytes() const noexcept;

  /// This node's name in hellos.
  const std::string& node_name() const noexcept;

  /// Whether connections run TLS.
  bool uses_tls() const noexcept;

  /// Queues `frame` on the connection `connection` (from a delivered
  /// contribute). False when that connection is closed: send it some
  /// other way.
  bool reply(std::uint64_t connection, bulk_frame frame);

  /// Closes every connection and the listening socket and joins the
  /// threads; queued frames are dropped and no sink runs after it returns.
  /// Blocks until done. Idempotent.
  void stop();

  /// This plane's counters.
  const bulk_counters& counters() const noexcept;

  /// What its port's handshakes did (members, refusals, accept retries).
  const auth::acceptor_counters& gate_counters() const noexcept;

  struct impl;

private:
  explicit bulk_plane(std::unique_ptr<impl> state);

  std::unique_ptr<impl> impl_;
};

} // namespace varsync
