#pragma once

// What this process's varsync code measured as it ran, for a node's
// Prometheus endpoint (runtime/http/metrics_page.hpp renders it): counters
// and fixed-bucket histograms, recorded lock-free on the data path.
// Process-wide, like the copy counters (runtime/core/copy_count.hpp): every
// runtime of the process records into the same registry.
//
// Families keyed by a label (a variable's name, a peer's address) are
// created on first use under a mutex and never removed, so a reference
// taken once stays valid; their number is bounded by what the process
// creates (its variables, its peers), at most `max_label_values` each,
// beyond which observations go to the label "other".

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace varsync::metrics {

/// A histogram of non-negative values with fixed upper bounds (Prometheus
/// `le` buckets, plus +Inf). Thread-safe and lock-free.
class histogram {
public:
  /// At most this many bounds.
  static constexpr std::size_t max_bounds = 16;

  /// `bounds` ascending, at most `max_bounds`.
  explicit histogram(std::vector<double> bounds);

  /// Counts `value` in the first bucket whose bound is >= it.
  void observe(double value) noexcept;

  struct reading {
    std::vector<double> bounds;
    /// Cumulative counts per bound, then the total (+Inf).
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
  };

  /// A consistent-enough copy (each bucket read once).
  reading read() const;

private:
  std::vector<double> bounds_;
  std::array<std::atomic<std::uint64_t>, max_bounds + 1> counts_{};
  std::atomic<double> sum_{0};
};

/// Buckets for step latencies in seconds: 50 us to 10 s.
std::vector<double> latency_bounds();

/// Buckets for staleness in clocks: 0 to 64.
std::vector<double> staleness_bounds();

/// One variable's collective steps as this process's replicas saw them.
struct variable_metrics {
  /// Steps (on_write updates of a replica) that completed.
  std::atomic<std::uint64_t> steps{0};
  /// Steps that ended in an error.
  std::atomic<std::uint64_t> failed_steps{0};
  /// From the call to its completion, seconds.
  histogram step_seconds{latency_bounds()};
  /// bounded_staleness reads: how many clocks behind the reader they were.
  histogram staleness_clocks{staleness_bounds()};
};

/// Bytes exchanged with one peer on the bulk plane.
struct peer_metrics {
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> bytes_received{0};
};

/// A family of metrics by one label value. Thread-safe.
template <class Metrics> class family {
public:
  /// Label values beyond this many share the value "other".
  static constexpr std::size_t max_label_values = 1024;

  /// The metrics of `label`, created on first use. The reference stays
  /// valid for the process's life. Takes a mutex.
  Metrics& of(const std::string& label) {
    std::lock_guard guard{mutex_};
    auto found = entries_.find(label);
    if (found != entries_.end())
      return *found->second;
    const auto& key = entries_.size() < max_label_values ? label : other_;
    auto& slot = entries_[key];
    if (!slot)
      slot = std::make_unique<Metrics>();
    return *slot;
  }

  /// Calls `visit(label, metrics)` for each, in label order. Takes the
  /// mutex for the walk.
  template <class Visit> void each(Visit visit) const {
    std::lock_guard guard{mutex_};
    for (const auto& [label, metrics] : entries_)
      visit(label, *metrics);
  }

private:
  inline static const std::string other_ = "other";
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Metrics>> entries_;
};

/// Everything recorded in this process.
struct registry {
  family<variable_metrics> variables;
  family<peer_metrics> peers;
  /// Time replicas spent in `clock()` (bounded_staleness), seconds.
  histogram clock_wait_seconds{latency_bounds()};
  /// Variables re-hosted by this process's directory (while it held it).
  std::atomic<std::uint64_t> rehostings{0};
  /// When this process last saved an automatic checkpoint (Unix seconds);
  /// 0: never.
  std::atomic<double> last_checkpoint_unix_seconds{0};
};

/// The process's registry. Thread-safe; never blocks (but `family::of`
/// takes a mutex).
registry& process_metrics();

} // namespace varsync::metrics
