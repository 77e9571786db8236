#pragma once

// Starts a cluster of tests/programs/cluster_worker processes on loopback
// for the multi-process tests: the first node is the seed, the others join
// it; each holds the replicas it is given. Only for test targets (needs
// VARSYNC_TEST_BINARY_DIR).

#include "tests/support/child_process.hpp"

#include <chrono>
#include <csignal>
#include <doctest/doctest.h>
#include <optional>
#include <string>
#include <vector>

namespace varsync::test {

/// One node of a test cluster: its replicas and extra worker arguments.
struct worker_node {
  std::vector<std::size_t> replicas;
  std::vector<std::string> args;
};

/// A running test cluster. Destroying it kills every process.
struct test_cluster {
  std::vector<child_process> nodes;
  std::uint16_t seed_port = 0;
  /// Why starting failed; empty when every node serves.
  std::string failure;

  /// Every node's stdout and stderr, for failure messages.
  std::string transcript() {
    std::string result;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      result += "--- node " + std::to_string(i) + " stdout:\n" +
                nodes[i].output() + "--- node " + std::to_string(i) +
                " stderr:\n" + nodes[i].errors();
    return result;
  }

  /// Sends SIGTERM to every node still running and waits for them; returns
  /// false when one did not exit with status 0 within `timeout`. A `lost`
  /// node (killed or frozen by the test) is killed (SIGKILL) and reaped
  /// instead, and its exit status does not count.
  bool stop(std::optional<std::size_t> lost = std::nullopt,
            std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
    bool clean = true;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].running())
        nodes[i].signal(lost == i ? SIGKILL : SIGTERM);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      auto status = nodes[i].wait(timeout);
      if (!status || (lost != i && !(*status == exit_status::exited_with(0))))
        clean = false;
    }
    return clean;
  }
};

/// Blocks until `node`'s stdout has a line containing each of `needles`
/// (in any order, printed before or during the call), or `timeout`
/// passes; returns whether all arrived. Wakes on each new line, no
/// polling. Consumes lines expect-style (see wait_for_line).
inline bool wait_for_all_lines(child_process& node,
                               const std::vector<std::string>& needles,
                               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto all_seen = [&] {
    auto output = "\n" + node.output();
    for (const auto& needle : needles)
      if (output.find("\n" + needle + "\n") == std::string::npos)
        return false;
    return true;
  };
  while (!all_seen()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !node.wait_for_line("", left))
      return all_seen();
  }
  return true;
}

#ifdef VARSYNC_TEST_BINARY_DIR
/// Starts `nodes.size()` worker processes with `common` arguments (e.g. a
/// scenario and timeouts), then `more_common`, plus each node's own, and
/// waits until each serves. Check `failure` before using the cluster.
inline test_cluster
start_test_cluster(const std::vector<worker_node>& nodes,
                   const std::vector<std::string>& common,
                   const std::vector<std::string>& more_common = {}) {
  test_cluster cluster;
  auto program =
      binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_cluster_worker");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::vector<std::string> args{"--port", "0", "--name",
                                  "node-" + std::to_string(i)};
    if (i > 0) {
      args.push_back("--join");
      args.push_back("127.0.0.1:" + std::to_string(cluster.seed_port));
    }
    args.insert(args.end(), common.begin(), common.end());
    args.insert(args.end(), more_common.begin(), more_common.end());
    std::string replicas;
    for (auto index : nodes[i].replicas)
      replicas += (replicas.empty() ? "" : ",") + std::to_string(index);
    args.push_back("--replicas");
    args.push_back(replicas);
    args.insert(args.end(), nodes[i].args.begin(), nodes[i].args.end());
    auto process = child_process::start(program, args);
    if (!process) {
      cluster.failure = process.error().to_string();
      return cluster;
    }
    cluster.nodes.push_back(std::move(*process));
    auto line = cluster.nodes.back().wait_for_line("listening ",
                                                   std::chrono::seconds{20});
    if (!line) {
      cluster.failure = "node " + std::to_string(i) + " did not start\n" +
                        cluster.transcript();
      return cluster;
    }
    if (i == 0)
      cluster.seed_port =
          static_cast<std::uint16_t>(std::stoi(line->substr(10)));
  }
  return cluster;
}

/// Starts one more worker joining `cluster`'s seed as node `name` with
/// `replicas` and `common` arguments (e.g. a killed node started again).
inline child_process
start_joining_worker(const test_cluster& cluster, const std::string& name,
                     const std::string& replicas,
                     const std::vector<std::string>& common) {
  auto program =
      binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_cluster_worker");
  std::vector<std::string> args{
      "--port",     "0",      "--name",
      name,         "--join", "127.0.0.1:" + std::to_string(cluster.seed_port),
      "--replicas", replicas};
  args.insert(args.end(), common.begin(), common.end());
  auto process = child_process::start(program, args);
  REQUIRE(process);
  return std::move(*process);
}
#endif

} // namespace varsync::test
