// Stale synchronous parallel vs. eager broadcast under transient stragglers.
//
// What it shows: the same data-parallel SGD (linear regression, 4 replicas
// as 4 threads of one process) run with the weights as
//   - bounded_staleness, s = 2: assign_add is local, clock() waits only
//     when a replica is more than 2 clocks ahead of the slowest;
//   - bounded_staleness, s = 0: bulk synchronous, every clock waits;
//   - on_write / mean: every update is a collective step.
// Every iteration "computes" for 1 ms, and with probability 0.1 (seeded per
// replica) for 5 ms: a transient straggler. With s = 2 a straggler's delay
// is absorbed by the others running ahead; with s = 0 and on_write everyone
// waits for it at every iteration.
//
// Run: build/varsync_example_stragglers
// Prints per variant: iterations per second, time to reach the target loss,
// the final loss and the staleness / clock-wait counters, then the ratios.
// Exit code 0 when every variant reached the target loss without an error;
// the speed ratios are printed, not enforced (machines are noisy).

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::size_t replicas = 4;
constexpr std::size_t features = 8;
constexpr int iterations = 300;
constexpr std::size_t batch = 16;
constexpr double learning_rate = 0.05;
constexpr double target_loss = 1e-3;
constexpr auto base_compute = 1ms;
constexpr double straggler_probability = 0.1;
constexpr int straggler_factor = 5;

struct example {
  std::array<double, features> x;
  double y;
};

/// y = w_true . x + noise-free; features uniform in [-1, 1].
struct dataset {
  std::array<double, features> true_weights;
  std::vector<example> training;
  std::vector<example> held_out;

  explicit dataset(unsigned seed) {
    std::mt19937 rng{seed};
    std::uniform_real_distribution<double> uniform{-1.0, 1.0};
    for (auto& w : true_weights)
      w = 2 * uniform(rng);
    auto draw = [&] {
      example e{};
      e.y = 0;
      for (std::size_t j = 0; j < features; ++j) {
        e.x[j] = uniform(rng);
        e.y += true_weights[j] * e.x[j];
      }
      return e;
    };
    for (int i = 0; i < 4096; ++i)
      training.push_back(draw());
    for (int i = 0; i < 256; ++i)
      held_out.push_back(draw());
  }

  double loss(std::span<const double> w) const {
    double total = 0;
    for (const auto& e : held_out) {
      double prediction = 0;
      for (std::size_t j = 0; j < features; ++j)
        prediction += w[j] * e.x[j];
      total += (prediction - e.y) * (prediction - e.y);
    }
    return total / static_cast<double>(held_out.size());
  }
};

enum class variant { ssp_2, ssp_0, on_write };

const char* name_of(variant v) {
  switch (v) {
  case variant::ssp_2:
    return "bounded_staleness s=2";
  case variant::ssp_0:
    return "bounded_staleness s=0";
  default:
    return "on_write";
  }
}

struct outcome {
  bool ok = true;
  double iterations_per_second = 0;
  std::optional<double> seconds_to_target;
  double final_loss = 0;
  std::uint64_t max_staleness = 0;
  double mean_staleness = 0;
  double clock_wait_ms = 0;
};

outcome failure() {
  outcome result;
  result.ok = false;
  return result;
}

outcome run(variant v, const dataset& data) {
  outcome result;
  varsync::runtime rt;
  auto group = rt.create_group("workers", replicas);
  if (!group) {
    std::printf("create_group: %s\n", group.error().to_string().c_str());
    return failure();
  }
  varsync::variable_options options;
  options.aggregation = varsync::aggregation::mean;
  if (v == variant::on_write) {
    options.sync = varsync::synchronization::on_write;
  } else {
    options.sync = varsync::synchronization::bounded_staleness;
    options.staleness_bound = v == variant::ssp_2 ? 2 : 0;
  }
  auto weights = rt.create_variable(
      *group, "w", varsync::tensor{std::vector<double>(features, 0.0)},
      options);
  if (!weights) {
    std::printf("create_variable: %s\n", weights.error().to_string().c_str());
    return failure();
  }
  std::atomic<bool> failed{false};
  std::mutex report_mutex;
  std::optional<double> reached_at;
  auto start = steady::now();
  std::vector<std::thread> workers;
  for (std::size_t index = 0; index < replicas; ++index) {
    workers.emplace_back([&, index] {
      auto fail = [&](const char* what, const varsync::error& err) {
        std::lock_guard guard{report_mutex};
        std::printf("replica %zu: %s: %s\n", index, what,
                    err.to_string().c_str());
        failed = true;
      };
      auto r = *group->at(index);
      std::mt19937 rng{static_cast<unsigned>(1000 + index)};
      std::bernoulli_distribution straggles{straggler_probability};
      std::uniform_int_distribution<std::size_t> pick{0,
                                                      data.training.size() - 1};
      for (int step = 0; step < iterations && !failed; ++step) {
        auto w = r.read(*weights);
        if (!w)
          return fail("read", w.error());
        auto current = w->values<double>();
        if (index == 0 && step % 5 == 0 && !reached_at &&
            data.loss(current) < target_loss) {
          std::lock_guard guard{report_mutex};
          reached_at =
              std::chrono::duration<double>(steady::now() - start).count();
        }
        std::vector<double> gradient(features, 0.0);
        for (std::size_t b = 0; b < batch; ++b) {
          const auto& e = data.training[pick(rng)];
          double error = -e.y;
          for (std::size_t j = 0; j < features; ++j)
            error += current[j] * e.x[j];
          for (std::size_t j = 0; j < features; ++j)
            gradient[j] += 2 * error * e.x[j] / static_cast<double>(batch);
        }
        std::this_thread::sleep_for(
            straggles(rng) ? straggler_factor * base_compute : base_compute);
        for (auto& g : gradient)
          g *= learning_rate;
        varsync::tensor step_delta{gradient};
        if (auto updated = r.assign_sub(*weights, step_delta); !updated)
          return fail("assign_sub", updated.error());
        if (v != variant::on_write)
          if (auto clocked = r.clock(); !clocked)
            return fail("clock", clocked.error());
      }
      if (v != variant::on_write)
        if (auto caught_up = r.catch_up(); !caught_up)
          return fail("catch_up", caught_up.error());
    });
  }
  for (auto& worker : workers)
    worker.join();
  auto seconds = std::chrono::duration<double>(steady::now() - start).count();
  if (failed)
    return failure();
  auto final_weights = rt.read(*weights);
  if (!final_weights) {
    std::printf("read: %s\n", final_weights.error().to_string().c_str());
    return failure();
  }
  result.final_loss = data.loss(final_weights->values<double>());
  result.iterations_per_second = replicas * iterations / seconds;
  result.seconds_to_target = reached_at;
  if (!reached_at && result.final_loss < target_loss)
    result.seconds_to_target = seconds;
  auto stats = group->at(0)->stats();
  result.max_staleness = stats.max_staleness;
  result.mean_staleness = stats.mean_staleness;
  result.clock_wait_ms =
      std::chrono::duration<double, std::milli>(stats.clock_wait).count();
  return result;
}

} // namespace

int main() {
  dataset data{42};
  std::printf("SGD, %zu replicas x %d iterations, 1 ms compute, 5 ms with "
              "p=%.1f; target loss %.0e\n\n",
              replicas, iterations, straggler_probability, target_loss);
  std::printf("%-24s %12s %16s %12s %10s %10s %14s\n", "variant", "iter/s",
              "s to target", "final loss", "max stale", "mean stale",
              "clock wait ms");
  std::array<outcome, 3> outcomes;
  bool all_ok = true;
  for (auto v : {variant::ssp_2, variant::ssp_0, variant::on_write}) {
    auto& o = outcomes[static_cast<std::size_t>(v)];
    o = run(v, data);
    auto reached = o.ok && o.seconds_to_target.has_value();
    all_ok = all_ok && reached;
    std::printf("%-24s %12.0f %16s %12.2e %10llu %10.2f %14.0f\n", name_of(v),
                o.iterations_per_second,
                reached ? std::to_string(*o.seconds_to_target).c_str()
                        : "not reached",
                o.final_loss, static_cast<unsigned long long>(o.max_staleness),
                o.mean_staleness, o.clock_wait_ms);
  }
  const auto& ssp_2 = outcomes[0];
  const auto& ssp_0 = outcomes[1];
  const auto& eager = outcomes[2];
  if (all_ok) {
    std::printf("\ns=2 vs on_write: %.2fx iterations/s\n",
                ssp_2.iterations_per_second / eager.iterations_per_second);
    std::printf("s=2 vs s=0:      %.2fx iterations/s\n",
                ssp_2.iterations_per_second / ssp_0.iterations_per_second);
  }
  return all_ok ? 0 : 1;
}
