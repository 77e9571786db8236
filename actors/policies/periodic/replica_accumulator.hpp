#pragma once

// periodic (local steps, averaged every k): the replica's side of one
// variable, shared between the worker thread (local updates, the k-th
// update's synchronization) and the replica actor (installs of
// synchronized versions). The view a reader sees is kept in the slot:
//
//   view = synchronized + accumulated
//
//   update 1..k-1: apply op to `accumulated`     (no message)
//   update k:      begin_sync() -> accumulated moves to `in_flight`, is
//                  contributed as one assign_add step (the on_write
//                  protocol, actors/policies/eager_broadcast/), the new
//                  synchronized version is installed, end_sync(ok) drops
//                  `in_flight` (failed: puts it back, the next update
//                  retries the synchronization)
//
// Keeping the accumulated change, not the copy, makes k = 1 do on_write's
// arithmetic exactly: the first change after a synchronization is the
// operand itself (assign_sub: its exact negation). A replica-context assign
// makes the change `value - synchronized`. An install while nothing is in
// flight (a cross-replica assign) moves the synchronized value; the
// replica's own unsynchronized change stays on top of it. All members are
// thread-safe.

#include "actors/replica_slot.hpp"
#include "runtime/core/tensor_math.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

namespace varsync {

/// A replica's periodic state of one variable.
class periodic_accumulator {
public:
  /// `slot` receives the view; every `period`-th update synchronizes.
  periodic_accumulator(std::shared_ptr<replica_slot> slot, tensor initial,
                       std::uint64_t period)
      : slot_(std::move(slot)), synchronized_(std::move(initial)),
        period_(period == 0 ? 1 : period) {
    // nop
  }

  /// The period k.
  std::uint64_t period() const noexcept { return period_; }

  /// Applies a replica-context update to the local change and the view.
  /// Returns true when this update must synchronize (it is a k-th one, or
  /// the last synchronization failed): call `begin_sync` then.
  bool update(update_op op, const tensor& operand) {
    std::lock_guard guard{mutex_};
    switch (op) {
    case update_op::assign:
      accumulated_ = apply(update_op::subtract, operand, synchronized_);
      break;
    case update_op::add:
      accumulated_ = accumulated_ ? apply(op, *accumulated_, operand) : operand;
      break;
    case update_op::subtract:
      accumulated_ =
          apply(op, accumulated_ ? *accumulated_ : zero_like(operand), operand);
      break;
    case update_op::add_rows: // row updates come as dense deltas; in case:
      accumulated_ = apply(
          op, accumulated_ ? *accumulated_ : zero_like(synchronized_), operand);
      break;
    case update_op::assign_rows: { // as a dense assign too; in case:
      auto view = accumulated_
                      ? apply(update_op::add, synchronized_, *accumulated_)
                      : synchronized_;
      accumulated_ =
          apply(update_op::subtract, apply(op, view, operand), synchronized_);
      break;
    }
    }
    publish_view();
    ++updates_;
    return sync_due_ || updates_ % period_ == 0;
  }

  /// Starts the synchronization: returns the accumulated change to
  /// contribute (zeros when there is none) and holds it as in flight.
  tensor begin_sync() {
    std::lock_guard guard{mutex_};
    in_flight_ =
        accumulated_ ? std::move(*accumulated_) : zero_like(synchronized_);
    accumulated_.reset();
    return *in_flight_;
  }

  /// Ends the synchronization: on success the in-flight change is part of
  /// the installed version; on failure it is local again and the next
  /// update retries.
  void end_sync(bool succeeded) {
    std::lock_guard guard{mutex_};
    if (in_flight_ && !succeeded) {
      accumulated_ = accumulated_
                         ? apply(update_op::add, *in_flight_, *accumulated_)
                         : std::move(*in_flight_);
      sync_due_ = true;
    } else if (succeeded) {
      sync_due_ = false;
    }
    in_flight_.reset();
    publish_view();
  }

  /// Installs synchronized version `version` (a step's result or a
  /// cross-replica update) unless a newer one is installed or `value` has
  /// another dtype or shape.
  void install(std::uint64_t version, tensor value) {
    std::lock_guard guard{mutex_};
    if (version <= synchronized_version_)
      return;
    if (value.type() != synchronized_.type() ||
        value.shape() != synchronized_.shape())
      return; // forged or corrupt: never the variable's value
    synchronized_version_ = version;
    synchronized_ = std::move(value);
    publish_view();
  }

private:
  static tensor zero_like(const tensor& x) {
    return *tensor::filled(x.type(), x.shape(), 0.0);
  }

  /// While a change is in flight the view shows the synchronized value
  /// alone: the installed version already holds that change.
  void publish_view() {
    auto view = accumulated_
                    ? apply(update_op::add, synchronized_, *accumulated_)
                    : synchronized_;
    slot_->install(++view_version_, std::move(view));
  }

  mutable std::mutex mutex_;
  std::shared_ptr<replica_slot> slot_;
  tensor synchronized_;
  std::uint64_t synchronized_version_ = 0;
  std::uint64_t period_;
  std::uint64_t updates_ = 0;
  bool sync_due_ = false;
  std::uint64_t view_version_ = 0;
  std::optional<tensor> accumulated_;
  std::optional<tensor> in_flight_;
};

} // namespace varsync
