// Soak (label soak; VARSYNC_SOAK=ON): 20 runs, each killing (kill -9) a
// replica node at a seeded random point of its steps — between steps or
// with a contribution in flight — then starting it again. Every run:
// survivors see no error, the rejoined replicas read only values the
// survivors read, the whole group is alive again, the on_read sum counts
// exactly the live replicas' steps, and the on_write sum holds every
// acknowledged contribution plus at most one unacknowledged one per killed
// replica (a contribution the node sent just before it died may have
// completed its step).

#include "tests/support/rejoin_checks.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <random>
#include <set>
#include <thread>

using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

std::size_t count_steps(const std::string& output,
                        const std::set<std::string>& replicas) {
  std::size_t result = 0;
  for (const auto& row : lines_of(output, "step"))
    if (row.size() >= 4 && replicas.contains(row[1]))
      ++result;
  return result;
}

} // namespace

TEST_CASE("20 seeded kills of a replica node at random points, each "
          "followed by a rejoin") {
  std::mt19937 random{20261130};
  for (int run = 0; run < 20; ++run) {
    auto kill_after = std::uniform_int_distribution<int>{3, 60}(random);
    auto delay_us = std::uniform_int_distribution<int>{0, 3000}(random);
    CAPTURE(run);
    CAPTURE(kill_after);
    CAPTURE(delay_us);
    std::vector<std::string> common{
        "--scenario", "until_value", "--until-value", "900", "--pace-ms", "2"};
    auto cluster =
        start_test_cluster({{{0, 1}, {}}, {{2, 3}, {}}, {{4, 5}, {}}}, common);
    REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
    auto& victim = cluster.nodes[2];
    REQUIRE_MESSAGE(
        victim.wait_for_line("step 4 " + std::to_string(kill_after) + " ", 60s),
        cluster.transcript());
    std::this_thread::sleep_for(std::chrono::microseconds{delay_us});
    REQUIRE(victim.signal(SIGKILL));
    // The loss must be seen before the node comes back (a live replica
    // cannot be replaced): wait until the survivors step without it.
    auto seen = lines_of(cluster.nodes[0].output(), "step").size();
    REQUIRE_MESSAGE(cluster.nodes[0].wait_for_line(
                        "step 0 " + std::to_string(seen / 2 + 3) + " ", 60s),
                    cluster.transcript());
    auto restarted = start_joining_worker(cluster, "node-2", "4,5", common);
    REQUIRE_MESSAGE(restarted.wait_for_line("done", 120s),
                    restarted.output() << restarted.errors());
    for (std::size_t i = 0; i < 2; ++i)
      REQUIRE_MESSAGE(cluster.nodes[i].wait_for_line("done", 120s),
                      cluster.transcript());
    auto seed = cluster.nodes[0].output();
    auto member = cluster.nodes[1].output();
    auto rejoiner = restarted.output();
    for (const auto* output : {&seed, &member, &rejoiner})
      CHECK_MESSAGE(lines_of(*output, "error").empty(), *output);
    std::set<std::string> survivor_values;
    std::string final_value;
    for (const auto& row : lines_of(seed, "step"))
      if (row[1] == "0") {
        survivor_values.insert(row[3]);
        final_value = row[3];
      }
    for (const auto& row : lines_of(rejoiner, "step"))
      CHECK_MESSAGE(survivor_values.contains(row[3]), "rejoined " << row[1]);
    auto acknowledged = count_steps(seed, {"0", "1"}) +
                        count_steps(member, {"2", "3"}) +
                        count_steps(victim.output(), {"4", "5"}) +
                        count_steps(rejoiner, {"4", "5"});
    auto value = std::stod(final_value);
    CHECK(value >= static_cast<double>(acknowledged));
    CHECK(value <= static_cast<double>(acknowledged + 2));
    auto live_steps = count_steps(seed, {"0", "1"}) +
                      count_steps(member, {"2", "3"}) +
                      count_steps(rejoiner, {"4", "5"});
    finish_rejoin_run(cluster, restarted, seed, live_steps);
  }
}
