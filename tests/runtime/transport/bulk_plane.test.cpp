// The bulk plane over real TCP on loopback: frames reach the actor they
// name with their tensor, replies come back on the connection a frame
// arrived on (in order), and bad input from the network — garbage,
// headers announcing impossible sizes, truncated frames, frames naming no
// actor — closes or skips only what is bad while the plane keeps serving.

#include "runtime/transport/bulk_plane.hpp"

#include "actors/bulk_delivery.hpp"
#include "actors/protocol.hpp"
#include "runtime/transport/auth_socket.hpp"
#include "runtime/transport/tls_certificates.hpp"
#include "tests/support/test_secret.hpp"

#include <arpa/inet.h>
#include <caf/all.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <doctest/doctest.h>
#include <filesystem>
#include <netinet/in.h>
#include <optional>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace varsync;
using namespace std::chrono_literals;

namespace {

/// The 80-byte frame header as documented in runtime/transport/bulk_wire.hpp,
/// written independently of the implementation.
struct raw_header {
  std::uint32_t magic = 0x32425356;
  std::uint8_t kind = 1; // contribute
  std::uint8_t type = 0; // f32
  std::uint8_t rank = 0;
  std::uint8_t code = 0;
  std::uint64_t target = 0;
  std::uint64_t reply_to = 0;
  std::uint64_t variable = 7;
  std::uint64_t index = 0;
  std::uint64_t number = 1;
  std::uint64_t tag = 0;
  std::int64_t timeout_ms = 0;
  std::uint64_t payload = 0;
  /// A part's first element.
  std::uint64_t offset = 0;
};
static_assert(sizeof(raw_header) == 80);

/// A raw client connection to a plane, with a 5 s receive timeout; it
/// proves the test's cluster secret first unless told not to.
struct raw_client {
  int fd = -1;
  /// The plane may close the connection before everything was written
  /// (it refuses what it has read so far): a write it cut short is then
  /// not a failure of the test.
  bool peer_may_close = false;

  explicit raw_client(std::uint16_t port, bool authenticate = true) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address),
                      sizeof(address)) == 0);
    timeval limit{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    if (authenticate)
      prove();
  }

  /// Runs the cluster handshake (channel bulk) with `secret`.
  expected<void> try_prove(const auth::cluster_secret& secret) {
    return auth::prove_membership(fd, secret, auth::channel::bulk,
                                  std::chrono::steady_clock::now() + 5s,
                                  "the plane");
  }

  /// Runs the cluster handshake with the test's secret (it must succeed),
  /// then sends a hello naming `node` and reads the plane's hello.
  void prove(const std::string& node = "test-client") {
    auto proven = try_prove(*test::test_secret());
    REQUIRE_MESSAGE(proven, (proven ? "" : proven.error().to_string()));
    hello(node);
    CHECK_FALSE(read_hello().empty());
  }

  /// Sends a hello naming `node` and reads the plane's; false when the
  /// plane closed the connection instead.
  bool try_hello(const std::string& node) {
    raw_header head;
    head.kind = 5; // hello
    head.payload = node.size();
    std::string frame(reinterpret_cast<const char*>(&head), sizeof(head));
    frame += node;
    return ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(frame.size()) &&
           !read_hello().empty();
  }

  /// Sends a hello frame naming `node`.
  void hello(const std::string& node) {
    raw_header head;
    head.kind = 5; // hello
    head.payload = node.size();
    write(&head, sizeof(head));
    write(node.data(), node.size());
  }

  /// Reads one whole frame's header and payload: the node name of a
  /// hello (empty when something else or nothing came).
  std::string read_hello() {
    raw_header head;
    if (!read_exactly(&head, sizeof(head)) || head.kind != 5 ||
        head.payload > 255)
      return {};
    std::string name(head.payload, '\0');
    if (!read_exactly(name.data(), name.size()))
      return {};
    return name;
  }

  bool read_exactly(void* data, std::size_t size) {
    auto* at = static_cast<char*>(data);
    while (size > 0) {
      auto got = ::recv(fd, at, size, 0);
      if (got <= 0)
        return false;
      at += got;
      size -= static_cast<std::size_t>(got);
    }
    return true;
  }

  /// Wraps a socket connected elsewhere (closed with this client).
  struct adopt_tag {};
  raw_client(adopt_tag, int connected) : fd(connected) {}

  ~raw_client() { ::close(fd); }

  void write(const void* data, std::size_t size) {
    auto sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (peer_may_close && (sent >= 0 || errno == EPIPE || errno == ECONNRESET))
      return;
    REQUIRE(sent == static_cast<ssize_t>(size));
  }

  /// A frame of `kind` (contribute unless told) carrying an f32 tensor
  /// [values] for `target`, numbered `number` (a step or a version).
  /// With `whole` > 0 the values are a part: the elements from `offset`
  /// of a tensor [whole].
  void frame(caf::actor_id target, const std::vector<float>& values,
             std::uint64_t number, std::uint8_t kind = 1,
             std::int64_t whole = 0, std::uint64_t offset = 0,
             std::uint64_t variable = 7) {
    raw_header head;
    head.kind = kind;
    head.target = target;
    head.rank = 1;
    head.number = number;
    head.variable = variable;
    head.offset = offset;
    head.payload = values.size() * sizeof(float);
    auto length = whole > 0 ? whole : static_cast<std::int64_t>(values.size());
    write(&head, sizeof(head));
    write(&length, sizeof(length));
    write(values.data(), head.payload);
  }

  /// True when the plane closed this connection (EOF before the timeout;
  /// bytes before it, such as a handshake's hello, are skipped).
  bool closed_by_peer() {
    char bytes[256];
    for (;;) {
      auto got = ::recv(fd, bytes, sizeof(bytes), 0);
      if (got <= 0) // EOF, or a reset when the plane closed unread bytes
        return got == 0 || errno == ECONNRESET;
    }
  }
};

/// The number of threads this process runs.
std::size_t running_threads() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator{"/proc/self/task"})
    ++count;
  return count;
}

/// The number of file descriptors this process has open.
std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator{"/proc/self/fd"})
    ++count;
  return count;
}

struct fixture {
  caf::actor_system_config config;
  std::optional<caf::actor_system> system;
  std::shared_ptr<bulk_plane> a;
  std::shared_ptr<bulk_plane> b;

  fixture() {
    system.emplace(config);
    auto first = bulk_plane::listen("127.0.0.1", test::test_secret());
    auto second = bulk_plane::listen("127.0.0.1", test::test_secret());
    REQUIRE(first);
    REQUIRE(second);
    a = *first;
    b = *second;
    CHECK(a->port() != 0);
    CHECK(a->port() != b->port());
  }

  ~fixture() {
    a->stop();
    b->stop();
  }
};

/// Receives one contribution at `self` and returns (step, values).
std::optional<std::pair<std::uint64_t, std::vector<float>>>
receive_contribution(caf::scoped_actor& self,
                     std::chrono::milliseconds timeout = 5s) {
  std::optional<std::pair<std::uint64_t, std::vector<float>>> result;
  self->receive(
      [&](bulk_contribute_atom, std::uint64_t, const std::string&,
          std::uint64_t, std::uint64_t, std::uint64_t step, std::uint8_t,
          tensor& value, std::int64_t, std::uint64_t, std::uint64_t,
          std::uint64_t) {
        auto values = value.values<float>();
        result.emplace(step, std::vector<float>(values.begin(), values.end()));
      },
      caf::after(timeout) >> [] {});
  return result;
}

/// Receives one install at `self` and returns (version, values).
std::optional<std::pair<std::uint64_t, std::vector<float>>>
receive_install(caf::scoped_actor& self) {
  std::optional<std::pair<std::uint64_t, std::vector<float>>> result;
  self->receive(
      [&](install_atom, variable_id, std::uint64_t version, std::uint64_t,
          tensor& value) {
        auto values = value.values<float>();
        result.emplace(version,
                       std::vector<float>(values.begin(), values.end()));
      },
      caf::after(5s) >> [] {});
  return result;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a contribution reaches the named actor with its "
                           "tensor; installs and the ack come back in order "
                           "on the same connection") {
  caf::scoped_actor variable{*system};
  caf::scoped_actor replica{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(variable));
  add_bulk_target(*a, caf::actor_cast<caf::actor>(replica));
  bulk_frame frame;
  frame.kind = bulk_kind::contribute;
  frame.code = to_wire(update_op::add);
  frame.target = variable->id();
  frame.reply_to = replica->id();
  frame.variable = 7;
  frame.index = 3;
  frame.number = 11;
  frame.tag = 5;
  frame.timeout_ms = 1234;
  frame.value = *tensor::from_values<float>(std::vector<float>{1, 2, 3, 4},
                                            shape_type{2, 2});
  a->send({b->host(), b->port(), b->node_name()}, frame);
  std::optional<std::uint64_t> connection;
  variable->receive(
      [&](bulk_contribute_atom, std::uint64_t via, const std::string& node,
          std::uint64_t reply_to, std::uint64_t index, std::uint64_t step,
          std::uint8_t op, tensor& value, std::int64_t timeout_ms,
          std::uint64_t tag, std::uint64_t part_offset,
          std::uint64_t part_count) {
        connection = via;
        CHECK(part_offset == 0); // a whole frame: one part, all of it
        CHECK(part_count == 4);
        CHECK(node == a->node_name());
        CHECK(reply_to == replica->id());
        CHECK(index == 3);
        CHECK(step == 11);
        CHECK(op == to_wire(update_op::add));
        CHECK(value == frame.value);
        CHECK(timeout_ms == 1234);
        CHECK(tag == 5);
      },
      caf::after(5s) >> [] { FAIL("no contribution arrived"); });
  REQUIRE(connection);
  // Replies name the replica's actor and travel on the same connection.
  for (std::uint64_t version = 1; version <= 3; ++version) {
    bulk_frame install;
    install.kind = bulk_kind::install;
    install.target = replica->id();
    install.variable = 7;
    install.number = version;
    install.value = tensor{static_cast<float>(version)};
    REQUIRE(b->reply(*connection, std::move(install)));
  }
  bulk_frame ack;
  ack.kind = bulk_kind::ack;
  ack.code = static_cast<std::uint8_t>(errc::timeout);
  ack.target = replica->id();
  ack.variable = 7;
  ack.number = 11;
  ack.tag = 5;
  ack.text = "step 11 timed out";
  REQUIRE(b->reply(*connection, std::move(ack)));
  for (std::uint64_t version = 1; version <= 3; ++version) {
    auto got = receive_install(replica);
    REQUIRE(got);
    CHECK(got->first == version);
    CHECK(got->second == std::vector<float>{static_cast<float>(version)});
  }
  replica->receive(
      [&](bulk_ack_atom, variable_id id, std::uint64_t step, std::uint64_t tag,
          std::uint8_t code, std::string& text) {
        CHECK(id == 7);
        CHECK(step == 11);
        CHECK(tag == 5);
        CHECK(code == static_cast<std::uint8_t>(errc::timeout));
        CHECK(text == "step 11 timed out");
      },
      caf::after(5s) >> [] { FAIL("no ack arrived"); });
  // A writer counts a frame after its write returned, which may be just
  // after the peer already delivered it: stopping joins the writers, so
  // the counters are final.
  a->stop();
  b->stop();
  CHECK(a->counters().frames_sent.load() == 1);
  CHECK(b->counters().frames_sent.load() == 4);
  CHECK(a->counters().frames_received.load() == 4);
}

TEST_CASE_FIXTURE(fixture, "malformed frames close their connection and are "
                           "counted; the plane keeps serving") {
  caf::scoped_actor target{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  std::uint64_t rejected = 0;
  SUBCASE("garbage") {
    raw_client client{b->port()};
    std::vector<unsigned char> garbage(4096);
    for (std::size_t i = 0; i < garbage.size(); ++i)
      garbage[i] = static_cast<unsigned char>(i * 131 + 7);
    client.write(garbage.data(), garbage.size());
    CHECK(client.closed_by_peer());
    rejected = 1;
  }
  SUBCASE("a payload that does not match the shape") {
    raw_client client{b->port()};
    raw_header head;
    head.target = target->id();
    head.rank = 1;
    head.payload = 12;       // 3 floats announced as...
    std::int64_t length = 2; // ... a shape of 2
    client.write(&head, sizeof(head));
    client.write(&length, sizeof(length));
    CHECK(client.closed_by_peer());
    rejected = 1;
  }
  SUBCASE("a 1 TiB payload is refused before anything is allocated") {
    raw_client client{b->port()};
    raw_header head;
    head.target = target->id();
    head.payload = std::uint64_t{1} << 40;
    client.write(&head, sizeof(head));
    CHECK(client.closed_by_peer());
    rejected = 1;
  }
  SUBCASE("an unknown dtype, kind and rank") {
    for (int field = 0; field < 3; ++field) {
      raw_client client{b->port()};
      raw_header head;
      head.target = target->id();
      if (field == 0)
        head.type = 9;
      else if (field == 1)
        head.kind = 77;
      else
        head.rank = 200;
      client.write(&head, sizeof(head));
      CHECK(client.closed_by_peer());
    }
    rejected = 3;
  }
  SUBCASE("a truncated frame, then the peer hangs up") {
    raw_client client{b->port()};
    raw_header head;
    head.target = target->id();
    head.rank = 1;
    head.payload = 4000;
    std::int64_t length = 1000;
    client.write(&head, sizeof(head));
    client.write(&length, sizeof(length));
    client.write("abc", 3);
    ::shutdown(client.fd, SHUT_WR);
    CHECK(client.closed_by_peer());
    rejected = 0; // not malformed, just cut short: nothing is delivered
  }
  CHECK(b->counters().frames_rejected.load() == rejected);
  CHECK(b->counters().frames_received.load() == 0);
  // The plane still serves new connections.
  raw_client client{b->port()};
  client.frame(target->id(), {4.5f, 5.5f}, 3);
  auto got = receive_contribution(target);
  REQUIRE(got);
  CHECK(got->first == 3);
  CHECK(got->second == std::vector<float>{4.5f, 5.5f});
}

TEST_CASE_FIXTURE(fixture, "a tensor in parts: a contribution is delivered "
                           "part by part into one buffer, an install once "
                           "whole; parts of two frames may interleave") {
  caf::scoped_actor variable{*system};
  caf::scoped_actor replica{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(variable));
  add_bulk_target(*a, caf::actor_cast<caf::actor>(replica));
  std::vector<float> values(10);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(i) + 0.5f;
  bulk_frame frame;
  frame.kind = bulk_kind::contribute;
  frame.target = variable->id();
  frame.reply_to = replica->id();
  frame.variable = 7;
  frame.number = 4;
  frame.value = *tensor::from_values<float>(values, shape_type{2, 5});
  // Parts of 4, 4 and 2 elements (the last part's shape is still [2, 5]).
  for (std::uint64_t offset : {0, 4, 8}) {
    auto part = frame;
    part.part_offset = offset;
    part.part_count = std::min<std::uint64_t>(4, 10 - offset);
    a->send({b->host(), b->port(), b->node_name()}, std::move(part));
  }
  std::optional<std::uint64_t> connection;
  std::optional<tensor> first;
  for (std::uint64_t offset : {0, 4, 8}) {
    variable->receive(
        [&](bulk_contribute_atom, std::uint64_t via, const std::string&,
            std::uint64_t, std::uint64_t, std::uint64_t step, std::uint8_t,
            tensor& value, std::int64_t, std::uint64_t,
            std::uint64_t part_offset, std::uint64_t part_count) {
          connection = via;
          CHECK(step == 4);
          CHECK(part_offset == offset);
          CHECK(part_count == std::min<std::uint64_t>(4, 10 - offset));
          CHECK(value.shape() == shape_type{2, 5});
          // Every delivery is the same buffer; its elements up to the
          // part's end hold their values.
          if (!first)
            first = value;
          CHECK(value.shares_buffer_with(*first));
          auto got = value.values<float>();
          for (std::uint64_t i = 0; i < part_offset + part_count; ++i)
            CHECK(got[i] == values[i]);
        },
        caf::after(5s) >> [] { FAIL("a part was not delivered"); });
  }
  REQUIRE(first);
  CHECK(*first == frame.value);
  REQUIRE(connection);
  // Installs of two variables in interleaved parts come back whole, once
  // each, in the order their last parts arrived.
  std::vector<float> ones(6, 1.0f);
  auto install_part = [&](std::uint64_t variable_id, std::uint64_t version,
                          const tensor& value, std::uint64_t offset,
                          std::uint64_t count) {
    bulk_frame part;
    part.kind = bulk_kind::install;
    part.target = replica->id();
    part.variable = variable_id;
    part.number = version;
    part.value = value;
    part.part_offset = offset;
    part.part_count = count;
    REQUIRE(b->reply(*connection, std::move(part)));
  };
  // Variable 7 contributed on this connection; the replies for variable
  // 8 need a contribution of it too.
  frame.variable = 8;
  a->send({b->host(), b->port(), b->node_name()}, frame);
  variable->receive(
      [&](bulk_contribute_atom, std::uint64_t, const std::string&,
          std::uint64_t, std::uint64_t, std::uint64_t, std::uint8_t, tensor&,
          std::int64_t, std::uint64_t, std::uint64_t, std::uint64_t) {},
      caf::after(5s) >> [] { FAIL("no contribution of variable 8"); });
  auto seven = frame.value;
  auto eight = *tensor::from_values<float>(ones, shape_type{6});
  install_part(7, 21, seven, 0, 5);
  install_part(8, 31, eight, 0, 3);
  install_part(8, 31, eight, 3, 3);
  install_part(7, 21, seven, 5, 5);
  for (auto [id_expected, version_expected] :
       {std::pair{std::uint64_t{8}, std::uint64_t{31}},
        std::pair{std::uint64_t{7}, std::uint64_t{21}}}) {
    replica->receive(
        [&](install_atom, variable_id id, std::uint64_t version, std::uint64_t,
            tensor& value) {
          CHECK(id == id_expected);
          CHECK(version == version_expected);
          CHECK(value == (id == 7 ? seven : eight));
        },
        caf::after(5s) >> [] { FAIL("an install in parts did not arrive"); });
  }
  replica->receive(
      [](install_atom, variable_id, std::uint64_t, std::uint64_t, tensor&) {
        FAIL("an install was delivered before it was whole");
      },
      caf::after(0ms) >> [] {});
  CHECK(b->counters().frames_rejected.load() == 0);
  CHECK(a->counters().frames_rejected.load() == 0);
}

TEST_CASE_FIXTURE(fixture, "a part that does not continue its frame closes "
                           "the connection; the plane keeps serving") {
  caf::scoped_actor target{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  std::size_t delivered = 0;
  SUBCASE("a later part without a first one") {
    raw_client client{b->port()};
    client.frame(target->id(), {1, 2}, 3, 1, 6, 2);
    CHECK(client.closed_by_peer());
  }
  SUBCASE("a gap between parts") {
    raw_client client{b->port()};
    client.frame(target->id(), {1, 2}, 3, 1, 6, 0);
    client.frame(target->id(), {5, 6}, 3, 1, 6, 4);
    CHECK(client.closed_by_peer());
    delivered = 1;
  }
  SUBCASE("a part of another step") {
    raw_client client{b->port()};
    client.frame(target->id(), {1, 2}, 3, 1, 6, 0);
    client.frame(target->id(), {3, 4}, 4, 1, 6, 2);
    CHECK(client.closed_by_peer());
    delivered = 1;
  }
  SUBCASE("a part past its tensor's end") {
    raw_client client{b->port()};
    client.frame(target->id(), {1, 2, 3}, 3, 1, 6, 4);
    CHECK(client.closed_by_peer());
  }
  SUBCASE("more than 8 frames open at once") {
    raw_client client{b->port()};
    for (std::uint64_t variable = 1; variable <= 9; ++variable)
      client.frame(target->id(), {1, 2}, 3, 1, 6, 0, variable);
    CHECK(client.closed_by_peer());
    delivered = 8;
  }
  SUBCASE("a whole tensor announced above max-message in parts") {
    raw_client client{b->port()};
    client.frame(target->id(), {1, 2}, 3, 1, std::int64_t{1} << 40, 0);
    CHECK(client.closed_by_peer());
  }
  std::size_t got = 0;
  for (bool more = true; more;)
    target->receive([&](bulk_contribute_atom, std::uint64_t, const std::string&,
                        std::uint64_t, std::uint64_t, std::uint64_t,
                        std::uint8_t, tensor&, std::int64_t, std::uint64_t,
                        std::uint64_t, std::uint64_t) { ++got; },
                    caf::after(200ms) >> [&] { more = false; });
  CHECK(got == delivered);
  CHECK(b->counters().frames_rejected.load() == 1);
  // A new connection is served, in parts too.
  raw_client client{b->port()};
  client.frame(target->id(), {1, 2}, 5, 1, 4, 0);
  client.frame(target->id(), {3, 4}, 5, 1, 4, 2);
  std::optional<std::vector<float>> last;
  for (int part = 0; part < 2; ++part) {
    auto received = receive_contribution(target);
    REQUIRE(received);
    last = received->second;
  }
  CHECK(last == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE_FIXTURE(fixture, "a peer without the cluster secret is refused "
                           "before any of its frames is decoded") {
  caf::scoped_actor target{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  SUBCASE("a wrong secret") {
    raw_client client{b->port(), false};
    auth::cluster_secret wrong{std::vector<std::byte>(32, std::byte{'x'})};
    auto proven = client.try_prove(wrong);
    REQUIRE_FALSE(proven);
    CHECK_EQ(proven.error().code(), errc::unauthenticated);
    CHECK(proven.error().message().find("does not accept our cluster secret") !=
          std::string::npos);
    CHECK(client.closed_by_peer());
  }
  SUBCASE("a well-formed frame without a handshake") {
    raw_client client{b->port(), false};
    // The plane refuses it once it read a proof's worth of bytes, maybe
    // before the payload was written.
    client.peer_may_close = true;
    client.frame(target->id(), {-1e6f}, 1);
    CHECK(client.closed_by_peer());
  }
  SUBCASE("garbage instead of a proof") {
    raw_client client{b->port(), false};
    std::vector<unsigned char> garbage(4096, 0xab);
    ::send(client.fd, garbage.data(), garbage.size(), MSG_NOSIGNAL);
    CHECK(client.closed_by_peer());
  }
  CHECK(b->gate_counters().unauthenticated.load() == 1);
  CHECK(b->counters().frames_received.load() == 0);
  target->receive(
      [](bulk_contribute_atom, std::uint64_t, const std::string&, std::uint64_t,
         std::uint64_t, std::uint64_t, std::uint8_t, tensor&, std::int64_t,
         std::uint64_t, std::uint64_t,
         std::uint64_t) { FAIL("an unauthenticated frame was delivered"); },
      caf::after(0ms) >> [] {});
  // Members are still served.
  raw_client client{b->port()};
  client.frame(target->id(), {4.5f}, 3);
  auto got = receive_contribution(target);
  REQUIRE(got);
  CHECK(got->first == 3);
}

TEST_CASE_FIXTURE(fixture, "closed connections release their sockets while "
                           "the plane runs") {
  caf::scoped_actor target{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  auto before = open_descriptors();
  constexpr int rounds = 50;
  for (int i = 0; i < rounds; ++i) {
    raw_client client{b->port()};
    raw_header head;
    head.kind = 77; // malformed: the plane closes the connection
    client.write(&head, sizeof(head));
    CHECK(client.closed_by_peer());
  }
  CHECK(b->counters().frames_rejected.load() == rounds);
  // The plane still serves.
  raw_client client{b->port()};
  client.frame(target->id(), {1.5f}, 1);
  REQUIRE(receive_contribution(target));
  // Without reaping each of the 50 would still hold its socket; the
  // reaper releases them as they end (waited for with a deadline).
  // Allowed: the live client's two ends and its accepted socket.
  auto give_up = std::chrono::steady_clock::now() + 5s;
  while (open_descriptors() > before + 4 &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::yield();
  CHECK(open_descriptors() <= before + 4);
}

TEST_CASE_FIXTURE(fixture, "a frame naming no registered actor is dropped "
                           "and the connection stays usable") {
  caf::scoped_actor target{*system};
  caf::scoped_actor unregistered{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  raw_client client{b->port()};
  client.frame(unregistered->id(), {1.0f}, 1);
  client.frame(target->id(), {2.0f}, 2);
  auto got = receive_contribution(target);
  REQUIRE(got);
  CHECK(got->first == 2);
  CHECK(b->counters().frames_rejected.load() == 1);
  // Removed targets are not reachable any more. A frame to a second
  // target on the same connection marks when the reader got past them.
  caf::scoped_actor witness{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(witness));
  b->remove_target(target->id());
  client.frame(target->id(), {3.0f}, 3);
  client.frame(target->id(), {4.0f}, 4);
  client.frame(witness->id(), {5.0f}, 5);
  auto seen = receive_contribution(witness);
  REQUIRE(seen);
  CHECK(seen->first == 5);
  CHECK(b->counters().frames_rejected.load() == 3);
  target->receive([](bulk_contribute_atom, std::uint64_t, const std::string&,
                     std::uint64_t, std::uint64_t, std::uint64_t, std::uint8_t,
                     tensor&, std::int64_t, std::uint64_t, std::uint64_t,
                     std::uint64_t) { FAIL("a removed target got a frame"); },
                  caf::after(std::chrono::milliseconds{0}) >> [] {});
}

TEST_CASE_FIXTURE(fixture, "sending to a port nobody listens on drops the "
                           "frame; a reply on a closed connection is "
                           "refused") {
  // Port 1 on loopback refuses connections.
  bulk_frame frame;
  frame.kind = bulk_kind::install;
  frame.value = tensor{1.0f};
  a->send({"127.0.0.1", 1, {}}, frame);
  CHECK_FALSE(b->reply(424242, frame));
  // Stopping is idempotent and refuses further replies.
  b->stop();
  b->stop();
  CHECK_FALSE(b->reply(1, frame));
}

TEST_CASE_FIXTURE(fixture, "small frames written by the sender and large "
                           "ones queued for the writer keep their order; an "
                           "install_ack arrives as an install, then an ack") {
  caf::scoped_actor variable{*system};
  caf::scoped_actor replica{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(variable));
  add_bulk_target(*a, caf::actor_cast<caf::actor>(replica));
  bulk_frame first;
  first.kind = bulk_kind::contribute;
  first.target = variable->id();
  first.reply_to = replica->id();
  first.variable = 7; // replies may name only (replica, 7)
  first.value = tensor{1.0f};
  a->send({b->host(), b->port(), b->node_name()}, first);
  std::optional<std::uint64_t> connection;
  variable->receive([&](bulk_contribute_atom, std::uint64_t via,
                        const std::string&, std::uint64_t, std::uint64_t,
                        std::uint64_t, std::uint8_t, tensor&, std::int64_t,
                        std::uint64_t, std::uint64_t,
                        std::uint64_t) { connection = via; },
                    caf::after(5s) >> [] { FAIL("no contribution arrived"); });
  REQUIRE(connection);
  // 1 MiB frames exceed the inline limit: they go to the writer thread
  // while the small ones behind them must wait their turn.
  constexpr std::uint64_t versions = 40;
  for (std::uint64_t version = 1; version <= versions; ++version) {
    std::vector<float> values(version % 3 == 0 ? 256 * 1024 : 1,
                              static_cast<float>(version));
    bulk_frame install;
    install.kind = bulk_kind::install;
    install.target = replica->id();
    install.variable = 7;
    install.number = version;
    install.value = *tensor::from_values<float>(
        values, shape_type{static_cast<std::int64_t>(values.size())});
    REQUIRE(b->reply(*connection, std::move(install)));
  }
  bulk_frame both;
  both.kind = bulk_kind::install_ack;
  both.target = replica->id();
  both.variable = 7;
  both.number = versions + 1;
  both.index = 12; // the step
  both.tag = 9;
  both.value = tensor{-1.0f};
  REQUIRE(b->reply(*connection, std::move(both)));
  for (std::uint64_t version = 1; version <= versions + 1; ++version) {
    auto got = receive_install(replica);
    REQUIRE(got);
    CHECK(got->first == version);
    auto expected_value =
        version > versions ? -1.0f : static_cast<float>(version);
    CHECK(got->second.front() == expected_value);
    CHECK(got->second.back() == expected_value);
  }
  replica->receive(
      [&](bulk_ack_atom, variable_id id, std::uint64_t step, std::uint64_t tag,
          std::uint8_t code, std::string& text) {
        CHECK(id == 7);
        CHECK(step == 12);
        CHECK(tag == 9);
        CHECK(code == 0);
        CHECK(text.empty());
      },
      caf::after(5s) >> [] { FAIL("no ack arrived"); });
}

namespace {

/// A listener standing in for a peer's bulk plane: accepts one connection
/// and runs the listening side of the cluster handshake on it.
struct stand_in_peer {
  int listener = -1;
  std::uint16_t port = 0;
  std::optional<raw_client> peer;

  stand_in_peer() {
    listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address),
                   sizeof(address)) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    socklen_t length = sizeof(address);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }

  ~stand_in_peer() { ::close(listener); }

  /// Accepts the plane's connection and checks its proof.
  raw_client& accept() {
    int fd = ::accept(listener, nullptr, nullptr);
    REQUIRE(fd >= 0);
    peer.emplace(raw_client::adopt_tag{}, fd);
    timeval limit{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    REQUIRE(auth::check_membership(
        fd, *test::test_secret(), auth::channel::bulk,
        std::chrono::steady_clock::now() + 5s, "the plane"));
    return *peer;
  }
};

/// A contribution for `variable` from replica actor `replica`.
bulk_frame contribution(std::uint64_t target, std::uint64_t replica,
                        std::uint64_t variable) {
  bulk_frame frame;
  frame.kind = bulk_kind::contribute;
  frame.target = target;
  frame.reply_to = replica;
  frame.variable = variable;
  frame.value = tensor{1.0f};
  return frame;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a process that connects cannot hand a node's "
                           "replicas installs or acks; a node's own "
                           "connections carry no contributions") {
  // Replies only come back on a connection the replica's node opened; an
  // accepted connection carries only contributions.
  caf::scoped_actor replica{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(replica));
  for (std::uint8_t kind : {2, 3, 4}) { // install, ack, install_ack
    CAPTURE(static_cast<int>(kind));
    raw_client attacker{b->port()};
    if (kind == 3) {
      raw_header ack;
      ack.kind = kind;
      ack.target = replica->id();
      attacker.write(&ack, sizeof(ack));
    } else {
      attacker.frame(replica->id(), {-1e6f}, ~std::uint64_t{0}, kind);
    }
    CHECK(attacker.closed_by_peer());
  }
  CHECK(b->counters().frames_rejected.load() == 3);
  CHECK(b->counters().frames_received.load() == 0);
  replica->receive([](install_atom, variable_id, std::uint64_t, std::uint64_t,
                      tensor&) { FAIL("a forged install was delivered"); },
                   [](bulk_ack_atom, variable_id, std::uint64_t, std::uint64_t,
                      std::uint8_t,
                      std::string&) { FAIL("a forged ack was delivered"); },
                   caf::after(std::chrono::milliseconds{0}) >> [] {});
  // The other way round: a node that opened a connection accepts no
  // contribution on it. A listener stands in for the peer and answers the
  // first frame with a contribution.
  stand_in_peer stand_in;
  b->send({"127.0.0.1", stand_in.port, {}}, contribution(1, 0, 0));
  auto& back = stand_in.accept();
  auto peer = back.fd;
  CHECK(back.read_hello() == b->node_name());
  back.hello("stand-in");
  back.frame(replica->id(), {2.0f}, 1); // a contribution
  // The plane closes its own connection: reads see the hello, then EOF.
  std::vector<char> sink(4096);
  ssize_t got = 0;
  while ((got = ::recv(peer, sink.data(), sink.size(), 0)) > 0) {
  }
  CHECK(got == 0);
  CHECK(b->counters().frames_rejected.load() == 4);
}

TEST_CASE_FIXTURE(fixture, "out of descriptors, the plane backs off and "
                           "serves again once descriptors are free") {
  caf::scoped_actor target{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  // A socket made while descriptors are free, connected once none is left:
  // its connection waits in the backlog and the plane's accept fails with
  // EMFILE (connect needs no new descriptor; accept does).
  int waiting = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(waiting >= 0);
  raw_client pending{raw_client::adopt_tag{}, waiting};
  timeval limit{5, 0};
  ::setsockopt(waiting, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  struct restore_limit {
    rlimit saved;
    ~restore_limit() { ::setrlimit(RLIMIT_NOFILE, &saved); }
  } restore{saved};
  // A new descriptor takes the lowest free number: a limit at that number
  // leaves none.
  int lowest_free = ::dup(0);
  REQUIRE(lowest_free >= 0);
  ::close(lowest_free);
  rlimit none_left = saved;
  none_left.rlim_cur = static_cast<rlim_t>(lowest_free);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &none_left) == 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(b->port());
  ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  REQUIRE(::connect(waiting, reinterpret_cast<sockaddr*>(&address),
                    sizeof(address)) == 0);
  // Until the acceptor met EMFILE (bounded wait); then free descriptors.
  auto give_up = std::chrono::steady_clock::now() + 5s;
  while (b->gate_counters().accept_retries.load() == 0 &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::yield();
  CHECK(b->gate_counters().accept_retries.load() > 0);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
  // The connection that waited is accepted now and served.
  pending.prove();
  pending.frame(target->id(), {7.0f}, 7);
  auto got = receive_contribution(target);
  REQUIRE_MESSAGE(got, "the plane stopped accepting after EMFILE");
  CHECK(got->first == 7);
}

TEST_CASE("connections over the per-address cap are closed at accept; the "
          "plane keeps serving; connections cost no threads") {
  // Idle connections must outlive the test's setup on a loaded machine:
  // a first-frame deadline far beyond it (the default 5 s closed some in
  // CI before the last ones connected, so they were not over the cap).
  caf::actor_system_config config;
  caf::actor_system system{config};
  bulk_limits limits;
  limits.first_frame = 120s;
  limits.handshake = 120s;
  auto plane = bulk_plane::listen("127.0.0.1", test::test_secret(), limits);
  REQUIRE(plane);
  auto* b = plane->get();
  caf::scoped_actor target{system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  std::vector<std::unique_ptr<raw_client>> idle;
  auto threads_before = running_threads();
  // 128 accepted connections from one address at most: the 129th and
  // 130th are closed by the plane.
  for (int i = 0; i < 128; ++i)
    idle.push_back(std::make_unique<raw_client>(b->port()));
  // One I/O thread serves them all (it was two threads per connection).
  CHECK(running_threads() <= threads_before + 2);
  for (int i = 0; i < 2; ++i) {
    // These pass the handshake, then the plane closes them.
    idle.push_back(
        std::make_unique<raw_client>(b->port(), /*authenticate=*/false));
    CHECK(idle.back()->try_prove(*test::test_secret()));
  }
  CHECK(idle.back()->closed_by_peer());
  CHECK(b->counters().connections_refused.load() >= 2);
  // Once idle ones go, new connections are served again (the plane
  // releases ended connections within 100 ms: retry until then).
  idle.clear();
  auto give_up = std::chrono::steady_clock::now() + 10s;
  std::optional<std::pair<std::uint64_t, std::vector<float>>> got;
  while (!got && std::chrono::steady_clock::now() < give_up) {
    raw_client client{b->port(), /*authenticate=*/false};
    if (!client.try_prove(*test::test_secret()) ||
        !client.try_hello("test-client"))
      continue; // still over the cap: closed after the handshake
    client.frame(target->id(), {9.0f}, 9);
    got = receive_contribution(target, 500ms);
  }
  REQUIRE(got);
  CHECK(got->first == 9);
  b->stop();
}

TEST_CASE("a silent or trickling peer is closed at its deadline; a "
          "connection may idle between frames") {
  caf::actor_system_config config;
  caf::actor_system system{config};
  bulk_limits limits;
  // Short enough for a quick test, long enough that a loaded machine does
  // not miss them on the good path.
  limits.first_frame = 1s;
  limits.frame_grace = 1s;
  auto plane = bulk_plane::listen("127.0.0.1", test::test_secret(), limits);
  REQUIRE(plane);
  auto& b = **plane;
  caf::scoped_actor target{system};
  add_bulk_target(b, caf::actor_cast<caf::actor>(target));
  auto started = std::chrono::steady_clock::now();
  SUBCASE("silent: no first frame") {
    raw_client silent{b.port()};
    CHECK(silent.closed_by_peer());
    CHECK(std::chrono::steady_clock::now() - started < 4s);
    CHECK(b.counters().frames_rejected.load() == 1);
  }
  SUBCASE("silent: no handshake") {
    raw_client silent{b.port(), /*authenticate=*/false};
    CHECK(silent.closed_by_peer());
    CHECK(std::chrono::steady_clock::now() - started < 4s);
    CHECK(b.gate_counters().abandoned.load() == 1);
  }
  SUBCASE("trickling: a frame whose bytes come too slowly") {
    raw_client slow{b.port()};
    raw_header head;
    head.target = target->id();
    head.rank = 1;
    head.payload = 64 * sizeof(float);
    std::int64_t length = 64;
    slow.write(&head, sizeof(head));
    slow.write(&length, sizeof(length));
    // One byte of the payload, then nothing: the frame's deadline passes.
    slow.write("x", 1);
    CHECK(slow.closed_by_peer());
    CHECK(std::chrono::steady_clock::now() - started < 4s);
    CHECK(b.counters().frames_rejected.load() == 1);
  }
  SUBCASE("idle between frames: still served") {
    raw_client client{b.port()};
    client.frame(target->id(), {1.0f}, 1);
    REQUIRE(receive_contribution(target));
    // Longer than every deadline above, between two frames: allowed.
    std::this_thread::sleep_for(1500ms);
    client.frame(target->id(), {2.0f}, 2);
    auto got = receive_contribution(target);
    REQUIRE(got);
    CHECK(got->first == 2);
    CHECK(b.counters().frames_rejected.load() == 0);
  }
  b.stop();
}

TEST_CASE_FIXTURE(fixture, "an accepted connection's first frame must be a "
                           "hello naming its node") {
  caf::scoped_actor target{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(target));
  SUBCASE("a contribution first") {
    raw_client client{b->port(), /*authenticate=*/false};
    REQUIRE(client.try_prove(*test::test_secret()));
    client.frame(target->id(), {1.0f}, 1);
    CHECK(client.closed_by_peer());
  }
  SUBCASE("a hello whose name is not printable") {
    raw_client client{b->port(), /*authenticate=*/false};
    REQUIRE(client.try_prove(*test::test_secret()));
    client.hello(std::string{"node\x01\n"});
    CHECK(client.closed_by_peer());
  }
  SUBCASE("a second hello") {
    raw_client client{b->port()};
    client.hello("again");
    CHECK(client.closed_by_peer());
  }
  CHECK(b->counters().frames_rejected.load() == 1);
  CHECK(receive_contribution(target, 0ms) == std::nullopt);
}

TEST_CASE_FIXTURE(fixture, "a connection this node opens is bound to the "
                           "node it meant to reach; replies on it may name "
                           "only what was contributed on it") {
  caf::scoped_actor replica{*system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(replica));
  stand_in_peer stand_in;
  b->send({"127.0.0.1", stand_in.port, "expected-node"},
          contribution(1, replica->id(), 7));
  auto& peer = stand_in.accept();
  CHECK(peer.read_hello() == b->node_name());
  SUBCASE("another node answers: the plane drops the connection unwritten") {
    peer.hello("someone-else");
    // EOF before any frame: the contribution never went out.
    raw_header head;
    CHECK_FALSE(peer.read_exactly(&head, sizeof(head)));
    CHECK(b->counters().frames_rejected.load() == 1);
    CHECK(b->counters().frames_sent.load() == 0);
  }
  SUBCASE("the expected node answers: the contribution goes out; an install "
          "for it is delivered, one for another variable closes the "
          "connection") {
    peer.hello("expected-node");
    raw_header head;
    REQUIRE(peer.read_exactly(&head, sizeof(head)));
    CHECK(head.kind == 1);
    CHECK(head.reply_to == replica->id());
    CHECK(head.variable == 7);
    std::vector<std::byte> rest(head.payload + head.rank * 8);
    REQUIRE(peer.read_exactly(rest.data(), rest.size()));
    raw_header install;
    install.kind = 2;
    install.target = replica->id();
    install.variable = 7;
    install.number = 3;
    install.rank = 0;
    install.payload = sizeof(float);
    float value = 4.0f;
    peer.write(&install, sizeof(install));
    peer.write(&value, sizeof(value));
    auto got = receive_install(replica);
    REQUIRE(got);
    CHECK(got->first == 3);
    install.variable = 8; // nothing of variable 8 went out on it
    peer.write(&install, sizeof(install));
    peer.write(&value, sizeof(value));
    CHECK(peer.closed_by_peer());
    CHECK(b->counters().frames_rejected.load() == 1);
    replica->receive(
        [](install_atom, variable_id, std::uint64_t, std::uint64_t, tensor&) {
          FAIL("an install for another variable was delivered");
        },
        caf::after(std::chrono::milliseconds{0}) >> [] {});
  }
}

namespace {

/// A directory with a cluster CA and node certificates, removed with it.
struct certificate_directory {
  std::filesystem::path path;

  explicit certificate_directory(const std::string& tag,
                                 std::initializer_list<const char*> nodes) {
    path = std::filesystem::temp_directory_path() /
           ("varsync-bulk-tls-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    REQUIRE(tls::create_cluster_ca(path.string()));
    for (const auto* node : nodes)
      REQUIRE(tls::issue_node_certificate(path.string(), node));
  }

  ~certificate_directory() { std::filesystem::remove_all(path); }

  bulk_identity identity(const std::string& node) const {
    bulk_identity result;
    result.node_name = node;
    result.tls_cert = (path / (node + ".pem")).string();
    result.tls_key = (path / (node + ".key")).string();
    result.tls_ca = (path / "ca.pem").string();
    return result;
  }
};

} // namespace

TEST_CASE("with TLS, frames travel between nodes of one CA; a peer of "
          "another CA or without TLS is refused") {
  caf::actor_system_config config;
  caf::actor_system system{config};
  certificate_directory cluster{"cluster", {"a", "b"}};
  certificate_directory rogue{"rogue", {"r"}};
  auto listen = [](const bulk_identity& identity) {
    auto plane =
        bulk_plane::listen("127.0.0.1", test::test_secret(), {}, identity);
    REQUIRE_MESSAGE(plane, (plane ? "" : plane.error().to_string()));
    CHECK((*plane)->uses_tls());
    return *plane;
  };
  auto b = listen(cluster.identity("b"));
  caf::scoped_actor variable{system};
  add_bulk_target(*b, caf::actor_cast<caf::actor>(variable));
  SUBCASE("a node of the same CA: a 1 MiB contribution and its install") {
    auto a = listen(cluster.identity("a"));
    caf::scoped_actor replica{system};
    add_bulk_target(*a, caf::actor_cast<caf::actor>(replica));
    auto frame = contribution(variable->id(), replica->id(), 7);
    std::vector<float> values(256 * 1024, 2.5f);
    frame.value = *tensor::from_values<float>(values, shape_type{256, 1024});
    a->send({b->host(), b->port(), "b"}, frame);
    std::optional<std::uint64_t> connection;
    variable->receive(
        [&](bulk_contribute_atom, std::uint64_t via, const std::string& node,
            std::uint64_t, std::uint64_t, std::uint64_t, std::uint8_t,
            tensor& value, std::int64_t, std::uint64_t, std::uint64_t,
            std::uint64_t) {
          connection = via;
          CHECK(node == "a");
          CHECK(value == frame.value);
        },
        caf::after(10s) >> [] { FAIL("no contribution arrived over TLS"); });
    REQUIRE(connection);
    bulk_frame install;
    install.kind = bulk_kind::install;
    install.target = replica->id();
    install.variable = 7;
    install.number = 1;
    install.value = tensor{3.0f};
    REQUIRE(b->reply(*connection, install));
    auto got = receive_install(replica);
    REQUIRE(got);
    CHECK(got->second == std::vector<float>{3.0f});
    // The same 1 MiB install in 4 parts over TLS: delivered once, whole.
    install.value = frame.value;
    for (std::uint64_t offset = 0; offset < values.size();
         offset += values.size() / 4) {
      auto part = install;
      part.number = 2;
      part.part_offset = offset;
      part.part_count = values.size() / 4;
      REQUIRE(b->reply(*connection, std::move(part)));
    }
    got = receive_install(replica);
    REQUIRE(got);
    CHECK(got->first == 2);
    CHECK(got->second == values);
    a->stop();
  }
  SUBCASE("a node of another CA") {
    auto r = listen(rogue.identity("r"));
    r->send({b->host(), b->port(), "b"}, contribution(variable->id(), 1, 7));
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (b->counters().frames_rejected.load() == 0 &&
           std::chrono::steady_clock::now() < give_up)
      std::this_thread::yield();
    CHECK(b->counters().frames_rejected.load() == 1);
    CHECK(receive_contribution(variable, 0ms) == std::nullopt);
    r->stop();
  }
  SUBCASE("a member that proves the secret but speaks plain TCP") {
    raw_client plain{b->port(), /*authenticate=*/false};
    REQUIRE(plain.try_prove(*test::test_secret()));
    plain.hello("plain"); // where the TLS client hello belongs
    CHECK(plain.closed_by_peer());
    CHECK(receive_contribution(variable, 0ms) == std::nullopt);
  }
  b->stop();
}
