#pragma once

// A recorder and checker of bounded-staleness histories, usable from any
// number of threads (and, later, merged from several processes).
//
// The workload it checks: a tensor of shape [R] of i64 where replica q only
// ever adds strictly positive deltas to element q. Each replica's updates
// reach the others in order (a prefix of them is visible), so element q of
// any read equals initial[q] plus the sum of a prefix of q's updates, and
// that prefix is unique because the deltas are positive. For every read by
// replica r at clock c with bound s the checker verifies, per element q:
//   - the value is initial + a prefix sum of q's updates (else the read
//     holds something that was never written, or a torn update);
//   - q != r: the prefix includes every update q made at clocks < c - s
//     (the SSP guarantee) and only updates q made before the read returned
//     (nothing from the future);
//   - q == r: the prefix is exactly r's updates made before the read
//     (read-your-writes);
//   - the staleness the read reported is at most s.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace varsync::test {

/// One update: replica `replica` added `delta` to its element at `clock`.
struct update_record {
  std::uint64_t clock = 0;
  std::int64_t delta = 0;
  /// Global order: taken after the update call returned.
  std::uint64_t sequence = 0;
};

/// One read: replica `replica` at `clock` saw `value`.
struct read_record {
  std::uint64_t clock = 0;
  std::vector<std::int64_t> value;
  std::uint64_t reported_staleness = 0;
  /// Global order: taken after the read call returned.
  std::uint64_t sequence = 0;
};

/// The history of one run. Each replica records only into its own lists,
/// so recording needs no lock; `sequence()` is the shared clock.
class ssp_history {
public:
  ssp_history(std::size_t replicas, std::vector<std::int64_t> initial)
      : initial_(std::move(initial)), updates_(replicas), reads_(replicas) {
    // nop
  }

  /// Records an update of `replica`; call it after the update returned.
  void record_update(std::size_t replica, std::uint64_t clock,
                     std::int64_t delta) {
    updates_[replica].push_back({clock, delta, next_sequence()});
  }

  /// Records a read of `replica`; call it after the read returned.
  void record_read(std::size_t replica, std::uint64_t clock,
                   std::vector<std::int64_t> value,
                   std::uint64_t reported_staleness) {
    reads_[replica].push_back(
        {clock, std::move(value), reported_staleness, next_sequence()});
  }

  std::size_t replicas() const noexcept { return updates_.size(); }

  const std::vector<std::int64_t>& initial() const noexcept { return initial_; }

  std::vector<std::vector<update_record>>& updates() noexcept {
    return updates_;
  }

  const std::vector<std::vector<update_record>>& updates() const noexcept {
    return updates_;
  }

  std::vector<std::vector<read_record>>& reads() noexcept { return reads_; }

  const std::vector<std::vector<read_record>>& reads() const noexcept {
    return reads_;
  }

  /// The number of recorded reads.
  std::size_t read_count() const;

private:
  std::uint64_t next_sequence() {
    return sequence_->fetch_add(1, std::memory_order_acq_rel);
  }

  std::vector<std::int64_t> initial_;
  std::vector<std::vector<update_record>> updates_;
  std::vector<std::vector<read_record>> reads_;
  std::unique_ptr<std::atomic<std::uint64_t>> sequence_ =
      std::make_unique<std::atomic<std::uint64_t>>(0);
};

/// Every violation of the SSP guarantee with bound `bound` (use
/// varsync::unbounded_staleness for none) in `history`, one line each;
/// empty when the history is correct.
std::vector<std::string> check_ssp_history(const ssp_history& history,
                                           std::uint64_t bound);

} // namespace varsync::test
