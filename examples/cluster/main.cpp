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
// driver's cross-replica read sums the copies. The seed hosts the
// directory; the nodes hold the replicas and the variable actors (the
// driver spreads them over the nodes and hosts none itself, unless given
// --spread-variables false or --serve-variables true). The model, the
// data and the task are in logistic.hpp.
//
// Run on one machine (what scripts/demo does; about 2 s):
//   build/varsync_example_cluster [--epochs E]
// It starts two copies of itself in node mode, which die with it (also on
// Ctrl-C or on failure: they are killed and reaped before it exits), and
// passes them the cluster secret the seed generated (--secret-file). It
// starts them with the project's process launcher (runtime/launch, the
// one behind `varsync run`; not part of the public API).
// Run across machines (the seed first; it waits up to 2 minutes for the
// nodes, and nodes retry joining until their --join-deadline), e.g. with
// the seed at address SEED (each machine listens on its own address A):
//   secret: openssl rand -hex 32 > cluster.secret; chmod 600 cluster.secret
//           (copy it to every machine, keep it private)
//   seed:   varsync_example_cluster driver --host SEED --port 7000
//           --nodes 2 --secret-file cluster.secret TLS [--epochs E]
//   node 1: varsync_example_cluster node --host A --port 7001
//           --join SEED:7000 --name node-1 --secret-file cluster.secret TLS
//   node 2: the same with its own --host and --name node-2
// where TLS is --tls-cert, --tls-key and --tls-ca (`varsync certs`; see
// README, Security), or --insecure on a private network you trust: a node
// refuses a non-loopback address without one of them.
// Without --secret-file the seed generates a secret and prints its path.
// Only processes holding the secret can join or talk to a node.
// A node runs until Ctrl-C (or SIGTERM). Every node_config flag is
// accepted (`--help` lists them); keep the cluster on a private network.
//
// Output: the nodes as they start, a progress line per epoch (loss and
// accuracy on 2048 held-out examples of the weights as the driver reads
// them, and examples per second so far), the cluster status after the
// first run (nodes, the group's replicas and where they live, the
// variables with their on_write version), and a table per policy:
//   policy               wall s final loss  accuracy     bytes sent  ...
//   on_write               1.00     0.2439     0.892         697664  ...
//   bounded_staleness      0.65     0.2440     0.892         697864  ...
// (times vary from machine to machine and run to run).
// "bytes sent" is the tensor payload all processes serialized for the
// network during the run; "max staleness" the largest staleness of a read
// of the weights (never more than the bound, 2). The labels are noisy: the
// true weights themselves score about 0.89 on the held-out set, so 0.89
// is as good as it gets. A node lost during a run (killed, crashed, cut
// off) is a loss, not a failure: the driver prints which node and replicas
// and during which epoch, the other replicas train on (their steps
// complete with the survivors), the next run uses the nodes still there,
// and the table's "replicas" column says how many finished (e.g. 2/4).
// A variable whose actor lived on the lost node is re-hosted on a node
// left, from what the surviving replicas hold, and the driver says so
// ("variable 'X' was re-hosted from node-1 on node-2").
// A lost node started again by hand (`varsync_example_cluster node --join
// SEED --name node-1 --secret-file F`) joins under its name and trains in
// the next run.
// The driver may also run on a member of a cluster whose seed is another
// process (`node` without --join; `driver --join SEED,...`): a kill -9 of
// that seed is then the loss of a worker *and* of the directory's holder.
// The next node in registration order holds the directory, the variables
// the seed hosted are re-hosted, the job finishes, and nodes join through
// any survivor.
// Exit code 0 when both runs reached accuracy 0.8;
// 1 when one did not or a varsync call failed (the error is printed); 2 on
// bad flags; 128 + the signal number when stopped by SIGINT or SIGTERM.

#include "logistic.hpp"
#include "runtime/cli/program_flags.hpp"
#include "runtime/launch/child_process.hpp"
#include "runtime/node_flags.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

using namespace std::chrono_literals;
using varsync::errc;
using varsync::expected;
using varsync::runtime;

namespace {

// -- signals and child processes ----------------------------------------------

/// SIGINT and SIGTERM. Every mode blocks them in all threads (before the
/// runtime starts its threads) and takes them with sigwait on one thread of
/// its own, so that stopping is ordinary code instead of a signal handler.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

/// A node process the demo started.
struct child {
  std::string name;
  /// Killed (its whole process group) and reaped when destroyed.
  varsync::launch::child_process process;
};

/// The main thread starts and reaps children; the signal thread kills them.
std::mutex children_mutex;
std::vector<child> children;

/// Set by the signal thread before it kills the children: the errors the
/// main thread then sees (its nodes are lost) are not worth reporting.
std::atomic<bool> stopping{false};

/// Kills and reaps every child at once. The caller holds children_mutex.
void kill_children_locked() {
  for (auto& c : children)
    c.process.signal(SIGKILL);
  children.clear(); // reaps them
}

/// Asks every child to stop (SIGTERM: its runtime shuts down), gives them
/// `grace` to exit, then kills the rest. Returns with every child reaped.
void stop_children(std::chrono::milliseconds grace) {
  std::lock_guard guard{children_mutex};
  for (auto& c : children)
    c.process.signal(SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& c : children)
    c.process.wait(
        std::max(std::chrono::milliseconds{0},
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     deadline - std::chrono::steady_clock::now())));
  kill_children_locked();
}

/// Reaps a child that exited on its own (e.g. it could not join) and says
/// which and how; nullopt while all of them run.
std::optional<std::string> exited_child() {
  std::lock_guard guard{children_mutex};
  for (auto i = children.begin(); i != children.end(); ++i) {
    auto status = i->process.wait(std::chrono::milliseconds{0});
    if (!status)
      continue;
    auto how = status->exited
                   ? "exited with status " + std::to_string(status->code)
                   : "was killed by signal " + std::to_string(status->signal);
    auto what =
        i->name + " (pid " + std::to_string(i->process.pid()) + ") " + how;
    children.erase(i);
    return what;
  }
  return std::nullopt;
}

/// Starts `<this program> node --port 0 --join <seed> --name <name>
/// --secret-file <secret_file>`, with this program's stdout and stderr. It
/// dies with the thread that started it (the main thread, which lives
/// until the process exits).
expected<void> start_node(const std::string& seed, const std::string& name,
                          const std::string& secret_file) {
  varsync::launch::launch_options how;
  how.argv0 = "varsync_example_cluster";
  how.stdout_to = varsync::launch::stream::inherit;
  how.stderr_to = varsync::launch::stream::inherit;
  std::lock_guard guard{children_mutex};
  auto started = varsync::launch::child_process::start(
      "/proc/self/exe",
      {"node", "--port", "0", "--join", seed, "--name", name, "--secret-file",
       secret_file},
      std::move(how));
  if (!started)
    return varsync::error{errc::invalid_argument,
                          "cannot start " + name + ": " +
                              started.error().message()};
  children.push_back({name, std::move(*started)});
  return {};
}

/// With --keep-running, once the job finished: its exit status, the
/// driver's status when a signal then stops it (else -1). The signal
/// thread then releases the driver, which stops the nodes in order.
std::atomic<int> kept_status{-1};
std::mutex keep_running_mutex;
std::condition_variable keep_running_wake;
bool keep_running_released = false;

/// The driver's reaction to SIGINT and SIGTERM, on a thread of its own:
/// kill and reap the children, then exit with 128 + the signal. The
/// destructor ends the thread when the driver finished normally.
class stop_on_signal {
public:
  stop_on_signal() : thread_{[this] { run(); }} {
    // nop
  }

  ~stop_on_signal() {
    done_ = true;
    ::pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

  stop_on_signal(const stop_on_signal&) = delete;
  stop_on_signal& operator=(const stop_on_signal&) = delete;

private:
  void run() {
    auto set = stop_signals();
    int received = 0;
    ::sigwait(&set, &received);
    if (done_)
      return;
    stopping = true;
    if (kept_status.load() >= 0) {
      // --keep-running: the job had finished; the driver stops the nodes
      // in order and exits with the job's status.
      std::lock_guard guard{keep_running_mutex};
      keep_running_released = true;
      keep_running_wake.notify_all();
      return;
    }
    std::fprintf(stderr, "driver: %s, stopping the nodes\n",
                 received == SIGINT ? "interrupted" : "terminated");
    std::lock_guard guard{children_mutex};
    kill_children_locked();
    std::_Exit(128 + received);
  }

  std::atomic<bool> done_{false};
  std::thread thread_;
};

// -- node mode ----------------------------------------------------------------

int run_node(const varsync::node_config& flags) {
  auto config = flags;
  config.tasks["train"] = example::train_task;
  auto stop = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto rt = runtime::start(config);
  if (!rt) {
    std::cerr << "node: " << rt.error().to_string() << '\n';
    return 1;
  }
  std::cout << "node " << (*rt)->node_name() << " listening on " << config.host
            << ':' << (*rt)->port() << std::endl;
  int received = 0;
  ::sigwait(&stop, &received);
  rt->reset();
  return 0;
}

// -- driver -------------------------------------------------------------------

/// What the table shows of one run.
struct run_result {
  std::string policy;
  /// Replicas whose task finished, of those that started.
  std::size_t replicas_finished = 0;
  std::size_t replicas_started = 0;
  /// Nodes lost during the run (their tasks ended with replica_lost).
  std::vector<std::string> lost_nodes;
  double seconds = 0;
  double loss = 0;
  double accuracy = 0;
  std::uint64_t bytes = 0;
  std::uint64_t max_staleness = 0;
  /// The epoch the run started at (resumed from a checkpoint; else 0).
  int first_epoch = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The names of at most `count` live nodes besides the driver, sorted.
expected<std::vector<std::string>> alive_nodes(runtime& rt, std::size_t count) {
  auto status = rt.status(5s);
  if (!status)
    return status.error();
  std::vector<std::string> nodes;
  for (const auto& node : status->nodes)
    if (node.alive && node.name != rt.node_name())
      nodes.push_back(node.name);
  std::sort(nodes.begin(), nodes.end());
  if (nodes.size() > count)
    nodes.resize(count);
  return nodes;
}

/// Waits until `count` nodes besides the driver joined, or `patience`
/// passed, or (demo) a child exited; returns their names, sorted.
expected<std::vector<std::string>>
wait_for_nodes(runtime& rt, std::size_t count,
               std::chrono::milliseconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  for (;;) {
    auto nodes = alive_nodes(rt, count);
    if (!nodes || nodes->size() >= count)
      return nodes;
    if (auto gone = exited_child())
      return varsync::error{errc::replica_lost, "node " + *gone};
    if (std::chrono::steady_clock::now() > deadline)
      return varsync::error{errc::timeout,
                            "only " + std::to_string(nodes->size()) + " of " +
                                std::to_string(count) + " nodes joined"};
    std::this_thread::sleep_for(100ms); // UI polling, not synchronization
  }
}

/// One run: starts "train" on every node, prints a line per epoch while
/// the tasks run, and returns the table's row once every task finished or
/// its node was lost. A lost node is a loss, not a failure: it is
/// reported (which node, which replicas, during which epoch) and the
/// others train on (their steps complete with the survivors; on_write's
/// mean divides by them).
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
  // The tasks create the variables; they appear once the first got there.
  std::optional<varsync::variable> weights;
  std::optional<varsync::variable> counter;
  // Each replica trains on train_examples / group_size examples per epoch
  // (the remainder is left out); the counter sums the live replicas'
  // copies, so an epoch is that many examples per live replica.
  const auto per_replica_epoch =
      static_cast<double>(example::train_examples / base.group_size);
  std::size_t live_replicas = base.group_size;
  int shown = 0;
  std::optional<double> first_count;
  // Where each variable's actor lives (the seed spreads them over the
  // nodes): a variable whose node is lost is re-hosted on another node.
  std::map<std::string, std::string> hosts;
  auto variable_hosts = [&rt] {
    std::map<std::string, std::string> result;
    if (auto status = rt.status(2s))
      for (const auto& row : status->variables)
        if (row.available)
          result[row.name] = row.node;
    return result;
  };
  // A progress line for every epoch the examples counter passed.
  auto report_progress = [&]() -> expected<void> {
    if (!weights)
      if (auto found = rt.find_variable(base.weights_name()))
        weights = *found;
    if (!counter)
      if (auto found = rt.find_variable(base.counter_name()))
        counter = *found;
    if (!weights || !counter)
      return {};
    if (hosts.empty())
      hosts = variable_hosts();
    auto count = rt.read(*counter);
    if (!count)
      return count.error();
    auto examples = count->to_double();
    auto epochs_done = std::min(
        static_cast<int>(examples / (per_replica_epoch *
                                     static_cast<double>(live_replicas))),
        base.epochs);
    if (shown >= epochs_done)
      return {};
    auto w = rt.read(*weights);
    if (!w)
      return w.error();
    auto metrics = example::evaluate(*w, test);
    // A resumed run's counter starts at the examples of the checkpoint.
    if (!first_count)
      first_count = examples;
    auto rate = (examples - *first_count) / seconds_since(start);
    for (; shown < epochs_done; ++shown)
      std::printf("  [%s] epoch %d/%d  loss %.4f  acc %.3f  examples/s %.0f\n",
                  base.policy.c_str(), shown + 1, base.epochs, metrics.loss,
                  metrics.accuracy, rate);
    std::fflush(stdout);
    return {};
  };
  // Poll the progress and the tasks until every task returned. The short
  // wait is the polling interval; a task that failed ends the run at once,
  // one whose node was lost is reported and the run goes on.
  std::vector<std::optional<std::string>> outcomes(tasks.size());
  std::vector<bool> lost(tasks.size(), false);
  auto running = tasks.size();
  while (running > 0) {
    if (auto progress = report_progress(); !progress)
      return progress.error();
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      if (outcomes[i] || lost[i])
        continue;
      auto outcome = tasks[i].wait(50ms);
      if (outcome) {
        outcomes[i] = *outcome;
        --running;
      } else if (outcome.error().code() == errc::replica_lost && !stopping) {
        lost[i] = true;
        --running;
        live_replicas -= 2;
        std::printf("driver: lost %s (replicas %zu and %zu) during epoch "
                    "%d/%d; training goes on with %zu replicas: %s\n",
                    nodes[i].c_str(), 2 * i, 2 * i + 1,
                    std::min(shown + 1, base.epochs), base.epochs,
                    live_replicas, outcome.error().message().c_str());
        std::fflush(stdout);
      } else if (outcome.error().code() != errc::timeout) {
        return varsync::error{outcome.error().code(),
                              "task on " + nodes[i] + ": " +
                                  outcome.error().message()};
      }
    }
  }
  if (auto progress = report_progress(); !progress)
    return progress.error();
  for (const auto& [name, node] : variable_hosts())
    if (auto before = hosts.find(name);
        before != hosts.end() && before->second != node)
      std::printf("driver: variable '%s' was re-hosted from %s on %s\n",
                  name.c_str(), before->second.c_str(), node.c_str());
  run_result result;
  result.policy = base.policy;
  result.seconds = seconds_since(start);
  result.bytes = rt.stats().bytes_sent - bytes_before;
  result.replicas_started = base.group_size;
  result.replicas_finished = live_replicas;
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (lost[i])
      result.lost_nodes.push_back(nodes[i]);
  if (live_replicas == 0)
    return varsync::error{errc::replica_lost, "every node was lost"};
  for (const auto& outcome : outcomes) {
    if (!outcome)
      continue; // its node was lost
    auto stats = example::parse_task_result(*outcome);
    result.first_epoch = std::max(result.first_epoch, stats.first_epoch);
    result.bytes += stats.bytes_sent;
    result.max_staleness = std::max(result.max_staleness, stats.max_staleness);
  }
  if (!weights)
    return varsync::error{errc::unknown_variable, base.weights_name() +
                                                      ": the tasks finished "
                                                      "without creating it"};
  // bounded_staleness: every replica pushed its last deltas (clock) and
  // caught up, so the server value holds every update.
  auto w = rt.read(*weights);
  if (!w)
    return w.error();
  auto metrics = example::evaluate(*w, test);
  result.loss = metrics.loss;
  result.accuracy = metrics.accuracy;
  return result;
}

/// How the driver runs.
struct driver_options {
  varsync::node_config config;
  /// Nodes besides the driver; each holds two replicas.
  std::size_t nodes = 2;
  /// Demo: start the nodes as child processes.
  bool launch_nodes = true;
  int epochs = 5;
  /// Continue from the newest checkpoint under config.checkpoint_dir.
  bool resume = false;
  /// After training, keep the cluster up (to look at its dashboard or
  /// `varsync status`) until Ctrl-C or SIGTERM.
  bool keep_running = false;
};

/// Both runs and the table; the exit code.
int train_and_report(runtime& rt, const driver_options& options) {
  auto patience = options.launch_nodes ? std::chrono::milliseconds{15s}
                                       : std::chrono::milliseconds{120s};
  auto nodes = wait_for_nodes(rt, options.nodes, patience);
  if (nodes && nodes->empty())
    nodes = varsync::error{errc::invalid_argument, "no nodes"};
  if (!nodes) {
    std::cerr << "driver: " << nodes.error().to_string() << '\n';
    return 1;
  }
  std::cout << "nodes joined: " << nodes->size() << std::endl;
  auto test = example::make_dataset(example::test_examples, 1000);
  std::vector<run_result> results;
  int status = 0;
  for (const auto* policy : {"on_write", "bounded_staleness"}) {
    example::settings settings;
    settings.policy = policy;
    settings.epochs = options.epochs;
    settings.group_size = 2 * nodes->size();
    if (options.resume)
      settings.resume = options.config.checkpoint_dir;
    std::cout << "training with " << policy
              << (settings.policy == "bounded_staleness" ? " (s = 2)" : "")
              << ", mean of " << settings.group_size << " replicas"
              << std::endl;
    auto result = train(rt, *nodes, settings, test);
    if (!result) {
      if (!stopping)
        std::cerr << "driver: " << policy << ": " << result.error().to_string()
                  << '\n';
      status = 1;
      break;
    }
    if (result->first_epoch > 0)
      std::printf("driver: %s resumed at epoch %d/%d from a checkpoint under "
                  "%s\n",
                  policy, result->first_epoch, options.epochs,
                  options.config.checkpoint_dir.c_str());
    results.push_back(*result);
    // The next run trains on the nodes there now: the survivors, and a
    // lost node started again (it joined under its name).
    if (auto now = alive_nodes(rt, options.nodes); now && !now->empty()) {
      for (const auto& node : *now)
        if (std::find(result->lost_nodes.begin(), result->lost_nodes.end(),
                      node) != result->lost_nodes.end())
          std::printf("driver: %s is back; it trains in the next run\n",
                      node.c_str());
      *nodes = std::move(*now);
    } else {
      std::erase_if(*nodes, [&](const std::string& node) {
        return std::find(result->lost_nodes.begin(), result->lost_nodes.end(),
                         node) != result->lost_nodes.end();
      });
    }
    // Once, when there is something to see: nodes, group and variables.
    if (results.size() == 1) {
      auto cluster = rt.status(5s);
      if (!cluster) {
        std::cerr << "driver: status: " << cluster.error().to_string() << '\n';
        status = 1;
        break;
      }
      std::cout << to_string(*cluster) << std::flush;
    }
  }
  if (results.empty())
    return status;
  std::printf("\n%-18s %8s %10s %9s %14s %14s %9s\n", "policy", "wall s",
              "final loss", "accuracy", "bytes sent", "max staleness",
              "replicas");
  for (const auto& r : results) {
    auto finished = std::to_string(r.replicas_finished) + "/" +
                    std::to_string(r.replicas_started);
    std::printf(
        "%-18s %8.2f %10.4f %9.3f %14llu %14llu %9s\n", r.policy.c_str(),
        r.seconds, r.loss, r.accuracy, static_cast<unsigned long long>(r.bytes),
        static_cast<unsigned long long>(r.max_staleness), finished.c_str());
  }
  for (const auto& r : results)
    for (const auto& node : r.lost_nodes)
      std::printf("%s: %s was lost; %zu of %zu replicas finished\n",
                  r.policy.c_str(), node.c_str(), r.replicas_finished,
                  r.replicas_started);
  std::fflush(stdout);
  for (const auto& r : results)
    if (r.accuracy < example::required_accuracy) {
      std::fprintf(stderr, "driver: %s reached accuracy %.3f < %.2f\n",
                   r.policy.c_str(), r.accuracy, example::required_accuracy);
      status = 1;
    }
  return status;
}

int run_driver(const driver_options& options) {
  auto config = options.config;
  // A resumed run saves no automatic checkpoint: its first saves would
  // race with the tasks' restore and could become the newest checkpoint,
  // holding the fresh variables instead of the resumed ones.
  if (options.resume)
    config.checkpoint_dir.clear();
  const bool seed = config.join.empty();
  if (config.name.empty())
    config.name = seed ? "seed" : "driver";
  config.tasks["train"] = example::train_task;
  auto stop = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  stop_on_signal on_signal;
  auto rt = runtime::start(config);
  if (!rt) {
    std::cerr << "driver: " << rt.error().to_string() << '\n';
    return 1;
  }
  auto address = config.host + ":" + std::to_string((*rt)->port());
  if (seed)
    std::cout << "seed listening on " << address << std::endl;
  else
    std::cout << "driver listening on " << address << " (joined "
              << varsync::to_string(config.join.front()) << ")" << std::endl;
  if (auto http = (*rt)->http_port(); http != 0)
    std::cout << "dashboard at " << (config.uses_tls() ? "https://" : "http://")
              << config.host << ':' << http << "/ (live; metrics at /metrics)"
              << std::endl;
  int status = 0;
  if (options.launch_nodes) {
    for (std::size_t i = 1; i <= options.nodes && status == 0; ++i)
      if (auto started = start_node(address, "node-" + std::to_string(i),
                                    (*rt)->secret_file());
          !started) {
        std::cerr << "driver: " << started.error().to_string() << '\n';
        status = 1;
      }
  } else {
    std::cout << "waiting for " << options.nodes << " nodes to join " << address
              << " (with --secret-file " << (*rt)->secret_file() << ")"
              << std::endl;
  }
  if (status == 0)
    status = train_and_report(**rt, options);
  if (options.keep_running) {
    kept_status = status;
    std::cout << "the job finished (exit status " << status
              << "); the cluster stays up until Ctrl-C" << std::endl;
    std::unique_lock lock{keep_running_mutex};
    keep_running_wake.wait(lock, [] { return keep_running_released; });
    std::cout << "driver: stopping the cluster" << std::endl;
  }
  // The nodes stop cleanly first (their runtimes shut down), the driver's
  // runtime after them: nothing this program started outlives it.
  stop_children(5s);
  rt->reset();
  return status;
}

// -- command line -------------------------------------------------------------

} // namespace

int main(int argc, char** argv) {
  // Three modes: the demo (no subcommand), `driver` and `node`. The node
  // flags and the driver's own belong to the program: the subcommands
  // pass them up (fallthrough), so they may come before or after the
  // mode's word.
  CLI::App app{"Data-parallel SGD across varsync nodes; without a mode: the "
               "demo, a seed and 2 node processes on 127.0.0.1"};
  varsync::cli::add_version_flag(app);
  app.require_subcommand(0, 1);
  varsync::node_config config;
  varsync::detail::add_node_options(app, config);
  driver_options options;
  auto* epochs = app.add_option("--epochs", options.epochs,
                                "epochs of each run (driver, demo)")
                     ->option_text("COUNT")
                     ->check(varsync::cli::positive_number());
  auto* resume = app.add_flag("--resume", options.resume,
                              "continue from the newest checkpoint under "
                              "--checkpoint-dir (driver, demo)");
  auto* keep_running =
      app.add_flag("--keep-running", options.keep_running,
                   "after training, keep the cluster up until Ctrl-C (driver, "
                   "demo)");
  auto* driver = app.add_subcommand(
      "driver", "the seed (or with --join a member of a running cluster); "
                "waits for --nodes nodes started by hand");
  driver->fallthrough();
  driver->add_option("--nodes", options.nodes, "nodes to wait for")
      ->option_text("COUNT")
      ->check(varsync::cli::positive_number());
  auto* node = app.add_subcommand(
      "node", "a node (without --join: the seed of a new cluster); runs "
              "until Ctrl-C");
  node->fallthrough();
  app.footer("Add --checkpoint-dir DIR [--checkpoint-every T] to save the "
             "job as it trains,\nand --resume to continue from the newest "
             "checkpoint under DIR. --http-port 0 serves the live\n"
             "dashboard and /metrics (the URL is printed).");
  if (auto done = varsync::cli::parse_flags(app, argc, argv, &config))
    return *done;
  if (node->parsed()) {
    for (const auto* driver_only : {epochs, resume, keep_running})
      if (driver_only->count() > 0) {
        std::cerr << VARSYNC_PROGRAM " node: " << driver_only->get_name()
                  << " is for the driver and the demo, not a node\n";
        return 2;
      }
    // Without --join the node is the seed of a new cluster (the driver
    // then joins it with --join).
    return run_node(config);
  }
  options.config = config;
  options.launch_nodes = !driver->parsed();
  if (options.resume && options.config.checkpoint_dir.empty()) {
    std::cerr << "--resume: needs --checkpoint-dir (where the checkpoints "
                 "are)\n";
    return 2;
  }
  if (!options.config.join.empty() && options.launch_nodes) {
    std::cerr << "--join: the demo is the seed; use `driver --join` to run "
                 "the driver on a member of a running cluster\n";
    return 2;
  }
  // The driver places the variable actors on the nodes, not on itself,
  // unless told otherwise: a lost node then also loses variable hosts,
  // which the cluster re-hosts on the nodes left.
  if (app.get_option("--spread-variables")->count() == 0)
    options.config.spread_variables = true;
  if (app.get_option("--serve-variables")->count() == 0 && options.nodes > 0)
    options.config.serve_variables = false;
  return run_driver(options);
}
