#pragma once

// The common end of the rejoin tests (tests/cluster/rejoin*.test.cpp):
// node-2 (replicas 4 and 5) was killed and started again; the group must
// be whole again. Only for test targets.

#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <chrono>
#include <csignal>
#include <cstddef>
#include <doctest/doctest.h>
#include <string>

namespace varsync::test {

/// Checks that node-0's cross-replica read of the on_read counter ("count"
/// in `seed_output`) equals `live_steps` (the steps of the replicas alive
/// at the end: lost copies went with their node, rejoined ones started at
/// 0), that the restarted node sees every replica alive again with 4 and
/// 5 rejoined, and that every process stops cleanly.
inline void finish_rejoin_run(test_cluster& cluster, child_process& restarted,
                              const std::string& seed_output,
                              std::size_t live_steps) {
  auto counts = lines_of(seed_output, "count");
  REQUIRE(counts.size() == 1);
  CHECK(std::stod(counts.front()[1]) == static_cast<double>(live_steps));
  auto rejoiner = restarted.output();
  CHECK_MESSAGE(
      rejoiner.find("membership alive=0,1,2,3,4,5 lost=- rejoined=4,5") !=
          std::string::npos,
      rejoiner);
  restarted.signal(SIGTERM);
  CHECK(restarted.wait(std::chrono::seconds{20}));
  CHECK_MESSAGE(cluster.stop(2), cluster.transcript());
}

} // namespace varsync::test
