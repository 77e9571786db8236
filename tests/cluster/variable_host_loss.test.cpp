// The node hosting the variable actors and the directory (the seed) of a
// two-node cluster dies (kill -9) or freezes (SIGSTOP) while the other node
// waits in an on_write step. One node of two is no majority: no new holder
// may take the directory over (actors/directory_election.hpp), so nobody
// re-hosts the variables. The survivor's pending calls fail with
// variable_unavailable as soon as the loss is detected, new calls
// (replica-context and cross-replica) fail at once, and local reads of the
// on_write copy keep answering with the last installed value.

#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <csignal>
#include <doctest/doctest.h>

using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

constexpr auto connection_timeout = 1000ms;
constexpr auto margin = 1500ms;
constexpr int completed_steps = 20;

/// `bulk`: every on_write update travels on the bulk plane (bulk-threshold
/// 0, the default); otherwise the bulk plane is off and they travel as CAF
/// messages.
void lose_the_variable_host(int signal, bool bulk = false) {
  std::vector<std::string> bulk_args{"--bulk-threshold", bulk ? "0" : "off"};
  auto cluster = start_test_cluster(
      {{{0, 1}, {"--stop-after", std::to_string(completed_steps)}},
       {{2, 3}, {}}},
      {"--group-size", "4", "--scenario", "steps", "--steps", "1000",
       "--heartbeat-interval", "100ms", "--connection-timeout",
       std::to_string(connection_timeout.count()) + "ms"},
      bulk_args);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto& seed = cluster.nodes[0];
  // The seed's replicas stopped after 20 steps: the others wait in step 20.
  // Every replica of node 1 must have *completed* step 19 before
  // the host is lost (it announces step 20 only then): a node whose
  // install of step 19 was still in flight when the host froze would
  // rightly fail step 19 instead.
  REQUIRE_MESSAGE(seed.wait_for_line("done", 60s), cluster.transcript());
  for (std::size_t node = 1; node < 2; ++node) {
    std::vector<std::string> calling;
    for (auto replica : {2 * node, 2 * node + 1})
      calling.push_back("calling " + std::to_string(replica) + " " +
                        std::to_string(completed_steps));
    REQUIRE_MESSAGE(wait_for_all_lines(cluster.nodes[node], calling, 60s),
                    cluster.transcript());
  }
  auto lost_at = steady_now_ns();
  REQUIRE(seed.signal(signal));
  for (std::size_t i = 1; i < 2; ++i)
    REQUIRE_MESSAGE(cluster.nodes[i].wait_for_line("done", 60s),
                    cluster.transcript());
  for (std::size_t i = 1; i < 2; ++i) {
    auto output = cluster.nodes[i].output();
    auto errors = lines_of(output, "error");
    REQUIRE_MESSAGE(errors.size() == 2, output);
    for (const auto& row : errors) {
      CHECK(row[2] == std::to_string(completed_steps));
      CHECK(row[3] == "variable_unavailable");
      auto detected = std::chrono::nanoseconds{std::stoll(row[4]) - lost_at};
      MESSAGE("pending call failed "
              << std::chrono::duration_cast<std::chrono::milliseconds>(detected)
                     .count()
              << " ms after the loss");
      CHECK(detected.count() > 0);
      CHECK(detected <= connection_timeout + margin);
    }
    for (const auto& row : lines_of(output, "retry")) {
      CHECK(row[2] == "variable_unavailable");
      CHECK(std::stoll(row[3]) < 200000); // us: fails at once
    }
    // Cross-replica calls (through the host gateway) fail at once too.
    CHECK(lines_of(output, "cross_read").size() == 2);
    for (const auto& row : lines_of(output, "cross_read")) {
      CHECK(row[2] == "variable_unavailable");
      CHECK(std::stoll(row[3]) < 200000); // us
    }
    // 20 steps of the mean of 1..4 = 2.5 were installed before the loss.
    for (const auto& row : lines_of(output, "local_read"))
      CHECK(std::stod(row[2]) == doctest::Approx(completed_steps * 2.5));
    CHECK(lines_of(output, "local_read").size() == 2);
    if (bulk) // the steps really went through the bulk plane
      CHECK_MESSAGE(bulk_frames_sent(output) > 0, output);
  }
  // The lost node is killed and reaped; the others exit cleanly.
  CHECK_MESSAGE(cluster.stop(0), cluster.transcript());
}

} // namespace

TEST_CASE("kill -9 of the node hosting the variable actors (bulk plane off) "
          "fails pending "
          "calls with variable_unavailable; local reads keep working") {
  lose_the_variable_host(SIGKILL);
}

TEST_CASE("a frozen (SIGSTOP) variable host (bulk plane off) is detected "
          "after the connection timeout") {
  lose_the_variable_host(SIGSTOP);
}

TEST_CASE("kill -9 of the variable host while every update travels on the "
          "bulk plane: pending calls fail the same way") {
  lose_the_variable_host(SIGKILL, true);
}

TEST_CASE("a frozen (SIGSTOP) variable host with every update on the bulk "
          "plane is detected after the connection timeout") {
  lose_the_variable_host(SIGSTOP, true);
}
