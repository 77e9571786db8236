#include "logistic.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

namespace example {

namespace {

double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

/// The true weights (bias last), the same in every process.
std::vector<double> true_weights() {
  std::mt19937_64 random{7};
  std::normal_distribution<double> normal{0.0, 1.0};
  std::vector<double> w(features + 1);
  for (auto& x : w)
    x = normal(random);
  return w;
}

double dot(const double* w, const double* x) {
  double z = w[features]; // bias
  for (std::size_t j = 0; j < features; ++j)
    z += w[j] * x[j];
  return z;
}

varsync::variable_options options_for(const std::string& policy) {
  varsync::variable_options options;
  options.aggregation = varsync::aggregation::mean;
  if (policy == "bounded_staleness") {
    options.sync = varsync::synchronization::bounded_staleness;
    options.staleness_bound = 2;
  } else {
    options.sync = varsync::synchronization::on_write;
  }
  return options;
}

} // namespace

dataset make_dataset(std::size_t count, std::uint64_t seed) {
  static const auto w = true_weights();
  std::mt19937_64 random{seed};
  std::normal_distribution<double> normal{0.0, 1.0};
  std::uniform_real_distribution<double> uniform{0.0, 1.0};
  dataset data;
  data.x.resize(count * features);
  data.y.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < features; ++j)
      data.x[i * features + j] = normal(random);
    data.y[i] = sigmoid(dot(w.data(), &data.x[i * features])) > uniform(random)
                    ? 1.0
                    : 0.0;
  }
  return data;
}

metrics evaluate(const varsync::tensor& weights, const dataset& data) {
  auto w = weights.values<double>();
  metrics result;
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto p = sigmoid(dot(w.data(), &data.x[i * features]));
    p = std::min(std::max(p, 1e-12), 1.0 - 1e-12);
    result.loss -= data.y[i] * std::log(p) + (1 - data.y[i]) * std::log(1 - p);
    result.accuracy += ((p > 0.5) == (data.y[i] > 0.5)) ? 1.0 : 0.0;
  }
  result.loss /= static_cast<double>(data.size());
  result.accuracy /= static_cast<double>(data.size());
  return result;
}

std::vector<double> sgd_step(std::span<const double> weights,
                             const dataset& data, std::size_t first,
                             std::size_t last, double learning_rate) {
  std::vector<double> gradient(features + 1, 0.0);
  for (std::size_t i = first; i < last; ++i) {
    const auto* x = &data.x[i * features];
    auto error = sigmoid(dot(weights.data(), x)) - data.y[i];
    for (std::size_t j = 0; j < features; ++j)
      gradient[j] += error * x[j];
    gradient[features] += error;
  }
  auto scale = -learning_rate / static_cast<double>(last - first);
  for (auto& g : gradient)
    g *= scale;
  return gradient;
}

std::string to_argument(const settings& s) {
  std::ostringstream out;
  out << "policy=" << s.policy << " group=" << s.group_size
      << " epochs=" << s.epochs << " batch=" << s.batch
      << " lr=" << s.learning_rate;
  if (!s.resume.empty())
    out << " resume=" << s.resume;
  out << " replicas=";
  for (std::size_t i = 0; i < s.replicas.size(); ++i)
    out << (i == 0 ? "" : ",") << s.replicas[i];
  return out.str();
}

varsync::expected<settings> from_argument(const std::string& text) {
  settings s;
  std::istringstream in{text};
  for (std::string word; in >> word;) {
    auto eq = word.find('=');
    if (eq == std::string::npos)
      return varsync::error{varsync::errc::invalid_argument,
                            "train: bad argument word '" + word + "'"};
    auto key = word.substr(0, eq);
    auto value = word.substr(eq + 1);
    if (key == "policy") {
      s.policy = value;
    } else if (key == "group") {
      s.group_size = std::stoul(value);
    } else if (key == "epochs") {
      s.epochs = std::stoi(value);
    } else if (key == "batch") {
      s.batch = std::stoul(value);
    } else if (key == "lr") {
      s.learning_rate = std::stod(value);
    } else if (key == "resume") {
      s.resume = value;
    } else if (key == "replicas") {
      std::istringstream list{value};
      for (std::string item; std::getline(list, item, ',');)
        s.replicas.push_back(std::stoul(item));
    }
  }
  return s;
}

task_stats parse_task_result(const std::string& text) {
  task_stats stats;
  std::istringstream in{text};
  for (std::string word; in >> word;) {
    if (word.rfind("bytes=", 0) == 0)
      stats.bytes_sent = std::stoull(word.substr(6));
    else if (word.rfind("max_staleness=", 0) == 0)
      stats.max_staleness = std::stoull(word.substr(14));
    else if (word.rfind("first_epoch=", 0) == 0)
      stats.first_epoch = std::stoi(word.substr(12));
  }
  return stats;
}

varsync::expected<std::string> train_task(varsync::runtime& node,
                                          const std::string& argument) {
  auto s = from_argument(argument);
  if (!s)
    return s.error();
  auto bytes_before = node.stats().bytes_sent;
  auto group = node.join_group("sgd-" + s->policy, s->group_size, s->replicas);
  if (!group)
    return group.error();
  auto initial =
      varsync::tensor::filled(varsync::dtype::f64, {features + 1}, 0.0);
  auto weights = node.create_variable(*group, s->weights_name(), *initial,
                                      options_for(s->policy));
  if (!weights)
    return weights.error();
  varsync::variable_options counting;
  counting.sync = varsync::synchronization::on_read;
  counting.aggregation = varsync::aggregation::sum;
  auto counter = node.create_variable(*group, s->counter_name(),
                                      varsync::tensor(0.0), counting);
  if (!counter)
    return counter.error();
  const bool stale = s->policy == "bounded_staleness";
  const auto shard = train_examples / s->group_size;
  std::optional<varsync::variable> resumed;
  if (!s->resume.empty()) {
    varsync::variable_options first_replica;
    first_replica.sync = varsync::synchronization::on_write;
    first_replica.aggregation = varsync::aggregation::only_first_replica;
    auto made = node.create_variable(*group, "resume-" + s->policy,
                                     varsync::tensor(0.0), first_replica);
    if (!made)
      return made.error();
    resumed = *made;
  }
  std::atomic<int> first_epoch{0};
  std::mutex failure_mutex;
  std::optional<varsync::error> failure;
  std::uint64_t max_staleness = 0;
  std::vector<std::thread> threads;
  for (auto index : s->replicas) {
    threads.emplace_back([&, index] {
      auto fail = [&](const varsync::error& err) {
        std::lock_guard guard{failure_mutex};
        if (!failure)
          failure = err;
      };
      auto r = group->at(index);
      if (!r)
        return fail(r.error());
      auto data = make_dataset(shard, 100 + index);
      int start = 0;
      if (resumed) {
        double done = 0;
        if (index == 0) {
          auto restored =
              node.restore(std::filesystem::path{s->resume}, *group);
          if (restored) {
            auto count = node.read(*counter);
            if (!count)
              return fail(count.error());
            done = std::floor(count->to_double() /
                              static_cast<double>(shard * s->group_size));
          } else if (restored.error().code() != varsync::errc::checkpoint_io) {
            return fail(restored.error()); // nothing saved yet: start at 0
          }
        }
        if (auto agreed = r->assign(*resumed, varsync::tensor(done)); !agreed)
          return fail(agreed.error());
        auto epochs = r->read(*resumed);
        if (!epochs)
          return fail(epochs.error());
        start = static_cast<int>(epochs->to_double());
        first_epoch = start;
      }
      for (int epoch = start; epoch < s->epochs; ++epoch) {
        for (std::size_t first = 0; first < shard; first += s->batch) {
          auto w = r->read(*weights);
          if (!w)
            return fail(w.error());
          auto last = std::min(first + s->batch, shard);
          auto gradient = sgd_step(w->values<double>(), data, first, last,
                                   s->learning_rate);
          auto step = *varsync::tensor::from_values<double>(
              std::span<const double>{gradient}, {features + 1});
          // on_write: a collective step (mean over replicas); SSP: local
          // until clock().
          if (auto added = r->assign_add(*weights, step); !added)
            return fail(added.error());
          if (stale)
            if (auto ticked = r->clock(); !ticked)
              return fail(ticked.error());
          if (auto counted = r->assign_add(
                  *counter, varsync::tensor(static_cast<double>(last - first)));
              !counted)
            return fail(counted.error());
        }
      }
      if (stale) {
        if (auto caught = r->catch_up(); !caught)
          return fail(caught.error());
        std::lock_guard guard{failure_mutex};
        max_staleness = std::max(max_staleness, r->stats().max_staleness);
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  if (failure)
    return *failure;
  return "bytes=" + std::to_string(node.stats().bytes_sent - bytes_before) +
         " max_staleness=" + std::to_string(max_staleness) +
         " first_epoch=" + std::to_string(first_epoch.load());
}

} // namespace example
