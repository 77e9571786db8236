// The node hosting a variable actor dies (kill -9) while the replicas make
// updates: the directory re-creates the actor on the next node that serves
// variables, from what the surviving replicas hold, and the job goes on.
//
// Four processes: node-0 (the seed, replicas 0 and 1) and node-2 (replicas
// 2 and 3) make the updates and host no variables; node-1 and node-3 host
// variables only. Variable "v" (the policy under test) lands on node-1,
// the barrier "b" on node-3. node-1 is killed while the replicas update v
// every millisecond, so an on_write step is usually in flight. No replica
// is lost, so nothing may be lost: every policy's final value is exactly
// 4 x the updates (on_write and periodic: no step committed twice or
// dropped; bounded_staleness: every pushed delta recovered from the
// replicas' caches), and the bounded_staleness history of every update and
// read across the processes passes the SSP history checker.

#include "tests/support/ssp_history.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <algorithm>
#include <csignal>
#include <doctest/doctest.h>
#include <map>
#include <sstream>

using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

constexpr auto connection_timeout = 1000ms;
constexpr int updates = 60;
constexpr int kill_after = 20;

/// `signal`: SIGKILL, or SIGSTOP (a frozen host, found lost after the
/// connection timeout). `bulk`: on_write steps travel on the bulk plane
/// (the default) or as CAF messages.
void lose_the_host_of(const std::string& policy, int signal = SIGKILL,
                      bool bulk = true) {
  std::vector<std::string> common{"--group-size",
                                  "4",
                                  "--scenario",
                                  "rehost",
                                  "--policy",
                                  policy,
                                  "--steps",
                                  std::to_string(updates),
                                  "--pace-ms",
                                  "1",
                                  "--heartbeat-interval",
                                  "100ms",
                                  "--connection-timeout",
                                  std::to_string(connection_timeout.count()) +
                                      "ms"};
  if (!bulk) {
    common.push_back("--bulk-threshold");
    common.push_back("off");
  }
  std::vector<std::string> host_only{"--scenario", "idle"};
  auto cluster = start_test_cluster(
      {{{0, 1}, {"--spread-variables", "true", "--serve-variables", "false"}},
       {{}, host_only},
       {{2, 3}, {"--serve-variables", "false"}},
       {{}, host_only}},
      common);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto& seed = cluster.nodes[0];
  REQUIRE_MESSAGE(
      seed.wait_for_line("step 0 " + std::to_string(kill_after), 60s),
      cluster.transcript());
  auto lost_at = steady_now_ns();
  REQUIRE(cluster.nodes[1].signal(signal));
  for (auto node : {0, 2})
    REQUIRE_MESSAGE(cluster.nodes[node].wait_for_line("done", 60s),
                    cluster.transcript());
  // Every update of every replica succeeded, and the first one after the
  // loss came within the connection timeout plus 1 s.
  std::int64_t first_after = 0;
  std::int64_t longest_gap = 0;
  for (auto node : {0, 2}) {
    auto output = cluster.nodes[node].output();
    CHECK_MESSAGE(lines_of(output, "error").empty(), output);
    std::map<std::string, std::vector<std::int64_t>> finished;
    for (const auto& row : lines_of(output, "step"))
      finished[row[1]].push_back(std::stoll(row[4]));
    CHECK(finished.size() == 2);
    for (const auto& [replica, times] : finished) {
      CHECK(times.size() == updates);
      for (std::size_t k = 1; k < times.size(); ++k)
        if (times[k - 1] < lost_at)
          longest_gap = std::max(longest_gap, times[k] - times[k - 1]);
      for (auto at : times)
        if (at > lost_at && (first_after == 0 || at < first_after))
          first_after = at;
    }
  }
  REQUIRE(first_after > 0);
  MESSAGE(policy << ": first update after the loss "
                 << (first_after - lost_at) / 1000000
                 << " ms after it; longest pause of a replica across it "
                 << longest_gap / 1000000 << " ms");
  CHECK(std::chrono::nanoseconds{first_after - lost_at} <=
        connection_timeout + 1s);
  CHECK(std::chrono::nanoseconds{longest_gap} <= connection_timeout + 1s);
  auto output = seed.output();
  // The variable lives on node-3 now.
  auto host = lines_of(output, "host");
  REQUIRE_MESSAGE(host.size() == 1, output);
  CHECK(host[0][1] == "node-3");
  CHECK(host[0][2] == "1");
  auto final_value = lines_of(output, "final");
  REQUIRE_MESSAGE(final_value.size() == 1, output);
  if (policy == "none") {
    // No cross-replica reads; each copy holds its own updates.
    CHECK(final_value[0][1] == "wrong_context");
    for (auto node : {0, 2})
      for (const auto& row : lines_of(cluster.nodes[node].output(), "step"))
        CHECK(std::stod(row[3]) == std::stoi(row[2]) + 1);
  } else {
    CHECK(std::stod(final_value[0][1]) == 4.0 * updates);
  }
  if (policy == "bounded_staleness") {
    // The replicas' updates and reads across the four processes, ordered
    // by the machine's monotonic clock, keep the SSP guarantee (bound 2)
    // across the re-hosting.
    ssp_history history{4, std::vector<std::int64_t>(4, 0)};
    for (auto node : {0, 2}) {
      auto lines = cluster.nodes[node].output();
      for (const auto& row : lines_of(lines, "update"))
        history.updates()[std::stoul(row[1])].push_back(
            {std::stoull(row[2]), std::stoll(row[3]), std::stoull(row[4])});
      for (const auto& row : lines_of(lines, "read")) {
        std::vector<std::int64_t> value;
        std::istringstream elements{row[4]};
        for (std::string element; std::getline(elements, element, ',');)
          value.push_back(std::stoll(element));
        history.reads()[std::stoul(row[1])].push_back(
            {std::stoull(row[2]), std::move(value), std::stoull(row[3]),
             std::stoull(row[5])});
      }
    }
    CHECK(history.read_count() == 4 * updates);
    auto violations = check_ssp_history(history, 2);
    CHECK_MESSAGE(violations.empty(), violations.front());
  }
  if (policy == "on_write") {
    // Every read after step k shows exactly the 4 (k + 1) updates.
    for (auto node : {0, 2})
      for (const auto& row : lines_of(cluster.nodes[node].output(), "step"))
        CHECK(std::stod(row[3]) == 4.0 * (std::stoi(row[2]) + 1));
  }
  CHECK_MESSAGE(cluster.stop(1), cluster.transcript());
}

} // namespace

TEST_CASE("kill -9 of an on_write variable's host: re-hosted from the "
          "replicas, no committed step lost or applied twice") {
  lose_the_host_of("on_write");
}

TEST_CASE("kill -9 of an on_write variable's host with the bulk plane off "
          "(steps as CAF messages): re-hosted, no step lost") {
  lose_the_host_of("on_write", SIGKILL, false);
}

TEST_CASE("a frozen (SIGSTOP) on_write variable host is re-hosted after the "
          "connection timeout") {
  lose_the_host_of("on_write", SIGSTOP);
}

TEST_CASE("kill -9 of a periodic variable's host: re-hosted, no "
          "synchronization lost") {
  lose_the_host_of("periodic");
}

TEST_CASE("kill -9 of a bounded_staleness variable's host: re-hosted from "
          "the replicas' snapshots and pushed deltas, nothing lost") {
  lose_the_host_of("bounded_staleness");
}

TEST_CASE("kill -9 of an on_read variable's host: re-hosted, cross-replica "
          "reads work again") {
  lose_the_host_of("on_read");
}

TEST_CASE("kill -9 of a none variable's host: re-hosted") {
  lose_the_host_of("none");
}
