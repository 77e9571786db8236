#pragma once

// One connection of the bulk plane (bulk_plane.hpp), driven by the plane's
// Boost.Asio I/O thread: no thread of its own.
//
// How it works. A connection this node accepted arrives authenticated
// (the plane's auth_acceptor ran the cluster handshake); one this node
// opens connects and proves membership itself (auth_handshake.hpp, channel
// bulk, the listener proving too). With TLS both then run a mutual TLS
// handshake. Then the opener sends a hello naming its node and the
// listener answers with its own: from then on the connection is bound to
// that node (an opener that meant another node closes it). Frames are read
// one at a time: the header is checked, the target looked up, and only
// then the payload read, straight into the tensor's own buffer; it goes to
// the target's sink. Frames to send queue per connection and are written
// by the I/O thread from their own buffers; a small frame on an idle
// plain connection is written by the sending thread itself (one
// non-blocking sendmsg, no wake-up of the I/O thread).
//
// Deadlines (bulk_limits) are checked by the plane's sweeper
// (`check_deadline`): the opener's connect, handshakes and hellos; an
// accepted connection's first frame; each frame once its header arrived.
// A connection may idle between frames for ever.
//
// Lifetime: the plane holds each connection in its tables and every
// pending Asio operation holds it too; `close` shuts the socket down (its
// operations end), the plane forgets it, and the socket is closed when the
// last holder lets go.

#include "runtime/core/metrics.hpp"
#include "runtime/transport/bulk_frame.hpp"
#include "runtime/transport/bulk_wire.hpp"
#include "runtime/transport/cluster_secret.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace varsync {

struct bulk_limits;
struct bulk_counters;

namespace bulk_detail {

using tcp = boost::asio::ip::tcp;
using tls_stream = boost::asio::ssl::stream<tcp::socket>;
using steady = std::chrono::steady_clock;

class connection;

/// What a connection needs from its plane. Called on the I/O thread
/// unless said otherwise.
class connection_owner {
public:
  virtual ~connection_owner() = default;
  /// The sink of target `id`, or null. Any thread.
  virtual std::shared_ptr<const bulk_sink> target(std::uint64_t id) = 0;
  /// `c` ended: closed by either side or refused. `reason` is empty for an
  /// orderly end, otherwise what this node refused or failed (to log).
  /// Called once per connection.
  virtual void ended(connection& c, const std::string& reason) = 0;
  virtual const bulk_limits& limits() const noexcept = 0;
  virtual bulk_counters& counters() noexcept = 0;
  /// This node's name, sent in each hello.
  virtual const std::string& node_name() const noexcept = 0;
};

/// Where an outbound connection goes.
struct destination {
  std::string host;
  std::uint16_t port = 0;
  /// The node expected there (its hello must name it); empty: any member.
  std::string node;
};

class connection : public std::enable_shared_from_this<connection> {
public:
  /// An accepted connection: `socket` passed the cluster handshake.
  connection(boost::asio::io_context& io, connection_owner& owner,
             std::uint64_t id, tcp::socket socket, std::string address,
             boost::asio::ssl::context* tls);

  /// A connection to `to`; `start` connects it.
  connection(boost::asio::io_context& io, connection_owner& owner,
             std::uint64_t id, destination to,
             std::shared_ptr<const auth::cluster_secret> secret,
             boost::asio::ssl::context* tls);

  ~connection();

  /// Starts connecting (outbound) or the handshakes (accepted). Any
  /// thread; call once.
  void start();

  /// Queues `frame` (or writes a small one at once, see above). False when
  /// the connection is closed: the frame is dropped. Any thread; never
  /// blocks on the network.
  bool post(bulk_frame frame);

  /// Closes the connection; `reason` (empty: an orderly end) is reported
  /// to the owner once. Any thread; idempotent.
  void close(const std::string& reason);

  /// Whether `close` was called. Any thread.
  bool is_closed();

  /// Closes the connection when one of its deadlines passed by `now`.
  /// I/O thread.
  void check_deadline(steady::time_point now);

  /// Blocks until no sending thread writes to the socket (see `post`).
  void wait_for_senders();

  std::uint64_t id() const noexcept { return id_; }
  bool inbound() const noexcept { return inbound_; }
  /// The peer's address (accepted) or "host:port" (opened), for logs and
  /// caps.
  const std::string& address() const noexcept { return address_; }
  const destination& to() const noexcept { return to_; }

private:
  template <class Body> void with_stream(Body&& body);
  tcp::socket& socket() noexcept;

  // Opening a connection: resolve, connect, prove membership, TLS.
  void resolve();
  void connect(tcp::resolver::results_type endpoints);
  void prove_membership();
  void tls_handshake();
  void send_hello();

  // Reading: `take` fills `size` bytes at `into` (from the inbox, then
  // the socket), then calls `then`.
  using step = void (connection::*)();
  void take(std::byte* into, std::size_t size, step then);
  void read_head();
  void next_frame();
  void on_head();
  void on_dims();
  void on_hello();
  void discard();
  void discarded();
  void deliver();
  // Parts (bulk_plane.hpp): the reason a part's header is unacceptable;
  // reading a part into its frame's buffer; handing it on.
  std::optional<std::string> check_part(std::uint64_t whole_bytes,
                                        std::size_t element) const;
  /// A frame arriving in parts is (target, reply_to, variable): two
  /// replicas of one node contribute to one variable on one connection.
  using part_key = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>;
  void take_part(part_key key);
  void deliver_part();
  void make_writable();

  // Writing (I/O thread, while `writing_`).
  void write_next();

  /// Ends the connection because of `failed` (an orderly end at EOF).
  void broken(const boost::system::error_code& failed);
  /// Counts a rejected frame and closes with `reason`.
  void reject(const std::string& reason);
  void shut(const std::string& reason);

  boost::asio::io_context& io_;
  connection_owner& owner_;
  const std::uint64_t id_;
  const bool inbound_;
  const bool use_tls_;
  std::string address_;
  /// Bytes to and from this peer, for the node's metrics, labelled by
  /// `address_` (the peer's bulk port for a connection this node opened,
  /// the remote address of one it accepted). Set when the peer's hello
  /// arrived, after the cluster handshake proved it a member: a stranger
  /// creates no label. No frame is counted before: frames flow only after
  /// both hellos.
  std::atomic<metrics::peer_metrics*> peer_{nullptr};

  /// Counts `bytes` sent to (`sent`) or received from the peer.
  void count_peer_bytes(bool sent, std::size_t bytes) noexcept;
  destination to_;
  std::shared_ptr<const auth::cluster_secret> secret_;
  boost::asio::ssl::context* tls_context_ = nullptr;

  tcp::socket plain_;
  std::unique_ptr<tls_stream> tls_;
  std::optional<tcp::resolver> resolver_;
  bool reported_ = false;

  // Deadlines (I/O thread): connect to hello; accepted: first frame; the
  // frame being read.
  std::optional<steady::time_point> setup_deadline_;
  std::optional<steady::time_point> first_frame_deadline_;
  std::optional<steady::time_point> frame_deadline_;

  // Reading state (I/O thread).
  std::string node_;
  bool hello_received_ = false;
  bulk_wire::header head_;
  shape_type shape_;
  bulk_frame frame_;
  std::shared_ptr<const bulk_sink> sink_;
  std::uint64_t discard_left_ = 0;
  std::size_t discarding_ = 0;
  std::vector<std::byte> scratch_;
  /// Bytes read but not taken yet: [inbox_begin_, inbox_end_).
  std::vector<std::byte> inbox_;
  std::size_t inbox_begin_ = 0;
  std::size_t inbox_end_ = 0;
  std::vector<std::byte> handshake_bytes_;
  /// A frame arriving in parts: its whole buffer, filled in order.
  struct part_assembly {
    bulk_kind kind = bulk_kind::contribute;
    std::uint64_t number = 0;
    tensor whole;
    /// Its buffer (writable: taken before the tensor was shared).
    std::byte* base = nullptr;
    /// Elements received so far (a prefix).
    std::uint64_t received = 0;
  };
  /// Frames arriving in parts, by part_key; at most max_open_parts.
  std::map<part_key, part_assembly> assemblies_;
  /// The key of the part being read.
  part_key assembling_;

  // Writing state.
  std::mutex mutex_;
  std::condition_variable senders_done_;
  bool closed_ = false;
  /// The hellos went both ways: frames may be written.
  bool writable_ = false;
  /// The I/O thread or a sending thread is writing.
  bool writing_ = false;
  /// A sending thread is writing (see `post`).
  bool sender_writing_ = false;
  std::deque<bulk_frame> queue_;
  /// Bytes of a frame a sending thread wrote only in part.
  std::vector<std::byte> tail_;
  /// (reply_to, variable) of the contributions sent on an opened
  /// connection: replies may name only these.
  std::set<std::pair<std::uint64_t, std::uint64_t>> routes_;
  // What the I/O thread is writing (I/O thread, while `writing_`).
  bulk_frame out_frame_;
  std::vector<std::byte> out_bytes_;
  std::vector<boost::asio::const_buffer> out_buffers_;
};

} // namespace bulk_detail
} // namespace varsync
