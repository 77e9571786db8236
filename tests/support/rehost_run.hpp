#pragma once

// One run of the re-hosting scenario of tests/cluster/rehost.test.cpp (and
// its soak): four worker processes on loopback, node-0 (the seed, replicas
// 0 and 1) and node-2 (replicas 2 and 3) update variable "v" of one policy
// every millisecond and host no variables; node-1 and node-3 host
// variables only ("v" lands on node-1, the barrier "b" on node-3). node-1
// is lost while the replicas update v; nothing may be lost (no replica is
// lost): every policy's final value is exactly 4 x the updates, on_write
// reads show exactly 4 (k + 1) after step k, and the bounded_staleness
// history of every update and read across the processes passes the SSP
// history checker. Only for test targets (needs VARSYNC_TEST_BINARY_DIR).

#include "tests/support/ssp_history.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <doctest/doctest.h>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace varsync::test {

#ifdef VARSYNC_TEST_BINARY_DIR

inline constexpr auto rehost_connection_timeout =
    std::chrono::milliseconds{1000};
inline constexpr int rehost_updates = 300;

/// The workers' arguments of a re-hosting run of `policy`.
inline std::vector<std::string> rehost_arguments(const std::string& policy) {
  return {"--group-size",
          "4",
          "--scenario",
          "rehost",
          "--policy",
          policy,
          "--steps",
          std::to_string(rehost_updates),
          "--pace-ms",
          "1",
          "--hold-at",
          "60",
          "--heartbeat-interval",
          "100ms",
          "--connection-timeout",
          std::to_string(rehost_connection_timeout.count()) + "ms"};
}

/// Loses the host of a `policy` variable: `signal` SIGKILL, or SIGSTOP (a
/// frozen host, found lost after the connection timeout); `bulk`: on_write
/// steps travel on the bulk plane (the default) or as CAF messages. The
/// host is lost `delay` after replica 0 finished update `kill_after`
/// (randomizes the point of the step it hits; not a synchronization).
/// `shards` > 1: v is sharded, and the host of its first shard is lost.
inline void lose_the_host_of(const std::string& policy, int signal = SIGKILL,
                             bool bulk = true, int kill_after = 20,
                             std::chrono::microseconds delay = {},
                             int shards = 1) {
  using namespace std::chrono_literals;
  auto common = rehost_arguments(policy);
  if (shards > 1) {
    // v in `shards` shards, shard i on the i-th serving node: the first on
    // node-1 (lost), the second on node-3.
    common.push_back("--shards");
    common.push_back(std::to_string(shards));
  }
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
      seed.wait_for_line("step 0 " + std::to_string(kill_after) + " ", 60s),
      cluster.transcript());
  if (delay.count() > 0)
    std::this_thread::sleep_for(delay);
  auto lost_at = steady_now_ns();
  REQUIRE(cluster.nodes[1].signal(signal));
  // The replicas wait at update 60 if they got there before the loss.
  for (auto node : {0, 2})
    REQUIRE(cluster.nodes[node].signal(SIGUSR1));
  for (auto node : {0, 2})
    REQUIRE_MESSAGE(cluster.nodes[node].wait_for_line("done", 60s),
                    cluster.transcript());
  // Every update of every replica succeeded, and the first one after the
  // loss came within the connection timeout plus 1 s.
  // (A replica held at update 60 before the loss shows no pause before
  // it: the times after the loss are what counts.)
  std::int64_t first_after = 0;
  std::int64_t slowest_after = 0;
  for (auto node : {0, 2}) {
    auto output = cluster.nodes[node].output();
    CHECK_MESSAGE(lines_of(output, "error").empty(), output);
    std::map<std::string, std::vector<std::int64_t>> finished;
    for (const auto& row : lines_of(output, "step"))
      finished[row[1]].push_back(std::stoll(row[4]));
    CHECK(finished.size() == 2);
    for (const auto& [replica, times] : finished) {
      CHECK(times.size() == rehost_updates);
      auto next = std::find_if(times.begin(), times.end(),
                               [lost_at](auto at) { return at > lost_at; });
      REQUIRE(next != times.end());
      if (first_after == 0 || *next < first_after)
        first_after = *next;
      slowest_after = std::max(slowest_after, *next - lost_at);
    }
  }
  REQUIRE(first_after > 0);
  MESSAGE(policy << ": first update after the loss "
                 << (first_after - lost_at) / 1000000
                 << " ms after it; the slowest replica's "
                 << slowest_after / 1000000 << " ms after it");
  CHECK(std::chrono::nanoseconds{first_after - lost_at} <=
        rehost_connection_timeout + 1s);
  CHECK(std::chrono::nanoseconds{slowest_after} <=
        rehost_connection_timeout + 1s);
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
    CHECK(std::stod(final_value[0][1]) == 4.0 * rehost_updates);
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
    CHECK(history.read_count() == 4 * rehost_updates);
    auto violations = check_ssp_history(history, 2);
    CHECK_MESSAGE(violations.empty(), violations.front());
  }
  if (policy == "on_write") {
    // Every read after step k shows exactly the 4 (k + 1) updates, and
    // the history checker finds the four histories consistent.
    for (auto node : {0, 2})
      for (const auto& row : lines_of(cluster.nodes[node].output(), "step"))
        CHECK(std::stod(row[3]) == 4.0 * (std::stoi(row[2]) + 1));
    auto violations = check_write_histories(
        unit_step_histories({{cluster.nodes[0].output(), false},
                             {cluster.nodes[2].output(), false}}),
        0);
    CHECK_MESSAGE(violations.empty(), violations.front());
  }
  CHECK_MESSAGE(cluster.stop(1), cluster.transcript());
}

/// Loses (kill -9) a worker node that holds replicas 2 and 3 *and* hosts
/// the `policy` variable (on_write or bounded_staleness, bound 2): the
/// variable is re-hosted from the two surviving replicas, which go on.
/// on_write: the survivors read the same value after every step, each
/// step adds 4 (both nodes) or 2 (survivors only), every 4 before every 2,
/// and every step acknowledged to a survivor is in the final value; at
/// most the last step the lost replicas were told about may be redone
/// without them (it was acknowledged to them only). bounded_staleness:
/// the survivors' updates are all in the final value; of the lost
/// replicas' updates at most 2 (s + 1) clocks each are missing. Returns
/// how many of the lost replicas' updates are missing (bounded_staleness).
inline std::int64_t lose_a_worker_hosting(const std::string& policy) {
  using namespace std::chrono_literals;
  constexpr std::int64_t bound = 2;
  std::vector<std::string> host_only{"--scenario", "idle"};
  auto cluster = start_test_cluster(
      {{{0, 1}, {"--spread-variables", "true", "--serve-variables", "false"}},
       {{2, 3}, {}},
       {{}, host_only}},
      rehost_arguments(policy));
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto& seed = cluster.nodes[0];
  REQUIRE_MESSAGE(seed.wait_for_line("step 0 20 ", 60s), cluster.transcript());
  auto lost_at = steady_now_ns();
  REQUIRE(cluster.nodes[1].signal(SIGKILL));
  REQUIRE(seed.signal(SIGUSR1)); // see rehost_arguments (--hold-at)
  REQUIRE_MESSAGE(seed.wait_for_line("done", 60s), cluster.transcript());
  auto output = seed.output();
  CHECK_MESSAGE(lines_of(output, "error").empty(), output);
  std::int64_t first_after = 0;
  for (const auto& row : lines_of(output, "step"))
    if (row.size() >= 5 && std::stoll(row[4]) > lost_at &&
        (first_after == 0 || std::stoll(row[4]) < first_after))
      first_after = std::stoll(row[4]);
  REQUIRE(first_after > 0);
  MESSAGE(policy << ": worker and host lost; the survivors' first update "
                    "completed "
                 << (first_after - lost_at) / 1000000 << " ms later");
  CHECK(std::chrono::nanoseconds{first_after - lost_at} <=
        rehost_connection_timeout + 1s);
  auto host = lines_of(output, "host");
  REQUIRE_MESSAGE(host.size() == 1, output);
  CHECK(host[0][1] == "node-2");
  auto final_value = lines_of(output, "final");
  REQUIRE_MESSAGE(final_value.size() == 1, output);
  auto total = std::stod(final_value[0][1]);
  auto victim = cluster.nodes[1].output();
  std::int64_t missing = 0;
  if (policy == "on_write") {
    std::map<int, std::vector<double>> reads; // by step: each survivor's
    for (const auto& row : lines_of(output, "step"))
      reads[std::stoi(row[2])].push_back(std::stod(row[3]));
    REQUIRE(reads.size() == rehost_updates);
    double before = 0;
    bool survivors_only = false;
    int with_all = 0;
    for (const auto& [k, values] : reads) {
      REQUIRE(values.size() == 2);
      CHECK(values[0] == values[1]);
      auto added = values[0] - before;
      CAPTURE(k);
      CHECK((added == 4 || added == 2));
      if (added == 2)
        survivors_only = true;
      else
        CHECK_FALSE(survivors_only);
      with_all += added == 4 ? 1 : 0;
      before = values[0];
    }
    CHECK(total == before);
    auto violations = check_write_histories(
        unit_step_histories({{output, false}, {victim, true}}), 0);
    CHECK_MESSAGE(violations.empty(), violations.front());
    // The lost replicas' acknowledged steps, one each per step.
    auto acknowledged = static_cast<int>(lines_of(victim, "step").size() / 2);
    CHECK(with_all >= acknowledged - 1);
    CHECK(with_all <= acknowledged + 1);
  } else {
    // Every survivor update is in; the lost ones that made it are a count
    // between what the lost replicas reported and that minus the bound.
    auto made = static_cast<std::int64_t>(lines_of(victim, "update").size());
    auto theirs = static_cast<std::int64_t>(total) - 2 * rehost_updates;
    CHECK(theirs >= 0);
    CHECK(theirs <= made + 2); // + the unreported last update of each
    missing = std::max<std::int64_t>(0, made - theirs);
    CHECK(missing <= 2 * 2 * (bound + 1));
  }
  CHECK_MESSAGE(cluster.stop(1), cluster.transcript());
  return missing;
}
#endif

} // namespace varsync::test
