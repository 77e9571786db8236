// A replica node dies (kill -9) and is started again under the same name
// with the same replica indices: it rejoins the group. Its replicas start
// from the variable's current value, take part from the next step on, and
// every contribution anyone made is in the final value exactly.

#include "tests/support/rejoin_checks.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <algorithm>
#include <csignal>
#include <doctest/doctest.h>
#include <set>

using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

constexpr int victim_steps = 20;
constexpr double until_value = 1500;

/// The step lines of `replica` in `output`: (k, value).
std::vector<std::pair<int, double>> steps_of(const std::string& output,
                                             const std::string& replica) {
  std::vector<std::pair<int, double>> result;
  for (const auto& row : lines_of(output, "step"))
    if (row.size() >= 4 && row[1] == replica)
      result.emplace_back(std::stoi(row[2]), std::stod(row[3]));
  return result;
}

/// Once both replicas of the restarted node-2 printed their start line
/// (they rejoined; in either order), lets the survivors on nodes 0 and 1
/// go on past --hold-at.
template <class Cluster, class Process>
void release_survivors(Cluster& cluster, Process& restarted) {
  for (int replica = 0; replica < 2; ++replica)
    REQUIRE_MESSAGE(restarted.wait_for_line("start ", 60s),
                    restarted.output() << restarted.errors());
  for (std::size_t node : {0, 1})
    REQUIRE(cluster.nodes[node].signal(SIGUSR1)); // see --hold-at
}

} // namespace

TEST_CASE("a killed replica node started again rejoins: its replicas start "
          "at the current value, take part from the next step, and no "
          "contribution is lost") {
  std::vector<std::string> common{"--scenario",
                                  "until_value",
                                  "--until-value",
                                  "1500",
                                  "--pace-ms",
                                  "2",
                                  "--heartbeat-interval",
                                  "100ms",
                                  "--connection-timeout",
                                  "1000ms"};
  // node-2 (replicas 4 and 5) makes 20 steps and then idles: all its
  // contributions were acknowledged (and printed) before it is killed.
  // The survivors hold before their step 61 until node-2 has rejoined (else
  // a slow restart could find them finished).
  auto cluster = start_test_cluster(
      {{{0, 1}, {"--hold-at", "61"}},
       {{2, 3}, {"--hold-at", "61"}},
       {{4, 5}, {"--stop-after", std::to_string(victim_steps)}}},
      common);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto& victim = cluster.nodes[2];
  REQUIRE_MESSAGE(victim.wait_for_line("done", 60s), cluster.transcript());
  REQUIRE(victim.signal(SIGKILL));
  // The survivors go on without replicas 4 and 5 (4 contributions a step).
  REQUIRE_MESSAGE(cluster.nodes[0].wait_for_line("step 0 60 ", 60s),
                  cluster.transcript());
  // node-2 again, same name and indices, not stopping early.
  auto started_at = steady_now_ns();
  auto restarted = start_joining_worker(cluster, "node-2", "4,5", common);
  // "start <4 or 5> <value>": joined (rejoined) and holding the current
  // value.
  release_survivors(cluster, restarted);
  MESSAGE("node process started to replicas 4 and 5 rejoined: "
          << (steady_now_ns() - started_at) / 1000000 << " ms");
  REQUIRE_MESSAGE(restarted.wait_for_line("done", 120s),
                  restarted.output() << restarted.errors());
  for (std::size_t i = 0; i < 2; ++i)
    REQUIRE_MESSAGE(cluster.nodes[i].wait_for_line("done", 120s),
                    cluster.transcript());
  MESSAGE("rejoined and finished " << (steady_now_ns() - started_at) / 1000000
                                   << " ms after start");
  const auto rejoiner = restarted.output();
  std::vector<std::string> outputs{cluster.nodes[0].output(),
                                   cluster.nodes[1].output(), victim.output(),
                                   rejoiner};
  for (const auto& output : outputs)
    CHECK_MESSAGE(lines_of(output, "error").empty(), output);
  // Every step line is one contribution of 1.0 that was acknowledged, and
  // the killed node stopped before it was killed: the final value is the
  // number of step lines, exactly.
  std::size_t contributions = 0;
  for (const auto& output : outputs)
    contributions += lines_of(output, "step").size();
  auto replica0 = steps_of(outputs[0], "0");
  REQUIRE_FALSE(replica0.empty());
  auto final_value = replica0.back().second;
  CHECK(final_value >= until_value);
  CHECK(final_value == static_cast<double>(contributions));
  CHECK(steps_of(victim.output(), "4").size() == victim_steps);
  // The rejoined replicas started at a value the survivors had reached
  // after the loss, and every value they read after a step is one the
  // survivors read after the same step.
  std::set<double> survivor_values;
  for (const auto& [k, value] : replica0)
    survivor_values.insert(value);
  for (const auto* replica : {"4", "5"}) {
    CAPTURE(replica);
    auto starts = lines_of(rejoiner, "start");
    auto start = std::find_if(starts.begin(), starts.end(), [&](auto& row) {
      return row.size() >= 3 && row[1] == replica;
    });
    REQUIRE(start != starts.end());
    auto start_value = std::stod((*start)[2]);
    CHECK(start_value > 4.0 * victim_steps + 6.0 * victim_steps);
    CHECK(survivor_values.contains(start_value));
    auto mine = steps_of(rejoiner, replica);
    REQUIRE_FALSE(mine.empty());
    for (const auto& [k, value] : mine)
      CHECK_MESSAGE(survivor_values.contains(value), "step " << k);
    CHECK(mine.back().second == final_value);
  }
  // The histories of all replicas, the killed node's (it had stopped, all
  // its updates acknowledged) and the rejoined incarnations' apart, are
  // one consistent sequence of versions (tests/support/write_history.hpp).
  auto histories = unit_step_histories(
      {{outputs[0], false}, {outputs[1], false}, {victim.output(), false}});
  for (auto& history : unit_step_histories({{rejoiner, false}})) {
    history.name += " after its rejoin";
    histories.push_back(std::move(history));
  }
  auto violations = check_write_histories(histories, 0);
  CHECK_MESSAGE(violations.empty(), violations.front());
  // on_read/sum: the lost copies went with their node, the rejoined ones
  // started at 0 (a cross-replica read stayed what the survivors held):
  // the final sum counts the survivors' and the rejoined replicas' steps.
  std::size_t live_steps = 0;
  for (const auto* replica : {"0", "1"})
    live_steps += steps_of(outputs[0], replica).size();
  for (const auto* replica : {"2", "3"})
    live_steps += steps_of(outputs[1], replica).size();
  for (const auto* replica : {"4", "5"})
    live_steps += steps_of(rejoiner, replica).size();
  finish_rejoin_run(cluster, restarted, outputs[0], live_steps);
}

TEST_CASE("bounded_staleness: a rejoined replica starts at the group's "
          "minimum clock with the current snapshot; no pushed update is "
          "lost") {
  std::vector<std::string> common{
      "--scenario", "until_value", "--until-value",    "600", "--pace-ms", "2",
      "--with-ssp", "true",        "--bulk-threshold", "off"};
  // The survivors hold before their step 31 until node-2 has rejoined.
  auto cluster = start_test_cluster({{{0, 1}, {"--hold-at", "31"}},
                                     {{2, 3}, {"--hold-at", "31"}},
                                     {{4, 5}, {"--stop-after", "10"}}},
                                    common);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto& victim = cluster.nodes[2];
  REQUIRE_MESSAGE(victim.wait_for_line("done", 60s), cluster.transcript());
  REQUIRE(victim.signal(SIGKILL));
  REQUIRE_MESSAGE(cluster.nodes[0].wait_for_line("step 0 30 ", 60s),
                  cluster.transcript());
  auto restarted = start_joining_worker(cluster, "node-2", "4,5", common);
  release_survivors(cluster, restarted);
  REQUIRE_MESSAGE(restarted.wait_for_line("done", 120s),
                  restarted.output() << restarted.errors());
  for (std::size_t i = 0; i < 2; ++i)
    REQUIRE_MESSAGE(cluster.nodes[i].wait_for_line("done", 120s),
                    cluster.transcript());
  std::vector<std::string> outputs{cluster.nodes[0].output(),
                                   cluster.nodes[1].output(), victim.output(),
                                   restarted.output()};
  std::size_t steps = 0;
  for (const auto& output : outputs) {
    CHECK_MESSAGE(lines_of(output, "error").empty(), output);
    steps += lines_of(output, "step").size();
  }
  CHECK_MESSAGE(lines_of(outputs[3], "join_error").empty(), outputs[3]);
  CHECK(steps_of(outputs[3], "4").size() > 0);
  // Every replica added 1 to "s" and clocked (pushed) before each step it
  // printed, the killed one included: the total holds every push (each
  // push travels before its replica's next on_write contribution on the
  // same connection, so all arrived when node-0's last step completed).
  auto totals = lines_of(outputs[0], "ssp_total");
  REQUIRE(totals.size() == 1);
  CHECK(std::stod(totals.front()[1]) == static_cast<double>(steps));
  CHECK_MESSAGE(
      outputs[3].find("membership alive=0,1,2,3,4,5 lost=- rejoined=4,5") !=
          std::string::npos,
      outputs[3]);
  restarted.signal(SIGTERM);
  CHECK(restarted.wait(20s));
  CHECK_MESSAGE(cluster.stop(2), cluster.transcript());
}
