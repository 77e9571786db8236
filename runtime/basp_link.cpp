#include "runtime/basp_link.hpp"

#include <caf/io/basp_broker.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/scribe_impl.hpp>
#include <caf/io/network/stream_impl.hpp>
#include <caf/openssl/session.hpp>
#include <unistd.h>

namespace varsync::detail {

namespace {

namespace network = caf::io::network;

/// How a TLS stream reads and writes: through CAF's OpenSSL session (the
/// handshake runs inside the first reads and writes).
struct tls_io {
  explicit tls_io(caf::openssl::session_ptr session)
      : session(std::move(session)) {}
  network::rw_state read_some(std::size_t& result, network::native_socket fd,
                              void* buffer, std::size_t size) {
    return session->read_some(result, fd, buffer, size);
  }
  network::rw_state write_some(std::size_t& result, network::native_socket fd,
                               const void* buffer, std::size_t size) {
    return session->write_some(result, fd, buffer, size);
  }
  bool must_read_more(network::native_socket fd, std::size_t threshold) {
    return session->must_read_more(fd, threshold);
  }
  caf::openssl::session_ptr session;
};

/// A scribe over a TLS stream: as CAF's scribe_impl, with the stream's
/// bytes going through `tls_io`. (CAF 0.17's own TLS scribe is private to
/// its openssl module; this one exists so that varsync can hand it a
/// socket it accepted and authenticated itself.)
class tls_scribe : public caf::io::scribe {
public:
  tls_scribe(network::default_multiplexer& backend, int fd,
             caf::openssl::session_ptr session)
      : scribe(network::conn_hdl_from_socket(fd)),
        stream_(backend, fd, std::move(session)) {}

  void configure_read(caf::io::receive_policy::config config) override {
    stream_.configure_read(config);
    if (!launched_) {
      launched_ = true;
      stream_.start(this);
      // Lets the handshake proceed even before the first write.
      stream_.force_empty_write(this);
    }
  }
  void ack_writes(bool enable) override { stream_.ack_writes(enable); }
  std::vector<char>& wr_buf() override { return stream_.wr_buf(); }
  std::vector<char>& rd_buf() override { return stream_.rd_buf(); }
  void graceful_shutdown() override {
    stream_.graceful_shutdown();
    detach(&stream_.backend(), false);
  }
  void flush() override { stream_.flush(this); }
  std::string addr() const override {
    auto x = network::remote_addr_of_fd(stream_.fd());
    return x ? *x : std::string{};
  }
  std::uint16_t port() const override {
    auto x = network::remote_port_of_fd(stream_.fd());
    return x ? *x : 0;
  }
  void add_to_loop() override { stream_.activate(this); }
  void remove_from_loop() override { stream_.passivate(); }

private:
  bool launched_ = false;
  network::stream_impl<tls_io> stream_;
};

/// A scribe that bounds the reads its broker may ask for.
///
/// BASP asks for each message's payload with `configure_read(exactly(n))`
/// from inside `consume` (its new_data_msg handler); the stream allocates
/// `n` bytes when `consume` returns. Above `max_message` we pass the stream
/// a small read instead and, once the broker's handler returned, fail the
/// connection as a read error does: the broker gets connection_closed_msg
/// and the socket closes. Nothing of the announced size is allocated.
template <class Scribe> class bounded final : public Scribe {
public:
  template <class... Ts>
  bounded(const link_settings& link, Ts&&... xs)
      : Scribe(std::forward<Ts>(xs)...), max_message_(link.max_message),
        on_refused_(link.on_refused), tls_(link.tls),
        open_connections_(link.open_connections) {
    if (open_connections_)
      open_connections_->fetch_add(1);
  }

  ~bounded() override {
    if (open_connections_)
      open_connections_->fetch_sub(1);
  }

  void configure_read(caf::io::receive_policy::config config) override {
    if (config.second > max_message_) {
      refused_ = config.second;
      config = caf::io::receive_policy::at_most(64);
    }
    Scribe::configure_read(config);
  }

  bool consume(caf::execution_unit* context, const void* data,
               std::size_t size) override {
    consumed_ = true;
    if (refused_ == 0 && !Scribe::consume(context, data, size))
      return false;
    if (refused_ == 0)
      return true;
    report("announced a message of " + std::to_string(refused_) +
           " bytes, above max-message " + std::to_string(max_message_) +
           "; connection closed");
    this->io_failure(context, network::operation::read);
    return false;
  }

protected:
  /// Called when the connection fails: before any byte got through TLS,
  /// the handshake failed (the peer's doing or ours).
  caf::message detach_message() override {
    if (tls_ && !consumed_)
      report("closed during the TLS handshake (no certificate signed by the "
             "cluster CA?)");
    return Scribe::detach_message();
  }

private:
  void report(const std::string& reason) {
    if (reported_ || !on_refused_)
      return;
    reported_ = true;
    on_refused_(this->addr(), reason);
  }

  std::uint64_t max_message_;
  link_refusal_handler on_refused_;
  bool tls_;
  std::shared_ptr<std::atomic<std::size_t>> open_connections_;
  std::uint64_t refused_ = 0;
  bool consumed_ = false;
  bool reported_ = false;
};

network::default_multiplexer& backend_of(caf::actor_system& system) {
  return static_cast<network::default_multiplexer&>(
      system.middleman().backend());
}

} // namespace

caf::io::scribe_ptr make_scribe(caf::actor_system& system, int fd,
                                bool accepted, const link_settings& link) {
  // As CAF's own new_scribe: keepalive probes; the event handler sets
  // non-blocking mode, TCP_NODELAY and no SIGPIPE.
  network::keepalive(fd, true);
  if (!link.tls)
    return caf::make_counted<bounded<network::scribe_impl>>(
        link, backend_of(system), fd);
  // Non-blocking before the session starts its handshake: the handshake
  // continues in the multiplexer's reads and writes.
  network::nonblocking(fd, true);
  auto session = caf::openssl::make_session(system, fd, accepted);
  if (!session) {
    ::close(fd);
    return nullptr;
  }
  return caf::make_counted<bounded<tls_scribe>>(link, backend_of(system), fd,
                                                std::move(session));
}

caf::actor basp_broker_of(caf::actor_system& system) {
  return system.middleman().named_broker<caf::io::basp_broker>(
      caf::atom("BASP"));
}

caf::proxy_registry* basp_proxies(caf::actor_system& system) {
  auto broker = caf::actor_cast<caf::abstract_actor*>(basp_broker_of(system));
  return static_cast<caf::io::basp_broker*>(broker)->proxy_registry_ptr();
}

} // namespace varsync::detail
