// Benchmark: one on_write collective step (every replica assign_adds, the
// variable actor aggregates with mean, installs the result everywhere)
// against a hand-rolled shared-memory all-reduce of the same tensor: R
// threads add their contribution into one buffer under a std::barrier and
// read the result back — the fastest thing an in-process user could write
// without varsync. Both run in the same process, interleaved, 5 batches
// each; the table gives medians and the ratio (varsync time / peer time).
//
// Run: cmake -DVARSYNC_BUILD_BENCH=ON ...;
// build/bench/varsync_bench_on_write_step [--smoke]
// (--smoke: 1/100 of the steps, to check that it runs).

#include "runtime/cli/program_flags.hpp"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

/// Seconds per step of `steps` on_write steps with `replicas` threads.
double varsync_step(varsync::runtime& rt, varsync::replica_group& group,
                    const varsync::variable& w, std::size_t elements,
                    int steps) {
  (void)rt;
  varsync::tensor delta{std::vector<float>(elements, 1.0f)};
  std::vector<std::thread> threads;
  auto start = steady::now();
  for (std::size_t i = 0; i < group.size(); ++i)
    threads.emplace_back([&, i] {
      auto r = *group.at(i);
      for (int step = 0; step < steps; ++step)
        if (!r.assign_add(w, delta))
          std::abort();
    });
  for (auto& thread : threads)
    thread.join();
  return std::chrono::duration<double>(steady::now() - start).count() / steps;
}

/// Seconds per step of a barrier-synchronized shared-buffer all-reduce.
double barrier_step(std::size_t replicas, std::size_t elements, int steps) {
  std::vector<float> sum(elements, 0.0f);
  std::vector<std::vector<float>> local(replicas,
                                        std::vector<float>(elements, 1.0f));
  std::vector<std::vector<float>> result(replicas,
                                         std::vector<float>(elements));
  std::barrier sync{static_cast<std::ptrdiff_t>(replicas)};
  std::vector<std::thread> threads;
  auto start = steady::now();
  for (std::size_t i = 0; i < replicas; ++i)
    threads.emplace_back([&, i] {
      for (int step = 0; step < steps; ++step) {
        // Each replica reduces its slice of all contributions
        // (reduce-scatter), then copies the whole result (all-gather).
        auto begin = elements * i / replicas;
        auto end = elements * (i + 1) / replicas;
        for (auto k = begin; k < end; ++k) {
          float total = 0;
          for (std::size_t r = 0; r < replicas; ++r)
            total += local[r][k];
          sum[k] += total / static_cast<float>(replicas);
        }
        sync.arrive_and_wait();
        std::copy(sum.begin(), sum.end(), result[i].begin());
        sync.arrive_and_wait();
      }
    });
  for (auto& thread : threads)
    thread.join();
  return std::chrono::duration<double>(steady::now() - start).count() / steps;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  CLI::App app{"The in-process on_write step next to a barrier all-reduce"};
  varsync::cli::add_version_flag(app);
  app.add_flag("--smoke", smoke, "100 times fewer steps");
  if (auto done = varsync::cli::parse_flags(app, argc, argv))
    return *done;
  const int scale = smoke ? 100 : 1;
  std::printf("| replicas | bytes | varsync on_write step (us) | barrier "
              "all-reduce step (us) | ratio |\n|---|---|---|---|---|\n");
  for (std::size_t replicas : {2, 4}) {
    for (std::size_t elements : {std::size_t{1}, std::size_t{1} << 18}) {
      varsync::runtime rt;
      auto group = *rt.create_group("g", replicas);
      varsync::variable_options options;
      options.sync = varsync::synchronization::on_write;
      options.aggregation = varsync::aggregation::mean;
      auto w = *rt.create_variable(
          group, "w", varsync::tensor{std::vector<float>(elements, 0.0f)},
          options);
      int steps = std::max((elements == 1 ? 2000 : 50) / scale, 10);
      varsync_step(rt, group, w, elements, steps / 10); // warm-up
      std::vector<double> ours;
      std::vector<double> peer;
      for (int batch = 0; batch < 5; ++batch) {
        ours.push_back(varsync_step(rt, group, w, elements, steps));
        peer.push_back(barrier_step(replicas, elements, steps));
      }
      auto a = median(ours) * 1e6;
      auto b = median(peer) * 1e6;
      std::printf("| %zu | %zu | %.1f | %.1f | %.1fx |\n", replicas,
                  elements * sizeof(float), a, b, a / b);
    }
  }
}
