// stragglers: stale synchronous parallel (bounded_staleness) and local
// steps averaged every k (periodic) vs. eager broadcast (on_write) when
// some iterations are slow.
//
// What it shows: the same data-parallel SGD, run three times with a
// different policy for the model's parameters. The model is linear,
// y = w . x + b with 8 features, fitted to noise-free data from a seeded
// generator; the parameters are one f64[9] variable (w[0] ... w[7], then b)
// with aggregation mean; 4 replicas are driven by 4 std::threads of one
// process sharing one embedded `varsync::runtime`. Per iteration a replica
// reads the parameters (`replica::read`), computes the gradient on its own
// minibatch, and updates:
//   - bounded_staleness, staleness_bound 2: `assign_add(params, -lr * grad)`
//     only changes the replica's cache (no message), then `clock()` pushes
//     the delta and waits only while this replica is more than 2 clocks
//     ahead of the slowest one;
//   - bounded_staleness, staleness_bound 0: the same calls, bulk
//     synchronous: every clock() waits for the slowest replica;
//   - on_write: `assign_sub(params, lr * grad)` is a collective step; it
//     returns when all 4 replicas contributed and the mean is installed;
//   - periodic k = 1, 4, 16: the same call changes only the replica's copy,
//     except every k-th, which averages the replicas' accumulated changes
//     into the parameters (model averaging, as in Local SGD); k = 1 is
//     on_write.
// Every iteration simulates its compute by sleeping 1 ms, or 5 ms with
// probability 0.1: a transient straggler. Each replica draws from its own
// seeded generator, so the three runs see the same straggler schedule.
// With s = 2 a straggler's delay is absorbed by the others running up to 2
// clocks ahead (and it catches up during its fast iterations); with s = 0
// and on_write everyone waits in every iteration where any replica
// straggles (1 - 0.9^4 = 34% of them). s = 0 sums the same deltas in the
// same order as an on_write step, so those two end with the same loss.
//
// Run:
//   cmake --build build --target varsync_example_stragglers
//   ./build/varsync_example_stragglers
//
// It prints one row per variant: iterations per second (all replicas'
// iterations / wall time), the wall time until the loss on a held-out set,
// computed from replica 0's view every 5 iterations, first fell below the
// target, the final loss (cross-replica read), from `replica::stats()` the
// largest and the mean staleness of the reads and the time per replica
// spent in clock(), and the time per replica blocked in any varsync call
// (measured here; for on_write that is the collective), then the ratios:
//   variant                 iter/s   target at  final loss max stale ...
//   bounded_staleness s=2     1886     0.300 s    4.37e-09         2 ...
//   bounded_staleness s=0     1394     0.394 s    9.31e-09         0 ...
//   on_write                  1411     0.391 s    9.31e-09         - ...
//   ...
//   s=2 vs on_write: 1.34x iterations/s
//   s=2 vs s=0: 1.35x
// (numbers vary from machine to machine and run to run).
// Exit code 1 when a variant did not reach the target loss or a varsync
// call failed (its error is printed); 0 otherwise. The speed ratios are
// printed, never checked: timing on a shared machine is noisy. It takes
// about 3 s.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

namespace {

using namespace std::chrono_literals;
using wall_clock = std::chrono::steady_clock;

constexpr std::size_t replica_count = 4;
constexpr std::size_t feature_count = 8;
/// w[0] ... w[feature_count - 1], then the bias b.
constexpr std::size_t parameter_count = feature_count + 1;
constexpr std::size_t training_count = 4096;
constexpr std::size_t held_out_count = 512;
/// Examples per replica per iteration.
constexpr std::size_t shard_size = 16;
constexpr std::size_t iteration_count = 300;
constexpr double learning_rate = 0.1;
constexpr double target_loss = 1e-3;
/// Replica 0 measures the held-out loss every this many iterations.
constexpr std::size_t loss_every = 5;
constexpr auto base_compute = 1ms;
constexpr double straggler_probability = 0.1;
constexpr int straggler_factor = 5;
constexpr unsigned data_seed = 20240601;
/// Replica i draws its stragglers from a generator seeded straggler_seed + i.
constexpr unsigned straggler_seed = 1000;

struct sample {
  std::array<double, feature_count> x;
  double y;
};

struct data_set {
  std::vector<sample> training;
  std::vector<sample> held_out;
};

/// y = w_true . x + b_true, x uniform in [-1, 1]^8, w_true uniform in
/// [-2, 2]^8, b_true uniform in [-1, 1]; no noise, so SGD can fit it.
data_set make_data() {
  std::mt19937_64 random{data_seed};
  std::uniform_real_distribution<double> uniform{-1.0, 1.0};
  std::array<double, feature_count> true_weights;
  for (auto& w : true_weights)
    w = 2 * uniform(random);
  auto true_bias = uniform(random);
  auto draw = [&] {
    sample s;
    s.y = true_bias;
    for (std::size_t j = 0; j < feature_count; ++j) {
      s.x[j] = uniform(random);
      s.y += true_weights[j] * s.x[j];
    }
    return s;
  };
  data_set data;
  for (std::size_t i = 0; i < training_count; ++i)
    data.training.push_back(draw());
  for (std::size_t i = 0; i < held_out_count; ++i)
    data.held_out.push_back(draw());
  return data;
}

double predict(std::span<const double> params, const sample& s) {
  double result = params[feature_count];
  for (std::size_t j = 0; j < feature_count; ++j)
    result += params[j] * s.x[j];
  return result;
}

/// Mean squared error of `params` on `samples`.
double loss(std::span<const double> params,
            const std::vector<sample>& samples) {
  double total = 0;
  for (const auto& s : samples) {
    auto residual = predict(params, s) - s.y;
    total += residual * residual;
  }
  return total / static_cast<double>(samples.size());
}

double seconds_between(wall_clock::time_point from, wall_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double milliseconds(std::chrono::nanoseconds x) {
  return std::chrono::duration<double, std::milli>(x).count();
}

/// Prints that `what` failed with `err`.
void report(const std::string& what, const varsync::error& err) {
  std::fprintf(stderr, "stragglers: %s failed: %s\n", what.c_str(),
               err.to_string().c_str());
}

/// One of the three runs.
struct variant {
  /// What the output calls it.
  const char* title;
  /// Names its group and variable (each run has its own).
  const char* key;
  varsync::synchronization sync;
  std::uint64_t staleness_bound;
  /// periodic only: synchronize every `period`-th update.
  std::uint64_t period = 0;
};

/// What one worker thread observed.
struct worker_result {
  /// Every varsync call succeeded.
  bool ok = false;
  /// Iterations completed.
  std::size_t iterations = 0;
  /// Time in read, update and clock() calls.
  std::chrono::nanoseconds blocked{0};
  /// Replica 0 only: seconds after the start when the held-out loss of its
  /// view was first below the target.
  std::optional<double> reached_at;
};

/// What one run observed.
struct outcome {
  /// Every varsync call succeeded.
  bool calls_ok = false;
  /// Replica 0's view reached the target loss and the final value is below
  /// it.
  bool reached = false;
  /// Iterations completed by all replicas / wall time.
  double iterations_per_second = 0;
  std::optional<double> seconds_to_target;
  std::optional<double> final_loss;
  /// Summed over the replicas' stats(): reads of bounded_staleness
  /// variables, the largest staleness, the mean staleness.
  std::uint64_t stale_reads = 0;
  /// clock() calls of all replicas (0 for on_write).
  std::uint64_t clocks = 0;
  std::uint64_t max_staleness = 0;
  double mean_staleness = 0;
  /// Per replica, averaged: time in clock() (stats) and time blocked in
  /// any varsync call (measured by the worker loop).
  double clock_wait_ms = 0;
  double blocked_ms = 0;
};

/// The worker loop of replica `self`: iteration_count SGD iterations.
worker_result train(varsync::replica self, const varsync::variable& params,
                    bool stale_synchronous, const data_set& data,
                    wall_clock::time_point start, std::atomic<bool>& stop) {
  worker_result result;
  auto index = self.index();
  std::mt19937 random{straggler_seed + static_cast<unsigned>(index)};
  std::bernoulli_distribution straggles{straggler_probability};
  auto fail = [&](const char* what, const varsync::error& err) {
    report("replica " + std::to_string(index) + ": " + what, err);
    return result;
  };
  // Times a varsync call into result.blocked.
  auto timed = [&](auto&& call) {
    auto before = wall_clock::now();
    auto answer = call();
    result.blocked += wall_clock::now() - before;
    return answer;
  };
  auto check_loss = [&](std::span<const double> values) {
    if (index == 0 && !result.reached_at &&
        loss(values, data.held_out) < target_loss)
      result.reached_at = seconds_between(start, wall_clock::now());
  };
  for (std::size_t step = 0; step < iteration_count; ++step) {
    if (stop)
      return result;
    // bounded_staleness: the local cache, unless it misses updates older
    // than s clocks; on_write: the installed value. No message either way
    // in the common case.
    auto current = timed([&] { return self.read(params); });
    if (!current)
      return fail("read", current.error());
    auto values = current->values<double>();
    if (step % loss_every == 0)
      check_loss(values);
    // The gradient of 1/2 (w . x + b - y)^2 averaged over this replica's
    // shard of minibatch `step`, times the learning rate.
    std::vector<double> scaled_gradient(parameter_count, 0.0);
    auto first =
        (step * replica_count + index) * shard_size % data.training.size();
    for (auto i = first; i < first + shard_size; ++i) {
      const auto& s = data.training[i];
      auto residual = predict(values, s) - s.y;
      for (std::size_t j = 0; j < feature_count; ++j)
        scaled_gradient[j] += residual * s.x[j];
      scaled_gradient[feature_count] += residual;
    }
    for (auto& g : scaled_gradient)
      g *= learning_rate / static_cast<double>(shard_size);
    // The rest of the "compute", sometimes slow.
    std::this_thread::sleep_for(
        straggles(random) ? straggler_factor * base_compute : base_compute);
    if (stale_synchronous) {
      // assign_add(params, -lr * grad) is local: the cache changes at once
      // and clock() pushes the delta.
      for (auto& g : scaled_gradient)
        g = -g;
      auto added = timed([&] {
        return self.assign_add(params, varsync::tensor{scaled_gradient});
      });
      if (!added)
        return fail("assign_add", added.error());
      auto clocked = timed([&] { return self.clock(); });
      if (!clocked)
        return fail("clock", clocked.error());
    } else {
      // Collective: returns when every replica contributed to this step.
      auto subtracted = timed([&] {
        return self.assign_sub(params, varsync::tensor{scaled_gradient});
      });
      if (!subtracted)
        return fail("assign_sub", subtracted.error());
    }
    ++result.iterations;
  }
  // The view after the last update, in case the target was reached late.
  auto last = timed([&] { return self.read(params); });
  if (!last)
    return fail("read", last.error());
  check_loss(last->values<double>());
  result.ok = true;
  return result;
}

outcome run(varsync::runtime& rt, const variant& how, const data_set& data) {
  outcome result;
  auto fail = [&](const char* what, const varsync::error& err) {
    report(what, err);
    return result;
  };
  auto group =
      rt.create_group(std::string{"workers_"} + how.key, replica_count);
  if (!group)
    return fail("create_group", group.error());
  varsync::variable_options options;
  options.sync = how.sync;
  options.aggregation = varsync::aggregation::mean;
  options.staleness_bound = how.staleness_bound;
  options.period = how.period;
  auto params = rt.create_variable(
      *group, std::string{"params_"} + how.key,
      varsync::tensor{std::vector<double>(parameter_count)}, options);
  if (!params)
    return fail("create_variable", params.error());
  std::vector<varsync::replica> replicas;
  for (std::size_t index = 0; index < replica_count; ++index) {
    auto self = group->at(index);
    if (!self)
      return fail("replica_group::at", self.error());
    replicas.push_back(*self);
  }

  auto stale_synchronous =
      how.sync == varsync::synchronization::bounded_staleness;
  std::atomic<bool> stop{false};
  std::array<worker_result, replica_count> results;
  std::vector<std::thread> workers;
  auto start = wall_clock::now();
  for (std::size_t index = 0; index < replica_count; ++index) {
    workers.emplace_back([&, index] {
      results[index] =
          train(replicas[index], *params, stale_synchronous, data, start, stop);
      // A failed replica stops the others (their calls waiting for it end
      // at the deadline).
      if (!results[index].ok)
        stop = true;
    });
  }
  for (auto& worker : workers)
    worker.join();
  auto seconds = seconds_between(start, wall_clock::now());

  std::size_t iterations = 0;
  for (const auto& x : results)
    iterations += x.iterations;
  result.iterations_per_second = static_cast<double>(iterations) / seconds;
  result.seconds_to_target = results[0].reached_at;
  double staleness_sum = 0;
  for (std::size_t index = 0; index < replica_count; ++index) {
    auto stats = replicas[index].stats();
    result.stale_reads += stats.stale_reads;
    result.clocks += stats.clock;
    result.max_staleness = std::max(result.max_staleness, stats.max_staleness);
    staleness_sum +=
        stats.mean_staleness * static_cast<double>(stats.stale_reads);
    result.clock_wait_ms +=
        milliseconds(stats.clock_wait) / static_cast<double>(replica_count);
    result.blocked_ms += milliseconds(results[index].blocked) /
                         static_cast<double>(replica_count);
  }
  if (result.stale_reads > 0)
    result.mean_staleness =
        staleness_sum / static_cast<double>(result.stale_reads);
  // Cross-replica read: every pushed delta (bounded_staleness) or the
  // installed value (on_write).
  auto final_params = rt.read(*params);
  if (!final_params)
    return fail("runtime::read", final_params.error());
  result.final_loss = loss(final_params->values<double>(), data.held_out);
  result.calls_ok = std::all_of(results.begin(), results.end(),
                                [](const worker_result& x) { return x.ok; });
  result.reached =
      result.seconds_to_target.has_value() && *result.final_loss < target_loss;
  return result;
}

void print_row(const variant& how, const outcome& result) {
  std::printf("%-22s %7.0f", how.title, result.iterations_per_second);
  if (result.seconds_to_target)
    std::printf(" %9.3f s", *result.seconds_to_target);
  else
    std::printf(" %11s", "not reached");
  if (result.final_loss)
    std::printf(" %11.2e", *result.final_loss);
  else
    std::printf(" %11s", "-");
  if (result.stale_reads > 0)
    std::printf(" %9llu %10.2f",
                static_cast<unsigned long long>(result.max_staleness),
                result.mean_staleness);
  else
    std::printf(" %9s %10s", "-", "-");
  if (result.clocks > 0)
    std::printf(" %10.0f", result.clock_wait_ms);
  else
    std::printf(" %10s", "-");
  std::printf(" %10.0f\n", result.blocked_ms);
}

} // namespace

int main(int argc, char** argv) {
  // --help and --version (CLI11; VARSYNC_PROGRAM and VARSYNC_VERSION come
  // from CMake). The example takes no other flags.
  CLI::App flags{"varsync example: see the comment at the top of "
                 "examples/stragglers/main.cpp"};
  flags.set_version_flag("--version", VARSYNC_PROGRAM " " VARSYNC_VERSION);
  CLI11_PARSE(flags, argc, argv);
  auto data = make_data();
  // Short deadlines: if a replica fails, the others' calls end in seconds.
  varsync::runtime_options settings;
  settings.default_timeout = 10s;
  varsync::runtime rt{settings};

  const std::array<variant, 6> variants{{
      {"bounded_staleness s=2", "ssp2",
       varsync::synchronization::bounded_staleness, 2},
      {"bounded_staleness s=0", "ssp0",
       varsync::synchronization::bounded_staleness, 0},
      {"on_write", "on_write", varsync::synchronization::on_write, 0},
      {"periodic k=1", "periodic1", varsync::synchronization::periodic, 0, 1},
      {"periodic k=4", "periodic4", varsync::synchronization::periodic, 0, 4},
      {"periodic k=16", "periodic16", varsync::synchronization::periodic, 0,
       16},
  }};
  std::printf("linear regression, %zu features, %zu replicas x %zu "
              "iterations of %zu examples, lr %.2f\n",
              feature_count, replica_count, iteration_count, shard_size,
              learning_rate);
  std::printf("compute %lld ms per iteration, %lld ms with probability %.2f; "
              "target held-out loss %.0e\n\n",
              static_cast<long long>(base_compute.count()),
              static_cast<long long>(straggler_factor * base_compute.count()),
              straggler_probability, target_loss);
  std::printf("%-22s %7s %11s %11s %9s %10s %10s %10s\n", "variant", "iter/s",
              "target at", "final loss", "max stale", "mean stale",
              "clock() ms", "blocked ms");
  std::array<outcome, variants.size()> outcomes;
  auto calls_ok = true;
  auto reached = true;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    outcomes[i] = run(rt, variants[i], data);
    print_row(variants[i], outcomes[i]);
    if (!outcomes[i].calls_ok)
      std::fprintf(stderr, "stragglers: %s: a varsync call failed (above)\n",
                   variants[i].title);
    else if (!outcomes[i].reached)
      std::fprintf(stderr,
                   "stragglers: %s: the loss did not reach or did not stay "
                   "below the target %.0e\n",
                   variants[i].title, target_loss);
    calls_ok = calls_ok && outcomes[i].calls_ok;
    reached = reached && outcomes[i].reached;
  }
  std::printf("stale: staleness of the replicas' reads; clock() ms: time per "
              "replica in clock()\n(both from replica::stats()); blocked ms: "
              "time per replica in read, update\nand clock() calls, measured "
              "by the worker loop\n\n");
  const auto& s2 = outcomes[0];
  const auto& s0 = outcomes[1];
  const auto& eager = outcomes[2];
  // Printed, not checked: the ratios depend on the machine and its load.
  if (calls_ok) {
    std::printf("s=2 vs on_write: %.2fx iterations/s\n",
                s2.iterations_per_second / eager.iterations_per_second);
    std::printf("s=2 vs s=0: %.2fx\n",
                s2.iterations_per_second / s0.iterations_per_second);
    for (std::size_t i = 4; i < variants.size(); ++i) {
      std::printf("%s vs on_write: %.2fx iterations/s", variants[i].title,
                  outcomes[i].iterations_per_second /
                      eager.iterations_per_second);
      if (outcomes[i].seconds_to_target && eager.seconds_to_target)
        std::printf(", time to target %.2fx",
                    *outcomes[i].seconds_to_target / *eager.seconds_to_target);
      std::printf("\n");
    }
  } else {
    std::printf("no comparison: a variant stopped on an error\n");
  }
  return calls_ok && reached ? 0 : 1;
}
