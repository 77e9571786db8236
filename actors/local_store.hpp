#pragma once

// The local copies of one replica: a slot per variable, its policy's local
// part (what the host thread does with an update), and for
// bounded_staleness variables the SSP cache that feeds the slot; shared
// between the replica actor (which installs broadcast values and serves
// on_read gathers) and the replica handle of the worker thread (which reads
// without sending a message). Also the replica's SSP clock and counters.

#include "actors/policies/bounded_staleness/replica_cache.hpp"
#include "actors/policies/local_part.hpp"
#include "actors/protocol.hpp"
#include "actors/replica_slot.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

namespace varsync {

/// Counters of one replica's bounded_staleness reads and clocks.
struct staleness_counters {
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> staleness_sum{0};
  std::atomic<std::uint64_t> max_staleness{0};
  std::atomic<std::uint64_t> waiting_reads{0};
  std::atomic<std::uint64_t> read_wait_ns{0};
  std::atomic<std::uint64_t> clock_wait_ns{0};

  /// Records one read with `staleness` clocks.
  void record_read(std::uint64_t staleness) noexcept {
    reads.fetch_add(1, std::memory_order_relaxed);
    staleness_sum.fetch_add(staleness, std::memory_order_relaxed);
    auto seen = max_staleness.load(std::memory_order_relaxed);
    while (staleness > seen &&
           !max_staleness.compare_exchange_weak(seen, staleness))
      ; // retry with the updated `seen`
  }
};

/// All slots of one replica, by variable id. Thread-safe.
class local_store {
public:
  /// The slot of `id`, or nullptr when the variable is not attached here.
  std::shared_ptr<replica_slot> find(variable_id id) const {
    std::shared_lock guard{mutex_};
    auto i = slots_.find(id);
    return i == slots_.end() ? nullptr : i->second;
  }

  /// Creates (or returns the existing) slot of `id` holding `initial`.
  std::shared_ptr<replica_slot> attach(variable_id id, const tensor& initial) {
    std::unique_lock guard{mutex_};
    auto& slot = slots_[id];
    if (!slot)
      slot = std::make_shared<replica_slot>(initial);
    return slot;
  }

  /// The SSP cache of `id`, or nullptr for other policies.
  std::shared_ptr<staleness_cache> find_cache(variable_id id) const {
    std::shared_lock guard{mutex_};
    auto i = caches_.find(id);
    return i == caches_.end() ? nullptr : i->second;
  }

  /// Registers the SSP cache of `id`.
  void attach_cache(variable_id id, std::shared_ptr<staleness_cache> cache) {
    std::unique_lock guard{mutex_};
    caches_[id] = std::move(cache);
  }

  /// The policy's local part of `id` (actors/policies/local_part.hpp), or
  /// nullptr when the variable is not attached here.
  std::shared_ptr<local_part> find_part(variable_id id) const {
    std::shared_lock guard{mutex_};
    auto i = parts_.find(id);
    return i == parts_.end() ? nullptr : i->second;
  }

  /// Registers the local part of `id`.
  void attach_part(variable_id id, std::shared_ptr<local_part> part) {
    std::unique_lock guard{mutex_};
    parts_[id] = std::move(part);
  }

  /// The replica's SSP clock: the number of completed clock() calls.
  /// Written by the replica actor only.
  std::atomic<std::uint64_t> clock{0};

  /// Numbers the replica-context calls that go through the replica actor
  /// (from 1), so the actor applies them in call order.
  std::atomic<std::uint64_t> last_call{0};

  /// What the replica's SSP reads and clocks cost.
  staleness_counters counters;

private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<variable_id, std::shared_ptr<replica_slot>> slots_;
  std::unordered_map<variable_id, std::shared_ptr<staleness_cache>> caches_;
  std::unordered_map<variable_id, std::shared_ptr<local_part>> parts_;
};

} // namespace varsync
