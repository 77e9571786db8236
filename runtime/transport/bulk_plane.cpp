#include "runtime/transport/bulk_plane.hpp"

#include "runtime/transport/auth_acceptor.hpp"
#include "runtime/transport/bulk_connection.hpp"
#include "runtime/transport/refusal_log.hpp"
#include "runtime/transport/spinning_io.hpp"
#include "runtime/transport/tls_context.hpp"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace varsync {

namespace asio = boost::asio;
using bulk_detail::connection;

namespace {

/// Accepted connections at most, in total and from one address: each
/// holds a socket and buffers, so an unbounded count of idle connections
/// would cost descriptors and memory without limit. A cluster needs one
/// per peer node and direction.
constexpr std::size_t max_accepted_connections = 256;
constexpr std::size_t max_connections_per_address = 128;

/// How often the sweeper checks deadlines: an eighth of the shortest,
/// between 10 and 250 ms.
std::chrono::milliseconds sweep_period(const bulk_limits& limits) {
  auto shortest =
      std::min({limits.first_frame, limits.frame_grace, limits.handshake});
  return std::clamp(shortest / 8, std::chrono::milliseconds{10},
                    std::chrono::milliseconds{250});
}

/// "address" of "address:port".
std::string address_of(const std::string& peer) {
  return peer.substr(0, peer.rfind(':'));
}

} // namespace

struct bulk_plane::impl : bulk_detail::connection_owner {
  bulk_limits limits_;
  bulk_counters counters_;
  std::string node_name_;
  std::shared_ptr<const auth::cluster_secret> secret;
  refusal_log refusals{"bulk plane"};
  std::string host;
  std::uint16_t port = 0;
  // Declared before the I/O context: connections left in its handlers at
  // destruction use it until then.
  std::shared_ptr<asio::ssl::context> tls;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{
      io.get_executor()};
  asio::steady_timer sweeper{io};
  std::thread io_thread;
  /// Accepts and authenticates; members come to `admit`.
  std::unique_ptr<auth::auth_acceptor> gate;

  std::mutex mutex;
  std::condition_variable calls_done;
  bool stopping = false;
  /// `send` and `reply` calls inside a connection's `post`.
  int calls_in_flight = 0;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<const bulk_sink>> targets;
  std::map<std::uint64_t, std::shared_ptr<connection>> connections;
  /// Open connections to peers, by node@host:port.
  std::map<std::string, std::uint64_t> outbound;

  std::shared_ptr<const bulk_sink> target(std::uint64_t id) override {
    std::lock_guard guard{mutex};
    auto i = targets.find(id);
    return i == targets.end() ? nullptr : i->second;
  }

  void ended(connection& c, const std::string& reason) override {
    {
      std::lock_guard guard{mutex};
      connections.erase(c.id());
      if (!c.inbound()) {
        auto i = outbound.find(key_of(c.to()));
        if (i != outbound.end() && i->second == c.id())
          outbound.erase(i);
      }
    }
    if (!reason.empty())
      refusals(c.inbound() ? c.address() : "to " + c.address(),
               "closed the connection: " + reason);
  }

  const bulk_limits& limits() const noexcept override { return limits_; }

  bulk_counters& counters() noexcept override { return counters_; }

  const std::string& node_name() const noexcept override { return node_name_; }

  static std::string key_of(const bulk_detail::destination& to) {
    return to.node + "@" + to.host + ":" + std::to_string(to.port);
  }

  /// Checks every connection's deadlines, then again in a while.
  void sweep() {
    std::vector<std::shared_ptr<connection>> all;
    {
      std::lock_guard guard{mutex};
      if (stopping)
        return;
      all.reserve(connections.size());
      for (const auto& [id, c] : connections)
        all.push_back(c);
    }
    auto now = std::chrono::steady_clock::now();
    for (const auto& c : all)
      c->check_deadline(now);
    sweeper.expires_after(sweep_period(limits_));
    sweeper.async_wait([this](const boost::system::error_code& failed) {
      if (!failed)
        sweep();
    });
  }

  /// Takes a connection the gate accepted and authenticated (`fd`, from
  /// `address`), unless it is over the caps of members' connections (in
  /// total and from one address), which closes it and counts it.
  void admit(int fd, const std::string& address) {
    std::unique_lock guard{mutex};
    if (stopping) {
      ::close(fd);
      return;
    }
    std::size_t accepted = 0;
    std::size_t same_address = 0;
    for (const auto& [id, other] : connections)
      if (other->inbound()) {
        ++accepted;
        if (other->address() == address)
          ++same_address;
      }
    if (accepted >= max_accepted_connections ||
        same_address >= max_connections_per_address) {
      // Counted first: the peer may look once it sees the close.
      counters_.connections_refused.fetch_add(1, std::memory_order_relaxed);
      ::close(fd);
      guard.unlock();
      refusals(address, "over the cap of connections");
      return;
    }
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
    auto protocol = local.ss_family == AF_INET6 ? bulk_detail::tcp::v6()
                                                : bulk_detail::tcp::v4();
    boost::system::error_code failed;
    bulk_detail::tcp::socket socket{io};
    if (socket.assign(protocol, fd, failed); failed) {
      ::close(fd);
      return;
    }
    auto c = std::make_shared<connection>(
        io, *this, next_id++, std::move(socket), address, tls.get());
    connections.emplace(c->id(), c);
    guard.unlock();
    c->start();
  }

  /// The connection with `id` (counted in `calls_in_flight` until
  /// `call_done`), or null when there is none or the plane stops.
  std::shared_ptr<connection> begin_call(std::uint64_t id) {
    std::lock_guard guard{mutex};
    if (stopping)
      return nullptr;
    auto i = connections.find(id);
    if (i == connections.end())
      return nullptr;
    ++calls_in_flight;
    return i->second;
  }

  void call_done() {
    std::lock_guard guard{mutex};
    if (--calls_in_flight == 0)
      calls_done.notify_all();
  }
};

bulk_plane::bulk_plane(std::unique_ptr<impl> state) : impl_(std::move(state)) {
  // nop
}

expected<std::shared_ptr<bulk_plane>>
bulk_plane::listen(const std::string& host,
                   std::shared_ptr<const auth::cluster_secret> secret,
                   bulk_limits limits, bulk_identity identity) {
  if (!secret || secret->empty())
    return error{errc::unauthenticated,
                 "bulk plane: no cluster secret to authenticate peers with"};
  auto state = std::make_unique<impl>();
  auto files = !identity.tls_cert.empty() + !identity.tls_key.empty() +
               !identity.tls_ca.empty();
  if (files != 0 && files != 3)
    return error{errc::invalid_argument,
                 "bulk plane: TLS needs a certificate, a key and a CA"};
  if (files == 3) {
    auto context = tls::make_mutual_context(identity.tls_cert, identity.tls_key,
                                            identity.tls_ca);
    if (!context)
      return error{errc::invalid_argument,
                   "bulk plane: " + context.error().message()};
    state->tls = std::move(*context);
  }
  auth::acceptor_limits gate_limits;
  gate_limits.handshake_deadline =
      std::min(limits.handshake, limits.first_frame);
  auto gate = auth::auth_acceptor::listen(host, 0, secret, auth::channel::bulk,
                                          gate_limits);
  if (!gate)
    return error{errc::invalid_argument,
                 "bulk plane: " + gate.error().message()};
  state->limits_ = limits;
  state->secret = std::move(secret);
  state->host = host;
  state->gate = std::move(*gate);
  state->port = state->gate->port();
  state->node_name_ = identity.node_name.empty()
                          ? "bulk@" + host + ":" + std::to_string(state->port)
                          : std::move(identity.node_name);
  if (!bulk_wire::valid_node_name(state->node_name_))
    return error{errc::invalid_argument,
                 "bulk plane: a node name must be 1 to 255 printable "
                 "characters"};
  auto* raw = state.get();
  asio::post(raw->io, [raw] { raw->sweep(); });
  raw->io_thread =
      std::thread{[raw] { run_spinning(raw->io, raw->limits_.spin); }};
  state->gate->start(
      [raw](int fd, const std::string& peer) {
        raw->admit(fd, address_of(peer));
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

const std::string& bulk_plane::node_name() const noexcept {
  return impl_->node_name_;
}

std::uint64_t bulk_plane::part_bytes() const noexcept {
  return impl_->limits_.part_bytes;
}

bool bulk_plane::uses_tls() const noexcept {
  return impl_->tls != nullptr;
}

const bulk_counters& bulk_plane::counters() const noexcept {
  return impl_->counters_;
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

void bulk_plane::send(const bulk_address& to, bulk_frame frame) {
  bulk_detail::destination where{to.host, to.port, to.node};
  auto key = impl::key_of(where);
  std::shared_ptr<connection> c;
  bool opened = false;
  {
    std::lock_guard guard{impl_->mutex};
    if (impl_->stopping)
      return;
    if (auto i = impl_->outbound.find(key); i != impl_->outbound.end())
      if (auto j = impl_->connections.find(i->second);
          j != impl_->connections.end() && !j->second->is_closed())
        c = j->second;
    if (!c) {
      c = std::make_shared<connection>(impl_->io, *impl_, impl_->next_id++,
                                       std::move(where), impl_->secret,
                                       impl_->tls.get());
      impl_->connections.emplace(c->id(), c);
      impl_->outbound[key] = c->id();
      opened = true;
    }
    ++impl_->calls_in_flight;
  }
  if (opened)
    c->start();
  c->post(std::move(frame));
  impl_->call_done();
}

bool bulk_plane::reply(std::uint64_t connection, bulk_frame frame) {
  auto c = impl_->begin_call(connection);
  if (!c)
    return false;
  auto posted = c->post(std::move(frame));
  impl_->call_done();
  return posted;
}

void bulk_plane::stop() {
  {
    std::unique_lock guard{impl_->mutex};
    if (impl_->stopping)
      return;
    impl_->stopping = true;
    // No sending thread touches a socket once this returns.
    impl_->calls_done.wait(guard,
                           [this] { return impl_->calls_in_flight == 0; });
  }
  impl_->gate->stop();
  std::map<std::uint64_t, std::shared_ptr<connection>> all;
  {
    std::lock_guard guard{impl_->mutex};
    all = impl_->connections;
  }
  for (auto& [id, c] : all)
    c->close({});
  // The I/O thread runs the closes above (FIFO), then stops; handlers
  // queued after that are dropped, and the connections they hold go with
  // the I/O context.
  impl_->work.reset();
  asio::post(impl_->io, [state = impl_.get()] { state->io.stop(); });
  if (impl_->io_thread.joinable())
    impl_->io_thread.join();
  std::lock_guard guard{impl_->mutex};
  impl_->connections.clear();
  impl_->outbound.clear();
  impl_->targets.clear();
}

} // namespace varsync
