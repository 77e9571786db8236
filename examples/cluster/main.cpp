// cluster: data-parallel SGD across processes, the demo of `scripts/demo`.
//
// What it shows. A seed process (the driver) and two node processes form a
// varsync cluster over loopback TCP. The driver starts a registered remote
// task "train" on each node (CAF remote spawn underneath); each task joins
// two replicas of a 4-replica group and trains a logistic-regression model
// on its replicas' shards of a synthetic data set, once with the weights
// as an on_write/mean variable (every minibatch is a collective step: the
// mean gradient is applied once and installed at every replica) and once
// as a bounded_staleness variable with staleness bound 2 (updates stay in
// the replica's cache until clock(); a replica waits only when it is more
// than 2 clocks ahead of the slowest). An on_read/sum counter counts the
// examples processed: replicas add to their local copy (no message), the
// driver's cross-replica read sums the copies. The seed hosts the directory
// and the variable actors; the nodes hold the replicas.
//
// Output: the cluster status once the nodes joined, a progress line per
// epoch (held-out loss and accuracy of the current weights, examples/s),
// and a table per policy: wall time, final loss, accuracy, tensor bytes
// sent over the network by all processes, largest staleness seen.
//
// Run on one machine (what scripts/demo does):
//   build/varsync_example_cluster
// Run across machines (the seed first; nodes retry joining until their
// deadline), e.g. with the seed on 10.0.0.1:
//   seed:   varsync_example_cluster driver --host 10.0.0.1 --port 7000
//           --nodes 2
//   node 1: varsync_example_cluster node --host 10.0.0.2 --port 7001
//           --join 10.0.0.1:7000 --name node-1
//   node 2: the same with --host 10.0.0.3 --port 7002 --name node-2
// Every process this program starts exits with it, also on Ctrl-C or on
// failure (the children die with their parent: PR_SET_PDEATHSIG).

#include "logistic.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <varsync/varsync.hpp>
#include <vector>

using namespace std::chrono_literals;
using varsync::expected;
using varsync::runtime;

namespace {

// -- child processes (demo mode)
// -------------------------------------------------

std::vector<pid_t> children;

void kill_children() {
  for (auto pid : children)
    if (pid > 0)
      ::kill(pid, SIGKILL);
}

void reap_children() {
  for (auto pid : children)
    if (pid > 0)
      ::waitpid(pid, nullptr, 0);
  children.clear();
}

/// Ctrl-C or SIGTERM in the driver: stop the nodes, then leave.
void on_stop_signal(int) {
  kill_children();
  for (auto pid : children)
    if (pid > 0)
      ::waitpid(pid, nullptr, 0);
  ::_exit(130);
}

pid_t start_node(const std::string& join, const std::string& name) {
  auto pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1)
      ::_exit(1); // the driver already died
    std::vector<std::string> args{"varsync_example_cluster",
                                  "node",
                                  "--port",
                                  "0",
                                  "--join",
                                  join,
                                  "--name",
                                  name};
    std::vector<char*> argv;
    for (auto& arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return pid;
}

// -- node mode
// ---------------------------------------------------------------------

int run_node(std::vector<std::string> args) {
  auto parsed = varsync::parse_node_flags(args);
  if (!parsed) {
    std::cerr << "node: " << parsed.error().to_string() << '\n';
    return 2;
  }
  parsed->config.tasks["train"] = example::train_task;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto rt = runtime::start(parsed->config);
  if (!rt) {
    std::cerr << "node: " << rt.error().to_string() << '\n';
    return 1;
  }
  std::cout << "node " << (*rt)->node_name() << " listening on "
            << parsed->config.host << ':' << (*rt)->port() << std::endl;
  int received = 0;
  sigwait(&stop, &received);
  rt->reset();
  return 0;
}

// -- driver
// --------------------------------------------------------------------------

struct run_result {
  std::string policy;
  double seconds = 0;
  double loss = 0;
  double accuracy = 0;
  std::uint64_t bytes = 0;
  std::uint64_t max_staleness = 0;
};

/// Waits until `count` nodes besides the driver joined.
expected<std::vector<std::string>> wait_for_nodes(runtime& rt,
                                                  std::size_t count) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto status = rt.status(5s);
    if (!status)
      return status.error();
    std::vector<std::string> nodes;
    for (const auto& node : status->nodes)
      if (node.alive && node.name != rt.node_name())
        nodes.push_back(node.name);
    if (nodes.size() >= count)
      return nodes;
    if (std::chrono::steady_clock::now() > deadline)
      return varsync::error{varsync::errc::timeout,
                            "only " + std::to_string(nodes.size()) + " of " +
                                std::to_string(count) + " nodes joined"};
    std::this_thread::sleep_for(100ms); // UI polling, not synchronization
  }
}

/// Finds a variable a task creates (it appears once the task got there).
expected<varsync::variable> find_when_created(runtime& rt,
                                              const std::string& name) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    auto var = rt.find_variable(name);
    if (var || var.error().code() != varsync::errc::unknown_variable ||
        std::chrono::steady_clock::now() > deadline)
      return var;
    std::this_thread::sleep_for(20ms); // UI polling, not synchronization
  }
}

expected<run_result> train(runtime& rt, const std::vector<std::string>& nodes,
                           const example::settings& base,
                           const example::dataset& test) {
  auto start = std::chrono::steady_clock::now();
  auto bytes_before = rt.stats().bytes_sent;
  std::vector<varsync::task_handle> tasks;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto mine = base;
    mine.replicas = {2 * i, 2 * i + 1};
    auto task = rt.spawn_task(nodes[i], "train", example::to_argument(mine));
    if (!task)
      return task.error();
    tasks.push_back(*task);
  }
  auto weights = find_when_created(rt, base.weights_name());
  if (!weights)
    return weights.error();
  auto counter = find_when_created(rt, base.counter_name());
  if (!counter)
    return counter.error();
  // Progress: one line per epoch, from the examples counter.
  const auto per_epoch = static_cast<double>(example::train_examples);
  int shown = 0;
  auto report = [&](int epoch) -> expected<void> {
    auto w = rt.read(*weights);
    if (!w)
      return w.error();
    auto metrics = example::evaluate(*w, test);
    auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::printf("  [%s] epoch %d/%d  loss %.4f  acc %.3f  examples/s %.0f\n",
                base.policy.c_str(), epoch, base.epochs, metrics.loss,
                metrics.accuracy, epoch * per_epoch / seconds);
    std::fflush(stdout);
    return {};
  };
  while (shown < base.epochs) {
    auto count = rt.read(*counter);
    if (!count)
      return count.error();
    auto epochs_done = static_cast<int>(count->to_double() / per_epoch);
    for (; shown < std::min(epochs_done, base.epochs); ++shown)
      if (auto shown_ok = report(shown + 1); !shown_ok)
        return shown_ok.error();
    if (shown < base.epochs)
      std::this_thread::sleep_for(20ms); // UI polling, not synchronization
  }
  run_result result;
  result.policy = base.policy;
  result.bytes = rt.stats().bytes_sent - bytes_before;
  for (auto& task : tasks) {
    auto outcome = task.wait(120s);
    if (!outcome)
      return outcome.error();
    auto stats = example::parse_task_result(*outcome);
    result.bytes += stats.bytes_sent;
    result.max_staleness = std::max(result.max_staleness, stats.max_staleness);
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  auto w = rt.read(*weights);
  if (!w)
    return w.error();
  auto metrics = example::evaluate(*w, test);
  result.loss = metrics.loss;
  result.accuracy = metrics.accuracy;
  return result;
}

int run_driver(varsync::node_config config, std::size_t node_count,
               bool launch_nodes, int epochs) {
  config.name = "seed";
  config.tasks["train"] = example::train_task;
  auto rt = runtime::start(config);
  if (!rt) {
    std::cerr << "driver: " << rt.error().to_string() << '\n';
    return 1;
  }
  auto address = config.host + ":" + std::to_string((*rt)->port());
  std::cout << "seed listening on " << address << std::endl;
  if (launch_nodes) {
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    for (std::size_t i = 1; i <= node_count; ++i)
      children.push_back(start_node(address, "node-" + std::to_string(i)));
  }
  int status = 0;
  auto nodes = wait_for_nodes(**rt, node_count);
  if (!nodes) {
    std::cerr << "driver: " << nodes.error().to_string() << '\n';
    status = 1;
  }
  std::vector<run_result> results;
  if (status == 0) {
    std::sort(nodes->begin(), nodes->end());
    nodes->resize(node_count);
    std::cout << "nodes joined: " << nodes->size() << "\n";
    auto test = example::make_dataset(example::test_examples, 1000);
    for (const auto* policy : {"on_write", "bounded_staleness"}) {
      example::settings settings;
      settings.policy = policy;
      settings.epochs = epochs;
      settings.group_size = 2 * node_count;
      std::cout << "training with " << policy
                << (settings.policy == "bounded_staleness" ? " (s = 2)" : "")
                << ", mean of " << settings.group_size << " replicas\n";
      auto result = train(**rt, *nodes, settings, test);
      if (!result) {
        std::cerr << "driver: " << policy << ": " << result.error().to_string()
                  << '\n';
        status = 1;
        break;
      }
      results.push_back(*result);
      if (results.size() == 1)
        if (auto cluster = (*rt)->status(5s))
          std::cout << to_string(*cluster);
    }
  }
  if (!results.empty()) {
    std::printf("\n%-18s %8s %10s %9s %14s %14s\n", "policy", "wall s",
                "final loss", "accuracy", "bytes sent", "max staleness");
    for (const auto& r : results)
      std::printf("%-18s %8.2f %10.4f %9.3f %14llu %14llu\n", r.policy.c_str(),
                  r.seconds, r.loss, r.accuracy,
                  static_cast<unsigned long long>(r.bytes),
                  static_cast<unsigned long long>(r.max_staleness));
    for (const auto& r : results)
      if (r.accuracy < example::required_accuracy) {
        std::fprintf(stderr, "driver: %s reached accuracy %.3f < %.2f\n",
                     r.policy.c_str(), r.accuracy, example::required_accuracy);
        status = 1;
      }
  }
  if (launch_nodes) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    // Stop the nodes cleanly first (their runtimes shut down), then make
    // sure: nothing this program started may outlive it.
    for (auto pid : children)
      ::kill(pid, SIGTERM);
    reap_children();
  }
  rt->reset();
  return status;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args.front() == "node") {
    args.erase(args.begin());
    return run_node(std::move(args));
  }
  varsync::node_config config;
  std::size_t nodes = 2;
  bool launch = true;
  int epochs = 5;
  if (!args.empty() && args.front() == "driver") {
    args.erase(args.begin());
    launch = false;
  }
  auto parsed = varsync::parse_node_flags(args, config);
  if (!parsed) {
    std::cerr << "usage error: " << parsed.error().to_string() << '\n';
    return 2;
  }
  auto& rest = parsed->rest;
  for (std::size_t i = 0; i + 1 < rest.size(); i += 2) {
    if (rest[i] == "--nodes")
      nodes = std::stoul(rest[i + 1]);
    else if (rest[i] == "--epochs")
      epochs = std::stoi(rest[i + 1]);
    else {
      std::cerr << "usage: varsync_example_cluster [driver --nodes N] "
                   "[--epochs E] [node flags] | node [node flags]\n";
      return 2;
    }
  }
  return run_driver(parsed->config, nodes, launch, epochs);
}
