#include "runtime/http/http_server.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <map>
#include <optional>
#include <thread>

namespace varsync::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

/// A connection as the server sees it, whatever its transport.
struct connection {
  virtual ~connection() = default;
  /// Queues an event (a stream only). Server thread only.
  virtual void push(std::shared_ptr<const std::string> event) = 0;
  /// Closes the connection. Server thread only.
  virtual void close() = 0;
};

} // namespace

struct http_server::impl {
  // Declared before `io`: sessions still queued in `io` when it is
  // destroyed use them.
  route routes;
  std::shared_ptr<asio::ssl::context> tls;
  server_limits limits;
  std::uint16_t port = 0;
  std::atomic<std::size_t> open{0};
  /// Open connections by id (server thread only): closed at stop.
  std::map<std::uint64_t, std::weak_ptr<connection>> connections;
  /// Open event streams, which receive events. Owned here: between two
  /// events no operation of theirs is pending to keep them alive.
  std::map<std::uint64_t, std::shared_ptr<connection>> streams;
  std::uint64_t next_id = 0;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;

  void accept();
};

namespace {

template <class Stream> auto& tcp_layer(Stream& stream) {
  return beast::get_lowest_layer(stream);
}

/// One client connection over `Stream` (beast::tcp_stream, or
/// beast::ssl_stream of one).
template <class Stream>
class session final : public connection,
                      public std::enable_shared_from_this<session<Stream>> {
public:
  session(http_server::impl& server, std::uint64_t id, Stream stream)
      : server_(server), id_(id), stream_(std::move(stream)) {
    ++server_.open;
  }

  ~session() override { --server_.open; }

  void start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      read();
    } else {
      tcp_layer(stream_).expires_after(server_.limits.request_deadline);
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code failed) {
            if (failed)
              return self->close();
            self->read();
          });
    }
  }

  void push(std::shared_ptr<const std::string> event) override {
    if (closed_)
      return;
    if (backlog_.size() >= server_.limits.max_stream_backlog)
      return close(); // the client stopped reading
    backlog_.push_back(std::move(event));
    if (!writing_)
      write_next();
  }

  void close() override {
    if (closed_)
      return;
    closed_ = true;
    server_.connections.erase(id_);
    auto keep = this->shared_from_this(); // erasing may drop the last owner
    server_.streams.erase(id_);
    beast::error_code ignored;
    tcp_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp_layer(stream_).close();
  }

private:
  void read() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(server_.limits.max_header_bytes));
    parser_->body_limit(0); // a GET has no body
    tcp_layer(stream_).expires_after(server_.limits.request_deadline);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](
                          beast::error_code failed, std::size_t) {
                        if (failed)
                          return self->close();
                        self->answer();
                      });
  }

  void answer() {
    const auto& request = parser_->get();
    response answer;
    if (request.method() != bhttp::verb::get &&
        request.method() != bhttp::verb::head) {
      answer = {405, "text/plain; charset=utf-8", "only GET is served\n"};
    } else {
      answer = server_.routes(std::string{request.target()});
    }
    if (answer.stream && request.method() == bhttp::verb::get)
      return start_stream(std::move(answer.body));
    reply_.emplace(static_cast<bhttp::status>(answer.status),
                   request.version());
    reply_->set(bhttp::field::content_type, answer.content_type);
    reply_->set(bhttp::field::cache_control, "no-store");
    reply_->keep_alive(request.keep_alive());
    if (request.method() == bhttp::verb::head) {
      reply_->content_length(answer.body.size());
    } else {
      reply_->body() = std::move(answer.body);
      reply_->prepare_payload();
    }
    tcp_layer(stream_).expires_after(server_.limits.request_deadline);
    bhttp::async_write(stream_, *reply_,
                       [self = this->shared_from_this()](
                           beast::error_code failed, std::size_t) {
                         if (failed || !self->reply_->keep_alive())
                           return self->close();
                         self->read();
                       });
  }

  void start_stream(std::string first) {
    server_.streams.emplace(id_, this->shared_from_this());
    std::string head = "HTTP/1.1 200 OK\r\n"
                       "Content-Type: text/event-stream\r\n"
                       "Cache-Control: no-store\r\n"
                       "Connection: keep-alive\r\n\r\n";
    if (!first.empty())
      head += "data: " + first + "\n\n";
    push(std::make_shared<const std::string>(std::move(head)));
  }

  void write_next() {
    writing_ = true;
    auto event = backlog_.front();
    // A stream's write must end in time too: a client that stopped reading
    // with a full socket buffer is closed.
    tcp_layer(stream_).expires_after(server_.limits.request_deadline);
    asio::async_write(stream_, asio::buffer(*event),
                      [self = this->shared_from_this(),
                       event](beast::error_code failed, std::size_t) {
                        self->writing_ = false;
                        if (failed)
                          return self->close();
                        self->backlog_.pop_front();
                        tcp_layer(self->stream_).expires_never();
                        if (!self->backlog_.empty())
                          self->write_next();
                      });
  }

  http_server::impl& server_;
  std::uint64_t id_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> reply_;
  std::deque<std::shared_ptr<const std::string>> backlog_;
  bool writing_ = false;
  bool closed_ = false;
};

template <class Stream>
void start_session(http_server::impl& server, Stream stream) {
  auto id = server.next_id++;
  auto created =
      std::make_shared<session<Stream>>(server, id, std::move(stream));
  server.connections.emplace(id, created);
  created->start();
}

} // namespace

void http_server::impl::accept() {
  acceptor.async_accept(io, [this](beast::error_code failed,
                                   tcp::socket socket) {
    if (failed == asio::error::operation_aborted)
      return; // stopping
    if (!failed) {
      if (open.load() >= limits.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else if (tls) {
        start_session(*this, beast::ssl_stream<beast::tcp_stream>{
                                 beast::tcp_stream{std::move(socket)}, *tls});
      } else {
        start_session(*this, beast::tcp_stream{std::move(socket)});
      }
    }
    accept();
  });
}

expected<std::unique_ptr<http_server>>
http_server::start(const std::string& host, std::uint16_t port, route routes,
                   std::shared_ptr<boost::asio::ssl::context> tls,
                   server_limits limits) {
  auto state = std::make_shared<impl>();
  state->routes = std::move(routes);
  state->tls = std::move(tls);
  state->limits = limits;
  auto where = host + ":" + std::to_string(port);
  auto fail = [&](const std::string& what, const beast::error_code& why) {
    return error{errc::invalid_argument, "http-port: cannot " + what + " " +
                                             where + ": " + why.message()};
  };
  beast::error_code failed;
  tcp::resolver resolver{state->io};
  auto found = resolver.resolve(host, std::to_string(port),
                                tcp::resolver::passive, failed);
  if (failed || found.empty())
    return fail("resolve", failed);
  auto address = found.begin()->endpoint();
  state->acceptor.open(address.protocol(), failed);
  if (!failed)
    state->acceptor.set_option(tcp::acceptor::reuse_address(true), failed);
  if (!failed)
    state->acceptor.bind(address, failed);
  if (!failed)
    state->acceptor.listen(asio::socket_base::max_listen_connections, failed);
  if (failed == asio::error::address_in_use)
    return error{errc::address_in_use,
                 "http-port: cannot listen on " + where +
                     ": address already in use (another process has it)"};
  if (failed)
    return fail("listen on", failed);
  state->port = state->acceptor.local_endpoint().port();
  state->accept();
  state->thread = std::thread{[raw = state.get()] { raw->io.run(); }};
  return std::unique_ptr<http_server>{new http_server(std::move(state))};
}

http_server::http_server(std::shared_ptr<impl> state)
    : impl_(std::move(state)) {
  // nop
}

http_server::~http_server() {
  asio::post(impl_->io, [state = impl_.get()] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    auto open = state->connections;
    for (auto& [id, weak] : open)
      if (auto alive = weak.lock())
        alive->close();
    state->streams.clear(); // closed above; none may outlive `io`
    state->io.stop();
  });
  if (impl_->thread.joinable())
    impl_->thread.join();
}

std::uint16_t http_server::port() const noexcept {
  return impl_->port;
}

void http_server::publish(std::string data) {
  auto event = std::make_shared<const std::string>("data: " + data + "\n\n");
  asio::post(impl_->io, [state = impl_.get(), event] {
    auto streams = state->streams; // push may close (and erase) one
    for (auto& [id, stream] : streams)
      stream->push(event);
  });
}

std::size_t http_server::connections() const noexcept {
  return impl_->open.load();
}

} // namespace varsync::http
