// embed: varsync embedded in a host program, training a linear model by
// data-parallel SGD with four replicas in one process.
//
// What it shows:
//   - an embedded `varsync::runtime` with one replica group of 4 replicas,
//     each driven by its own worker thread through its `varsync::replica`;
//   - on_write / mean variables for the weights (f64 shape {4}) and the bias:
//     every replica computes the gradient on its own shard of a minibatch and
//     calls `assign_sub(w, lr * grad)`; the step completes when all four
//     contributed, and mean aggregation averages their gradients, so each
//     replica installs the same new weights (a collective, like an
//     all-reduce);
//   - an on_read / sum i64 counter `examples_seen` that each replica bumps
//     locally (no message), read across replicas with `runtime::read`.
//
// The data is y = w_true . x + b_true with x uniform in [-1, 1]^4 from a
// seeded generator and no noise, so SGD can fit it exactly; the program
// checks that it did.
//
// Run:
//   cmake --build build --target varsync_example_embed
//   ./build/varsync_example_embed
//
// It prints the three variables' descriptions, then every 50 steps the step,
// the mean squared error on the whole data set (computed from replica 0's
// copy of the weights) and the cross-replica sum of examples_seen (the other
// replicas may be bumping their copies while it is read, so it can lag by a
// shard), then the fitted and the true weights:
//   weights: f64[4], on_write, aggregation mean, trainable, 4 replicas of ...
//   ...
//   step    0  loss 5.8e+00  examples_seen 0
//   step   50  loss 1.3e-04  examples_seen 3200
//   ...
//   after 400 steps: loss 7.9e-31  examples_seen 25600 (expected 25600)
//   w[0]  fitted  2.000000  true  2.000000
//   ...
//   max abs error 1.3e-15 (tolerance 1e-03), 0.20 s
// It exits with 1 if any weight or the bias is off by more than 1e-3, if
// examples_seen is not steps * batch size, or if a call failed; 0 otherwise.
// It takes well under a second.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

namespace {

constexpr std::size_t replica_count = 4;
constexpr std::size_t feature_count = 4;
constexpr std::size_t sample_count = 4096;
/// Samples per replica per step; a minibatch is replica_count shards.
constexpr std::size_t shard_size = 16;
constexpr std::size_t batch_size = replica_count * shard_size;
constexpr std::size_t step_count = 400;
constexpr std::size_t report_every = 50;
constexpr double learning_rate = 0.3;
constexpr double tolerance = 1e-3;

constexpr std::array<double, feature_count> true_weights{2.0, -3.0, 0.5, 1.5};
constexpr double true_bias = 0.7;

struct data_set {
  std::vector<std::array<double, feature_count>> x;
  std::vector<double> y;
};

data_set make_data() {
  std::mt19937_64 random{20240601};
  std::uniform_real_distribution<double> uniform{-1.0, 1.0};
  data_set data;
  data.x.resize(sample_count);
  data.y.resize(sample_count);
  for (std::size_t i = 0; i < sample_count; ++i) {
    double y = true_bias;
    for (std::size_t j = 0; j < feature_count; ++j) {
      data.x[i][j] = uniform(random);
      y += true_weights[j] * data.x[i][j];
    }
    data.y[i] = y;
  }
  return data;
}

double predict(std::span<const double> w, double b,
               const std::array<double, feature_count>& x) {
  double result = b;
  for (std::size_t j = 0; j < feature_count; ++j)
    result += w[j] * x[j];
  return result;
}

/// Mean squared error over the whole data set.
double loss(const data_set& data, std::span<const double> w, double b) {
  double total = 0;
  for (std::size_t i = 0; i < sample_count; ++i) {
    auto residual = predict(w, b, data.x[i]) - data.y[i];
    total += residual * residual;
  }
  return total / static_cast<double>(sample_count);
}

/// Prints that `what` failed with `err`; returns false.
bool report(const char* what, const varsync::error& err) {
  std::fprintf(stderr, "embed: %s failed: %s\n", what, err.to_string().c_str());
  return false;
}

/// Prints that `what` failed with `err`; returns main's failure status.
int fail(const char* what, const varsync::error& err) {
  report(what, err);
  return 1;
}

/// The worker loop of one replica: `step_count` SGD steps on its shards.
bool train(varsync::runtime& rt, varsync::replica self,
           const varsync::variable& weights, const varsync::variable& bias,
           const varsync::variable& examples_seen, const data_set& data,
           std::atomic<bool>& stop) {
  const auto shard_count = varsync::tensor(std::int64_t{shard_size});
  for (std::size_t step = 0; step < step_count && !stop; ++step) {
    // Local reads: the latest installed version, no message.
    auto w = self.read(weights);
    auto b = self.read(bias);
    if (!w)
      return report("read(weights)", w.error());
    if (!b)
      return report("read(bias)", b.error());
    auto w_values = w->values<double>();
    auto b_value = b->values<double>()[0];
    // The gradient of 1/2 (w . x + b - y)^2 averaged over this replica's
    // shard of minibatch `step`, scaled by the learning rate.
    std::vector<double> w_step(feature_count, 0.0);
    double b_step = 0;
    auto first = (step * batch_size + self.index() * shard_size) % sample_count;
    for (std::size_t i = first; i < first + shard_size; ++i) {
      auto residual = predict(w_values, b_value, data.x[i]) - data.y[i];
      for (std::size_t j = 0; j < feature_count; ++j)
        w_step[j] += residual * data.x[i][j];
      b_step += residual;
    }
    auto scale = learning_rate / static_cast<double>(shard_size);
    for (auto& g : w_step)
      g *= scale;
    b_step *= scale;
    if (step % report_every == 0 && self.index() == 0) {
      // Cross-replica read: asks every replica for its copy and sums them.
      auto seen = rt.read(examples_seen);
      if (!seen)
        return report("runtime::read(examples_seen)", seen.error());
      std::printf("step %4zu  loss %.1e  examples_seen %lld\n", step,
                  loss(data, w_values, b_value),
                  static_cast<long long>(seen->values<std::int64_t>()[0]));
    }
    // Collective steps: they complete when all replicas contributed; mean
    // aggregation averages the four replicas' steps.
    if (auto done = self.assign_sub(weights, varsync::tensor(w_step)); !done)
      return report("assign_sub(weights)", done.error());
    if (auto done = self.assign_sub(bias, varsync::tensor(b_step)); !done)
      return report("assign_sub(bias)", done.error());
    // Local update of this replica's copy of the counter.
    if (auto done = self.assign_add(examples_seen, shard_count); !done)
      return report("assign_add(examples_seen)", done.error());
  }
  return !stop;
}

} // namespace

int main(int argc, char** argv) {
  // --help and --version (CLI11; VARSYNC_PROGRAM and VARSYNC_VERSION come
  // from CMake). The example takes no other flags.
  CLI::App flags{"varsync example: see the comment at the top of "
                 "examples/embed/main.cpp"};
  flags.set_version_flag("--version", VARSYNC_PROGRAM " " VARSYNC_VERSION);
  CLI11_PARSE(flags, argc, argv);
  auto started = std::chrono::steady_clock::now();
  auto data = make_data();
  // Short deadlines: if a replica fails, the others' calls end in seconds.
  varsync::runtime_options settings;
  settings.default_timeout = std::chrono::seconds{10};
  varsync::runtime rt{settings};
  auto group = rt.create_group("workers", replica_count);
  if (!group)
    return fail("create_group", group.error());
  auto zeros = varsync::tensor::filled(
      varsync::dtype::f64, {static_cast<std::int64_t>(feature_count)}, 0.0);
  if (!zeros)
    return fail("tensor::filled", zeros.error());
  // Weights and bias: mirrored (on_write), replicas' updates averaged.
  varsync::variable_options mirrored_mean;
  mirrored_mean.sync = varsync::synchronization::on_write;
  mirrored_mean.aggregation = varsync::aggregation::mean;
  // The counter: one copy per replica, summed when read across replicas.
  varsync::variable_options per_replica_sum;
  per_replica_sum.sync = varsync::synchronization::on_read;
  per_replica_sum.aggregation = varsync::aggregation::sum;
  auto weights = rt.create_variable(*group, "weights", *zeros, mirrored_mean);
  auto bias =
      rt.create_variable(*group, "bias", varsync::tensor(0.0), mirrored_mean);
  auto examples_seen =
      rt.create_variable(*group, "examples_seen",
                         varsync::tensor(std::int64_t{0}), per_replica_sum);
  for (const auto* var : {&weights, &bias, &examples_seen})
    if (!*var)
      return fail("create_variable", var->error());
  std::printf("%s\n%s\n%s\n", weights->description().c_str(),
              bias->description().c_str(),
              examples_seen->description().c_str());

  // One worker thread per replica, each owning its replica handle.
  std::vector<varsync::replica> replicas;
  for (std::size_t index = 0; index < replica_count; ++index) {
    auto self = group->at(index);
    if (!self)
      return fail("replica_group::at", self.error());
    replicas.push_back(*self);
  }
  std::atomic<bool> stop{false};
  std::array<bool, replica_count> succeeded{};
  std::vector<std::thread> workers;
  for (std::size_t index = 0; index < replica_count; ++index) {
    workers.emplace_back([&, index] {
      succeeded[index] = train(rt, replicas[index], *weights, *bias,
                               *examples_seen, data, stop);
      if (!succeeded[index])
        stop = true;
    });
  }
  for (auto& worker : workers)
    worker.join();
  if (!std::all_of(succeeded.begin(), succeeded.end(),
                   [](bool ok) { return ok; }))
    return 1;

  auto w = rt.read(*weights);
  auto b = rt.read(*bias);
  auto seen = rt.read(*examples_seen);
  if (!w || !b || !seen) {
    std::fprintf(stderr, "embed: final cross-replica reads failed\n");
    return 1;
  }
  auto fitted = w->values<double>();
  auto fitted_bias = b->values<double>()[0];
  std::printf("after %zu steps: loss %.1e  examples_seen %lld (expected "
              "%zu)\n",
              step_count, loss(data, fitted, fitted_bias),
              static_cast<long long>(seen->values<std::int64_t>()[0]),
              step_count * batch_size);
  double max_error = std::abs(fitted_bias - true_bias);
  for (std::size_t j = 0; j < feature_count; ++j) {
    std::printf("w[%zu]  fitted %9.6f  true %9.6f\n", j, fitted[j],
                true_weights[j]);
    max_error = std::max(max_error, std::abs(fitted[j] - true_weights[j]));
  }
  std::printf("b     fitted %9.6f  true %9.6f\n", fitted_bias, true_bias);
  auto elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  std::printf("max abs error %.1e (tolerance %.0e), %.2f s\n", max_error,
              tolerance, elapsed.count());
  auto counted_right = seen->values<std::int64_t>()[0] ==
                       static_cast<std::int64_t>(step_count * batch_size);
  if (max_error > tolerance || !counted_right) {
    std::fprintf(stderr, "embed: FAILED: %s\n",
                 max_error > tolerance ? "the fit is off"
                                       : "examples_seen is wrong");
    return 1;
  }
  return 0;
}
