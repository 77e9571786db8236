// stragglers: time to a target loss under stragglers, per synchronization
// policy — what bounded staleness buys.
//
// Workload: the logistic-regression SGD of examples/cluster (same data
// generator and step), 4 replicas driven by 4 threads of one process over
// an embedded runtime, weights f64[17] with aggregation mean. Every
// iteration simulates its compute by sleeping `--compute-us` (default
// 1000 us) times a straggler factor:
//   transient:  every iteration of every worker is 5x slower with
//               probability 0.1 (seeded per worker: every policy sees the
//               same schedule);
//   persistent: worker 3 is always 3x slower.
// Policies: on_write (assign_add is a collective step), bounded_staleness
// with s = 0 (bulk synchronous), 1, 3 and unbounded (assign_add + clock()).
// Replica 0 evaluates the held-out loss of the weights it reads every 8
// iterations; the time when it first drops below `--target` (default
// 0.26) is the figure. Output, one line per (scenario, policy):
//   RESULT bench=stragglers scenario=transient policy=ssp3 seconds=0.41
//          iterations=... speedup_vs_s0=...
// The speed-up is over s = 0 in the same run, in the same process.

#include "../examples/cluster/logistic.hpp"
#include "runtime/cli/program_flags.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr std::size_t replicas = 4;
constexpr std::size_t batch = 32;
constexpr int max_iterations = 3000;

struct policy_case {
  std::string name;
  varsync::synchronization sync;
  /// bounded_staleness: the staleness bound; periodic: the period k.
  std::uint64_t bound;
};

struct outcome {
  std::optional<double> seconds; // to target; nullopt: not reached
  int iterations = 0;
};

/// Slowdown of iteration `k` of `worker` in `scenario`.
double slowdown(const std::string& scenario, std::size_t worker,
                std::mt19937_64& random) {
  if (scenario == "persistent")
    return worker == replicas - 1 ? 3.0 : 1.0;
  std::bernoulli_distribution straggle{0.1};
  return straggle(random) ? 5.0 : 1.0;
}

outcome run(const policy_case& policy, const std::string& scenario,
            std::chrono::microseconds compute, double target,
            const example::dataset& test) {
  varsync::runtime rt;
  auto group = rt.create_group("workers", replicas);
  varsync::variable_options options;
  options.sync = policy.sync;
  options.aggregation = varsync::aggregation::mean;
  if (policy.sync == varsync::synchronization::bounded_staleness)
    options.staleness_bound = policy.bound;
  if (policy.sync == varsync::synchronization::periodic)
    options.period = policy.bound;
  auto weights =
      rt.create_variable(*group, "w",
                         *varsync::tensor::filled(varsync::dtype::f64,
                                                  {example::features + 1}, 0.0),
                         options);
  if (!group || !weights) {
    std::fprintf(stderr, "setup failed\n");
    return {};
  }
  const bool stale = policy.sync == varsync::synchronization::bounded_staleness;
  const auto shard = example::train_examples / replicas;
  // Replica 0 decides the last iteration when it sees the target; every
  // worker runs up to it (on_write steps are collectives: all replicas
  // must make the same number of them).
  std::atomic<int> stop_at{max_iterations};
  outcome result;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::size_t index = 0; index < replicas; ++index) {
    threads.emplace_back([&, index] {
      auto r = *group->at(index);
      auto data = example::make_dataset(shard, 100 + index);
      std::mt19937_64 random{1000 + index};
      std::size_t first = 0;
      for (int k = 0; k < stop_at.load(); ++k) {
        auto w = r.read(*weights);
        if (!w)
          return;
        if (index == 0 && !result.seconds && k % 8 == 0 &&
            example::evaluate(*w, test).loss < target) {
          result.seconds = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start)
                               .count();
          result.iterations = k;
          stop_at = k + 1;
        }
        auto step = example::sgd_step(w->values<double>(), data, first,
                                      first + batch, 0.5);
        first = (first + batch) % shard;
        // Simulated compute (the workload), stretched for stragglers.
        std::this_thread::sleep_for(
            std::chrono::duration_cast<std::chrono::microseconds>(
                compute * slowdown(scenario, index, random)));
        auto delta = *varsync::tensor::from_values<double>(
            std::span<const double>{step}, {example::features + 1});
        if (!r.assign_add(*weights, delta, 30s))
          return;
        if (stale && !r.clock(30s))
          return;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  return result;
}

} // namespace

int main(int argc, char** argv) {
  int compute_us = 1000;
  double target = 0.26;
  std::vector<std::string> scenarios{"transient", "persistent"};
  CLI::App app{"Time to a target loss under stragglers, per policy"};
  varsync::cli::add_version_flag(app);
  app.add_option("--compute-us", compute_us, "simulated compute per step")
      ->option_text("US")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--target", target, "the test loss to reach")
      ->option_text("LOSS");
  app.add_option("--scenario", scenarios, "transient and/or persistent")
      ->option_text("NAME")
      ->check(CLI::IsMember({"transient", "persistent"}));
  if (auto done = varsync::cli::parse_flags(app, argc, argv))
    return *done;
  auto compute = std::chrono::microseconds{compute_us};
  auto test = example::make_dataset(example::test_examples, 1000);
  const std::vector<policy_case> policies{
      {"on_write", varsync::synchronization::on_write, 0},
      {"ssp0", varsync::synchronization::bounded_staleness, 0},
      {"ssp1", varsync::synchronization::bounded_staleness, 1},
      {"ssp3", varsync::synchronization::bounded_staleness, 3},
      {"unbounded", varsync::synchronization::bounded_staleness,
       varsync::unbounded_staleness},
      {"periodic4", varsync::synchronization::periodic, 4},
      {"periodic16", varsync::synchronization::periodic, 16},
  };
  for (const auto& scenario : scenarios) {
    std::map<std::string, outcome> results;
    for (const auto& policy : policies)
      results[policy.name] = run(policy, scenario, compute, target, test);
    auto base = results["ssp0"].seconds;
    for (const auto& policy : policies) {
      const auto& r = results[policy.name];
      if (r.seconds)
        std::printf("RESULT bench=stragglers scenario=%s policy=%s "
                    "seconds=%.4f iterations=%d speedup_vs_s0=%.3f\n",
                    scenario.c_str(), policy.name.c_str(), *r.seconds,
                    r.iterations, base ? *base / *r.seconds : 0.0);
      else
        std::printf("RESULT bench=stragglers scenario=%s policy=%s "
                    "seconds=not_reached\n",
                    scenario.c_str(), policy.name.c_str());
    }
  }
  return 0;
}
