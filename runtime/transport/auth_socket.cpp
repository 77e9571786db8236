#include "runtime/transport/auth_socket.hpp"

#include "runtime/core/wording.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace varsync::auth {

namespace {

using steady = std::chrono::steady_clock;

/// Waits for `events` on `fd` until `deadline`: 1 ready, 0 deadline
/// passed, -1 error (errno set).
int wait_for(int fd, short events, deadline_type deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - steady::now());
    if (left.count() <= 0)
      return 0;
    pollfd entry{fd, events, 0};
    auto ready = ::poll(
        &entry, 1, static_cast<int>(std::min<long>(left.count() + 1, 1 << 30)));
    if (ready > 0)
      return 1;
    if (ready < 0 && errno != EINTR)
      return -1;
  }
}

error timed_out(const std::string& peer, const char* what) {
  return error{errc::timeout, std::string{"no "} + what + " from " + peer +
                                  " before the handshake deadline"};
}

error broken(const std::string& peer, const char* what) {
  return error{errc::unreachable, "connection to " + peer +
                                      " broke during the cluster handshake (" +
                                      what + ")"};
}

/// Called after a recv or send on `fd` moved nothing and set errno: waits
/// until the call is worth retrying (interrupted, or `fd` ready for
/// `events` before `deadline`), or returns the error that ends the
/// handshake (`awaited` names what did not come in time).
expected<void> await_retry(int fd, short events, deadline_type deadline,
                           const std::string& peer, const char* awaited) {
  if (errno == EINTR)
    return {};
  if (errno != EAGAIN && errno != EWOULDBLOCK)
    return broken(peer, std::strerror(errno));
  auto ready = wait_for(fd, events, deadline);
  if (ready == 0)
    return timed_out(peer, awaited);
  if (ready < 0)
    return broken(peer, std::strerror(errno));
  return {};
}

/// Reads exactly `size` bytes before `deadline`.
expected<void> read_all(int fd, std::byte* data, std::size_t size,
                        deadline_type deadline, const std::string& peer) {
  while (size > 0) {
    auto got = ::recv(fd, data, size, MSG_DONTWAIT);
    if (got > 0) {
      data += got;
      size -= static_cast<std::size_t>(got);
      continue;
    }
    if (got == 0)
      return broken(peer, "closed by the peer");
    if (auto retry = await_retry(fd, POLLIN, deadline, peer, "answer"); !retry)
      return retry.error();
  }
  return {};
}

/// Writes exactly `size` bytes before `deadline`.
expected<void> write_all(int fd, const std::byte* data, std::size_t size,
                         deadline_type deadline, const std::string& peer) {
  while (size > 0) {
    auto sent = ::send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent > 0) {
      data += sent;
      size -= static_cast<std::size_t>(sent);
      continue;
    }
    if (sent == 0)
      errno = EAGAIN; // nothing taken: wait for room, as for EAGAIN
    if (auto retry = await_retry(fd, POLLOUT, deadline, peer, "room to write");
        !retry)
      return retry.error();
  }
  return {};
}

/// Reads the hello of the peer `peer` before `deadline`, checking each
/// byte of its magic as it arrives: a peer whose first bytes differ is not
/// a varsync node, reported at once (with what it sent) rather than when
/// the deadline passes or after it sent a hello's worth of bytes.
expected<void> read_hello(int fd, hello_bytes& hello, deadline_type deadline,
                          const std::string& peer) {
  std::size_t got = 0;
  auto not_varsync = [&](const char* how) {
    std::string_view sent{reinterpret_cast<const char*>(hello.data()), got};
    return error{errc::not_varsync,
                 peer + " is not a varsync node: it " + how + " '" +
                     wording::excerpt(sent, 40) +
                     "' instead of varsync's handshake (is it the right "
                     "port?)"};
  };
  while (got < hello.size()) {
    auto read =
        ::recv(fd, hello.data() + got, hello.size() - got, MSG_DONTWAIT);
    if (read > 0) {
      auto checked_from = got;
      got += static_cast<std::size_t>(read);
      for (auto at = checked_from; at < std::min(got, magic_size); ++at)
        if (hello[at] != magic[at])
          return not_varsync("answered");
      continue;
    }
    if (read == 0 && got > 0)
      return not_varsync("sent");
    if (read == 0)
      return error{errc::unreachable,
                   peer + " closed the connection before the cluster "
                          "handshake (a node over its limit of pending "
                          "handshakes, or not a varsync node)"};
    if (auto retry = await_retry(fd, POLLIN, deadline, peer, "answer"); !retry)
      return retry.error();
  }
  return {};
}

} // namespace

expected<int> connect_with_deadline(const std::string& host, std::uint16_t port,
                                    deadline_type deadline) {
  auto where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (auto status = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(),
                                  &hints, &found);
      status != 0)
    return error{errc::unreachable,
                 "cannot resolve " + where + ": " + ::gai_strerror(status)};
  std::string last = "no address";
  bool refused = false;
  int result = -1;
  bool deadline_passed = false;
  for (auto* at = found; at != nullptr && result < 0; at = at->ai_next) {
    int fd =
        ::socket(at->ai_family, at->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                 at->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    auto connected = ::connect(fd, at->ai_addr, at->ai_addrlen) == 0;
    if (!connected && errno == EINPROGRESS) {
      auto ready = wait_for(fd, POLLOUT, deadline);
      int problem = 0;
      socklen_t length = sizeof(problem);
      if (ready == 1 &&
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &problem, &length) == 0)
        connected = problem == 0;
      if (ready == 0)
        deadline_passed = true;
      errno = problem != 0 ? problem : errno;
    }
    if (!connected) {
      refused = !deadline_passed && errno == ECONNREFUSED;
      last = deadline_passed ? "no answer" : std::strerror(errno);
      ::close(fd);
      if (deadline_passed)
        break;
      continue;
    }
    // Blocking from here on; the drivers pass MSG_DONTWAIT where needed.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    result = fd;
  }
  ::freeaddrinfo(found);
  if (result >= 0)
    return result;
  if (deadline_passed)
    return error{errc::timeout, "cannot connect to " + where +
                                    ": no answer before the deadline"};
  if (refused)
    return error{errc::unreachable,
                 "connection refused by " + where +
                     " (nothing listens on that port: is the node running, "
                     "and is it the right port?)"};
  return error{errc::unreachable, "cannot connect to " + where + ": " + last};
}

expected<void> prove_membership(int fd, const cluster_secret& secret,
                                channel purpose, deadline_type deadline,
                                const std::string& peer) {
  client_handshake handshake{secret, purpose};
  // The proof's magic goes first, without waiting for the hello (see
  // auth_handshake.hpp): the rest follows once the hello arrived.
  if (auto sent = write_all(fd, magic.data(), magic.size(), deadline, peer);
      !sent)
    return sent.error();
  hello_bytes hello{};
  if (auto got = read_hello(fd, hello, deadline, peer); !got)
    return got.error();
  auto proof = handshake.prove(hello);
  if (!proof)
    return error{proof.error().code(),
                 peer + " is not a varsync node of this kind: " +
                     proof.error().message()};
  if (auto sent = write_all(fd, proof->data() + magic_size,
                            proof->size() - magic_size, deadline, peer);
      !sent)
    return sent.error();
  verdict_bytes verdict{};
  if (auto got = read_all(fd, verdict.data(), verdict.size(), deadline, peer);
      !got)
    return got.error();
  if (auto checked = handshake.check(verdict); !checked)
    return error{errc::unauthenticated,
                 peer + ": " + checked.error().message()};
  return {};
}

expected<void> check_membership(int fd, const cluster_secret& secret,
                                channel purpose, deadline_type deadline,
                                const std::string& peer, refusal* reason) {
  server_handshake handshake{secret, purpose};
  const auto& hello = handshake.hello();
  if (auto sent = write_all(fd, hello.data(), hello.size(), deadline, peer);
      !sent)
    return sent.error();
  proof_bytes proof{};
  if (auto got = read_all(fd, proof.data(), proof.size(), deadline, peer); !got)
    return got.error();
  auto outcome = handshake.answer(proof);
  // The verdict is sent either way: a refused peer learns why at once.
  auto sent = write_all(fd, outcome.verdict.data(), outcome.verdict.size(),
                        deadline, peer);
  if (!outcome.accepted) {
    if (reason != nullptr)
      *reason = outcome.reason;
    return error{errc::unauthenticated,
                 "refused " + peer + ": " + to_string(outcome.reason)};
  }
  if (!sent)
    return sent.error();
  return {};
}

} // namespace varsync::auth
