// `varsync status --json` and `--watch` against real `varsync node`
// processes: every document validates against the installed schema
// (runtime/cli/status.schema.json, checked by Debian's python3-jsonschema);
// a SIGTERMed node is reported "left" and a kill -9ed one "lost", each with
// when it ended; both disappear from status once the holder's
// --forget-nodes-after passed, not before; the holder logs both events as
// JSON lines with --log-format json.

#include "tests/support/json_schema.hpp"
#include "tests/support/node_cli.hpp"
#include "tests/support/temp_root.hpp"

#include <chrono>
#include <csignal>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// `varsync status 127.0.0.1:PORT --json`, checked against the schema.
json status_of(std::uint16_t port) {
  auto [exit, text] =
      run_cli({"status", "127.0.0.1:" + std::to_string(port), "--json"});
  REQUIRE_MESSAGE(exit == exit_status::exited_with(0), text);
  check_status_schema(text);
  return json::parse(text);
}

/// The node named `name` in `status`, or null.
const json* node_named(const json& status, const std::string& name) {
  for (const auto& node : status.at("nodes"))
    if (node.at("name") == name)
      return &node;
  return nullptr;
}

/// Whether the JSON log lines in `log` include one at `level` whose
/// message contains `needle`. Every line must be a JSON object.
bool logged(const std::string& log, const std::string& level,
            const std::string& needle) {
  std::istringstream lines{log};
  bool found = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty())
      continue;
    auto record = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(record.is_object(), "not a JSON log line: " << line);
    CHECK(record.contains("time"));
    if (record.value("level", "") == level &&
        record.value("message", "").find(needle) != std::string::npos)
      found = true;
  }
  return found;
}

} // namespace

TEST_CASE("status --json reports left and lost nodes, forgets them after "
          "--forget-nodes-after, and validates against its schema") {
  constexpr std::int64_t forget_ms = 8000;
  auto [seed, seed_port] =
      start_node({"--name", "seed", "--forget-nodes-after", "8s",
                  "--log-format", "json", "--log-level", "info"});
  auto join = "127.0.0.1:" + std::to_string(seed_port);
  auto [leaver, leaver_port] = start_node({"--name", "leaver", "--join", join});
  auto [crasher, crasher_port] =
      start_node({"--name", "crasher", "--join", join});

  auto status = status_of(leaver_port); // any member answers
  CHECK(status.at("holder") == "seed");
  REQUIRE(status.at("nodes").size() == 3);
  for (const auto& node : status.at("nodes"))
    CHECK(node.at("state") == "alive");

  leaver.signal(SIGTERM);
  auto leaver_exit = leaver.wait(20s);
  REQUIRE(leaver_exit);
  CHECK(*leaver_exit == exit_status::exited_with(0));
  // A node that left counts no more toward the holder's majority: the
  // seed and the crasher remain a working cluster.
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < deadline;) {
    status = status_of(seed_port);
    const auto* left = node_named(status, "leaver");
    REQUIRE(left);
    if (left->at("state") == "left")
      break;
  }
  CHECK(node_named(status, "leaver")->at("state") == "left");
  CHECK_MESSAGE(status.at("directory_note") == "", status.dump());
  crasher.signal(SIGKILL);
  REQUIRE(crasher.wait(20s));

  // Both end within the connection timeout; poll until status says so.
  std::int64_t left_at = 0;
  std::int64_t lost_at = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 30s;
       std::chrono::steady_clock::now() < deadline;) {
    status = status_of(seed_port);
    const auto* left = node_named(status, "leaver");
    const auto* lost = node_named(status, "crasher");
    REQUIRE_MESSAGE(left, status.dump()); // not forgotten before it ended
    REQUIRE_MESSAGE(lost, status.dump());
    if (left->at("state") == "left" && lost->at("state") == "lost") {
      left_at = left->at("ended_unix_ms");
      lost_at = lost->at("ended_unix_ms");
      break;
    }
    CHECK(left->at("state") != "lost"); // a SIGTERM is never a loss
    CHECK(lost->at("state") != "left"); // a kill -9 is never a leave
  }
  REQUIRE_MESSAGE(left_at > 0, status.dump());
  REQUIRE(lost_at > 0);
  CHECK(left_at <= unix_ms_now());
  CHECK(node_named(status, "seed")->at("state") == "alive");

  // The tables say the same.
  auto [text_exit, text] =
      run_cli({"status", "127.0.0.1:" + std::to_string(seed_port)});
  CHECK(text_exit == exit_status::exited_with(0));
  CHECK_MESSAGE(text.find(" left") != std::string::npos, text);
  CHECK_MESSAGE(text.find(" lost") != std::string::npos, text);

  // --watch --json prints a valid document each second until stopped.
  auto watch = child_process::start(
      cli(), {"status", "127.0.0.1:" + std::to_string(seed_port), "--json",
              "--watch"});
  REQUIRE(watch);
  REQUIRE(watch->wait_for_line("\"schema\"", 20s));
  REQUIRE(watch->wait_for_line("\"schema\"", 20s));
  watch->signal(SIGINT);
  REQUIRE(watch->wait(20s));
  check_status_schema(watch->output());

  // Forgotten once forget-nodes-after passed since they ended, not before.
  bool forgotten = false;
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       !forgotten && std::chrono::steady_clock::now() < deadline;) {
    auto before = unix_ms_now();
    status = status_of(seed_port);
    auto after = unix_ms_now();
    const auto* left = node_named(status, "leaver");
    const auto* lost = node_named(status, "crasher");
    if (after < left_at + forget_ms)
      CHECK_MESSAGE(left, "forgotten early: " << status.dump());
    if (after < lost_at + forget_ms)
      CHECK_MESSAGE(lost, "forgotten early: " << status.dump());
    if (!left)
      CHECK(before >= left_at + forget_ms - 1000); // clocks of one machine
    forgotten = !left && !lost;
  }
  CHECK_MESSAGE(forgotten, status.dump());
  REQUIRE(status.at("nodes").size() == 1);

  // The holder logged both ends as JSON lines, at their levels.
  CHECK_MESSAGE(logged(seed.errors(), "info", "'leaver'"), seed.errors());
  CHECK_MESSAGE(logged(seed.errors(), "warn", "'crasher'"), seed.errors());
  seed.signal(SIGTERM);
  auto seed_exit = seed.wait(20s);
  REQUIRE(seed_exit);
  CHECK_MESSAGE(*seed_exit == exit_status::exited_with(0), seed.errors());
}
