#pragma once

// TCP listeners on loopback that are not varsync nodes, for tests of what a
// node or `varsync status` reports when pointed at the wrong port: one that
// greets with a banner (as SSH or SMTP servers do), one that answers a
// request line with an HTTP error (as web servers do), and one that never
// accepts (the kernel still completes the TCP handshake). Each serves
// connections on a thread of its own until destroyed. Only for tests.

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace varsync::test {

/// A listening socket on 127.0.0.1 with a free port, optionally serving
/// each accepted connection with `behavior` (blocking) on one thread.
class stranger_listener {
public:
  /// How the listener treats a connection.
  enum class behavior {
    /// Never accepts: connects complete, nothing is ever sent.
    silent,
    /// Sends `banner` at once, then waits for the peer to close.
    banner,
    /// Reads up to an empty line ("\r\n\r\n"), then answers `banner` and
    /// closes, as an HTTP server answers a request it cannot parse.
    http,
  };

  /// Binds and listens; serves connections as `how` says.
  explicit stranger_listener(behavior how, std::string banner = {})
      : banner_(std::move(banner)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address),
                   sizeof address) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address),
                          &length) == 0);
    port_ = ntohs(address.sin_port);
    if (how != behavior::silent)
      server_ = std::thread{[this, how] { serve(how); }};
  }

  /// Stops listening (wakes the thread's accept) and joins the thread.
  ~stranger_listener() {
    ::shutdown(fd_, SHUT_RDWR);
    if (server_.joinable())
      server_.join();
    ::close(fd_);
  }

  stranger_listener(const stranger_listener&) = delete;
  stranger_listener& operator=(const stranger_listener&) = delete;

  /// The port it listens on.
  std::uint16_t port() const noexcept { return port_; }

  /// "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
  void serve(behavior how) {
    for (;;) {
      int peer = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (peer < 0 && errno == EINTR)
        continue;
      if (peer < 0)
        return; // shut down
      if (how == behavior::http)
        read_request(peer);
      ::send(peer, banner_.data(), banner_.size(), MSG_NOSIGNAL);
      if (how == behavior::banner)
        wait_for_close(peer);
      ::close(peer);
    }
  }

  /// Reads until an empty line or the peer closes.
  static void read_request(int peer) {
    std::string request;
    char buffer[512];
    while (request.find("\r\n\r\n") == std::string::npos) {
      auto got = ::recv(peer, buffer, sizeof buffer, 0);
      if (got <= 0)
        return;
      request.append(buffer, static_cast<std::size_t>(got));
    }
  }

  static void wait_for_close(int peer) {
    char buffer[512];
    while (::recv(peer, buffer, sizeof buffer, 0) > 0) {
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string banner_;
  std::thread server_;
};

/// A port on 127.0.0.1 that nothing listens on (bound, then closed: the
/// kernel refuses connections to it until someone binds it again).
inline std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) ==
          0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) ==
          0);
  ::close(fd);
  return ntohs(address.sin_port);
}

} // namespace varsync::test
