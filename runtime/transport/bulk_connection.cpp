#include "runtime/transport/bulk_connection.hpp"

#include "runtime/core/copy_count.hpp"
#include "runtime/core/wire.hpp"
#include "runtime/transport/auth_handshake.hpp"
#include "runtime/transport/bulk_plane.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <limits>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace varsync::bulk_detail {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/// Frames up to this many payload bytes are written by the sending thread
/// itself when the connection is idle (see `connection::post`).
constexpr std::size_t inline_write_limit = 64 * 1024;

/// Payload bytes of a frame naming no target are read and dropped through
/// a buffer of this size (nothing of the announced size is allocated).
constexpr std::size_t discard_chunk = 16 * 1024;

/// Frames a connection may be receiving in parts at once (a peer's
/// variables interleave their parts): each holds a buffer of its whole
/// tensor, at most max-message bytes.
constexpr std::size_t max_open_parts = 8;

/// Each read takes up to this many bytes into a connection's inbox.
constexpr std::size_t inbox_size = 16 * 1024;

/// A part of a frame of at least this many bytes still to come is read
/// straight into its destination, not through the inbox.
constexpr std::size_t direct_read_limit = 8 * 1024;

/// Asio's completion condition for "the whole buffer, in reads and writes
/// as large as the socket allows" (asio::transfer_all caps each one at
/// 64 KiB: 256 system calls, and as many wake-ups of the peer, for 16 MiB).
std::size_t whole_buffer(const error_code& failed, std::size_t) {
  return failed ? 0 : std::numeric_limits<std::size_t>::max();
}

/// Writes what the socket takes of `parts` without blocking; the bytes
/// left unsent are appended to `rest`. False on a socket error (errno).
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
    const auto* data = static_cast<const std::byte*>(part.iov_base);
    if (skip >= part.iov_len) {
      skip -= part.iov_len;
      continue;
    }
    rest.insert(rest.end(), data + skip, data + part.iov_len);
    count_copied(part.iov_len - skip);
    skip = 0;
  }
  return true;
}

/// The payload of `frame` as one buffer (empty when it has none).
asio::const_buffer payload_buffer(const bulk_frame& frame) {
  if (bulk_wire::carries_text(frame.kind))
    return asio::buffer(frame.text);
  auto bytes = bulk_wire::tensor_payload(frame);
  return asio::buffer(bytes.data(), bytes.size());
}

void set_no_delay(tcp::socket& socket) {
  error_code ignored;
  socket.set_option(tcp::no_delay{true}, ignored);
}

bool is_reply(bulk_kind kind) {
  return kind == bulk_kind::install || kind == bulk_kind::ack ||
         kind == bulk_kind::install_ack;
}

} // namespace

connection::connection(asio::io_context& io, connection_owner& owner,
                       std::uint64_t id, tcp::socket socket,
                       std::string address, asio::ssl::context* tls)
    : io_(io), owner_(owner), id_(id), inbound_(true), use_tls_(tls != nullptr),
      address_(std::move(address)), tls_context_(tls),
      plain_(std::move(socket)) {
  set_no_delay(plain_);
}

connection::connection(asio::io_context& io, connection_owner& owner,
                       std::uint64_t id, destination to,
                       std::shared_ptr<const auth::cluster_secret> secret,
                       asio::ssl::context* tls)
    : io_(io), owner_(owner), id_(id), inbound_(false),
      use_tls_(tls != nullptr),
      address_(to.host + ":" + std::to_string(to.port)), to_(std::move(to)),
      secret_(std::move(secret)), tls_context_(tls), plain_(io) {
  // nop
}

connection::~connection() = default;

template <class Body> void connection::with_stream(Body&& body) {
  if (tls_)
    body(*tls_);
  else
    body(plain_);
}

tcp::socket& connection::socket() noexcept {
  return tls_ ? tls_->next_layer() : plain_;
}

void connection::start() {
  asio::post(io_, [self = shared_from_this()] {
    if (self->is_closed())
      return;
    const auto& limits = self->owner_.limits();
    if (self->inbound_) {
      // The first frame (after TLS and the hello) is due within its
      // deadline: a member's replica connects to send one at once.
      self->first_frame_deadline_ = steady::now() + limits.first_frame;
      if (self->use_tls_)
        self->tls_handshake();
      else
        self->read_head();
      return;
    }
    self->setup_deadline_ = steady::now() + limits.handshake;
    self->resolve();
  });
}

void connection::resolve() {
  resolver_.emplace(io_);
  resolver_->async_resolve(
      to_.host, std::to_string(to_.port),
      [self = shared_from_this()](const error_code& failed,
                                  tcp::resolver::results_type endpoints) {
        if (self->is_closed())
          return;
        if (failed)
          return self->close("cannot resolve " + self->address_ + ": " +
                             failed.message());
        self->connect(std::move(endpoints));
      });
}

void connection::connect(tcp::resolver::results_type endpoints) {
  asio::async_connect(plain_, endpoints,
                      [self = shared_from_this()](const error_code& failed,
                                                  const tcp::endpoint&) {
                        if (self->is_closed())
                          return;
                        if (failed)
                          return self->close("cannot connect to " +
                                             self->address_ + ": " +
                                             failed.message());
                        set_no_delay(self->plain_);
                        self->prove_membership();
                      });
}

// The client side of the cluster handshake (auth_handshake.hpp): read the
// listener's hello, send our proof, check its verdict.
void connection::prove_membership() {
  auto handshake =
      std::make_shared<auth::client_handshake>(*secret_, auth::channel::bulk);
  handshake_bytes_.assign(auth::hello_size, std::byte{0});
  asio::async_read(
      plain_, asio::buffer(handshake_bytes_),
      [self = shared_from_this(), handshake](const error_code& failed,
                                             std::size_t) {
        if (self->is_closed())
          return;
        if (failed)
          return self->close("the handshake with " + self->address_ +
                             " broke: " + failed.message());
        auto proof =
            handshake->prove(std::span<const std::byte, auth::hello_size>{
                self->handshake_bytes_.data(), auth::hello_size});
        if (!proof)
          return self->close(proof.error().message());
        self->handshake_bytes_.assign(proof->begin(), proof->end());
        asio::async_write(
            self->plain_, asio::buffer(self->handshake_bytes_),
            [self, handshake](const error_code& failed, std::size_t) {
              if (self->is_closed())
                return;
              if (failed)
                return self->close("the handshake with " + self->address_ +
                                   " broke: " + failed.message());
              self->handshake_bytes_.assign(auth::verdict_size, std::byte{0});
              asio::async_read(
                  self->plain_, asio::buffer(self->handshake_bytes_),
                  [self, handshake](const error_code& failed, std::size_t) {
                    if (self->is_closed())
                      return;
                    if (failed)
                      return self->close(
                          "the handshake with " + self->address_ +
                          " broke (refused?): " + failed.message());
                    auto checked = handshake->check(
                        std::span<const std::byte, auth::verdict_size>{
                            self->handshake_bytes_.data(), auth::verdict_size});
                    if (!checked)
                      return self->close(checked.error().message());
                    if (self->use_tls_)
                      self->tls_handshake();
                    else
                      self->send_hello();
                  });
            });
      });
}

void connection::tls_handshake() {
  tls_ = std::make_unique<tls_stream>(std::move(plain_), *tls_context_);
  auto role = inbound_ ? tls_stream::server : tls_stream::client;
  tls_->async_handshake(role, [self = shared_from_this()](
                                  const error_code& failed) {
    if (self->is_closed())
      return;
    if (failed) {
      self->owner_.counters().frames_rejected.fetch_add(
          1, std::memory_order_relaxed);
      return self->close("TLS handshake failed (no certificate signed by the "
                         "cluster CA?): " +
                         failed.message());
    }
    if (self->inbound_)
      self->read_head();
    else
      self->send_hello();
  });
}

// The opener names its node first, then waits for the listener's hello
// before it writes any frame.
void connection::send_hello() {
  out_frame_ = bulk_frame{};
  out_frame_.kind = bulk_kind::hello;
  out_frame_.text = owner_.node_name();
  out_bytes_ = bulk_wire::encode_head(out_frame_);
  out_buffers_ = {asio::buffer(out_bytes_), payload_buffer(out_frame_)};
  with_stream([&](auto& stream) {
    asio::async_write(
        stream, out_buffers_,
        [self = shared_from_this()](const error_code& failed, std::size_t) {
          if (self->is_closed())
            return;
          if (failed)
            return self->broken(failed);
          if (self->inbound_)
            self->make_writable();
          self->next_frame();
        });
  });
}

// Reading. Each read takes whatever the socket holds into the inbox (up to
// its size), and each part of a frame (header, dimensions, payload) is
// taken from there, so a small frame costs one read; the rest of a large
// payload is read straight into the tensor's own buffer. Only one read is
// pending at a time; the parts land in members (head_, shape_, frame_,
// scratch_), which stay put while it is.

void connection::take(std::byte* into, std::size_t size, step then) {
  auto buffered = std::min(size, inbox_end_ - inbox_begin_);
  if (buffered > 0) {
    std::memcpy(into, inbox_.data() + inbox_begin_, buffered);
    count_copied(buffered);
    inbox_begin_ += buffered;
    into += buffered;
    size -= buffered;
  }
  if (size == 0)
    return (this->*then)();
  inbox_begin_ = inbox_end_ = 0; // taken in full
  if (size >= direct_read_limit) {
    with_stream([&](auto& stream) {
      asio::async_read(stream, asio::buffer(into, size), whole_buffer,
                       [self = shared_from_this(),
                        then](const error_code& failed, std::size_t) {
                         if (self->is_closed())
                           return;
                         if (failed)
                           return self->broken(failed);
                         (self.get()->*then)();
                       });
    });
    return;
  }
  if (inbox_.empty())
    inbox_.resize(inbox_size);
  with_stream([&](auto& stream) {
    stream.async_read_some(asio::buffer(inbox_),
                           [self = shared_from_this(), into, size,
                            then](const error_code& failed, std::size_t got) {
                             if (self->is_closed())
                               return;
                             if (failed)
                               return self->broken(failed);
                             self->inbox_end_ = got;
                             self->take(into, size, then);
                           });
  });
}

void connection::read_head() {
  take(reinterpret_cast<std::byte*>(&head_), bulk_wire::header_size,
       &connection::on_head);
}

void connection::next_frame() {
  if (inbox_begin_ == inbox_end_)
    return read_head();
  // More frames are buffered: read them from a fresh handler, so that a
  // burst of small frames does not nest calls.
  asio::post(io_, [self = shared_from_this()] {
    if (!self->is_closed())
      self->read_head();
  });
}

void connection::on_head() {
  if (const auto* problem = bulk_wire::check_head(head_))
    return reject(problem);
  const auto& limits = owner_.limits();
  if (head_.payload > limits.max_payload)
    return reject("a frame of " + std::to_string(head_.payload) +
                  " payload bytes, above max-message " +
                  std::to_string(limits.max_payload));
  // The rest of the frame: the grace plus its size at the minimum rate.
  frame_deadline_ = steady::now() + limits.frame_grace +
                    std::chrono::milliseconds{
                        std::min<std::uint64_t>(head_.payload / limits.min_rate,
                                                std::uint64_t{1} << 31) *
                        1000};
  shape_.assign(head_.rank, 0);
  take(reinterpret_cast<std::byte*>(shape_.data()),
       head_.rank * sizeof(std::int64_t), &connection::on_dims);
}

void connection::on_dims() {
  auto kind = static_cast<bulk_kind>(head_.kind);
  if (!hello_received_ && kind != bulk_kind::hello)
    return reject("the first frame of a connection must be a hello naming "
                  "the node");
  if (hello_received_ && kind == bulk_kind::hello)
    return reject("a second hello");
  if (!bulk_wire::allowed_direction(kind, inbound_))
    return reject(kind == bulk_kind::contribute
                      ? "a contribution on a connection this node opened "
                        "(only replies come back on it)"
                      : "an install or ack on a connection this node "
                        "accepted (only contributions come in on it)");
  auto type = static_cast<dtype>(head_.type);
  bool part = false;
  if (!bulk_wire::carries_text(kind)) {
    auto whole_bytes = announced_bytes(type, shape_);
    if (!whole_bytes)
      return reject("the shape does not form a tensor");
    part = head_.offset != 0 || head_.payload != *whole_bytes;
    if (part) {
      if (auto problem = check_part(*whole_bytes, size_of(type)))
        return reject(*problem);
    }
  }
  frame_ = bulk_wire::frame_of(head_);
  auto take_text = [this](step then) {
    frame_.text.assign(head_.payload, '\0');
    take(reinterpret_cast<std::byte*>(frame_.text.data()), frame_.text.size(),
         then);
  };
  if (kind == bulk_kind::hello)
    return take_text(&connection::on_hello);
  // Replies on an opened connection name only a replica and variable
  // whose contribution went out on it.
  if (is_reply(kind)) {
    bool routed = false;
    {
      std::lock_guard guard{mutex_};
      routed = routes_.contains({frame_.target, frame_.variable});
    }
    if (!routed)
      return reject("a reply naming a replica and variable that sent no "
                    "contribution on this connection");
  }
  // The target is looked up before anything of the announced size is
  // allocated: a frame naming no registered actor costs no memory.
  sink_ = owner_.target(frame_.target);
  if (!sink_) {
    owner_.counters().frames_rejected.fetch_add(1, std::memory_order_relaxed);
    discard_left_ = head_.payload;
    return discard();
  }
  if (bulk_wire::carries_text(kind))
    return take_text(&connection::deliver);
  part_key key{frame_.target, frame_.reply_to, frame_.variable};
  if (part)
    return take_part(key);
  assemblies_.erase(key); // a whole frame supersedes an unfinished one
  // The payload goes straight into the tensor's own buffer.
  auto value = tensor::uninitialized(type, std::move(shape_));
  if (!value)
    return reject("the shape does not form a tensor");
  frame_.value = std::move(*value);
  auto bytes = frame_.value.mutable_bytes();
  take(bytes.data(), bytes.size(), &connection::deliver);
}

std::optional<std::string> connection::check_part(std::uint64_t whole_bytes,
                                                  std::size_t element) const {
  if (whole_bytes > owner_.limits().max_payload)
    return "a frame part of a tensor of " + std::to_string(whole_bytes) +
           " bytes, above max-message " +
           std::to_string(owner_.limits().max_payload);
  if (head_.payload == 0 || head_.payload % element != 0)
    return std::string{"a frame part that is empty or not whole elements"};
  auto elements = whole_bytes / element;
  if (head_.offset >= elements ||
      head_.payload / element > elements - head_.offset)
    return "a frame part past its tensor's end (offset " +
           std::to_string(head_.offset) + ", " +
           std::to_string(head_.payload / element) + " elements of " +
           std::to_string(elements) + ")";
  return std::nullopt;
}

void connection::take_part(part_key key) {
  auto type = static_cast<dtype>(head_.type);
  auto kind = static_cast<bulk_kind>(head_.kind);
  auto element = size_of(type);
  auto i = assemblies_.find(key);
  if (head_.offset == 0) {
    // A first part: a new frame (a restarted one replaces its older self).
    if (i == assemblies_.end() && assemblies_.size() >= max_open_parts)
      return reject("more than " + std::to_string(max_open_parts) +
                    " frames arriving in parts at once on one connection");
    auto whole = tensor::uninitialized(type, shape_);
    if (!whole)
      return reject("the shape does not form a tensor");
    i = assemblies_
            .insert_or_assign(key, part_assembly{kind, head_.number,
                                                 std::move(*whole), nullptr, 0})
            .first;
    // Taken in place (a small tensor's bytes live inside it) and before the
    // tensor is shared with anyone.
    i->second.base = i->second.whole.mutable_bytes().data();
  } else if (i == assemblies_.end() ||
             // An install's last part may carry the ack (install_ack).
             (i->second.kind == bulk_kind::contribute) !=
                 (kind == bulk_kind::contribute) ||
             i->second.number != head_.number ||
             i->second.whole.type() != type ||
             i->second.whole.shape() != shape_ ||
             i->second.received != head_.offset) {
    return reject("a frame part that does not continue the frame before it "
                  "(its first part missing, another kind, number, dtype or "
                  "shape, or not the next offset)");
  }
  assembling_ = key;
  take(i->second.base + head_.offset * element, head_.payload,
       &connection::deliver_part);
}

void connection::deliver_part() {
  first_frame_deadline_.reset();
  frame_deadline_.reset();
  count_peer_bytes(false, bulk_wire::header_size + head_.payload);
  owner_.counters().frames_received.fetch_add(1, std::memory_order_relaxed);
  auto i = assemblies_.find(assembling_);
  auto& assembly = i->second;
  auto count = head_.payload / size_of(assembly.whole.type());
  assembly.received += count;
  bool complete = assembly.received == assembly.whole.size();
  auto sink = std::move(sink_);
  // A contribution goes on as it arrives (its reduce starts with its first
  // part); anything else only whole.
  if (complete || frame_.kind == bulk_kind::contribute) {
    frame_.value = complete ? std::move(assembly.whole) : assembly.whole;
    frame_.part_offset = head_.offset;
    frame_.part_count = count;
    if (complete)
      assemblies_.erase(i);
    (*sink)(bulk_origin{id_, node_}, std::move(frame_));
  }
  next_frame();
}

void connection::count_peer_bytes(bool sent, std::size_t bytes) noexcept {
  auto* peer = peer_.load(std::memory_order_acquire);
  if (peer == nullptr)
    return;
  (sent ? peer->bytes_sent : peer->bytes_received)
      .fetch_add(bytes, std::memory_order_relaxed);
}

void connection::on_hello() {
  if (!bulk_wire::valid_node_name(frame_.text))
    return reject("a hello whose node name is not 1 to 255 printable "
                  "characters");
  if (!inbound_ && !to_.node.empty() && frame_.text != to_.node)
    return reject("the node at " + address_ + " is '" + frame_.text +
                  "', not the expected '" + to_.node + "'");
  node_ = std::move(frame_.text);
  peer_.store(&metrics::process_metrics().peers.of(address_),
              std::memory_order_release);
  hello_received_ = true;
  frame_deadline_.reset();
  if (inbound_)
    return send_hello(); // then writable, then reading
  setup_deadline_.reset();
  make_writable();
  next_frame();
}

void connection::discard() {
  if (discard_left_ == 0) {
    first_frame_deadline_.reset();
    frame_deadline_.reset();
    return next_frame();
  }
  if (scratch_.empty())
    scratch_.resize(discard_chunk);
  discarding_ = static_cast<std::size_t>(
      std::min<std::uint64_t>(discard_left_, scratch_.size()));
  take(scratch_.data(), discarding_, &connection::discarded);
}

void connection::discarded() {
  discard_left_ -= discarding_;
  discard();
}

void connection::deliver() {
  first_frame_deadline_.reset();
  frame_deadline_.reset();
  count_peer_bytes(false, bulk_wire::header_size + head_.payload);
  owner_.counters().frames_received.fetch_add(1, std::memory_order_relaxed);
  frame_.part_offset = 0;
  frame_.part_count = frame_.value.size();
  auto sink = std::move(sink_);
  (*sink)(bulk_origin{id_, node_}, std::move(frame_));
  next_frame();
}

void connection::make_writable() {
  std::unique_lock guard{mutex_};
  writable_ = true;
  if (closed_ || writing_ || (queue_.empty() && tail_.empty()))
    return;
  writing_ = true;
  guard.unlock();
  write_next();
}

bool connection::post(bulk_frame frame) {
  std::unique_lock guard{mutex_};
  if (closed_)
    return false;
  if (frame.kind == bulk_kind::contribute && !inbound_)
    routes_.emplace(frame.reply_to, frame.variable);
  if (!writable_ || writing_ || use_tls_ || !queue_.empty() || !tail_.empty() ||
      bulk_wire::payload_of(frame) > inline_write_limit) {
    queue_.push_back(std::move(frame));
    if (!writable_ || writing_)
      return true;
    writing_ = true;
    guard.unlock();
    asio::post(io_, [self = shared_from_this()] { self->write_next(); });
    return true;
  }
  // Idle plain connection, small frame: written here, without waking the
  // I/O thread. `writing_` keeps the I/O thread off the socket meanwhile;
  // the socket stays open (closing only shuts it down) while this
  // connection is alive, and the caller holds it.
  writing_ = true;
  sender_writing_ = true;
  guard.unlock();
  auto head = bulk_wire::encode_head(frame);
  std::vector<iovec> parts{{head.data(), head.size()}};
  if (auto payload = payload_buffer(frame); payload.size() > 0)
    parts.push_back({const_cast<void*>(payload.data()), // NOLINT
                     payload.size()});
  std::vector<std::byte> rest;
  auto written = write_some(plain_.native_handle(), parts, rest);
  auto write_error = errno;
  if (!bulk_wire::carries_text(frame.kind))
    tensor_bytes_serialized.fetch_add(bulk_wire::payload_of(frame),
                                      std::memory_order_relaxed);
  count_peer_bytes(true, head.size() + bulk_wire::payload_of(frame));
  owner_.counters().frames_sent.fetch_add(1, std::memory_order_relaxed);
  guard.lock();
  sender_writing_ = false;
  senders_done_.notify_all();
  if (!written) {
    writing_ = false;
    guard.unlock();
    close(std::strerror(write_error));
    return true;
  }
  if (closed_ || (rest.empty() && queue_.empty())) {
    writing_ = false;
    return true;
  }
  // What the socket did not take, and frames queued meanwhile, go to the
  // I/O thread (still `writing_`).
  tail_ = std::move(rest);
  guard.unlock();
  asio::post(io_, [self = shared_from_this()] { self->write_next(); });
  return true;
}

void connection::write_next() {
  {
    std::lock_guard guard{mutex_};
    if (closed_) {
      writing_ = false;
      return;
    }
    out_buffers_.clear();
    if (!tail_.empty()) {
      out_bytes_.swap(tail_);
      tail_.clear();
      out_frame_ = bulk_frame{};
      out_buffers_.push_back(asio::buffer(out_bytes_));
    } else if (queue_.empty()) {
      writing_ = false;
      return;
    } else {
      out_frame_ = std::move(queue_.front());
      queue_.pop_front();
    }
  }
  bool whole_frame = out_buffers_.empty();
  if (whole_frame) {
    out_bytes_ = bulk_wire::encode_head(out_frame_);
    out_buffers_.push_back(asio::buffer(out_bytes_));
    if (auto payload = payload_buffer(out_frame_); payload.size() > 0)
      out_buffers_.push_back(payload);
  }
  with_stream([&](auto& stream) {
    asio::async_write(stream, out_buffers_, whole_buffer,
                      [self = shared_from_this(),
                       whole_frame](const error_code& failed, std::size_t) {
                        if (failed) {
                          {
                            std::lock_guard guard{self->mutex_};
                            self->writing_ = false;
                          }
                          return self->broken(failed);
                        }
                        if (whole_frame) {
                          if (!bulk_wire::carries_text(self->out_frame_.kind))
                            tensor_bytes_serialized.fetch_add(
                                bulk_wire::payload_of(self->out_frame_),
                                std::memory_order_relaxed);
                          self->count_peer_bytes(
                              true,
                              bulk_wire::header_size +
                                  bulk_wire::payload_of(self->out_frame_));
                          self->owner_.counters().frames_sent.fetch_add(
                              1, std::memory_order_relaxed);
                        }
                        self->out_frame_ = bulk_frame{};
                        self->write_next();
                      });
  });
}

void connection::check_deadline(steady::time_point now) {
  auto passed = [now](const std::optional<steady::time_point>& deadline) {
    return deadline && *deadline <= now;
  };
  if (passed(setup_deadline_) && !hello_received_)
    return close("no connection, handshake and hello with " + address_ +
                 " within the handshake deadline");
  if (passed(first_frame_deadline_) || passed(frame_deadline_))
    return reject("too slow: a frame did not arrive by its deadline");
}

void connection::broken(const error_code& failed) {
  if (failed == asio::error::eof || failed == asio::error::connection_reset ||
      failed == asio::error::operation_aborted ||
      failed == asio::ssl::error::stream_truncated)
    return close({});
  close(failed.message());
}

void connection::reject(const std::string& reason) {
  owner_.counters().frames_rejected.fetch_add(1, std::memory_order_relaxed);
  close(reason);
}

void connection::close(const std::string& reason) {
  {
    std::lock_guard guard{mutex_};
    if (closed_)
      return;
    closed_ = true;
    queue_.clear();
    tail_.clear();
  }
  asio::post(io_, [self = shared_from_this(), reason] { self->shut(reason); });
}

void connection::shut(const std::string& reason) {
  // Shut down, not closed: a sending thread may still write to the
  // descriptor; it is closed with the socket when the last holder lets go.
  error_code ignored;
  if (resolver_)
    resolver_->cancel();
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().cancel(ignored);
  if (!reported_) {
    reported_ = true;
    owner_.ended(*this, reason);
  }
}

bool connection::is_closed() {
  std::lock_guard guard{mutex_};
  return closed_;
}

void connection::wait_for_senders() {
  std::unique_lock guard{mutex_};
  senders_done_.wait(guard, [this] { return !sender_writing_; });
}

} // namespace varsync::bulk_detail
