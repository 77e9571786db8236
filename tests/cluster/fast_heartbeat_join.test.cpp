// Joining a cluster whose nodes send heartbeats every millisecond, with real
// `varsync node` processes. CAF 0.17.6 drops an outgoing connection as
// "timed out" when a heartbeat tick runs before the peer's handshake
// arrives (see runtime/connect_node.cpp); with 1 ms ticks that happened to
// some join of a six-node cluster in every one of 6 tries before varsync
// retried it. Every node must join, and status must show all of them.

#include "tests/support/child_process.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

/// Starts `varsync node` with a 1 ms heartbeat and `args`; returns it once
/// it serves (or fails the test with its output) and its port.
std::pair<child_process, std::uint16_t>
start_fast_node(std::vector<std::string> args) {
  args.insert(args.begin(), {"node", "--port", "0", "--heartbeat-interval",
                             "1ms", "--join-deadline", "20s"});
  auto process = child_process::start(binary_path("varsync"), args);
  REQUIRE(process);
  auto line = process->wait_for_line("listening on ", 30s);
  REQUIRE_MESSAGE(line, process->output() << process->errors());
  auto colon = line->find(':', line->find("listening on "));
  auto port = static_cast<std::uint16_t>(std::stoi(line->substr(colon + 1)));
  return {std::move(*process), port};
}

} // namespace

TEST_CASE("six nodes with a 1 ms heartbeat all join and status shows them") {
  constexpr std::size_t node_count = 6;
  std::vector<child_process> nodes;
  auto [seed, seed_port] = start_fast_node({"--name", "node-0"});
  nodes.push_back(std::move(seed));
  auto seed_address = "127.0.0.1:" + std::to_string(seed_port);
  for (std::size_t i = 1; i < node_count; ++i) {
    // Each joiner connects to the seed and then directly to every node
    // that joined before it: 15 fresh connections in all.
    auto [node, port] = start_fast_node(
        {"--name", "node-" + std::to_string(i), "--join", seed_address});
    CHECK(port != seed_port);
    nodes.push_back(std::move(node));
  }
  auto status = fetch_status(endpoint{"127.0.0.1", seed_port}, 10s);
  REQUIRE_MESSAGE(status, status.error().to_string());
  REQUIRE(status->nodes.size() == node_count);
  for (std::size_t i = 0; i < node_count; ++i) {
    CHECK(status->nodes[i].alive);
    CHECK(status->nodes[i].name == "node-" + std::to_string(i));
  }
  for (auto& node : nodes)
    node.signal(SIGTERM);
  for (auto& node : nodes) {
    auto exit = node.wait(20s);
    REQUIRE(exit);
    CHECK_MESSAGE(*exit == exit_status::exited_with(0), node.errors());
  }
}
