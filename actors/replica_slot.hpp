#pragma once

// A replica's copy of one variable: an immutable snapshot behind an atomic
// shared pointer. A reader loads the pointer and never sees a
// half-installed value; writers replace the pointer. Read-modify-write of a
// local copy holds the slot's mutex so that no update is lost between the
// worker thread and the replica actor.

#include "runtime/tensor_math.hpp"
#include "varsync/tensor.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace varsync {

/// One installed value: immutable once published.
struct installed_value {
  /// on_write: the variable actor's version; local copies count their own
  /// updates.
  std::uint64_t version = 0;
  tensor value;
  /// bounded_staleness: the minimum clock the value's snapshot reflects.
  std::uint64_t min_clock = 0;
};

/// A replica's copy of one variable.
class replica_slot {
public:
  explicit replica_slot(tensor initial) {
    current_.store(std::make_shared<const installed_value>(
        installed_value{0, std::move(initial), 0}));
  }

  /// The latest installed snapshot. Thread-safe, wait-free for readers in
  /// effect (libstdc++ guards the pointer with a tiny internal lock).
  std::shared_ptr<const installed_value> load() const {
    return current_.load(std::memory_order_acquire);
  }

  /// Installs `value` as `version` unless a newer version is installed.
  /// Called by the replica actor only.
  void install(std::uint64_t version, tensor value,
               std::uint64_t min_clock = 0) {
    std::lock_guard guard{update_mutex_};
    if (current_.load(std::memory_order_relaxed)->version >= version)
      return;
    current_.store(std::make_shared<const installed_value>(
                       installed_value{version, std::move(value), min_clock}),
                   std::memory_order_release);
  }

  /// Replaces the value by `op(value, operand)` atomically with respect to
  /// other updates of this slot. Thread-safe.
  void update(update_op op, const tensor& operand) {
    std::lock_guard guard{update_mutex_};
    auto previous = current_.load(std::memory_order_relaxed);
    current_.store(
        std::make_shared<const installed_value>(installed_value{
            previous->version + 1, apply(op, previous->value, operand), 0}),
        std::memory_order_release);
  }

private:
  std::atomic<std::shared_ptr<const installed_value>> current_;
  std::mutex update_mutex_;
};

} // namespace varsync
