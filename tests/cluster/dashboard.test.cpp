// The live dashboard in a real browser: three cluster workers train while
// headless Chromium (Debian's chromium, driven by chromedriver through
// tests/support/dashboard_check.py) shows the seed's page: 3 nodes alive,
// a version that grows without a reload; a screenshot is saved under the
// build directory (tests/dashboard.png, the README's picture comes from
// it); then one node is killed with SIGKILL and the open page shows it
// lost.

#include "tests/support/test_cluster.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <string>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

TEST_CASE("the dashboard shows live nodes and versions, and a killed node "
          "as lost, in headless Chromium") {
  std::vector<std::string> common{"--scenario",
                                  "until_value",
                                  "--until-value",
                                  "100000000",
                                  "--pace-ms",
                                  "20",
                                  "--with-ssp",
                                  "true",
                                  "--group-size",
                                  "3",
                                  "--log-level",
                                  "warn",
                                  "--connection-timeout",
                                  "2s"};
  auto cluster = start_test_cluster(
      {{{0}, {"--http-port", "0"}}, {{1}, {}}, {{2}, {}}}, common);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto line = cluster.nodes[0].wait_for_line("http ", 20s);
  REQUIRE(line);
  auto url = "http://127.0.0.1:" + line->substr(5) + "/";
  REQUIRE(cluster.nodes[2].wait_for_line("step 2 ", 60s));

  auto screenshot =
      std::filesystem::path{VARSYNC_TEST_BINARY_DIR} / "dashboard.png";
  std::filesystem::remove(screenshot);
  auto check = child_process::start(
      "/usr/bin/python3",
      {std::string{VARSYNC_SOURCE_DIR} + "/tests/support/dashboard_check.py",
       "--url", url, "--nodes", "3", "--screenshot", screenshot.string(),
       "--kill-pid", std::to_string(cluster.nodes[2].pid()), "--lost-node",
       "node-2"});
  REQUIRE(check);
  auto status = check->wait(240s);
  REQUIRE_MESSAGE(status, check->output() << check->errors());
  CHECK_MESSAGE(*status == exit_status::exited_with(0), check->output()
                                                            << check->errors());
  CHECK(check->output().find("live: 3 nodes alive") != std::string::npos);
  CHECK(check->output().find("lost: node-2 shown lost") != std::string::npos);

  // A PNG of a real page: the signature and more than a blank image.
  REQUIRE(std::filesystem::exists(screenshot));
  CHECK(std::filesystem::file_size(screenshot) > 20000);
  std::ifstream png{screenshot, std::ios::binary};
  char signature[8] = {};
  png.read(signature, sizeof signature);
  CHECK(std::string(signature, 8) == "\x89PNG\r\n\x1a\n");
}
