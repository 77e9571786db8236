#include "runtime/core/metrics.hpp"

#include <algorithm>

namespace varsync::metrics {

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  if (bounds_.size() > max_bounds)
    bounds_.resize(max_bounds);
}

void histogram::observe(double value) noexcept {
  auto bucket = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) -
      bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

histogram::reading histogram::read() const {
  reading result;
  result.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    result.cumulative.push_back(running);
  }
  result.sum = sum_.load(std::memory_order_relaxed);
  return result;
}

std::vector<double> latency_bounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};
}

std::vector<double> staleness_bounds() {
  return {0, 1, 2, 3, 4, 6, 8, 12, 16, 32, 64};
}

registry& process_metrics() {
  static registry instance;
  return instance;
}

} // namespace varsync::metrics
