#pragma once

// The local copies of one replica: a slot per variable, shared between the
// replica actor (which installs broadcast values and serves on_read gathers)
// and the replica handle of the worker thread (which reads without sending a
// message). A slot holds an immutable snapshot behind an atomic shared
// pointer: a reader loads the pointer and never sees a half-installed value;
// writers replace the pointer. Read-modify-write of a local copy (on_read /
// none updates, on_read cross-replica updates) holds the slot's mutex so
// that no update is lost between the worker thread and the replica actor.

#include "actors/protocol.hpp"
#include "varsync/tensor.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace varsync {

/// One installed value: immutable once published.
struct installed_value {
  /// on_write: the variable actor's version; local copies count their own
  /// updates.
  std::uint64_t version = 0;
  tensor value;
};

/// A replica's copy of one variable.
class replica_slot {
public:
  explicit replica_slot(tensor initial) {
    current_.store(std::make_shared<const installed_value>(
        installed_value{0, std::move(initial)}));
  }

  /// The latest installed snapshot. Thread-safe, wait-free for readers in
  /// effect (libstdc++ guards the pointer with a tiny internal lock).
  std::shared_ptr<const installed_value> load() const {
    return current_.load(std::memory_order_acquire);
  }

  /// Installs `value` as `version` unless a newer version is installed.
  /// Called by the replica actor only.
  void install(std::uint64_t version, tensor value) {
    std::lock_guard guard{update_mutex_};
    if (current_.load(std::memory_order_relaxed)->version >= version)
      return;
    current_.store(std::make_shared<const installed_value>(
                       installed_value{version, std::move(value)}),
                   std::memory_order_release);
  }

  /// Replaces the value by `op(value, operand)` atomically with respect to
  /// other updates of this slot. Thread-safe.
  void update(update_op op, const tensor& operand) {
    std::lock_guard guard{update_mutex_};
    auto previous = current_.load(std::memory_order_relaxed);
    current_.store(
        std::make_shared<const installed_value>(installed_value{
            previous->version + 1, apply(op, previous->value, operand)}),
        std::memory_order_release);
  }

private:
  std::atomic<std::shared_ptr<const installed_value>> current_;
  std::mutex update_mutex_;
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

private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<variable_id, std::shared_ptr<replica_slot>> slots_;
};

} // namespace varsync
