// Remote tasks (CAF remote spawn of registered types): this test process
// is the seed node, two worker processes join it, and the test starts
// tasks on them by node and task name. A task whose node dies is reported
// as replica_lost as soon as the loss is detected.

#include "tests/support/child_process.hpp"
#include "tests/support/worker_lines.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

child_process start_worker(std::uint16_t seed_port, const std::string& name) {
  auto process = child_process::start(
      binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_cluster_worker"),
      {"--port", "0", "--name", name, "--join",
       "127.0.0.1:" + std::to_string(seed_port), "--heartbeat-interval",
       "100ms", "--connection-timeout", "1s", "--scenario", "idle"});
  REQUIRE(process);
  REQUIRE_MESSAGE(process->wait_for_line("done", 20s),
                  process->output() << process->errors());
  return std::move(*process);
}

} // namespace

TEST_CASE("a driver starts registered tasks on other nodes by name and gets "
          "their results; a lost node fails its task with replica_lost") {
  node_config config;
  config.heartbeat_interval = 100ms;
  config.connection_timeout = 1s;
  config.name = "driver";
  auto driver = runtime::start(config);
  REQUIRE_MESSAGE(driver, driver.error().to_string());
  auto& rt = **driver;
  CHECK(rt.is_seed());
  CHECK(rt.port() != 0);
  auto one = start_worker(rt.port(), "worker-1");
  auto two = start_worker(rt.port(), "worker-2");
  auto status = rt.status(5s);
  REQUIRE(status);
  CHECK(status->nodes.size() == 3);

  auto echo = rt.spawn_task("worker-1", "echo", "hello", 5s);
  REQUIRE_MESSAGE(echo, echo.error().to_string());
  auto result = echo->wait(10s);
  REQUIRE_MESSAGE(result, result.error().to_string());
  CHECK(*result == "worker-1:hello");
  CHECK(echo->node() == "worker-1");
  // Waiting again returns the same result.
  CHECK(*echo->wait(10s) == "worker-1:hello");

  auto unknown_task = rt.spawn_task("worker-1", "no_such_task", "", 5s);
  REQUIRE(!unknown_task);
  CHECK(unknown_task.error().code() == errc::invalid_argument);
  auto unknown_node = rt.spawn_task("worker-9", "echo", "", 5s);
  REQUIRE(!unknown_node);
  CHECK(unknown_node.error().code() == errc::invalid_argument);
  CHECK(unknown_node.error().message().find("worker-9") != std::string::npos);

  // A task that is still running when its node dies.
  auto slow = rt.spawn_task("worker-2", "sleep_ms", "60000", 5s);
  REQUIRE_MESSAGE(slow, slow.error().to_string());
  auto short_wait = slow->wait(100ms);
  REQUIRE(!short_wait);
  CHECK(short_wait.error().code() == errc::timeout);
  auto killed_at = std::chrono::steady_clock::now();
  two.signal(SIGKILL);
  auto lost = slow->wait(30s);
  auto detected = std::chrono::steady_clock::now() - killed_at;
  REQUIRE(!lost);
  CHECK(lost.error().code() == errc::replica_lost);
  CHECK(detected < 1s + 1500ms);
  CHECK(two.wait(10s));
  one.signal(SIGTERM);
  auto exit = one.wait(20s);
  REQUIRE(exit);
  CHECK(*exit == exit_status::exited_with(0));
}
