// The directory's holder (the seed) is lost and the cluster goes on
// (actors/directory_election.hpp): four worker processes on loopback,
// node-0 (the seed: the directory and on_write variable "v", no replicas),
// node-1 (replicas 0 and 1), node-2 (hosts variables: the barrier "b"),
// node-3 (replicas 2 and 3). The replicas update v every millisecond.
//
// kill -9 of the seed: node-1 (the first live node in registration order)
// holds the directory from epoch 2, v is re-hosted on node-2, every update
// of every replica succeeds and the on_write history checker passes;
// `status` through any survivor names node-1 as the holder; a new node
// joins through a survivor's address only (started right after the kill:
// it asks again while the election runs), which measures the failover.
//
// SIGSTOP of the seed for twice the connection timeout, then SIGCONT: the
// others elect node-1 as above; the returning seed sees no majority (it
// changes nothing; its copies would be refused by nodes that follow epoch
// 2), finds node-1 through the nodes of its copy, follows it and
// registers again: every node then names node-1 and epoch 2.

#include "tests/support/failover_run.hpp"
#include "tests/support/rehost_run.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"
#include "tests/support/write_history.hpp"
#include "varsync/cluster_status.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <thread>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

/// The status through `node` names node-1 as the holder of epoch 2 and the
/// seed as lost.
void check_new_holder_through(test_cluster& cluster, std::size_t node) {
  auto status =
      fetch_status(endpoint{"127.0.0.1", port_of(cluster.nodes[node])}, 10s);
  REQUIRE_MESSAGE(status, status.error().to_string());
  CHECK(status->holder == "node-1");
  CHECK(status->epoch == 2);
  CHECK(status->directory_note.empty());
  REQUIRE(status->nodes.size() >= 4);
  CHECK(status->nodes[0].name == "node-0");
  CHECK_FALSE(status->nodes[0].alive);
  CHECK_FALSE(status->nodes[0].holder);
  CHECK(status->nodes[1].holder);
}

} // namespace

TEST_CASE("kill -9 of the seed: node-1 holds the directory, the seed's "
          "variable is re-hosted, the job goes on, a new node joins "
          "through a survivor") {
  auto cluster = start_failover_cluster();
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto node3 = port_of(cluster.nodes[3]);
  REQUIRE_MESSAGE(cluster.nodes[1].wait_for_line("step 0 20 ", 60s),
                  cluster.transcript());
  auto lost_at = steady_now_ns();
  REQUIRE(cluster.nodes[0].signal(SIGKILL));
  // A new node joins through node-3 (and the dead seed, listed first):
  // its join completes once a new holder acts.
  auto program =
      binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_cluster_worker");
  auto joiner = child_process::start(
      program,
      {"--port", "0", "--name", "node-4", "--join",
       "127.0.0.1:" + std::to_string(cluster.seed_port) +
           ",127.0.0.1:" + std::to_string(node3),
       "--join-deadline", "30s", "--scenario", "idle", "--heartbeat-interval",
       "100ms", "--connection-timeout", "1000ms"});
  REQUIRE(joiner);
  auto joined = joiner->wait_for_line("listening ", 60s);
  auto joined_at = steady_now_ns();
  auto why = joiner->errors() + cluster.transcript();
  REQUIRE_MESSAGE(joined, why);
  MESSAGE("failover: a new node joined "
          << (joined_at - lost_at) / 1000000
          << " ms after the holder's kill -9 (connection timeout 1000 ms)");
  for (auto node : {1, 3})
    REQUIRE(cluster.nodes[node].signal(SIGUSR1)); // see --hold-at
  check_the_job_went_on(cluster);
  check_new_holder_through(cluster, 3);
  check_new_holder_through(cluster, 2);
  auto status =
      fetch_status(endpoint{"127.0.0.1", port_of(cluster.nodes[2])}, 10s);
  REQUIRE(status);
  REQUIRE(status->nodes.size() == 5);
  CHECK(status->nodes[4].name == "node-4");
  CHECK(status->nodes[4].alive);
  joiner->signal(SIGTERM);
  CHECK(joiner->wait(20s));
  CHECK_MESSAGE(cluster.stop(0), cluster.transcript());
}

TEST_CASE("a holder frozen (SIGSTOP) for twice the connection timeout comes "
          "back to a new holder and changes nothing") {
  auto cluster = start_failover_cluster();
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto seed_port = cluster.seed_port;
  REQUIRE_MESSAGE(cluster.nodes[1].wait_for_line("step 0 20 ", 60s),
                  cluster.transcript());
  auto stopped_at = std::chrono::steady_clock::now();
  REQUIRE(cluster.nodes[0].signal(SIGSTOP));
  for (auto node : {1, 3})
    REQUIRE(cluster.nodes[node].signal(SIGUSR1));
  check_the_job_went_on(cluster);
  check_new_holder_through(cluster, 3);
  // The freeze lasts twice the connection timeout: the scenario's
  // stimulus, not a synchronization (everything above waited on events).
  std::this_thread::sleep_until(stopped_at + 2 * rehost_connection_timeout);
  REQUIRE(cluster.nodes[0].signal(SIGCONT));
  // The returning seed finds its peers gone (it sees no majority: its own
  // directory changes nothing), looks for a newer holder among the nodes
  // of its copy, follows node-1 and registers again.
  REQUIRE_MESSAGE(cluster.nodes[0].wait_for_errors(
                      "follows the directory of epoch 2 again", 30s),
                  cluster.transcript());
  auto back = fetch_status(endpoint{"127.0.0.1", seed_port}, 10s);
  REQUIRE_MESSAGE(back, back.error().to_string());
  CHECK(back->holder == "node-1");
  CHECK(back->epoch == 2);
  CHECK(back->nodes[0].alive);
  // The survivors agree: node-1, epoch 2, node-0 alive again and no
  // longer the holder.
  for (auto node : {2, 3}) {
    auto status =
        fetch_status(endpoint{"127.0.0.1", port_of(cluster.nodes[node])}, 10s);
    REQUIRE_MESSAGE(status, status.error().to_string());
    CHECK(status->holder == "node-1");
    CHECK(status->epoch == 2);
    CHECK(status->nodes[0].alive);
    CHECK_FALSE(status->nodes[0].holder);
  }
  CHECK_MESSAGE(cluster.stop(0), cluster.transcript());
}
