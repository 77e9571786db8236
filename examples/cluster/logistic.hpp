#pragma once

// The model and the training task of the cluster example: synthetic data
// for a binary logistic regression, the held-out evaluation, and the
// remote task "train" each node runs for its replicas.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <varsync/varsync.hpp>
#include <vector>

namespace example {

/// Features per example (the weights variable has one more: the bias).
constexpr std::size_t features = 16;
/// Training examples over all replicas (one epoch).
constexpr std::size_t train_examples = 32768;
/// Held-out examples the driver evaluates on.
constexpr std::size_t test_examples = 2048;
/// The accuracy both runs must reach (the generator's labels are noisy;
/// the true weights score about 0.9 on them).
constexpr double required_accuracy = 0.8;

/// Examples as rows of `features` values, labels 0 or 1.
struct dataset {
  std::vector<double> x;
  std::vector<double> y;
  std::size_t size() const { return y.size(); }
};

/// `count` examples from a generator seeded with `seed`; the true model is
/// the same for every seed.
dataset make_dataset(std::size_t count, std::uint64_t seed);

/// Held-out loss and accuracy of `weights` (f64[features + 1]).
struct metrics {
  double loss = 0;
  double accuracy = 0;
};

metrics evaluate(const varsync::tensor& weights, const dataset& data);

/// The SGD step for examples [first, last) of `data` at `weights`:
/// -learning_rate times the mean logistic-loss gradient (bias last).
std::vector<double> sgd_step(std::span<const double> weights,
                             const dataset& data, std::size_t first,
                             std::size_t last, double learning_rate);

/// What the driver asks a node's training task to do.
struct settings {
  std::string policy = "on_write"; // or "bounded_staleness"
  std::size_t group_size = 4;
  std::vector<std::size_t> replicas;
  int epochs = 5;
  std::size_t batch = 32;
  double learning_rate = 0.5;
  /// Resume from the newest complete checkpoint under this directory
  /// (empty: start from zero). No spaces (task arguments are words).
  std::string resume;

  std::string weights_name() const { return "weights-" + policy; }
  std::string counter_name() const { return "examples-" + policy; }
};

/// `settings` as a task argument ("key=value" words) and back.
std::string to_argument(const settings& s);
varsync::expected<settings> from_argument(const std::string& text);

/// What a training task reports back.
struct task_stats {
  std::uint64_t bytes_sent = 0;
  std::uint64_t max_staleness = 0;
  /// The epoch training started at (after a resume; 0 otherwise).
  int first_epoch = 0;
};

task_stats parse_task_result(const std::string& text);

/// The remote task "train": joins the replicas of `settings.replicas`,
/// creates (or gets) the weights and the examples counter, trains every
/// local replica on its own thread and its own shard, and returns the
/// node's task_stats as text.
///
/// Resuming (`settings.resume`): replica 0's thread restores the group's
/// variables from the newest complete checkpoint (runtime::restore) and
/// computes the epochs it holds from the examples counter; then every
/// replica takes part in one collective assign of an on_write /
/// only_first_replica variable "resume-<policy>" to replica 0's epoch
/// count. That step completes only once replica 0 contributed, i.e. after
/// the restore, so no replica trains on the values from before it, and all
/// start at the same epoch.
varsync::expected<std::string> train_task(varsync::runtime& node,
                                          const std::string& argument);

} // namespace example
