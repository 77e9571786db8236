// The authenticating acceptor over real TCP on loopback: a member's socket
// is handed on after the handshake and carries bytes on; a wrong secret, a
// silent peer and peers over the caps are refused, counted and reported.

#include "runtime/transport/auth_acceptor.hpp"

#include "runtime/transport/auth_socket.hpp"

#include <arpa/inet.h>
#include <condition_variable>
#include <doctest/doctest.h>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using namespace varsync;
using namespace varsync::auth;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const cluster_secret> secret_of(char fill) {
  return std::make_shared<const cluster_secret>(
      std::vector<std::byte>(40, std::byte(fill)));
}

/// What the acceptor reported, waited for with a deadline.
struct reports {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int> members;
  std::vector<std::string> refusals;

  template <class Predicate> bool wait(Predicate done) {
    std::unique_lock guard{mutex};
    return changed.wait_for(guard, 10s, [&] { return done(*this); });
  }
};

/// An acceptor on 127.0.0.1 whose reports go to `log`.
std::unique_ptr<auth_acceptor> start(reports& log, acceptor_limits limits) {
  auto acceptor = auth_acceptor::listen("127.0.0.1", 0, secret_of('s'),
                                        channel::basp, limits);
  REQUIRE(acceptor);
  (*acceptor)->start(
      [&log](int fd, const std::string&) {
        std::lock_guard guard{log.mutex};
        log.members.push_back(fd);
        log.changed.notify_all();
      },
      [&log](const std::string& address, const std::string& reason) {
        std::lock_guard guard{log.mutex};
        log.refusals.push_back(address + ": " + reason);
        log.changed.notify_all();
      });
  return std::move(*acceptor);
}

int connect_to(std::uint16_t port) {
  auto fd = connect_with_deadline("127.0.0.1", port,
                                  std::chrono::steady_clock::now() + 5s);
  REQUIRE(fd);
  return *fd;
}

bool closed_by_peer(int fd) {
  pollfd entry{fd, POLLIN, 0};
  char bytes[256];
  while (::poll(&entry, 1, 5000) == 1) {
    auto got = ::recv(fd, bytes, sizeof bytes, 0);
    if (got == 0 || (got < 0 && errno == ECONNRESET))
      return true;
    if (got < 0)
      return false;
  }
  return false;
}

} // namespace

TEST_CASE("a member's socket is handed on after the handshake; a wrong "
          "secret is refused and reported") {
  reports log;
  auto acceptor = start(log, {});
  int member = connect_to(acceptor->port());
  REQUIRE(prove_membership(member, *secret_of('s'), channel::basp,
                           std::chrono::steady_clock::now() + 5s, "acceptor"));
  REQUIRE(log.wait([](reports& r) { return r.members.size() == 1; }));
  // The handed-on socket carries the member's next bytes.
  ::send(member, "hi", 2, MSG_NOSIGNAL);
  char got[2] = {};
  CHECK(::recv(log.members.front(), got, 2, MSG_WAITALL) == 2);
  CHECK(std::string(got, 2) == "hi");
  int intruder = connect_to(acceptor->port());
  auto refused =
      prove_membership(intruder, *secret_of('x'), channel::basp,
                       std::chrono::steady_clock::now() + 5s, "acceptor");
  REQUIRE_FALSE(refused);
  CHECK_EQ(refused.error().code(), errc::unauthenticated);
  CHECK(closed_by_peer(intruder));
  REQUIRE(log.wait([](reports& r) { return r.refusals.size() == 1; }));
  CHECK_EQ(log.refusals.front(), "127.0.0.1: wrong cluster secret");
  CHECK_EQ(acceptor->counters().members.load(), 1u);
  CHECK_EQ(acceptor->counters().unauthenticated.load(), 1u);
  acceptor->stop();
  for (auto fd : {member, intruder, log.members.front()})
    ::close(fd);
}

TEST_CASE("silent peers are closed at the deadline; peers over the caps at "
          "once; the acceptor serves members afterwards") {
  reports log;
  acceptor_limits limits;
  limits.handshake_deadline =
      1500ms; // beyond the five connects on a loaded machine
  limits.max_pending = 8;
  limits.max_pending_per_address = 3;
  auto acceptor = start(log, limits);
  std::vector<int> silent;
  for (int i = 0; i < 5; ++i)
    silent.push_back(connect_to(acceptor->port()));
  for (auto fd : silent) {
    CHECK(closed_by_peer(fd));
    ::close(fd);
  }
  CHECK_EQ(acceptor->counters().over_caps.load(), 2u);
  CHECK_EQ(acceptor->counters().abandoned.load(), 3u);
  REQUIRE(log.wait([](reports& r) { return r.refusals.size() == 5; }));
  CHECK(std::count(log.refusals.begin(), log.refusals.end(),
                   "127.0.0.1: no handshake before the deadline") == 3);
  int member = connect_to(acceptor->port());
  REQUIRE(prove_membership(member, *secret_of('s'), channel::basp,
                           std::chrono::steady_clock::now() + 5s, "acceptor"));
  REQUIRE(log.wait([](reports& r) { return r.members.size() == 1; }));
  acceptor->stop();
  ::close(member);
  ::close(log.members.front());
}
