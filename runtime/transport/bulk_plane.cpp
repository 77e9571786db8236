#include "runtime/transport/bulk_plane.hpp"

#include "runtime/core/wire.hpp"
#include "runtime/transport/auth_acceptor.hpp"
#include "runtime/transport/auth_socket.hpp"
#include "runtime/transport/refusal_log.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace varsync {

namespace {

constexpr std::uint32_t frame_magic = 0x31425356; // "VSB1"
constexpr std::size_t header_size = 72;
/// The longest error message an ack may carry.
constexpr std::uint64_t max_ack_text = 64 * 1024;
/// Accepted connections at most, in total and from one address: each has a
/// reader and a writer thread, so an unbounded count of idle connections
/// would cost threads and descriptors without limit. A cluster needs one
/// per peer node and direction.
constexpr std::size_t max_accepted_connections = 256;
constexpr std::size_t max_connections_per_address = 128;
/// Frames up to this many payload bytes are written by the sending thread
/// itself when the connection is idle (see `bulk_plane::impl::post`).
constexpr std::size_t inline_write_limit = 64 * 1024;

/// The fixed part of a frame, as it travels.
struct wire_header {
  std::uint32_t magic = frame_magic;
  std::uint8_t kind = 0;
  std::uint8_t type = 0;
  std::uint8_t rank = 0;
  std::uint8_t code = 0;
  std::uint64_t target = 0;
  std::uint64_t reply_to = 0;
  std::uint64_t variable = 0;
  std::uint64_t index = 0;
  std::uint64_t number = 0;
  std::uint64_t tag = 0;
  std::int64_t timeout_ms = 0;
  std::uint64_t payload = 0;
};

static_assert(sizeof(wire_header) == header_size,
              "wire_header must have no padding");

/// Header and dimensions of `frame`, ready to send.
std::vector<std::byte> encode_head(const bulk_frame& frame) {
  wire_header head;
  head.kind = static_cast<std::uint8_t>(frame.kind);
  head.code = frame.code;
  head.target = frame.target;
  head.reply_to = frame.reply_to;
  head.variable = frame.variable;
  head.index = frame.index;
  head.number = frame.number;
  head.tag = frame.tag;
  head.timeout_ms = frame.timeout_ms;
  std::size_t rank = 0;
  if (frame.kind == bulk_kind::ack) {
    head.payload = frame.text.size();
  } else {
    head.type = static_cast<std::uint8_t>(frame.value.type());
    rank = frame.value.shape().size();
    head.rank = static_cast<std::uint8_t>(rank);
    head.payload = frame.value.bytes().size();
  }
  std::vector<std::byte> result(header_size + rank * sizeof(std::int64_t));
  std::memcpy(result.data(), &head, header_size);
  if (rank > 0)
    std::memcpy(result.data() + header_size, frame.value.shape().data(),
                rank * sizeof(std::int64_t));
  return result;
}

/// Why a received header is unacceptable, or nullptr.
const char* check_head(const wire_header& head) {
  if (head.magic != frame_magic)
    return "bad magic (not a varsync bulk frame)";
  if (head.kind < static_cast<std::uint8_t>(bulk_kind::contribute) ||
      head.kind > static_cast<std::uint8_t>(bulk_kind::install_ack))
    return "unknown frame kind";
  if (head.kind == static_cast<std::uint8_t>(bulk_kind::ack)) {
    if (head.rank != 0 || head.payload > max_ack_text)
      return "ack with a shape or an oversized message";
    return nullptr;
  }
  if (head.type > static_cast<std::uint8_t>(dtype::i64))
    return "unknown dtype";
  if (head.rank > max_tensor_rank)
    return "rank above 32";
  if (head.payload > max_tensor_bytes)
    return "payload above 4 GiB";
  return nullptr;
}

using steady = std::chrono::steady_clock;

/// When a read must be done by; none: it may wait for ever.
using read_deadline = std::optional<steady::time_point>;

/// Waits until `fd` is readable or `deadline` passes; false then (errno
/// ETIMEDOUT) or on an error.
bool wait_readable(int fd, steady::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - steady::now());
    if (left.count() <= 0) {
      errno = ETIMEDOUT;
      return false;
    }
    pollfd entry{fd, POLLIN, 0};
    auto ready = ::poll(
        &entry, 1, static_cast<int>(std::min<long>(left.count(), 1 << 30)));
    if (ready > 0)
      return true;
    if (ready < 0 && errno != EINTR)
      return false;
  }
}

/// Reads exactly `size` bytes; false on EOF, error or when `deadline`
/// passes first (errno ETIMEDOUT). With a deadline, bytes already there
/// are taken without waiting (no poll per read in the common case).
bool read_exactly(int fd, void* data, std::size_t size,
                  const read_deadline& deadline = std::nullopt) {
  auto* at = static_cast<char*>(data);
  while (size > 0) {
    auto got = ::recv(fd, at, size, deadline ? MSG_DONTWAIT : MSG_WAITALL);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0 && deadline && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_readable(fd, *deadline))
        return false;
      continue;
    }
    if (got <= 0)
      return false;
    at += got;
    size -= static_cast<std::size_t>(got);
  }
  return true;
}

/// Reads and drops `size` bytes through a small buffer (no allocation of
/// the announced size); false on EOF or error.
bool discard_exactly(int fd, std::uint64_t size,
                     const read_deadline& deadline) {
  std::byte buffer[16 * 1024];
  while (size > 0) {
    auto chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof(buffer)));
    if (!read_exactly(fd, buffer, chunk, deadline))
      return false;
    size -= chunk;
  }
  return true;
}

/// Whether a frame of `kind` may arrive on a connection this node accepted
/// (`inbound`) or opened. Contributions travel from a replica's node, which
/// opens the connection, to the variable's node; installs and acks come
/// back on that same connection. So an accepted connection carries only
/// contributions and an opened one only replies: a process that connects
/// to a node cannot hand its replicas installs or acks.
bool allowed_direction(bulk_kind kind, bool inbound) {
  return (kind == bulk_kind::contribute) == inbound;
}

/// Writes every byte of `parts`; false on error.
bool write_all(int fd, std::vector<iovec> parts) {
  std::size_t first = 0;
  while (first < parts.size()) {
    msghdr message{};
    message.msg_iov = parts.data() + first;
    message.msg_iovlen = parts.size() - first;
    auto sent = ::sendmsg(fd, &message, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR)
      continue;
    if (sent <= 0)
      return false;
    auto left = static_cast<std::size_t>(sent);
    while (first < parts.size() && left >= parts[first].iov_len) {
      left -= parts[first].iov_len;
      ++first;
    }
    if (left > 0) {
      parts[first].iov_base = static_cast<char*>(parts[first].iov_base) + left;
      parts[first].iov_len -= left;
    }
  }
  return true;
}

/// The pieces of `frame` as they go on the wire: `head` (from
/// `encode_head`), then the text or the tensor's own bytes.
std::vector<iovec> parts_of(const bulk_frame& frame,
                            std::vector<std::byte>& head) {
  std::vector<iovec> parts{{head.data(), head.size()}};
  if (frame.kind == bulk_kind::ack) {
    if (!frame.text.empty())
      parts.push_back({const_cast<char*>(frame.text.data()), // NOLINT
                       frame.text.size()});
  } else if (auto bytes = frame.value.bytes(); !bytes.empty()) {
    parts.push_back(
        {const_cast<std::byte*>(bytes.data()), bytes.size()}); // NOLINT
  }
  return parts;
}

/// The payload bytes of `frame`.
std::size_t payload_of(const bulk_frame& frame) {
  return frame.kind == bulk_kind::ack ? frame.text.size()
                                      : frame.value.bytes().size();
}

/// Writes what the socket takes of `parts` without blocking; the bytes
/// left unsent are appended to `rest`. False on a socket error.
bool write_some(int fd, const std::vector<iovec>& parts,
                std::vector<std::byte>& rest) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(parts.data()); // NOLINT
  message.msg_iovlen = parts.size();
  ssize_t sent = -1;
  do
    sent = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (sent < 0 && errno == EINTR);
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return false;
  auto skip = sent < 0 ? std::size_t{0} : static_cast<std::size_t>(sent);
  for (const auto& part : parts) {
    auto* data = static_cast<const std::byte*>(part.iov_base);
    if (skip >= part.iov_len) {
      skip -= part.iov_len;
      continue;
    }
    rest.insert(rest.end(), data + skip, data + part.iov_len);
    skip = 0;
  }
  return true;
}

void set_no_delay(int fd) {
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

} // namespace

/// One TCP connection (opened by this node or accepted): a queue of frames
/// drained by its writer thread, and a reader thread delivering frames.
struct bulk_connection {
  std::uint64_t id = 0;
  /// "host:port" for connections this node opened; empty for accepted ones.
  std::string outbound_key;
  /// The peer's address of an accepted connection.
  std::string address;
  std::string peer;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<bulk_frame> queue;
  /// Bytes of a frame a sending thread wrote only in part; the writer
  /// thread sends them before anything queued.
  std::vector<std::byte> tail;
  /// A thread (the writer or a sender writing inline) is writing to `fd`.
  bool writing = false;
  int fd = -1;
  /// The cluster handshake succeeded: frames may be written.
  bool ready = false;
  bool closed = false;
  std::thread writer;
  std::thread reader;
  /// Threads of this connection that have not returned yet; 0 once both
  /// ended (after the connection closed): then `reap` may join them.
  std::atomic<int> running{0};
  /// Called by each thread of this connection as it returns (wakes the
  /// plane's reaper). Set before the threads start.
  std::function<void()> ended;

  /// Joins both threads and closes the socket; once the connection is
  /// closed. The writer of an outbound connection starts its reader, so
  /// the writer is joined first.
  void finish() {
    if (writer.joinable())
      writer.join();
    if (reader.joinable())
      reader.join();
    { // a sender may still be inside an inline write
      std::unique_lock guard{mutex};
      wake.wait(guard, [this] { return !writing; });
    }
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }

  /// Starts `body` on `slot` (the reader or the writer) and counts it in
  /// `running` until it returns. Called with the plane's or this
  /// connection's mutex held, so `reap` never sees 0 before it started.
  template <class Body> void start(std::thread& slot, Body body) {
    running.fetch_add(1);
    slot = std::thread{[this, body = std::move(body)] {
      body();
      running.fetch_sub(1);
      if (ended)
        ended();
    }};
  }

  /// Whether `close` was called.
  bool is_closed() {
    std::lock_guard guard{mutex};
    return closed;
  }

  /// Marks the connection closed and wakes both threads. Idempotent.
  void close() {
    std::lock_guard guard{mutex};
    closed = true;
    queue.clear();
    tail.clear();
    if (fd >= 0)
      ::shutdown(fd, SHUT_RDWR);
    wake.notify_all();
  }
};

struct bulk_plane::impl {
  bulk_limits limits;
  std::shared_ptr<const auth::cluster_secret> secret;
  refusal_log refusals{"bulk plane"};
  std::string host;
  std::uint16_t port = 0;
  /// Accepts and authenticates; members come to `admit`.
  std::unique_ptr<auth::auth_acceptor> gate;
  /// Joins the threads of ended connections as soon as they end.
  std::thread reaper;
  bulk_counters counters;
  std::mutex mutex;
  std::condition_variable reap_wake;
  bool reap_due = false;
  bool stopping = false;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<const bulk_sink>> targets;
  std::map<std::uint64_t, std::shared_ptr<bulk_connection>> connections;
  std::map<std::string, std::uint64_t> outbound;

  /// The sink of target `id`, or null.
  std::shared_ptr<const bulk_sink> target(std::uint64_t id) {
    std::lock_guard guard{mutex};
    auto i = targets.find(id);
    return i == targets.end() ? nullptr : i->second;
  }

  /// Forgets `c` as the connection to its peer (it stays in `connections`
  /// until `reap` or `stop` joins its threads).
  void forget(const bulk_connection& c) {
    std::lock_guard guard{mutex};
    if (!c.outbound_key.empty()) {
      auto i = outbound.find(c.outbound_key);
      if (i != outbound.end() && i->second == c.id)
        outbound.erase(i);
    }
  }

  /// Drops the connections that closed: joins their threads and closes
  /// the sockets, outside the lock. Called whenever a connection is added,
  /// so closed ones never pile up (each holds a socket and two threads'
  /// stacks), however fast a peer opens bad ones. An inbound connection
  /// that is closed is joined even if its threads are still returning
  /// (they do at once: the socket is shut down); an outbound one only once
  /// both returned (its writer may still be inside connect()).
  void reap() {
    std::vector<std::shared_ptr<bulk_connection>> ended;
    {
      std::lock_guard guard{mutex};
      for (auto i = connections.begin(); i != connections.end();) {
        const auto& c = *i->second;
        if (c.running.load() == 0 ||
            (c.outbound_key.empty() && i->second->is_closed())) {
          ended.push_back(std::move(i->second));
          i = connections.erase(i);
        } else {
          ++i;
        }
      }
    }
    for (auto& c : ended)
      c->finish();
  }

  void closed_because(bulk_connection& c, const std::string& reason) {
    refusals(c.address.empty() ? c.peer : c.address,
             "closed the connection: " + reason);
    c.close();
    forget(c);
  }

  /// Delivers frames until the connection closes.
  void read_loop(const std::shared_ptr<bulk_connection>& c) {
    // An accepted connection's first frame has a deadline; after that the
    // connection may idle between frames, and each frame, once its header
    // arrived, has one of its own (bulk_limits).
    read_deadline first_frame;
    if (c->outbound_key.empty()) {
      first_frame = steady::now() + limits.first_frame;
    }
    auto too_slow = [&] {
      counters.frames_rejected.fetch_add(1, std::memory_order_relaxed);
      closed_because(*c, "too slow: a frame did not arrive by its deadline");
    };
    for (;;) {
      wire_header head;
      if (!read_exactly(c->fd, &head, header_size, first_frame)) {
        if (errno == ETIMEDOUT)
          return too_slow();
        break;
      }
      if (const auto* problem = check_head(head)) {
        counters.frames_rejected.fetch_add(1, std::memory_order_relaxed);
        closed_because(*c, problem);
        return;
      }
      if (head.payload > limits.max_payload) {
        counters.frames_rejected.fetch_add(1, std::memory_order_relaxed);
        closed_because(*c, "a frame of " + std::to_string(head.payload) +
                               " payload bytes, above max-message " +
                               std::to_string(limits.max_payload));
        return;
      }
      // The rest of the frame: the grace plus its size at the minimum rate
      // (and never later than the first frame's deadline).
      read_deadline frame_deadline =
          steady::now() + limits.frame_grace +
          std::chrono::milliseconds{
              std::min<std::uint64_t>(head.payload / limits.min_rate,
                                      std::uint64_t{1} << 31) *
              1000};
      if (first_frame)
        frame_deadline = std::min(*frame_deadline, *first_frame);
      shape_type shape(head.rank);
      if (head.rank > 0 &&
          !read_exactly(c->fd, shape.data(), head.rank * sizeof(std::int64_t),
                        frame_deadline)) {
        if (errno == ETIMEDOUT)
          return too_slow();
        break;
      }
      auto kind = static_cast<bulk_kind>(head.kind);
      auto type = static_cast<dtype>(head.type);
      if (!allowed_direction(kind, c->outbound_key.empty())) {
        counters.frames_rejected.fetch_add(1, std::memory_order_relaxed);
        closed_because(*c, kind == bulk_kind::contribute
                               ? "a contribution on a connection this node "
                                 "opened (only replies come back on it)"
                               : "an install or ack on a connection this node "
                                 "accepted (only contributions come in on it)");
        return;
      }
      if (kind != bulk_kind::ack) {
        auto expected_bytes = announced_bytes(type, shape);
        if (!expected_bytes || *expected_bytes != head.payload) {
          counters.frames_rejected.fetch_add(1, std::memory_order_relaxed);
          closed_because(*c, "payload size does not match the shape");
          return;
        }
      }
      bulk_frame frame;
      frame.kind = kind;
      frame.code = head.code;
      frame.target = head.target;
      frame.reply_to = head.reply_to;
      frame.variable = head.variable;
      frame.index = head.index;
      frame.number = head.number;
      frame.tag = head.tag;
      frame.timeout_ms = head.timeout_ms;
      // The target is looked up before anything of the announced size is
      // allocated: a frame naming no registered actor costs no memory.
      auto sink = target(frame.target);
      if (!sink) {
        counters.frames_rejected.fetch_add(1, std::memory_order_relaxed);
        if (!discard_exactly(c->fd, head.payload, frame_deadline)) {
          if (errno == ETIMEDOUT)
            return too_slow();
          break;
        }
        first_frame.reset();
        continue;
      }
      if (kind == bulk_kind::ack) {
        frame.text.assign(head.payload, '\0');
        if (head.payload > 0 &&
            !read_exactly(c->fd, frame.text.data(), frame.text.size(),
                          frame_deadline)) {
          if (errno == ETIMEDOUT)
            return too_slow();
          break;
        }
        first_frame.reset();
        counters.frames_received.fetch_add(1, std::memory_order_relaxed);
        (*sink)(c->id, std::move(frame));
        continue;
      }
      // The payload is read straight into the tensor's own buffer.
      auto value = tensor::uninitialized(type, std::move(shape));
      if (!value) {
        counters.frames_rejected.fetch_add(1, std::memory_order_relaxed);
        closed_because(*c, "the shape does not form a tensor");
        return;
      }
      if (auto bytes = value->mutable_bytes();
          !bytes.empty() &&
          !read_exactly(c->fd, bytes.data(), bytes.size(), frame_deadline)) {
        if (errno == ETIMEDOUT)
          return too_slow();
        break;
      }
      first_frame.reset();
      counters.frames_received.fetch_add(1, std::memory_order_relaxed);
      frame.value = std::move(*value);
      (*sink)(c->id, std::move(frame));
    }
    c->close();
    forget(*c);
  }

  /// Connects (outbound connections), starts the reader and sends queued
  /// frames until the connection closes.
  void write_loop(const std::shared_ptr<bulk_connection>& c,
                  std::string peer_host, std::uint16_t peer_port) {
    if (!peer_host.empty()) {
      auto deadline = steady::now() + limits.handshake;
      auto fd = auth::connect_with_deadline(peer_host, peer_port, deadline);
      if (!fd) {
        closed_because(*c, fd.error().message());
        return;
      }
      {
        std::lock_guard guard{c->mutex};
        c->fd = *fd;
        if (c->closed)
          ::shutdown(*fd, SHUT_RDWR);
      }
      auto proven = auth::prove_membership(*fd, *secret, auth::channel::bulk,
                                           deadline, c->outbound_key);
      if (!proven) {
        closed_because(*c, proven.error().message());
        return;
      }
      std::lock_guard guard{c->mutex};
      c->ready = true;
      c->start(c->reader, [this, c] { read_loop(c); });
    }
    for (;;) {
      bulk_frame frame;
      std::vector<std::byte> tail;
      {
        std::unique_lock guard{c->mutex};
        c->wake.wait(guard, [&] {
          return c->closed || (c->ready && !c->writing &&
                               (!c->tail.empty() || !c->queue.empty()));
        });
        if (c->closed)
          return;
        c->writing = true;
        if (!c->tail.empty()) {
          tail.swap(c->tail);
        } else {
          frame = std::move(c->queue.front());
          c->queue.pop_front();
        }
      }
      bool written = false;
      if (!tail.empty()) {
        written = write_all(c->fd, {{tail.data(), tail.size()}});
      } else {
        auto head = encode_head(frame);
        written = write_all(c->fd, parts_of(frame, head));
        if (frame.kind != bulk_kind::ack)
          tensor_bytes_serialized.fetch_add(payload_of(frame),
                                            std::memory_order_relaxed);
        counters.frames_sent.fetch_add(1, std::memory_order_relaxed);
      }
      auto write_error = errno;
      {
        std::lock_guard guard{c->mutex};
        c->writing = false;
        c->wake.notify_all();
      }
      if (!written) {
        closed_because(*c, std::strerror(write_error));
        return;
      }
    }
  }

  /// Sends `frame` on `c`, or drops it and returns false when `c` is
  /// closed. A small frame on an idle connection (nothing queued, nobody
  /// writing, the socket connected) is written by the calling thread with
  /// a non-blocking send, so the step's small frames cost no wake-up of
  /// the writer thread; what the socket does not take at once, and every
  /// other frame, goes to the writer thread. Never blocks on the network.
  bool post(bulk_connection& c, bulk_frame frame) {
    std::unique_lock guard{c.mutex};
    if (c.closed)
      return false;
    if (c.fd < 0 || !c.ready || c.writing || !c.queue.empty() ||
        !c.tail.empty() || payload_of(frame) > inline_write_limit) {
      c.queue.push_back(std::move(frame));
      c.wake.notify_all();
      return true;
    }
    c.writing = true;
    auto fd = c.fd;
    guard.unlock();
    auto head = encode_head(frame);
    std::vector<std::byte> rest;
    auto written = write_some(fd, parts_of(frame, head), rest);
    auto write_error = errno;
    if (frame.kind != bulk_kind::ack)
      tensor_bytes_serialized.fetch_add(payload_of(frame),
                                        std::memory_order_relaxed);
    counters.frames_sent.fetch_add(1, std::memory_order_relaxed);
    guard.lock();
    c.writing = false;
    if (!c.closed)
      c.tail = std::move(rest);
    // Wake the writer only for work (a notify it does not need costs it a
    // wake-up); finish() waits only on a closed connection.
    if (c.closed || !c.tail.empty() || !c.queue.empty())
      c.wake.notify_all();
    guard.unlock();
    if (!written)
      closed_because(c, std::strerror(write_error));
    return true;
  }

  /// Wakes the reaper (a connection's thread ended).
  void connection_ended() {
    std::lock_guard guard{mutex};
    reap_due = true;
    reap_wake.notify_all();
  }

  /// Releases ended connections (sockets and threads) as they end, until
  /// `stop`.
  void reap_loop() {
    for (;;) {
      {
        std::unique_lock guard{mutex};
        reap_wake.wait(guard, [this] { return reap_due || stopping; });
        if (stopping)
          return;
        reap_due = false;
      }
      reap();
    }
  }

  /// Takes a connection the gate accepted and authenticated (`fd`, from
  /// `address`): starts its reader and writer, unless it is over the caps
  /// of members' connections (in total and from one address), which closes
  /// it and counts it.
  void admit(int fd, const std::string& address) {
    // The gate's Asio socket left it non-blocking; the reader blocks.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    set_no_delay(fd);
    auto c = std::make_shared<bulk_connection>();
    c->fd = fd;
    c->ready = true;
    c->address = address;
    c->peer = "from " + address;
    c->ended = [this] { connection_ended(); };
    std::lock_guard guard{mutex};
    if (stopping) {
      ::close(fd);
      return;
    }
    std::size_t accepted = 0;
    std::size_t same_address = 0;
    for (const auto& [id, other] : connections)
      if (other->outbound_key.empty()) {
        ++accepted;
        if (other->address == c->address)
          ++same_address;
      }
    if (accepted >= max_accepted_connections ||
        same_address >= max_connections_per_address) {
      // Counted first: the peer may look once it sees the close.
      counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
      ::close(fd);
      refusals(address, "over the cap of connections");
      return;
    }
    c->id = next_id++;
    connections.emplace(c->id, c);
    c->start(c->reader, [this, c] { read_loop(c); });
    c->start(c->writer, [this, c] { write_loop(c, {}, 0); });
  }
};

bulk_plane::bulk_plane(std::unique_ptr<impl> state) : impl_(std::move(state)) {
  // nop
}

expected<std::shared_ptr<bulk_plane>>
bulk_plane::listen(const std::string& host,
                   std::shared_ptr<const auth::cluster_secret> secret,
                   bulk_limits limits) {
  if (!secret || secret->empty())
    return error{errc::unauthenticated,
                 "bulk plane: no cluster secret to authenticate peers with"};
  auth::acceptor_limits gate_limits;
  gate_limits.handshake_deadline =
      std::min(limits.handshake, limits.first_frame);
  auto gate = auth::auth_acceptor::listen(host, 0, secret, auth::channel::bulk,
                                          gate_limits);
  if (!gate)
    return error{errc::invalid_argument,
                 "bulk plane: " + gate.error().message()};
  auto state = std::make_unique<impl>();
  state->limits = limits;
  state->secret = std::move(secret);
  state->host = host;
  state->gate = std::move(*gate);
  state->port = state->gate->port();
  auto* raw = state.get();
  state->reaper = std::thread{[raw] { raw->reap_loop(); }};
  state->gate->start(
      [raw](int fd, const std::string& peer) {
        raw->admit(fd, peer.substr(0, peer.rfind(':')));
      },
      [raw](const std::string& address, const std::string& reason) {
        raw->refusals(address, reason);
      });
  return std::shared_ptr<bulk_plane>{new bulk_plane(std::move(state))};
}

bulk_plane::~bulk_plane() {
  stop();
}

const std::string& bulk_plane::host() const noexcept {
  return impl_->host;
}

std::uint16_t bulk_plane::port() const noexcept {
  return impl_->port;
}

const bulk_counters& bulk_plane::counters() const noexcept {
  return impl_->counters;
}

const auth::acceptor_counters& bulk_plane::gate_counters() const noexcept {
  return impl_->gate->counters();
}

void bulk_plane::add_target(std::uint64_t id, bulk_sink sink) {
  std::lock_guard guard{impl_->mutex};
  impl_->targets[id] = std::make_shared<const bulk_sink>(std::move(sink));
}

void bulk_plane::remove_target(std::uint64_t id) {
  std::lock_guard guard{impl_->mutex};
  impl_->targets.erase(id);
}

void bulk_plane::send(const std::string& host, std::uint16_t port,
                      bulk_frame frame) {
  auto key = host + ":" + std::to_string(port);
  std::shared_ptr<bulk_connection> c;
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->stopping)
      return;
    if (auto i = impl_->outbound.find(key); i != impl_->outbound.end())
      c = impl_->connections[i->second];
    if (!c) {
      c = std::make_shared<bulk_connection>();
      c->id = impl_->next_id++;
      c->outbound_key = key;
      c->peer = "to " + key;
      c->ended = [state = impl_.get()] { state->connection_ended(); };
      impl_->connections.emplace(c->id, c);
      impl_->outbound[key] = c->id;
      auto* state = impl_.get();
      c->start(c->writer,
               [state, c, host, port] { state->write_loop(c, host, port); });
    }
  }
  impl_->post(*c, std::move(frame));
}

bool bulk_plane::reply(std::uint64_t connection, bulk_frame frame) {
  std::shared_ptr<bulk_connection> c;
  {
    std::lock_guard guard{impl_->mutex};
    auto i = impl_->connections.find(connection);
    if (impl_->stopping || i == impl_->connections.end())
      return false;
    c = i->second;
  }
  return impl_->post(*c, std::move(frame));
}

void bulk_plane::stop() {
  std::map<std::uint64_t, std::shared_ptr<bulk_connection>> all;
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->stopping)
      return;
    impl_->stopping = true;
  }
  impl_->gate->stop();
  impl_->reap_wake.notify_all();
  if (impl_->reaper.joinable())
    impl_->reaper.join();
  {
    std::lock_guard guard{impl_->mutex};
    all.swap(impl_->connections);
    impl_->outbound.clear();
    impl_->targets.clear();
  }
  for (auto& [id, c] : all)
    c->close();
  for (auto& [id, c] : all)
    c->finish();
}

} // namespace varsync
