#pragma once

// A plain HTTP GET to a node's HTTP port on loopback (Boost.Beast, one
// request per connection), and a reader of the Prometheus text format's
// samples, for tests of runtime/http.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace varsync::test {

/// A response: status code and body.
struct http_reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

/// GETs `target` from 127.0.0.1:`port` (`method` for other verbs); nullopt
/// when the connection fails or is closed before a whole response (the
/// reason in `why`). Blocks at most `timeout`.
inline std::optional<http_reply>
http_get(std::uint16_t port, const std::string& target,
         std::string* why = nullptr,
         boost::beast::http::verb method = boost::beast::http::verb::get,
         std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream{io};
  stream.expires_after(timeout);
  beast::error_code failed;
  stream.connect(
      boost::asio::ip::tcp::endpoint{boost::asio::ip::make_address("127.0.0.1"),
                                     port},
      failed);
  bhttp::request<bhttp::empty_body> request{method, target, 11};
  request.set(bhttp::field::host, "127.0.0.1");
  if (!failed)
    bhttp::write(stream, request, failed);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (!failed)
    bhttp::read(stream, buffer, parser, failed);
  if (failed) {
    if (why)
      *why = failed.message();
    return std::nullopt;
  }
  auto& response = parser.get();
  return http_reply{response.result_int(),
                    std::string{response[bhttp::field::content_type]},
                    response.body()};
}

/// GETs `target` from 127.0.0.1:`port` over TLS with `tls` (e.g. a mutual
/// context presenting a client certificate); nullopt when the handshake or
/// the request fails (the reason in `why`). Blocks at most 10 s.
inline std::optional<http_reply> https_get(std::uint16_t port,
                                           const std::string& target,
                                           boost::asio::ssl::context& tls,
                                           std::string* why = nullptr) {
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  boost::asio::io_context io;
  beast::ssl_stream<beast::tcp_stream> stream{io, tls};
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds{10});
  beast::error_code failed;
  beast::get_lowest_layer(stream).connect(
      boost::asio::ip::tcp::endpoint{boost::asio::ip::make_address("127.0.0.1"),
                                     port},
      failed);
  if (!failed)
    stream.handshake(boost::asio::ssl::stream_base::client, failed);
  bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target, 11};
  request.set(bhttp::field::host, "127.0.0.1");
  if (!failed)
    bhttp::write(stream, request, failed);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> response;
  if (!failed)
    bhttp::read(stream, buffer, response, failed);
  if (failed) {
    if (why)
      *why = failed.message();
    return std::nullopt;
  }
  return http_reply{response.result_int(),
                    std::string{response[bhttp::field::content_type]},
                    response.body()};
}

/// The samples of a Prometheus text page: "name{labels}" -> value
/// (comments skipped). Only for pages this project writes: one space
/// between the series and the value, no timestamps.
inline std::map<std::string, double>
prometheus_samples(const std::string& page) {
  std::map<std::string, double> result;
  std::istringstream lines{page};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#')
      continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos)
      continue;
    result[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return result;
}

} // namespace varsync::test
