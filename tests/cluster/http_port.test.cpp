// A node's HTTP port (node_config::http_port) with real processes: three
// cluster workers train (on_write/sum steps and a bounded_staleness
// variable); /metrics of a worker passes `promtool check metrics` (Debian's
// prometheus package) and its step counters, step-latency and staleness
// histograms grow between two scrapes; the seed's version gauge grows and
// its node gauges show a kill -9ed node as lost; /status.json validates
// against the status schema; the port survives garbage, an oversized
// header, a POST and an unknown path, and goes on serving.

#include "tests/support/http_get.hpp"
#include "tests/support/json_schema.hpp"
#include "tests/support/node_cli.hpp"
#include "tests/support/temp_root.hpp"
#include "tests/support/test_cluster.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <string>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

/// Runs `promtool check metrics` on `page`; returns its exit status and
/// what it printed.
std::pair<exit_status, std::string> promtool_check(const std::string& page) {
  temp_root dir{"varsync-promtool"};
  std::filesystem::create_directories(dir.path);
  auto file = dir.path / "metrics.txt";
  std::ofstream{file} << page;
  // promtool reads the page on stdin; a shell redirects the file.
  auto checker = child_process::start(
      "/bin/sh",
      {"-c", "exec /usr/bin/promtool check metrics < \"$0\"", file.string()});
  REQUIRE(checker);
  auto status = checker->wait(60s);
  REQUIRE(status);
  return {*status, checker->output() + checker->errors()};
}

/// GET that must succeed with 200.
std::string get_ok(std::uint16_t port, const std::string& target) {
  std::string why;
  auto reply = http_get(port, target, &why);
  REQUIRE_MESSAGE(reply, target << ": " << why);
  REQUIRE_MESSAGE(reply->status == 200, target << ": " << reply->body);
  return reply->body;
}

std::uint16_t http_port_of(child_process& node) {
  auto line = node.wait_for_line("http ", 20s);
  REQUIRE_MESSAGE(line, node.output() << node.errors());
  return static_cast<std::uint16_t>(std::stoi(line->substr(5)));
}

/// The sum of every series of `family` (e.g. over its peers).
double total(const std::map<std::string, double>& samples,
             const std::string& family) {
  double sum = 0;
  for (const auto& [series, value] : samples)
    if (series.starts_with(family.find('{') == std::string::npos ? family + "{"
                                                                 : family))
      sum += value;
  return sum;
}

double sample(const std::map<std::string, double>& samples,
              const std::string& series) {
  auto found = samples.find(series);
  REQUIRE_MESSAGE(found != samples.end(), "no sample " << series);
  return found->second;
}

/// Polls `port`'s /metrics until `series` exceeds `floor`; returns the
/// samples then (or the last ones after `timeout`).
std::map<std::string, double> metrics_after(std::uint16_t port,
                                            const std::string& series,
                                            double floor,
                                            std::chrono::seconds timeout) {
  std::map<std::string, double> samples;
  for (auto deadline = std::chrono::steady_clock::now() + timeout;
       std::chrono::steady_clock::now() < deadline;) {
    samples = prometheus_samples(get_ok(port, "/metrics"));
    auto found = samples.find(series);
    if (found != samples.end() && found->second > floor)
      break;
    // The poll interval of a gauge that changes once a second (the
    // node's sampler): the loop waits for a value, not for time.
    std::this_thread::sleep_for(200ms);
  }
  return samples;
}

} // namespace

TEST_CASE("metrics, status and bad requests on a node's HTTP port during a "
          "training run") {
  std::vector<std::string> common{
      "--scenario",   "until_value", "--until-value",        "100000000",
      "--pace-ms",    "5",           "--with-ssp",           "true",
      "--group-size", "3",           "--http-port",          "0",
      "--log-level",  "warn",        "--connection-timeout", "2s"};
  auto cluster = start_test_cluster({{{0}, {}}, {{1}, {}}, {{2}, {}}}, common);
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  auto seed_http = http_port_of(cluster.nodes[0]);
  auto worker_http = http_port_of(cluster.nodes[1]);
  REQUIRE(cluster.nodes[1].wait_for_line("step 1 ", 60s));

  // Two scrapes of a worker: valid for promtool, and the run shows.
  auto first_page = get_ok(worker_http, "/metrics");
  auto [lint, lint_text] = promtool_check(first_page);
  CHECK_MESSAGE(lint == exit_status::exited_with(0), lint_text << first_page);
  auto first = prometheus_samples(first_page);
  const std::string steps = "varsync_variable_steps_total{variable=\"w\"}";
  const std::string latency_count =
      "varsync_variable_step_seconds_count{variable=\"w\"}";
  const std::string staleness_count =
      "varsync_ssp_staleness_clocks_count{variable=\"s\"}";
  auto second =
      metrics_after(worker_http, steps, sample(first, steps) + 5, 60s);
  CHECK(sample(second, steps) > sample(first, steps));
  CHECK(sample(second, latency_count) > sample(first, latency_count));
  CHECK(sample(second, "varsync_clock_wait_seconds_count") >
        sample(first, "varsync_clock_wait_seconds_count"));
  CHECK(sample(second, staleness_count) >= sample(first, staleness_count));
  CHECK(sample(second, "varsync_sent_bytes_total") >
        sample(first, "varsync_sent_bytes_total"));
  CHECK(sample(second, "varsync_node_info{node=\"node-1\"}") == 1);
  // Per peer on the bulk plane: to the variables' node and back.
  CHECK(total(second, "varsync_peer_sent_bytes_total") >
        total(first, "varsync_peer_sent_bytes_total"));
  CHECK(total(second, "varsync_peer_received_bytes_total") >
        total(first, "varsync_peer_received_bytes_total"));
  CHECK_MESSAGE(
      total(second, "varsync_peer_sent_bytes_total{peer=\"127.0.0.1:") > 0,
      get_ok(worker_http, "/metrics"));
  // The +Inf bucket holds every step.
  CHECK(sample(second, "varsync_variable_step_seconds_bucket{variable=\"w\",le="
                       "\"+Inf\"}") == sample(second, latency_count));

  // The seed's view of the cluster: versions grow, 3 nodes alive.
  auto seed_first = metrics_after(
      seed_http, "varsync_cluster_nodes{state=\"alive\"}", 2, 30s);
  CHECK(sample(seed_first, "varsync_cluster_nodes{state=\"alive\"}") == 3);
  const std::string version = "varsync_variable_version{variable=\"w\"}";
  auto seed_later =
      metrics_after(seed_http, version, sample(seed_first, version), 30s);
  CHECK(sample(seed_later, version) > sample(seed_first, version));
  auto [seed_lint, seed_lint_text] =
      promtool_check(get_ok(seed_http, "/metrics"));
  CHECK_MESSAGE(seed_lint == exit_status::exited_with(0), seed_lint_text);

  // /status.json: the documented schema.
  auto status = get_ok(seed_http, "/status.json");
  CHECK(status.find("\"varsync.status/1\"") != std::string::npos);
  check_status_schema(status);

  // Bad requests: each refused, the port goes on serving.
  auto page = get_ok(seed_http, "/");
  CHECK(page.find("<title>varsync dashboard</title>") != std::string::npos);
  CHECK(page.find("http://") == std::string::npos); // no external assets
  auto missing = http_get(seed_http, "/nothing-here");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto posted =
      http_get(seed_http, "/metrics", nullptr, boost::beast::http::verb::post);
  REQUIRE(posted);
  CHECK(posted->status == 405);
  {
    int garbage = connect_raw(seed_http);
    std::string noise = "\x16\x03\x01 not http at all\r\n\r\n";
    CHECK(::write(garbage, noise.data(), noise.size()) ==
          static_cast<ssize_t>(noise.size()));
    drain(garbage, 5s); // the server closes it
    ::close(garbage);
    int oversized = connect_raw(seed_http);
    std::string header =
        "GET / HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    // The server may close before reading it all: ignore short writes.
    [[maybe_unused]] auto sent =
        ::send(oversized, header.data(), header.size(), MSG_NOSIGNAL);
    drain(oversized, 5s);
    ::close(oversized);
  }
  CHECK(get_ok(seed_http, "/metrics").find("varsync_node_info") !=
        std::string::npos);

  // A node killed: the seed's gauges show it lost.
  cluster.nodes[2].signal(SIGKILL);
  auto after_loss =
      metrics_after(seed_http, "varsync_cluster_nodes{state=\"lost\"}", 0, 60s);
  CHECK(sample(after_loss, "varsync_cluster_nodes{state=\"lost\"}") == 1);
  CHECK(sample(after_loss,
               "varsync_group_replicas{group=\"g\",state=\"lost\"}") == 1);
}
