#pragma once

// A replica's cache of one bounded_staleness variable, shared between the
// worker thread (which adds deltas and reads) and the replica actor (which
// pushes deltas at clock() and installs refreshes). The view a reader sees
// is kept in a replica_slot:
//
//   view = snapshot(min_clock) + own deltas tagged >= min_clock + pending
//
// where `pending` is what the worker added during its current clock and
// own deltas are the ones already pushed but not yet in a snapshot. Deltas
// are kept as pushed (a re-created variable actor takes them back,
// actors/policies/replica_recovery.hpp) and enter the view as the server
// will apply them (mean: divided by R), so the view moves smoothly when a
// snapshot absorbs them. All members are thread-safe.

#include "actors/policies/bounded_staleness/state_machine.hpp"
#include "actors/replica_slot.hpp"
#include "runtime/core/row_delta.hpp"
#include "varsync/variable_options.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace varsync {

/// A replica's SSP cache of one variable.
class staleness_cache {
public:
  /// `slot` receives the view; `bound` is the staleness bound s; deltas are
  /// divided by `replicas` in the view when `how` is mean.
  staleness_cache(std::shared_ptr<replica_slot> slot, tensor initial,
                  std::uint64_t bound, aggregation how, std::size_t replicas)
      : slot_(std::move(slot)), snapshot_(std::move(initial)), bound_(bound),
        how_(how), replicas_(replicas) {
    // nop
  }

  /// The staleness bound s.
  std::uint64_t bound() const noexcept { return bound_; }

  /// The size of the replica group.
  std::size_t replicas() const noexcept { return replicas_; }

  /// The minimum clock the cached snapshot reflects.
  std::uint64_t min_clock() const {
    std::lock_guard guard{mutex_};
    return min_clock_;
  }

  /// Whether a replica at `clock` may read the cache: min_clock >= clock - s.
  bool fresh_for(std::uint64_t clock) const {
    std::lock_guard guard{mutex_};
    return is_fresh(bound_, min_clock_, clock);
  }

  /// Whether a view reflecting `min_clock` may be read at `clock` under
  /// staleness bound `bound`.
  static bool is_fresh(std::uint64_t bound, std::uint64_t min_clock,
                       std::uint64_t clock) noexcept {
    return bound == unbounded_staleness || clock <= bound ||
           min_clock >= clock - bound;
  }

  /// Adds (or subtracts) `delta` to the current clock's pending delta and
  /// to the view at once (read-your-writes).
  void add_local(update_op op, const tensor& delta) {
    std::lock_guard guard{mutex_};
    if (pending_)
      pending_ = apply(op, dense(*pending_), delta);
    else
      pending_ = op == update_op::subtract
                     ? apply(update_op::subtract, zero_like(delta), delta)
                     : delta;
    publish_view();
  }

  /// Adds the checked packed row delta `packed` (runtime/core/row_delta.hpp)
  /// to the current clock's pending delta, which stays packed while the
  /// clock only adds rows (its push then costs the rows, not the table),
  /// and to the view at once.
  void add_local_rows(const tensor& packed) {
    std::lock_guard guard{mutex_};
    if (!pending_)
      pending_ = packed;
    else if (is_packed_rows(*pending_, snapshot_.shape()))
      pending_ = concat_packed_rows(*pending_, packed);
    else
      add_packed_rows_into(*pending_, normalized(packed));
    publish_view();
  }

  /// Ends clock `clock`: the pending delta becomes an own delta tagged
  /// `clock` and is returned for pushing (nullopt when nothing was added).
  std::optional<tensor> take_pending(std::uint64_t clock) {
    std::lock_guard guard{mutex_};
    if (!pending_)
      return std::nullopt;
    auto delta = std::move(*pending_);
    pending_.reset();
    own_[clock] = delta;
    return delta;
  }

  /// Installs a refresh unless a newer one is installed already or its
  /// snapshot has another dtype or shape.
  void refresh(const policies::staleness_refresh& update) {
    std::lock_guard guard{mutex_};
    if (update.version <= version_)
      return;
    if (update.snapshot.type() != snapshot_.type() ||
        update.snapshot.shape() != snapshot_.shape())
      return; // forged or corrupt: never the variable's value
    version_ = update.version;
    min_clock_ = update.min_clock;
    snapshot_ = update.snapshot;
    awaiting_whole_ = false;
    own_.erase(own_.begin(), own_.lower_bound(min_clock_));
    publish_view();
  }

  /// What `refresh_rows` did with a row refresh.
  enum class rows_outcome {
    /// Added to the snapshot: the cache holds `version` now.
    installed,
    /// Not newer than the installed refresh: ignored.
    outdated,
    /// Not packed rows of this variable (forged or corrupt): ignored.
    invalid,
    /// The cache missed a refresh before it: ignored; the caller must ask
    /// the variable for the whole current refresh (`refresh` installs it).
    ask_whole,
    /// Missed one too, and the whole refresh is asked for already.
    awaiting_whole,
  };

  /// Installs the refresh `version` that adds the packed `rows` to refresh
  /// `version - 1`'s snapshot (policies::staleness_refresh::rows), in
  /// place: the same additions as the server's, so the same bits. Only
  /// onto `version - 1`; see rows_outcome for the rest.
  rows_outcome refresh_rows(std::uint64_t min_clock, std::uint64_t version,
                            const tensor& rows) {
    std::lock_guard guard{mutex_};
    if (version <= version_)
      return rows_outcome::outdated;
    if (!check_packed_rows(rows, snapshot_.type(), snapshot_.shape(), ""))
      return rows_outcome::invalid;
    if (version != version_ + 1 || awaiting_whole_) {
      if (awaiting_whole_)
        return rows_outcome::awaiting_whole;
      awaiting_whole_ = true;
      return rows_outcome::ask_whole;
    }
    add_packed_rows_into(snapshot_, rows);
    version_ = version;
    min_clock_ = min_clock;
    own_.erase(own_.begin(), own_.lower_bound(min_clock_));
    publish_view();
    return rows_outcome::installed;
  }

  /// The whole refresh asked for after `ask_whole` never came (the
  /// variable's actor was lost): the next missed refresh asks again.
  void whole_refresh_failed() {
    std::lock_guard guard{mutex_};
    awaiting_whole_ = false;
  }

  /// What a re-created variable actor needs from this cache: the latest
  /// refresh and the deltas pushed since (raw, by clock tag).
  std::pair<policies::staleness_refresh, std::map<std::uint64_t, tensor>>
  recovery() const {
    std::lock_guard guard{mutex_};
    return {{min_clock_, version_, snapshot_}, own_};
  }

private:
  static tensor zero_like(const tensor& x) {
    return *tensor::filled(x.type(), x.shape(), 0.0);
  }

  /// A packed delta with distinct rows, each its repeats summed from zero
  /// (what the dense delta of the same rows holds in them).
  static tensor normalized(const tensor& packed) {
    std::array<tensor, 1> one{packed};
    return aggregate_packed_rows(one, aggregation::sum);
  }

  /// `delta` (dense or packed) as a dense delta.
  tensor dense(const tensor& delta) const {
    if (!is_packed_rows(delta, snapshot_.shape()))
      return delta;
    return dense_from_packed_rows(delta, snapshot_.type(), snapshot_.shape());
  }

  /// view += delta as the server will apply it (mean: / R); a packed
  /// delta row by row, in place (`view` is never the snapshot's buffer
  /// then: the first row copies it once).
  void add_scaled(tensor& view, const tensor& delta) const {
    auto replicas = static_cast<std::int64_t>(replicas_);
    if (is_packed_rows(delta, snapshot_.shape())) {
      auto rows = normalized(delta);
      add_packed_rows_into(view, how_ == aggregation::mean
                                     ? divide_packed_rows(rows, replicas)
                                     : rows);
      return;
    }
    view = apply(update_op::add, view,
                 how_ == aggregation::mean ? divide(delta, replicas) : delta);
  }

  void publish_view() {
    auto view = snapshot_;
    for (const auto& [tag, delta] : own_)
      add_scaled(view, delta);
    if (pending_)
      add_scaled(view, *pending_);
    slot_->install(++view_version_, std::move(view), min_clock_);
  }

  mutable std::mutex mutex_;
  std::shared_ptr<replica_slot> slot_;
  tensor snapshot_;
  std::uint64_t bound_;
  aggregation how_;
  std::size_t replicas_;
  std::uint64_t min_clock_ = 0;
  std::uint64_t version_ = 0;
  std::uint64_t view_version_ = 0;
  /// Pushed deltas no snapshot holds yet, by tag, as pushed (the view
  /// scales them).
  std::map<std::uint64_t, tensor> own_;
  std::optional<tensor> pending_;
  /// A row refresh found a gap and the whole refresh was asked for.
  bool awaiting_whole_ = false;
};

} // namespace varsync
