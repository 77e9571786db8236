// The `varsync` command-line tool.
//
//   varsync node [--port P] [--join HOST:PORT] [--name N] [--config FILE] ...
//       runs a bare node until SIGINT or SIGTERM, then shuts down cleanly
//   varsync status HOST:PORT [--timeout 5s] [--json] [--watch]
//       prints the cluster's nodes, replica groups and variables as the node
//       at HOST:PORT (any node of the cluster) reports them; --json as one
//       line of JSON (schema runtime/cli/status.schema.json); --watch again
//       every second until interrupted
//   varsync checkpoint inspect DIR
//       lists the whole-job checkpoints under DIR and what they hold
//   varsync --help | varsync <command> --help | varsync --version
//
// Exit status: 0 on success, 1 on a runtime error, 2 on a usage error.

#include "runtime/cli/certs_command.hpp"
#include "runtime/cli/checkpoint_command.hpp"
#include "runtime/cli/run_command.hpp"
#include "runtime/cli/version.hpp"
#include "runtime/core/wording.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <varsync/varsync.hpp>
#include <vector>

namespace {

constexpr int usage_error = 2;

void print_usage() {
  std::cout << "usage: varsync <command> [options]\n\n"
               "commands:\n"
               "  node      run a bare node until SIGINT/SIGTERM\n"
               "  run       start a seed and N worker processes of a program "
               "(a job)\n"
               "  status    print a cluster's nodes, groups and variables\n"
               "  certs     make a cluster CA and node certificates for TLS\n"
               "  checkpoint inspect DIR\n"
               "            list what whole-job checkpoints hold\n\n"
               "`varsync <command> --help` describes a command's options;\n"
               "`varsync --version` prints the version.\n";
}

void print_node_usage() {
  std::cout << "usage: varsync node [--port P] [--join HOST:PORT] [--name N] "
               "[--config FILE] [options]\n\n"
               "Runs a bare node: without --join it is the seed of a new "
               "cluster (it hosts the\ndirectory), with --join it joins the "
               "seed at HOST:PORT. Stops cleanly on SIGINT\nor SIGTERM. "
               "Prints 'listening on HOST:PORT' once it serves.\n\n"
               "options (also as `key = value` lines in --config FILE):\n";
  for (const auto& [key, help] : varsync::node_config::keys())
    std::cout << "  --" << key
              << std::string(22 - std::min<std::size_t>(key.size(), 20), ' ')
              << help << '\n';
}

/// The flags of `varsync status` that say how to prove membership.
constexpr std::string_view credential_flags[] = {"secret-file", "tls-cert",
                                                 "tls-key", "tls-ca"};

void print_status_usage() {
  std::cout << "usage: varsync status HOST:PORT [--timeout DURATION] "
               "[--json] [--watch]\n"
               "                      [--secret-file FILE] [--tls-cert FILE "
               "--tls-key FILE --tls-ca FILE]\n\n"
               "Asks the node at HOST:PORT (any node of the cluster) for the "
               "cluster's nodes\n(alive, left or lost), replica groups (with "
               "lost replicas) and variables\n(policy, node, version, clock) "
               "and prints them. --timeout defaults to 5s.\nThe cluster's "
               "secret comes from --secret-file or $VARSYNC_SECRET_FILE.\n\n"
               "  --json    one line of JSON, schema \"varsync.status/1\" "
               "(installed as\n            "
               "share/varsync/cluster_status.schema.json)\n"
               "  --watch   ask again every second until interrupted (with "
               "--json: one line\n            each); a failed ask prints "
               "its error and the watch goes on\n";
}

bool wants_help(const std::vector<std::string>& args) {
  for (const auto& arg : args)
    if (arg == "--help" || arg == "-h")
      return true;
  return false;
}

int run_node(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    print_node_usage();
    return 0;
  }
  auto parsed = varsync::parse_node_flags(args);
  if (!parsed) {
    std::cerr << "varsync node: " << parsed.error().to_string() << '\n';
    return usage_error;
  }
  if (!parsed->rest.empty()) {
    std::cerr << "varsync node: unexpected argument '"
              << varsync::wording::excerpt(parsed->rest.front())
              << "' (see varsync node --help)\n";
    return usage_error;
  }
  // Block the stop signals in every thread (CAF's threads inherit the mask)
  // and wait for them on a thread of our own: CAF installs no handlers.
  // While the node is still starting (joining may wait for a silent seed
  // until --join-deadline), a signal ends the process at once: nothing
  // was joined, so nothing is left to tell. Once it runs, a signal shuts
  // it down in order.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Shared with the signal thread, which may outlive this function.
  struct signal_state {
    sigset_t signals;
    std::mutex mutex;
    bool running = false;
    std::promise<int> received;
  };
  auto state = std::make_shared<signal_state>();
  state->signals = stop_signals;
  std::thread{[state] {
    int received = 0;
    sigwait(&state->signals, &received);
    std::lock_guard guard{state->mutex};
    if (!state->running) {
      std::cerr << "varsync node: "
                << (received == SIGINT ? "SIGINT" : "SIGTERM")
                << " while starting; stopped" << std::endl;
      std::_Exit(128 + received);
    }
    state->received.set_value(received);
  }}.detach();
  auto node = varsync::runtime::start(parsed->config);
  if (!node) {
    std::cerr << "varsync node: " << node.error().to_string() << '\n';
    return 1;
  }
  {
    std::lock_guard guard{state->mutex};
    state->running = true;
  }
  const auto& config = parsed->config;
  std::cout << "varsync node '" << (*node)->node_name() << "' listening on "
            << config.host << ':' << (*node)->port()
            << ((*node)->is_seed()
                    ? " (seed)"
                    : " (joined " + to_string(config.join.front()) + ")")
            << std::endl;
  if (auto http = (*node)->http_port(); http != 0)
    std::cout << "varsync node '" << (*node)->node_name() << "' dashboard at "
              << (config.uses_tls() ? "https" : "http") << "://" << config.host
              << ':' << http << "/ (metrics at /metrics)" << std::endl;
  int received = state->received.get_future().get();
  std::cout << "varsync node '" << (*node)->node_name()
            << "': " << (received == SIGINT ? "SIGINT" : "SIGTERM")
            << ", shutting down" << std::endl;
  node->reset();
  std::cout << "varsync node: stopped" << std::endl;
  return 0;
}

/// Asks once and prints the status (JSON or tables) to stdout, or the
/// error to stderr; returns whether it got one.
bool print_status(const varsync::endpoint& address,
                  std::chrono::milliseconds timeout,
                  const varsync::node_config& client, bool as_json) {
  auto status = varsync::fetch_status(address, timeout, client);
  if (!status) {
    std::cerr << "varsync status: " << status.error().to_string() << '\n';
    return false;
  }
  if (as_json)
    std::cout << to_json(*status) << '\n';
  else
    std::cout << "cluster at " << to_string(address) << '\n'
              << to_string(*status);
  return true;
}

int run_status(const std::vector<std::string>& args) {
  if (wants_help(args)) {
    print_status_usage();
    return 0;
  }
  std::optional<varsync::endpoint> address;
  varsync::node_config durations; // parses --timeout like the node keys
  auto timeout = std::chrono::milliseconds{5000};
  varsync::node_config client; // the credentials: secret and TLS files
  bool as_json = false;
  bool watch = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--json") {
      as_json = true;
      continue;
    }
    if (arg == "--watch") {
      watch = true;
      continue;
    }
    auto credential =
        std::find_if(std::begin(credential_flags), std::end(credential_flags),
                     [&](std::string_view flag) {
                       return arg.starts_with("--" + std::string{flag});
                     });
    if (credential != std::end(credential_flags)) {
      auto flag = "--" + std::string{*credential};
      std::string value;
      if (arg.size() > flag.size() && arg[flag.size()] == '=')
        value = arg.substr(flag.size() + 1);
      else if (arg.size() == flag.size() && i + 1 < args.size())
        value = args[++i];
      if (auto set = client.set(*credential, value); !set) {
        std::cerr << "varsync status: " << set.error().to_string() << '\n';
        return usage_error;
      }
    } else if (arg.rfind("--timeout", 0) == 0) {
      std::string value;
      if (arg.size() > 9 && arg[9] == '=')
        value = arg.substr(10);
      else if (i + 1 < args.size())
        value = args[++i];
      // Reuse the duration syntax of node_config ("250ms", "2s").
      if (auto set = durations.set("default-timeout", value); !set) {
        std::cerr << "varsync status: --timeout: '" << value
                  << "' is not a duration (expected e.g. 500ms or 5s)\n";
        return usage_error;
      }
      timeout = durations.default_timeout;
    } else if (!address) {
      auto parsed = varsync::parse_endpoint(arg, "HOST:PORT");
      if (!parsed) {
        std::cerr << "varsync status: " << parsed.error().to_string() << '\n';
        return usage_error;
      }
      address = *parsed;
    } else {
      std::cerr << "varsync status: unexpected argument '"
                << varsync::wording::excerpt(arg) << "'\n";
      return usage_error;
    }
  }
  if (!address) {
    print_status_usage();
    return usage_error;
  }
  if (!watch)
    return print_status(*address, timeout, client, as_json) ? 0 : 1;
  // Until interrupted (SIGINT's default action ends the process): a
  // cluster in trouble is when watching matters most, so errors do not end
  // the watch.
  auto clear_screen = !as_json && isatty(STDOUT_FILENO) == 1;
  for (auto next = std::chrono::steady_clock::now();;) {
    if (clear_screen)
      std::cout << "\x1b[H\x1b[2J";
    print_status(*address, timeout, client, as_json);
    std::cout << std::flush;
    next += std::chrono::seconds{1};
    std::this_thread::sleep_until(
        std::max(next, std::chrono::steady_clock::now()));
  }
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args.front() == "--help" || args.front() == "-h" ||
      args.front() == "help") {
    print_usage();
    return args.empty() ? usage_error : 0;
  }
  if (args.front() == "--version") {
    std::cout << varsync::cli::version_line << '\n';
    return 0;
  }
  auto command = args.front();
  args.erase(args.begin());
  if (command == "node")
    return run_node(args);
  if (command == "certs")
    return run_certs(args);
  if (command == "checkpoint")
    return run_checkpoint(args);
  if (command == "status")
    return run_status(args);
  if (command == "run")
    return run_job(args);
  std::cerr << "varsync: unknown command '"
            << varsync::wording::excerpt(command) << "'\n";
  print_usage();
  return usage_error;
}
