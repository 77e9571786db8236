#pragma once

// The bulk plane: direct TCP connections between nodes that carry large
// on_write tensors as raw bytes, beside CAF's BASP connection.
//
// Why: CAF 0.17 moves every remote message through one multiplexer thread
// per process, copies a tensor into its send buffer, and copies it again
// out of its receive buffer. For a 16 MiB step the node hosting a variable
// actor spends most of the step doing that. On the bulk plane a tensor is
// written from its own buffer (sendmsg) and read straight into the buffer
// the receiving tensor adopts: one kernel copy per side, no user-space
// copy, one reader and one writer thread per connection.
//
// How it works. Every node listens on an extra port. Each connection
// starts with the cluster handshake (auth_handshake.hpp, channel "bulk"):
// the port is an auth_acceptor (one Asio thread for all handshakes, with
// caps and a deadline), so an unauthenticated peer holds no thread and the
// plane decodes nothing before the peer proved it holds the cluster
// secret; the opening side sends nothing before the listener proved it
// too. A replica that
// contributes to a remote on_write variable opens (once per process and
// peer) a connection to the variable's node and sends `contribute` frames.
// Connections are symmetric: the variable actor answers on the connection
// a contribution came in on (`reply`), so installs and acks need no address
// of the replica's node, and an install and the ack that follows it arrive
// in order (one writer thread per connection, one reader thread). The
// reader validates each frame (magic, kind, dtype, rank, sizes against the
// shape, at most `max_tensor_bytes`), looks up the target it names (only
// targets registered with `add_target` can be named; a frame naming none
// is read through a small buffer and dropped), reads the payload into a
// fresh buffer and hands the frame to the target's sink. Direction rule:
// a connection this node accepted carries only contributions, one it
// opened only installs and acks, so a process that connects cannot hand
// this node's replicas a value. A malformed frame closes its connection
// (and is logged); the node keeps serving. Members' accepted connections
// are capped (in total and per address); the acceptor survives running
// out of descriptors; a connection's socket and threads are released as
// soon as it ends (a reaper thread joins them).
//
// Small frames on an idle connection are written by the sending thread
// itself (non-blocking); the rest by the connection's writer thread.
//
// The plane moves frames; it knows no protocol. What a frame means to an
// actor (which CAF message it becomes) is the sink's business:
// actors/bulk_delivery.hpp.
//
// Failure model: the bulk plane carries data, not liveness. A node that
// dies closes its connections (kill -9) or stops reading (SIGSTOP); the
// actors learn about it from CAF's monitors as before, and a frame queued
// for a dead connection is dropped. Senders fall back to CAF when `reply`
// finds the connection gone.
//
// Frames (host byte order; every node of a cluster must share it):
//   header, 72 bytes: magic "VSB1" u32, kind u8, dtype u8, rank u8, code u8,
//     target u64, reply_to u64, variable u64, index u64, number u64,
//     tag u64, timeout_ms i64, payload bytes u64
//   rank dimensions as i64, then the payload.

#include "runtime/transport/auth_acceptor.hpp"
#include "runtime/transport/cluster_secret.hpp"
#include "varsync/error.hpp"
#include "varsync/tensor.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace varsync {

/// What a frame is.
enum class bulk_kind : std::uint8_t {
  /// A replica's on_write update: `code` is the op byte, `number` the step.
  contribute = 1,
  /// A published version for a replica: `number` is the version.
  install = 2,
  /// The outcome of a contribution: `code` is 0 or the errc, `number` the
  /// step, `text` the error message.
  ack = 3,
  /// An install and the successful ack of the contribution it completes,
  /// in one frame (one write and one read less per step): `number` is the
  /// version, `index` the step, `tag` the attempt.
  install_ack = 4,
};

/// One frame to send. Tensors are sent from their own buffer.
struct bulk_frame {
  bulk_kind kind = bulk_kind::ack;
  std::uint8_t code = 0;
  /// The actor id of the receiving actor at the receiving node.
  std::uint64_t target = 0;
  /// contribute: the actor id of the sending replica actor (for replies).
  std::uint64_t reply_to = 0;
  std::uint64_t variable = 0;
  /// contribute: the replica index; install_ack: the step.
  std::uint64_t index = 0;
  /// contribute, ack: the step; install: the version.
  std::uint64_t number = 0;
  /// contribute, ack, install_ack: the attempt a reply answers.
  std::uint64_t tag = 0;
  std::int64_t timeout_ms = 0;
  /// contribute, install, install_ack.
  tensor value;
  /// ack: the error message.
  std::string text;
};

/// Takes the frames that name one target. Called on the reader thread of
/// the connection the frame came in on (`connection`: pass it to
/// `bulk_plane::reply` to answer on the same connection); must not block.
using bulk_sink = std::function<void(std::uint64_t connection, bulk_frame)>;

/// Deadlines that keep a peer from holding a connection (and its reader
/// thread) with silence or a trickle of bytes. A connection between frames
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

/// One node's bulk plane: a listening socket, the connections to and from
/// peers and their threads. Thread-safe; every member may be called from
/// any thread (typically actor handlers). Never blocks on the network
/// except `listen` (binding) and `stop` (joining threads).
class bulk_plane {
public:
  /// Listens on `host` at a free port; every connection proves and checks
  /// `secret` first. Blocks while binding; `unauthenticated` without a
  /// secret.
  static expected<std::shared_ptr<bulk_plane>>
  listen(const std::string& host,
         std::shared_ptr<const auth::cluster_secret> secret,
         bulk_limits limits = {});

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

  /// Queues `frame` for the node listening at `host:port`, opening a
  /// connection first when there is none. Returns at once; a frame that
  /// cannot be delivered (connection refused or lost) is dropped.
  void send(const std::string& host, std::uint16_t port, bulk_frame frame);

  /// Queues `frame` on the connection `connection` (from a delivered
  /// contribute). False when that connection is closed: send it some
  /// other way.
  bool reply(std::uint64_t connection, bulk_frame frame);

  /// Closes every connection and the listening socket and joins all
  /// threads; queued frames are dropped. Blocks until done. Idempotent.
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
