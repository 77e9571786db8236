#include "runtime/transport/auth_acceptor.hpp"

// Boost 1.74's Asio headers use std::exchange without including <utility>.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <thread>
#include <utility>

namespace varsync::auth {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

/// One connection in its handshake: owns the socket until it is handed on
/// or closed.
struct pending_handshake {
  pending_handshake(tcp::socket s, asio::io_context& context,
                    const cluster_secret& secret, channel purpose)
      : socket(std::move(s)), deadline(context), handshake(secret, purpose) {}
  tcp::socket socket;
  asio::steady_timer deadline;
  server_handshake handshake;
  proof_bytes proof{};
  server_handshake::outcome outcome;
  std::string address;
  std::string peer;
  bool finished = false;
};

} // namespace

struct auth_acceptor::impl {
  asio::io_context context;
  tcp::acceptor acceptor{context};
  asio::steady_timer retry{context};
  std::shared_ptr<const cluster_secret> secret;
  channel purpose = channel::basp;
  member_handler on_member;
  refusal_handler on_refused;
  acceptor_limits limits;
  acceptor_counters counters;
  std::uint16_t port = 0;
  std::thread thread;
  std::atomic<bool> stopped{false};
  /// Only touched on the acceptor's thread.
  std::size_t pending = 0;
  std::map<std::string, std::size_t> pending_by_address;
  std::chrono::milliseconds backoff{10};

  void accept_next() {
    acceptor.async_accept([this](error_code failure, tcp::socket socket) {
      if (failure == asio::error::operation_aborted || !acceptor.is_open())
        return;
      if (failure) {
        // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM),
        // or the peer left before we took it: retry after a back-off,
        // keep serving the handshakes in flight meanwhile.
        counters.accept_retries.fetch_add(1, std::memory_order_relaxed);
        on_refused("(accept)", "cannot accept: " + failure.message() +
                                   "; retrying with back-off");
        retry.expires_after(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds{1000});
        retry.async_wait([this](error_code cancelled) {
          if (!cancelled)
            accept_next();
        });
        return;
      }
      backoff = std::chrono::milliseconds{10};
      start(std::move(socket));
      accept_next();
    });
  }

  void start(tcp::socket socket) {
    error_code ignored;
    auto remote = socket.remote_endpoint(ignored);
    auto address = ignored ? std::string{"?"} : remote.address().to_string();
    auto& same_address = pending_by_address[address];
    if (pending >= limits.max_pending ||
        same_address >= limits.max_pending_per_address) {
      counters.over_caps.fetch_add(1, std::memory_order_relaxed);
      if (same_address == 0)
        pending_by_address.erase(address);
      socket.close(ignored);
      on_refused(address,
                 pending >= limits.max_pending
                     ? "too many handshakes in flight"
                     : "too many handshakes in flight from this address");
      return;
    }
    ++pending;
    ++same_address;
    auto session = std::make_shared<pending_handshake>(
        std::move(socket), context, *secret, purpose);
    session->address = address;
    session->peer = address + ":" + std::to_string(remote.port());
    session->deadline.expires_after(limits.handshake_deadline);
    session->deadline.async_wait([this, session](error_code cancelled) {
      if (!cancelled && !session->finished)
        finish(*session, ending::abandoned, "no handshake before the deadline");
    });
    asio::async_write(session->socket, asio::buffer(session->handshake.hello()),
                      [this, session](error_code failure, std::size_t) {
                        if (failure)
                          return finish(*session, ending::abandoned,
                                        "closed during the handshake");
                        read_proof(session);
                      });
  }

  void read_proof(const std::shared_ptr<pending_handshake>& session) {
    asio::async_read(
        session->socket, asio::buffer(session->proof),
        [this, session](error_code failure, std::size_t) {
          if (failure)
            return finish(*session, ending::abandoned,
                          "closed during the handshake");
          session->outcome = session->handshake.answer(session->proof);
          asio::async_write(
              session->socket, asio::buffer(session->outcome.verdict),
              [this, session](error_code failure, std::size_t) {
                if (!session->outcome.accepted)
                  return finish(*session, ending::unauthenticated,
                                to_string(session->outcome.reason));
                if (failure)
                  return finish(*session, ending::abandoned,
                                "closed during the handshake");
                finish(*session, ending::member, nullptr);
              });
        });
  }

  /// How a handshake ended.
  enum class ending { member, unauthenticated, abandoned };

  /// Ends a handshake: hands a member's socket on, or closes it and
  /// reports why. Runs once per session.
  void finish(pending_handshake& session, ending how, const char* reason) {
    if (session.finished)
      return;
    session.finished = true;
    session.deadline.cancel();
    --pending;
    if (auto i = pending_by_address.find(session.address);
        i != pending_by_address.end() && --i->second == 0)
      pending_by_address.erase(i);
    error_code ignored;
    switch (how) {
    case ending::member: {
      auto fd = session.socket.release(ignored);
      if (ignored)
        break;
      counters.members.fetch_add(1, std::memory_order_relaxed);
      on_member(fd, session.peer);
      return;
    }
    case ending::unauthenticated:
      counters.unauthenticated.fetch_add(1, std::memory_order_relaxed);
      break;
    case ending::abandoned:
      counters.abandoned.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    session.socket.close(ignored);
    on_refused(session.address, reason != nullptr ? reason : "socket lost");
  }
};

expected<std::unique_ptr<auth_acceptor>>
auth_acceptor::listen(const std::string& host, std::uint16_t port,
                      std::shared_ptr<const cluster_secret> secret,
                      channel purpose, acceptor_limits limits) {
  auto state = std::make_unique<impl>();
  state->secret = std::move(secret);
  state->purpose = purpose;
  state->limits = limits;
  auto where = host + ":" + std::to_string(port);
  error_code failure;
  tcp::resolver resolver{state->context};
  auto found = resolver.resolve(
      host, std::to_string(port),
      tcp::resolver::passive | tcp::resolver::numeric_service, failure);
  if (failure || found.empty())
    return error{errc::invalid_argument,
                 "cannot listen on " + where + ": " +
                     (failure ? failure.message() : "no address")};
  auto endpoint = found.begin()->endpoint();
  state->acceptor.open(endpoint.protocol(), failure);
  if (!failure)
    state->acceptor.set_option(tcp::acceptor::reuse_address(true), failure);
  if (!failure)
    state->acceptor.bind(endpoint, failure);
  if (!failure)
    state->acceptor.listen(asio::socket_base::max_listen_connections, failure);
  if (failure == asio::error::address_in_use)
    return error{errc::address_in_use,
                 "cannot listen on " + where +
                     ": address already in use (another process listens on "
                     "that port; pick another port, or 0 for a free one)"};
  if (failure)
    return error{errc::invalid_argument,
                 "cannot listen on " + where + ": " + failure.message()};
  state->port = state->acceptor.local_endpoint(failure).port();
  return std::unique_ptr<auth_acceptor>{new auth_acceptor(std::move(state))};
}

auth_acceptor::auth_acceptor(std::unique_ptr<impl> state)
    : impl_(std::move(state)) {}

auth_acceptor::~auth_acceptor() {
  stop();
}

void auth_acceptor::start(member_handler on_member,
                          refusal_handler on_refused) {
  impl_->on_member = std::move(on_member);
  impl_->on_refused = std::move(on_refused);
  impl_->accept_next();
  auto* state = impl_.get();
  impl_->thread = std::thread{[state] { state->context.run(); }};
}

std::uint16_t auth_acceptor::port() const noexcept {
  return impl_->port;
}

const acceptor_counters& auth_acceptor::counters() const noexcept {
  return impl_->counters;
}

void auth_acceptor::stop() {
  if (impl_->stopped.exchange(true))
    return;
  // Closing on the io thread cancels the accept; stopping the context
  // drops every unfinished handshake (their sockets close when the
  // sessions are destroyed with the context's handlers).
  asio::post(impl_->context, [state = impl_.get()] {
    error_code ignored;
    state->acceptor.close(ignored);
    state->retry.cancel();
    state->context.stop();
  });
  if (impl_->thread.joinable())
    impl_->thread.join();
}

} // namespace varsync::auth
