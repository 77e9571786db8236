#pragma once

// The failover scenario shared by cluster.directory_failover and
// cluster.etcd_coordinator: four worker processes, node-0 (the seed: the
// directory and on_write variable "v", no replicas), node-1 (replicas 0,
// 1), node-2 (hosts variables: the barrier "b"), node-3 (replicas 2, 3),
// updating v every millisecond; and the checks that the job went on
// after the seed was lost. Only for test targets.

#include "tests/support/rehost_run.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"
#include "tests/support/write_history.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace varsync::test {

#ifdef VARSYNC_TEST_BINARY_DIR

using namespace std::chrono_literals;

/// The port a worker printed ("listening <port>").
inline std::uint16_t port_of(child_process& node) {
  auto rows = lines_of(node.output(), "listening");
  REQUIRE(rows.size() == 1);
  return static_cast<std::uint16_t>(std::stoi(rows[0][1]));
}

/// The four workers of a failover run (see tests/cluster/
/// directory_failover.test.cpp) with `extra` arguments for all.
inline test_cluster
start_failover_cluster(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> idle{"--scenario", "idle"};
  auto cluster = start_test_cluster(
      {{{}, {"--scenario", "idle", "--spread-variables", "true"}},
       {{0, 1}, {"--serve-variables", "false"}},
       {{}, idle},
       {{2, 3}, {"--serve-variables", "false"}}},
      rehost_arguments("on_write"), extra);
  return cluster;
}

/// Checks that the replicas of nodes 1 and 3 made every update, that each
/// read after step k shows 4 (k + 1), and that v ended on node-2.
inline void check_the_job_went_on(test_cluster& cluster) {
  for (auto node : {1, 3})
    REQUIRE_MESSAGE(cluster.nodes[node].wait_for_line("done", 60s),
                    cluster.transcript());
  for (auto node : {1, 3}) {
    auto output = cluster.nodes[node].output();
    CHECK_MESSAGE(lines_of(output, "error").empty(), output);
    CHECK(lines_of(output, "step").size() == 2 * rehost_updates);
    for (const auto& row : lines_of(output, "step"))
      CHECK(std::stod(row[3]) == 4.0 * (std::stoi(row[2]) + 1));
  }
  auto violations = check_write_histories(
      unit_step_histories({{cluster.nodes[1].output(), false},
                           {cluster.nodes[3].output(), false}}),
      0);
  CHECK_MESSAGE(violations.empty(), violations.front());
  auto output = cluster.nodes[1].output();
  auto final_value = lines_of(output, "final");
  REQUIRE_MESSAGE(final_value.size() == 1, output);
  CHECK(std::stod(final_value[0][1]) == 4.0 * rehost_updates);
  auto host = lines_of(output, "host");
  REQUIRE_MESSAGE(host.size() == 1, output);
  CHECK(host[0][1] == "node-2");
  CHECK(host[0][2] == "1");
}

#endif

} // namespace varsync::test
