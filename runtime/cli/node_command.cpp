#include "runtime/cli/node_command.hpp"

#include "runtime/node_flags.hpp"

#include <csignal>
#include <cstdlib>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>

namespace {

/// Runs the node `config` describes until SIGINT or SIGTERM.
int run_node(const varsync::node_config& config) {
  if (auto valid = config.validate(); !valid) {
    std::cerr << "varsync node: " << valid.error().to_string() << '\n';
    return 2;
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
  auto node = varsync::runtime::start(config);
  if (!node) {
    std::cerr << "varsync node: " << node.error().to_string() << '\n';
    return 1;
  }
  {
    std::lock_guard guard{state->mutex};
    state->running = true;
  }
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

} // namespace

varsync::cli::command add_node_command(CLI::App& varsync) {
  auto* node =
      varsync.add_subcommand("node", "run a bare node until SIGINT/SIGTERM");
  node->footer("Without --join the node is the seed of a new cluster (it "
               "hosts the directory);\nwith --join it joins the seed at "
               "HOST:PORT. Stops cleanly on SIGINT or SIGTERM.\nPrints "
               "'listening on HOST:PORT' once it serves.");
  // Filled while the command line parses, read when the node starts.
  auto config = std::make_shared<varsync::node_config>();
  varsync::detail::add_node_options(*node, *config);
  return {node, [config] { return run_node(*config); }};
}
