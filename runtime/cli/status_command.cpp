#include "runtime/cli/status_command.hpp"

#include "runtime/node_flags.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <varsync/varsync.hpp>

namespace {

/// What `varsync status` was asked.
struct status_options {
  std::optional<varsync::endpoint> address;
  std::chrono::milliseconds timeout{5000};
  /// The credentials: secret and TLS files.
  varsync::node_config client;
  bool as_json = false;
  bool watch = false;
};

/// Asks once and prints the status (JSON or tables) to stdout, or the
/// error to stderr; returns whether it got one.
bool print_status(const status_options& options) {
  auto status =
      varsync::fetch_status(*options.address, options.timeout, options.client);
  if (!status) {
    std::cerr << "varsync status: " << status.error().to_string() << '\n';
    return false;
  }
  if (options.as_json)
    std::cout << to_json(*status) << '\n';
  else
    std::cout << "cluster at " << to_string(*options.address) << '\n'
              << to_string(*status);
  return true;
}

int run_status(const status_options& options) {
  if (!options.watch)
    return print_status(options) ? 0 : 1;
  // Until interrupted (SIGINT's default action ends the process): a
  // cluster in trouble is when watching matters most, so errors do not end
  // the watch.
  auto clear_screen = !options.as_json && isatty(STDOUT_FILENO) == 1;
  for (auto next = std::chrono::steady_clock::now();;) {
    if (clear_screen)
      std::cout << "\x1b[H\x1b[2J";
    print_status(options);
    std::cout << std::flush;
    next += std::chrono::seconds{1};
    std::this_thread::sleep_until(
        std::max(next, std::chrono::steady_clock::now()));
  }
}

} // namespace

varsync::cli::command add_status_command(CLI::App& varsync) {
  auto* status = varsync.add_subcommand(
      "status", "print a cluster's nodes, groups and variables");
  status->footer(
      "Asks the node at HOST:PORT (any node of the cluster) for the "
      "cluster's nodes\n(alive, left or lost), replica groups (with lost "
      "replicas) and variables\n(policy, node, version, clock) and prints "
      "them. The cluster's secret comes from\n--secret-file or "
      "$VARSYNC_SECRET_FILE. --json prints schema \"varsync.status/1\"\n"
      "(installed as share/varsync/cluster_status.schema.json).");
  // Filled while the command line parses, read when it runs.
  auto options = std::make_shared<status_options>();
  status
      ->add_option(
          "address",
          [options](const CLI::results_t& values) {
            auto parsed = varsync::parse_endpoint(values.back(), "HOST:PORT");
            if (!parsed)
              throw CLI::ValidationError{parsed.error().message()};
            options->address = *parsed;
            return true;
          },
          "HOST:PORT of any node of the cluster")
      ->option_text("HOST:PORT")
      ->required();
  status
      ->add_option(
          "--timeout",
          [options](const CLI::results_t& values) {
            // The duration syntax of node_config ("250ms", "2s"; a bare
            // number needs a unit), with the flag's name in its errors.
            constexpr std::string_view key = "default-timeout";
            varsync::node_config durations;
            if (auto set = durations.set(key, values.back()); !set) {
              auto message = set.error().message();
              if (message.starts_with(key))
                message.replace(0, key.size(), "--timeout");
              throw CLI::ValidationError{message};
            }
            options->timeout = durations.default_timeout;
            return true;
          },
          "how long to wait for the node's answer (default 5s)")
      ->option_text("DURATION");
  status->add_flag("--json", options->as_json,
                   "one line of JSON (schema \"varsync.status/1\")");
  status->add_flag("--watch", options->watch,
                   "ask again every second until interrupted (with --json: "
                   "one line each); a failed ask prints its error and the "
                   "watch goes on");
  for (const auto& [key, help] : varsync::node_config::keys())
    if (key == "secret-file" || key.starts_with("tls-"))
      varsync::detail::add_node_option(*status, options->client, key, help,
                                       "Credentials");
  return {status, [options] { return run_status(*options); }};
}
