// Every policy across processes: three node processes with two replicas
// each (real TCP on loopback) run the integer-valued workload of
// tests/support/cluster_workload.hpp and must produce exactly the lines
// that one embedded runtime with the same six replicas produces. The
// reference lines are also checked against the TF rules of DESIGN.md.

#include "runtime/transport/tls_certificates.hpp"
#include "tests/support/cluster_workload.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// Runs the workload on 3 processes x 2 replicas; `seed_args` select the
/// placement of variable actors, `common` are given to every node. Returns
/// the cluster's status at the end; `frames` gets every node's bulk frames.
cluster_status run_across_processes(
    const std::set<std::string>& expected, std::vector<std::string> seed_args,
    std::vector<std::string> common = {},
    std::vector<std::pair<std::uint64_t, std::uint64_t>>* frames = nullptr) {
  common.insert(common.begin(), {"--scenario", "policies"});
  auto cluster = start_test_cluster(
      {{{0, 1}, std::move(seed_args)}, {{2, 3}, {}}, {{4, 5}, {}}}, common);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  for (auto& node : cluster.nodes)
    REQUIRE_MESSAGE(node.wait_for_line("done", 120s), cluster.transcript());
  auto actual = printed_results(cluster.nodes);
  if (frames != nullptr)
    for (auto& node : cluster.nodes)
      frames->push_back(bulk_frames_of(node.output()));
  for (const auto& line : expected)
    CHECK_MESSAGE(actual.count(line) == 1,
                  "missing across processes: " << line);
  for (const auto& line : actual)
    CHECK_MESSAGE(expected.count(line) == 1, "not in the reference: " << line);
  // Asked with the nodes' credentials (e.g. TLS files among `common`).
  auto client = parse_node_flags(common);
  REQUIRE(client);
  auto status = fetch_status(endpoint{"127.0.0.1", cluster.seed_port}, 10s,
                             client->config);
  REQUIRE_MESSAGE(status, (status ? "" : status.error().to_string()));
  CHECK_MESSAGE(cluster.stop(), cluster.transcript());
  return *status;
}

} // namespace

TEST_CASE("three processes with two replicas each reproduce the "
          "single-process results of every policy exactly") {
  auto expected = reference_lines();
  // R = 6: the TF rules hold in the reference ...
  for (const auto* line :
       {"ow_sum_assign replica=0 12", "ow_mean_add replica=5 6",
        "ow_first replica=3 0", "ow_sum_steps replica=2 63",
        "or_sum replica=4 4", "or_sum cross 15", "or_mean cross 2.5",
        "or_first cross 0", "ssp replica=4 420", "ssp cross 420",
        "ssp_staleness_within_bound replica=1 yes", "none replica=2 2",
        "none cross error:wrong_context", "ow_mean_add cross 6"})
    CHECK_MESSAGE(expected.count(line) == 1, line);
  // ... and cross-replica read_rows of on_write answers (from the variable
  // actor: rows only), in every layout below too.
  std::size_t cross_rows = 0;
  for (const auto& line : expected)
    if (line.find(" cross rows ") != std::string::npos) {
      ++cross_rows;
      CHECK_MESSAGE(line.find("error") == std::string::npos, line);
    }
  CHECK(cross_rows == 3);
  SUBCASE("variable actors on the seed") {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> frames;
    // The bulk plane off: every message travels as a CAF message.
    auto status = run_across_processes(expected, {},
                                       {"--bulk-threshold", "off"}, &frames);
    for (const auto& [sent, received] : frames)
      CHECK(sent + received == 0);
    REQUIRE(status.nodes.size() == 3);
    REQUIRE(status.variables.size() == 15);
    for (const auto& var : status.variables)
      CHECK(var.node == "node-0");
    REQUIRE(status.groups.size() == 1);
    CHECK(status.groups.front().alive().size() == 6);
  }
  SUBCASE("variable actors spread over the nodes") {
    // Variable actors on node-1 talk to replicas on node-2 directly.
    auto status = run_across_processes(expected, {"--spread-variables"});
    std::set<std::string> hosts;
    for (const auto& var : status.variables)
      hosts.insert(var.node);
    CHECK(hosts == std::set<std::string>{"node-0", "node-1", "node-2"});
  }
  SUBCASE("over mutual TLS, variables spread, every on_write update on the "
          "bulk plane (over TLS too)") {
    auto dir = fs::temp_directory_path() /
               ("varsync-tls-policies-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    REQUIRE(tls::create_cluster_ca(dir.string()));
    REQUIRE(tls::issue_node_certificate(dir.string(), "node"));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> frames;
    auto status = run_across_processes(
        expected, {"--spread-variables"},
        {"--tls-cert", (dir / "node.pem").string(), "--tls-key",
         (dir / "node.key").string(), "--tls-ca", (dir / "ca.pem").string(),
         "--bulk-threshold", "0"},
        &frames);
    CHECK(status.nodes.size() == 3);
    // The bulk plane runs TLS as well: every node sends and receives frames.
    REQUIRE(frames.size() == 3);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      INFO("node-" << i);
      CHECK(frames[i].first > 0);
      CHECK(frames[i].second > 0);
    }
    fs::remove_all(dir);
  }
  SUBCASE("every variable in three shards, one per node") {
    // The [20, 3] tables are cut into three row ranges whose actors live
    // on node-0, node-1 and node-2; scalars stay whole. The lines must be
    // the unsharded reference's.
    auto status = run_across_processes(expected, {}, {"--shards", "3"});
    std::map<std::string, std::string> hosts;
    for (const auto& var : status.variables)
      hosts[var.name] = var.node;
    for (const auto* table : {"ow_rows_sum", "ow_rows_mean", "or_rows",
                              "ssp_rows", "ow_rows_set"}) {
      CAPTURE(table);
      std::set<std::string> nodes;
      for (int i = 0; i < 3; ++i) {
        auto shard =
            std::string{table} + "/shard-" + std::to_string(i) + "-of-3";
        REQUIRE(hosts.count(shard) == 1);
        nodes.insert(hosts[shard]);
      }
      CHECK_EQ(nodes.size(), 3u);
      CHECK(hosts.count(table) == 0);
    }
    CHECK(hosts.count("ow_sum_assign") == 1); // a scalar: one shard
  }
  SUBCASE("every on_write update on the bulk plane, variables spread") {
    // bulk-threshold 0: every remote on_write contribution, install and ack
    // travels as a bulk frame; the results must not change.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> frames;
    run_across_processes(expected, {"--spread-variables"},
                         {"--bulk-threshold", "0"}, &frames);
    REQUIRE(frames.size() == 3);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      INFO("node-" << i);
      CHECK(frames[i].first > 0);
      CHECK(frames[i].second > 0);
    }
  }
}

TEST_CASE("sharded variables across processes, R = 2, 3 and 4: the "
          "unsharded single-process results exactly") {
  // Each layout runs the workload with every variable in two shards (the
  // tables' shards on two nodes) and must print the lines of one embedded
  // runtime with R replicas and no sharding.
  const std::vector<std::vector<worker_node>> layouts{
      {{{0}, {}}, {{1}, {}}},
      {{{0}, {}}, {{1}, {}}, {{2}, {}}},
      {{{0, 1}, {}}, {{2, 3}, {}}},
  };
  for (const auto& layout : layouts) {
    std::size_t replicas = 0;
    for (const auto& node : layout)
      replicas += node.replicas.size();
    CAPTURE(replicas);
    auto expected = reference_lines(replicas);
    auto cluster =
        start_test_cluster(layout, {"--scenario", "policies", "--group-size",
                                    std::to_string(replicas), "--shards", "2"});
    REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
    for (auto& node : cluster.nodes)
      REQUIRE_MESSAGE(node.wait_for_line("done", 120s), cluster.transcript());
    auto actual = printed_results(cluster.nodes);
    for (const auto& line : expected)
      CHECK_MESSAGE(actual.count(line) == 1,
                    "missing across processes: " << line);
    for (const auto& line : actual)
      CHECK_MESSAGE(expected.count(line) == 1,
                    "not in the reference: " << line);
    CHECK_MESSAGE(cluster.stop(), cluster.transcript());
  }
}
