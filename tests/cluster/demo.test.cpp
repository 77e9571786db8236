// The demo (examples/cluster, what `scripts/demo` runs): it finishes, trains
// both models to the example's own accuracy bar, `varsync status` against
// it while it runs shows every node and the training variables, and no
// process it started is left behind, also when it is interrupted.

#include "runtime/job_checkpoint.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/temp_root.hpp"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <doctest/doctest.h>
#include <sstream>
#include <thread>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

const char* const demo_name = "varsync_example_cluster";

std::string demo() {
  return binary_path(VARSYNC_BINARY_DIR, demo_name);
}

/// The seed's port from the demo's "seed listening on 127.0.0.1:PORT".
std::string seed_address(child_process& process) {
  auto line = process.wait_for_line("seed listening on ", 30s);
  REQUIRE_MESSAGE(line, process.output() << process.errors());
  return line->substr(line->find("listening on ") + 13);
}

} // namespace

TEST_CASE("the demo with --http-port prints its dashboard's URL and with "
          "--keep-running stays up after training until Ctrl-C, then stops "
          "its nodes in order and exits with the job's status") {
  auto process = child_process::start(
      demo(), {"--epochs", "3", "--keep-running", "--http-port", "0"});
  REQUIRE(process);
  auto line = process->wait_for_line("dashboard at http://127.0.0.1:", 30s);
  REQUIRE_MESSAGE(line, process->output() << process->errors());
  auto port = static_cast<std::uint16_t>(
      std::stoi(line->substr(line->find("127.0.0.1:") + 10)));
  REQUIRE_MESSAGE(
      process->wait_for_line("the cluster stays up until Ctrl-C", 120s),
      process->output() << process->errors());
  // Still serving once training is over: the page and the metrics.
  auto page = http_get(port, "/");
  REQUIRE(page);
  CHECK(page->body.find("varsync dashboard") != std::string::npos);
  auto metrics = http_get(port, "/metrics");
  REQUIRE(metrics);
  CHECK(metrics->body.find("varsync_variable_version") != std::string::npos);
  CHECK(process->running());
  process->signal(SIGINT);
  auto exit = process->wait(60s);
  REQUIRE(exit);
  CHECK_MESSAGE(*exit == exit_status::exited_with(0), process->output()
                                                          << process->errors());
  // The nodes left in order: the seed saw no loss.
  CHECK_MESSAGE(process->errors().find("was lost") == std::string::npos,
                process->errors());
  CHECK(wait_for_no_process_matching(demo_name, 20s).empty());
}

TEST_CASE("the demo runs to the end, answers varsync status while it runs "
          "and leaves no process behind") {
  // More epochs than the default keep it running while status is asked.
  auto process = child_process::start(demo(), {"--epochs", "20"});
  REQUIRE(process);
  auto address = seed_address(*process);
  REQUIRE_MESSAGE(process->wait_for_line("epoch 1/", 60s),
                  process->output() << process->errors());
  auto status = child_process::start(binary_path(VARSYNC_BINARY_DIR, "varsync"),
                                     {"status", address});
  REQUIRE(status);
  auto status_exit = status->wait(30s);
  REQUIRE(status_exit);
  auto shown = status->output();
  CHECK_MESSAGE(*status_exit == exit_status::exited_with(0),
                shown << status->errors());
  CHECK_MESSAGE(shown.find("nodes (3)") != std::string::npos, shown);
  CHECK(shown.find("node-1") != std::string::npos);
  CHECK(shown.find("node-2") != std::string::npos);
  CHECK(shown.find("on_write") != std::string::npos);
  auto exit = process->wait(120s);
  REQUIRE_MESSAGE(exit, process->output() << process->errors());
  CHECK_MESSAGE(*exit == exit_status::exited_with(0), process->output()
                                                          << process->errors());
  CHECK(process->output().find("bounded_staleness") != std::string::npos);
  // The nodes it started are the processes that joined its address
  // (a precise needle: other demos or compilers may run meanwhile).
  CHECK_MESSAGE(wait_for_no_process_matching("--join " + address, 10s).empty(),
                "processes left behind");
}

TEST_CASE("an interrupted demo (SIGINT) stops every process it started") {
  auto process = child_process::start(demo(), {"--epochs", "50"});
  REQUIRE(process);
  auto address = seed_address(*process);
  REQUIRE_MESSAGE(process->wait_for_line("epoch 1/", 60s),
                  process->output() << process->errors());
  CHECK(processes_matching("--join " + address).size() == 2);
  process->signal(SIGINT);
  auto exit = process->wait(30s);
  REQUIRE(exit);
  CHECK_MESSAGE(wait_for_no_process_matching("--join " + address, 10s).empty(),
                "processes left behind after SIGINT");
}

TEST_CASE("a worker killed mid-run (kill -9) is a loss, not a failure: the "
          "demo reports it, trains on with the survivors and exits 0") {
  auto process = child_process::start(demo(), {"--epochs", "30"});
  REQUIRE(process);
  auto address = seed_address(*process);
  REQUIRE_MESSAGE(process->wait_for_line("[on_write] epoch 2/", 60s),
                  process->output() << process->errors());
  auto victims = processes_matching("--join " + address + " --name node-1");
  REQUIRE(victims.size() == 1);
  REQUIRE(::kill(victims.front(), SIGKILL) == 0);
  auto exit = process->wait(120s);
  REQUIRE_MESSAGE(exit, process->output() << process->errors());
  auto output = process->output();
  CHECK_MESSAGE(*exit == exit_status::exited_with(0),
                output << process->errors());
  // The loss is reported with the node and its replicas ...
  CHECK_MESSAGE(output.find("driver: lost node-1 (replicas 0 and 1) during "
                            "epoch ") != std::string::npos,
                output);
  // ... the on_write run finished with the two survivors, the
  // bounded_staleness run used the node still there, and both reached the
  // accuracy bar (exit status 0 above).
  CHECK_MESSAGE(output.find("on_write: node-1 was lost; 2 of 4 replicas "
                            "finished") != std::string::npos,
                output);
  CHECK_MESSAGE(output.find("[bounded_staleness] epoch 30/30") !=
                    std::string::npos,
                output);
  // node-1 also hosted one of the on_write run's two variables (the
  // driver spreads them over the nodes): it was re-hosted on node-2.
  CHECK_MESSAGE(output.find("-on_write' was re-hosted from node-1 on node-2") !=
                    std::string::npos,
                output);
  CHECK_MESSAGE(wait_for_no_process_matching("--join " + address, 10s).empty(),
                "processes left behind");
}

TEST_CASE("a killed worker started again by hand trains in the next run") {
  auto process = child_process::start(demo(), {"--epochs", "80"});
  REQUIRE(process);
  auto address = seed_address(*process);
  REQUIRE_MESSAGE(process->wait_for_line("[on_write] epoch 2/", 60s),
                  process->output() << process->errors());
  // The demo's secret: this test binary's (VARSYNC_SECRET_FILE, which the
  // demo inherits; doctest_main.cpp).
  const char* secret = std::getenv("VARSYNC_SECRET_FILE");
  REQUIRE(secret != nullptr);
  auto victims = processes_matching("--join " + address + " --name node-1");
  REQUIRE(victims.size() == 1);
  REQUIRE(::kill(victims.front(), SIGKILL) == 0);
  REQUIRE_MESSAGE(process->wait_for_line("driver: lost node-1", 60s),
                  process->output() << process->errors());
  auto again = child_process::start(demo(), {"node", "--port", "0", "--join",
                                             address, "--name", "node-1",
                                             "--secret-file", secret});
  REQUIRE(again);
  REQUIRE_MESSAGE(again->wait_for_line("node node-1 listening", 30s),
                  again->output() << again->errors());
  auto exit = process->wait(180s);
  REQUIRE_MESSAGE(exit, process->output() << process->errors());
  auto output = process->output();
  CHECK_MESSAGE(*exit == exit_status::exited_with(0),
                output << process->errors());
  CHECK_MESSAGE(output.find("driver: node-1 is back; it trains in the next "
                            "run") != std::string::npos,
                output);
  CHECK_MESSAGE(output.find("training with bounded_staleness (s = 2), mean "
                            "of 4 replicas") != std::string::npos,
                output);
  again->signal(SIGTERM);
  CHECK(again->wait(20s));
}

TEST_CASE("kill -9 of the seed while the driver runs on a member: the next "
          "node holds the directory, the job finishes, status through a "
          "survivor names the new holder, a new node joins through it") {
  const char* secret = std::getenv("VARSYNC_SECRET_FILE");
  REQUIRE(secret != nullptr);
  auto node = [&](const std::string& name, const std::string& join) {
    std::vector<std::string> args{
        "node", "--port",        "0",    "--name",
        name,   "--secret-file", secret, "--spread-variables",
        "true"};
    if (!join.empty()) {
      args.push_back("--join");
      args.push_back(join);
    }
    auto process = child_process::start(demo(), args);
    REQUIRE(process);
    auto line = process->wait_for_line("node " + name + " listening on ", 30s);
    REQUIRE_MESSAGE(line, process->output() << process->errors());
    return std::pair{std::move(*process),
                     line->substr(line->find("listening on ") + 13)};
  };
  auto [seed, seed_address] = node("node-0", "");
  auto [first, first_address] = node("node-1", seed_address);
  auto [second, second_address] = node("node-2", seed_address);
  auto driver = child_process::start(
      demo(), {"driver", "--port", "0", "--join", seed_address, "--nodes", "3",
               "--epochs", "30", "--secret-file", secret});
  REQUIRE(driver);
  REQUIRE_MESSAGE(driver->wait_for_line("[on_write] epoch 2/", 60s),
                  driver->output() << driver->errors());
  REQUIRE(seed.signal(SIGKILL));
  // A new node joins through a survivor (node-2's address only).
  auto [third, third_address] = node("node-3", second_address);
  auto exit = driver->wait(180s);
  REQUIRE_MESSAGE(exit, driver->output() << driver->errors());
  auto output = driver->output();
  CHECK_MESSAGE(*exit == exit_status::exited_with(0),
                output << driver->errors());
  CHECK_MESSAGE(output.find("driver: lost node-0 (replicas 0 and 1) during "
                            "epoch ") != std::string::npos,
                output);
  // The seed hosted one of the on_write run's variables (it spreads them
  // over the nodes): the new holder re-hosted it on node-1.
  CHECK_MESSAGE(output.find("-on_write' was re-hosted from node-0 on node-1") !=
                    std::string::npos,
                output);
  auto status = child_process::start(binary_path(VARSYNC_BINARY_DIR, "varsync"),
                                     {"status", second_address});
  REQUIRE(status);
  REQUIRE(status->wait(30s));
  auto shown = status->output();
  CHECK_MESSAGE(shown.find("directory held by node-1 (epoch 2)") !=
                    std::string::npos,
                shown << status->errors());
  CHECK_MESSAGE(shown.find("node-3") != std::string::npos, shown);
  for (auto* process : {&first, &second, &third}) {
    process->signal(SIGTERM);
    CHECK(process->wait(20s));
  }
}

namespace {

/// The accuracy column of `policy`'s row in the demo's final table.
double table_accuracy(const std::string& output, const std::string& policy) {
  std::istringstream lines{output};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words{line};
    std::string name, wall, loss, accuracy;
    if (words >> name >> wall >> loss >> accuracy && name == policy &&
        wall.find('.') != std::string::npos)
      return std::stod(accuracy);
  }
  FAIL("no table row for " << policy << " in:\n" << output);
  return 0;
}

} // namespace

TEST_CASE("--resume after a kill -9 of every process continues from the "
          "newest complete checkpoint and ends as an uninterrupted run") {
  temp_root checkpoints{"varsync-demo-checkpoints"};
  std::vector<std::string> saving{
      "--epochs",           "30",
      "--checkpoint-dir",   checkpoints.path.string(),
      "--checkpoint-every", "200ms"};
  auto first = child_process::start(demo(), saving);
  REQUIRE(first);
  auto address = seed_address(*first);
  REQUIRE_MESSAGE(first->wait_for_line("[on_write] epoch 3/", 60s),
                  first->output() << first->errors());
  // A checkpoint started from now on holds at least 3 epochs: wait
  // (bounded, polling the directory) until one is complete.
  auto started = checkpoint_numbers(checkpoints.path);
  auto newest_before = started.empty() ? 0 : started.back();
  auto deadline = std::chrono::steady_clock::now() + 120s;
  auto complete_since = [&] {
    for (auto number : checkpoint_numbers(checkpoints.path))
      if (number > newest_before &&
          read_manifest(checkpoint_directory(checkpoints.path, number)))
        return true;
    return false;
  };
  for (;;) {
    if (complete_since())
      break;
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                    first->output() << first->errors());
    std::this_thread::sleep_for(5ms);
  }
  // The driver dies at once; its nodes die with it (PR_SET_PDEATHSIG).
  REQUIRE(first->signal(SIGKILL));
  REQUIRE(first->wait(20s));
  CHECK_MESSAGE(wait_for_no_process_matching("--join " + address, 10s).empty(),
                "processes left behind");
  auto resume_args = saving;
  resume_args.push_back("--resume");
  auto resumed = child_process::start(demo(), resume_args);
  REQUIRE(resumed);
  auto exit = resumed->wait(180s);
  REQUIRE_MESSAGE(exit, resumed->output() << resumed->errors());
  auto output = resumed->output();
  CHECK_MESSAGE(*exit == exit_status::exited_with(0),
                output << resumed->errors());
  auto line = output.find("driver: on_write resumed at epoch ");
  REQUIRE_MESSAGE(line != std::string::npos, output);
  auto epoch = std::stoi(output.substr(line + 34));
  MESSAGE("resumed at on_write epoch " << epoch << " of 30");
  CHECK(epoch >= 3); // the checkpoint waited for above holds 3 epochs
  CHECK(epoch <= 30);
  // The same job without interruption (no checkpoints): the final accuracy
  // matches within the noise of the data order.
  auto plain = child_process::start(demo(), {"--epochs", "30"});
  REQUIRE(plain);
  auto plain_exit = plain->wait(180s);
  REQUIRE(plain_exit);
  CHECK(*plain_exit == exit_status::exited_with(0));
  auto uninterrupted = table_accuracy(plain->output(), "on_write");
  auto after_resume = table_accuracy(output, "on_write");
  MESSAGE("on_write accuracy: resumed " << after_resume << ", uninterrupted "
                                        << uninterrupted);
  CHECK(std::abs(after_resume - uninterrupted) <= 0.02);
}
