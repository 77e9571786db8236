// The directory's holder elected through etcd (--coordinator etcd://...,
// runtime/etcd_coordinator.hpp): a real 3-member etcd cluster on loopback
// (Debian's etcd-server; its own data directories and ports), the four
// worker processes of cluster.directory_failover on it. kill -9 of one etcd
// member and of the seed (the first holder, hosting variable "v"): another
// node wins epoch 2 in etcd once the seed's lease expired, takes the
// directory over from its copy, v is re-hosted, and every update of every
// replica succeeds (the on_write history checker passes). The etcd client
// alone is tested against the same cluster first.

#include "runtime/transport/etcd_client.hpp"
#include "tests/support/checks.hpp"
#include "tests/support/failover_run.hpp"
#include "tests/support/rehost_run.hpp"
#include "tests/support/temp_root.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"
#include "tests/support/write_history.hpp"
#include "varsync/cluster_status.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

/// A port on 127.0.0.1 that was free a moment ago (etcd needs its ports
/// on the command line).
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
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

std::string etcd_binary() {
  for (const char* candidate : {"/usr/bin/etcd", "/usr/local/bin/etcd"})
    if (std::filesystem::exists(candidate))
      return candidate;
  FAIL("etcd is not installed (scripts/setup installs etcd-server)");
  return {};
}

/// Three etcd members on loopback, each with its own data directory.
struct etcd_cluster {
  temp_root data{"varsync-etcd"};
  std::vector<child_process> members;
  std::vector<std::uint16_t> client_ports;

  etcd_cluster() {
    std::vector<std::uint16_t> peer_ports;
    for (int i = 0; i < 3; ++i) {
      client_ports.push_back(free_port());
      peer_ports.push_back(free_port());
    }
    std::string initial;
    for (int i = 0; i < 3; ++i)
      initial += (i == 0 ? "" : ",") + std::string{"e"} + std::to_string(i) +
                 "=http://127.0.0.1:" + std::to_string(peer_ports[i]);
    for (int i = 0; i < 3; ++i) {
      auto client = "http://127.0.0.1:" + std::to_string(client_ports[i]);
      auto peer = "http://127.0.0.1:" + std::to_string(peer_ports[i]);
      auto member = child_process::start(
          etcd_binary(),
          {"--name", "e" + std::to_string(i), "--data-dir",
           (data.path / ("e" + std::to_string(i))).string(),
           "--listen-client-urls", client, "--advertise-client-urls", client,
           "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
           "--initial-cluster", initial, "--initial-cluster-state", "new",
           "--initial-cluster-token",
           "varsync-test-" + std::to_string(::getpid())});
      REQUIRE(member);
      members.push_back(std::move(*member));
    }
    for (auto& member : members)
      REQUIRE_MESSAGE(
          member.wait_for_errors("ready to serve client requests", 60s),
          member.errors());
  }

  std::string url() const {
    std::string result = "etcd://";
    for (std::size_t i = 0; i < client_ports.size(); ++i)
      result += (i == 0 ? "" : ",") + std::string{"127.0.0.1:"} +
                std::to_string(client_ports[i]);
    return result + "/varsync-test";
  }

  std::vector<endpoint> endpoints() const {
    std::vector<endpoint> result;
    for (auto port : client_ports)
      result.push_back(endpoint{"127.0.0.1", port});
    return result;
  }
};

} // namespace

TEST_CASE("the etcd client: leases, gets, puts and compare-and-swap, also "
          "with a member killed") {
  etcd_cluster etcd;
  etcd_client client{etcd.endpoints(), 2s};
  // Long enough to outlive a new etcd leader's election below.
  auto lease = client.grant_lease(30);
  VARSYNC_REQUIRE_OK(lease);
  VARSYNC_REQUIRE_OK(client.put("/t/a", "one", *lease));
  auto got = client.get("/t/a");
  VARSYNC_REQUIRE_OK(got);
  REQUIRE(got->has_value());
  CHECK((*got)->value == "one");
  CHECK((*got)->lease == *lease);
  // Only the first of two creations of a key wins.
  auto first = client.transaction({{"/t/b", "", true}}, {{"/t/b", "x", 0}});
  VARSYNC_REQUIRE_OK(first);
  CHECK(*first);
  auto second = client.transaction({{"/t/b", "", true}}, {{"/t/b", "y", 0}});
  VARSYNC_REQUIRE_OK(second);
  CHECK_FALSE(*second);
  // A value guard: holds for "x", not for "z".
  auto guarded = client.transaction({{"/t/b", "x", false}}, {{"/t/c", "1", 0}});
  VARSYNC_REQUIRE_OK(guarded);
  CHECK(*guarded);
  auto refused = client.transaction({{"/t/b", "z", false}}, {{"/t/c", "2", 0}});
  VARSYNC_REQUIRE_OK(refused);
  CHECK_FALSE(*refused);
  auto all = client.get_prefix("/t/");
  VARSYNC_REQUIRE_OK(all);
  CHECK(all->size() == 3);
  // Binary values survive the base64 round trip.
  std::string bytes{"\0\x01\xff=", 4};
  VARSYNC_REQUIRE_OK(client.put("/t/bytes", bytes));
  auto back = client.get("/t/bytes");
  VARSYNC_REQUIRE_OK(back);
  CHECK((*back)->value == bytes);
  // The first member dies: the client goes on with the other two.
  REQUIRE(etcd.members[0].signal(SIGKILL));
  VARSYNC_REQUIRE_OK(client.put("/t/after", "yes"));
  auto kept = client.keep_alive(*lease);
  VARSYNC_REQUIRE_OK(kept);
  CHECK(*kept > 0);
  // A revoked lease takes its keys along.
  VARSYNC_REQUIRE_OK(client.revoke(*lease));
  auto gone = client.get("/t/a");
  VARSYNC_REQUIRE_OK(gone);
  CHECK_FALSE(gone->has_value());
  // Nothing answers on a port nobody listens on: a clear error.
  etcd_client nowhere{{endpoint{"127.0.0.1", free_port()}}, 500ms};
  auto failed = nowhere.get("/t/a");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code() == errc::variable_unavailable);
}

TEST_CASE("with --coordinator etcd://: kill -9 of an etcd member and of the "
          "seed; another node wins epoch 2 in etcd and the job goes on") {
  etcd_cluster etcd;
  auto cluster = start_failover_cluster({"--coordinator", etcd.url()});
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto before =
      fetch_status(endpoint{"127.0.0.1", port_of(cluster.nodes[3])}, 10s);
  REQUIRE_MESSAGE(before, before.error().to_string());
  CHECK(before->holder == "node-0");
  CHECK(before->epoch == 1);
  REQUIRE_MESSAGE(cluster.nodes[1].wait_for_line("step 0 20 ", 60s),
                  cluster.transcript());
  // The holder keeps the directory's state in etcd.
  etcd_client client{etcd.endpoints(), 2s};
  auto stored_before = client.get("/varsync-test/directory");
  VARSYNC_REQUIRE_OK(stored_before);
  REQUIRE(stored_before->has_value());
  REQUIRE(etcd.members[1].signal(SIGKILL));
  auto lost_at = steady_now_ns();
  REQUIRE(cluster.nodes[0].signal(SIGKILL));
  for (auto node : {1, 3})
    REQUIRE(cluster.nodes[node].signal(SIGUSR1)); // see --hold-at
  check_the_job_went_on(cluster);
  // The winner read the state the seed stored (it names other nodes'
  // actors: reading it takes CAF's proxies).
  for (auto node : {1, 2, 3})
    CHECK_MESSAGE(cluster.nodes[node].errors().find("does not read back") ==
                      std::string::npos,
                  cluster.transcript());
  // The longest pause between two updates of a replica after the loss:
  // the re-hosting waited for the seed's lease to expire.
  std::int64_t pause = 0;
  for (auto node : {1, 3}) {
    std::map<std::string, std::vector<std::int64_t>> times;
    for (const auto& row : lines_of(cluster.nodes[node].output(), "step"))
      times[row[1]].push_back(std::stoll(row[4]));
    for (const auto& [replica, at] : times)
      for (std::size_t k = 1; k < at.size(); ++k)
        if (at[k] > lost_at)
          pause = std::max(pause, at[k] - std::max(at[k - 1], lost_at));
  }
  MESSAGE("etcd failover: the replicas paused at most "
          << pause / 1000000
          << " ms after the seed's kill -9 (lease TTL 2 s, etcd member 1 of "
             "3 killed too)");
  // A new node given only the coordinator finds the holder through etcd.
  auto joiner = child_process::start(
      binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_cluster_worker"),
      {"--port", "0", "--name", "node-4", "--scenario", "idle",
       "--heartbeat-interval", "100ms", "--connection-timeout", "1000ms",
       "--coordinator", etcd.url()});
  REQUIRE(joiner);
  auto joined = joiner->wait_for_line("listening ", 60s);
  auto why = joiner->errors();
  REQUIRE_MESSAGE(joined, why);
  for (auto node : {1, 2, 3}) {
    auto status =
        fetch_status(endpoint{"127.0.0.1", port_of(cluster.nodes[node])}, 10s);
    REQUIRE_MESSAGE(status, status.error().to_string());
    CHECK(status->epoch == 2);
    CHECK(status->holder != "node-0");
    CHECK_FALSE(status->nodes[0].alive);
    REQUIRE(status->nodes.size() == 5);
    CHECK(status->nodes[4].name == "node-4");
    CHECK(status->nodes[4].alive);
  }
  // The new holder stored its own state since (it registered node-4).
  auto stored_after = client.get("/varsync-test/directory");
  VARSYNC_REQUIRE_OK(stored_after);
  REQUIRE(stored_after->has_value());
  CHECK((*stored_after)->value != (*stored_before)->value);
  CHECK((*stored_after)->mod_revision > (*stored_before)->mod_revision);
  joiner->signal(SIGTERM);
  CHECK(joiner->wait(20s));
  CHECK_MESSAGE(cluster.stop(0), cluster.transcript());
}

TEST_CASE("with --coordinator etcd://: a holder frozen (SIGSTOP) past its "
          "lease comes back, finds another node holding epoch 2 and follows "
          "it") {
  etcd_cluster etcd;
  auto common = std::vector<std::string>{
      "--scenario",           "idle",   "--heartbeat-interval", "100ms",
      "--connection-timeout", "1000ms", "--coordinator",        etcd.url()};
  auto cluster = start_test_cluster({{{}, {}}, {{}, {}}, {{}, {}}}, common);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto stopped_at = std::chrono::steady_clock::now();
  REQUIRE(cluster.nodes[0].signal(SIGSTOP));
  // The freeze outlasts the lease (2 s) and etcd's expiry of it: the
  // scenario's stimulus, not a synchronization.
  std::this_thread::sleep_until(stopped_at + 5s);
  REQUIRE(cluster.nodes[0].signal(SIGCONT));
  REQUIRE_MESSAGE(cluster.nodes[0].wait_for_errors(
                      "follows the directory of epoch 2 again", 30s),
                  cluster.transcript());
  for (auto node : {0, 1, 2}) {
    auto status =
        fetch_status(endpoint{"127.0.0.1", port_of(cluster.nodes[node])}, 10s);
    CAPTURE(node);
    REQUIRE_MESSAGE(status, status.error().to_string() << "\n"
                                                       << cluster.transcript());
    CHECK(status->epoch == 2);
    CHECK(status->holder != "node-0");
    // Every node is in the new holder's directory, node-2 too when the
    // seed froze before its copy naming node-2 went out (node-2 then joins
    // the holder etcd names).
    REQUIRE_MESSAGE(status->nodes.size() == 3, cluster.transcript());
    for (const auto& row : status->nodes)
      CHECK_MESSAGE(row.alive, row.name);
  }
  CHECK_MESSAGE(cluster.stop(), cluster.transcript());
}
