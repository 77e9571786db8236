// periodic across processes: three node processes with two replicas each
// (real TCP on loopback, every synchronization on the bulk plane) make 30
// updates of += (index + 1) with k = 3, mean. Every read on every node is
// exactly the last synchronized value (10.5 per synchronization: the mean
// of 3 * (1..6)) plus the reader's own changes since.

#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <doctest/doctest.h>

using namespace varsync::test;
using namespace std::chrono_literals;

TEST_CASE("periodic k = 3 across 3 node processes: every read is the last "
          "synchronized value plus the reader's own changes") {
  constexpr int period = 3;
  constexpr int updates = 30;
  auto cluster = start_test_cluster(
      {{{0, 1}, {}}, {{2, 3}, {}}, {{4, 5}, {}}},
      {"--scenario", "steps", "--steps", std::to_string(updates), "--period",
       std::to_string(period), "--bulk-threshold", "0"});
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  for (auto& node : cluster.nodes)
    REQUIRE_MESSAGE(node.wait_for_line("done", 60s), cluster.transcript());
  std::size_t reads = 0;
  for (auto& node : cluster.nodes) {
    auto output = node.output();
    CHECK_MESSAGE(lines_of(output, "error").empty(), output);
    for (const auto& row : lines_of(output, "step")) {
      auto replica = std::stoi(row[1]);
      auto done = std::stoi(row[2]) + 1;
      auto expected = 10.5 * (done / period) + (done % period) * (replica + 1);
      INFO("replica " << replica << " after update " << done);
      CHECK(std::stod(row[3]) == expected);
      ++reads;
    }
  }
  CHECK(reads == 6 * updates);
  // The synchronizations really went through the bulk plane.
  CHECK(bulk_frames_sent(cluster.nodes[1].output()) > 0);
  CHECK_MESSAGE(cluster.stop(), cluster.transcript());
}
