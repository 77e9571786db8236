#pragma once

// A small HTTP/1.1 server (Boost.Beast) for a node's operators: GET
// requests answered by a route function, and Server-Sent Event streams
// that `publish` feeds. It serves what a node tells about itself (metrics,
// status, the dashboard); it accepts no commands.
//
// How it works. One thread runs an io_context with an acceptor and every
// connection (asynchronous reads and writes, no blocking call on that
// thread). A connection reads one request at a time (headers at most
// `max_header_bytes`, no body accepted, a deadline for the whole request),
// asks the route for the response and writes it; keep-alive is honoured.
// A route may answer "stream": the connection then sends SSE headers and
// stays open, receiving every later `publish`ed event; a stream that falls
// behind by more than `max_stream_backlog` events (a client that stopped
// reading) is closed. At most `max_connections` connections are open; a
// connection above that is closed at once. With a TLS context every
// connection first completes a TLS handshake (mutual TLS: the client must
// present a certificate of the cluster's CA) within the request deadline.

#include "varsync/error.hpp"

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace varsync::http {

/// What a route answers to a GET.
struct response {
  /// 200, 404, ...
  unsigned status = 200;
  /// The Content-Type header.
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// Instead of `body`: keep the connection as an event stream
  /// (text/event-stream) that receives every later `publish`, starting
  /// with `body` as its first event when it is not empty.
  bool stream = false;
};

/// Answers a GET of `target` (path and query, e.g. "/metrics"). Runs on
/// the server's thread: must not block.
using route = std::function<response(const std::string& target)>;

/// Bounds on what a client can make the server hold.
struct server_limits {
  std::size_t max_connections = 64;
  std::size_t max_header_bytes = 8 * 1024;
  /// Per request (and the TLS handshake): the client must send it whole
  /// within this time.
  std::chrono::milliseconds request_deadline{std::chrono::seconds{10}};
  /// Events queued for one stream beyond which it is closed.
  std::size_t max_stream_backlog = 16;
};

/// A running server. Not copyable; destroying it stops it (closes every
/// connection, joins its thread).
class http_server {
public:
  /// Listens on `host`:`port` (0 picks a free port) and serves `routes` on
  /// a thread of its own. `tls`: serve HTTPS with that context (mutual
  /// TLS); null: plain HTTP. A port another process holds is
  /// `address_in_use`, another address that cannot be bound
  /// `invalid_argument`, each naming it. Blocks until listening.
  static expected<std::unique_ptr<http_server>>
  start(const std::string& host, std::uint16_t port, route routes,
        std::shared_ptr<boost::asio::ssl::context> tls = nullptr,
        server_limits limits = {});

  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The port it listens on. Never blocks.
  std::uint16_t port() const noexcept;

  /// Sends `data` as one event (`data: ...` lines) to every open stream.
  /// Thread-safe; never blocks (queued for the server's thread).
  void publish(std::string data);

  /// Connections open now (streams included). Thread-safe.
  std::size_t connections() const noexcept;

  struct impl;

private:
  explicit http_server(std::shared_ptr<impl> state);

  std::shared_ptr<impl> impl_;
};

} // namespace varsync::http
