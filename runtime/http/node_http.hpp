#pragma once

// A node's HTTP port (node_config::http_port): what an operator or a
// Prometheus server reads from a running node.
//
//   GET /              the live dashboard (runtime/http/dashboard_page.hpp)
//   GET /events        Server-Sent Events: one sample per second
//   GET /status.json   the cluster's status, schema "varsync.status/1"
//   GET /metrics       Prometheus text format (runtime/http/metrics_page.hpp)
//
// How it works. A sampler thread asks the runtime for the cluster's status
// once a second (a blocking call, with a deadline below the period) and
// reads the process's counters; it keeps the latest sample and publishes
// it to every open event stream. The server's thread answers requests from
// the latest sample and the lock-free counters only, so a slow directory
// never stalls the HTTP port. A sample is one line of JSON:
//
//   {"time_unix_ms": ..., "node": "...", "stats": {...runtime_stats...},
//    "variables": {"NAME": {"steps": ..., "step_seconds_sum": ...,
//                           "staleness_reads": ..., "staleness_sum": ...}},
//    "status": {...varsync.status/1...} or null, "status_error": "..."}

#include "runtime/http/http_server.hpp"
#include "varsync/cluster_status.hpp"
#include "varsync/error.hpp"
#include "varsync/node_config.hpp"
#include "varsync/runtime.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace varsync::http {

/// Where the samples come from (the runtime, in a node).
struct node_sources {
  std::string node;
  /// Blocks at most its argument.
  std::function<expected<cluster_status>(std::chrono::milliseconds)> status;
  /// Never blocks.
  std::function<runtime_stats()> stats;
};

/// The HTTP port of one node. Not copyable; destroying it stops the
/// sampler, then the server.
class node_http {
public:
  /// Serves on `config.host`:`*config.http_port` (HTTPS with mutual TLS
  /// when `config.uses_tls()`). `invalid_argument` naming the port when it
  /// cannot listen. Blocks until listening.
  static expected<std::unique_ptr<node_http>> start(const node_config& config,
                                                    node_sources sources);

  ~node_http();

  node_http(const node_http&) = delete;
  node_http& operator=(const node_http&) = delete;

  /// The port it listens on. Never blocks.
  std::uint16_t port() const noexcept;

private:
  node_http(node_sources sources);

  response answer(const std::string& target);
  void sample_loop();
  std::string take_sample();

  node_sources sources_;
  std::unique_ptr<http_server> server_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string latest_sample_;
  std::optional<cluster_status> latest_status_;
  std::string latest_status_error_ = "no status fetched yet";
  std::thread sampler_;
};

} // namespace varsync::http
