// Soak (label soak; VARSYNC_SOAK=ON): 20 runs of tests/support/
// rehost_run.hpp, each killing (kill -9) the node hosting the variable at a
// seeded random point of the replicas' updates — between steps or with a
// step in flight, on the bulk plane or as CAF messages — for the policies
// with server state (on_write, periodic, bounded_staleness) and on_read.
// Every run: every update succeeds, the first one after the loss comes
// within the connection timeout + 1 s, and the final value is exactly
// 4 x the updates (no step lost or applied twice, no SSP delta lost).

#include "tests/support/rehost_run.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <random>

using namespace varsync::test;

TEST_CASE("20 seeded kills of a variable's host at random points of the "
          "replicas' updates") {
  const std::vector<std::string> policies{"on_write", "periodic",
                                          "bounded_staleness", "on_read"};
  std::mt19937 random{20261130};
  for (int run = 0; run < 20; ++run) {
    const auto& policy = policies[static_cast<std::size_t>(run) % 4];
    auto kill_after = std::uniform_int_distribution<int>{2, 45}(random);
    auto delay_us = std::uniform_int_distribution<int>{0, 2000}(random);
    auto bulk = std::uniform_int_distribution<int>{0, 1}(random) == 1;
    CAPTURE(run);
    CAPTURE(policy);
    CAPTURE(kill_after);
    CAPTURE(delay_us);
    CAPTURE(bulk);
    lose_the_host_of(policy, SIGKILL, bulk, kill_after,
                     std::chrono::microseconds{delay_us});
  }
}
