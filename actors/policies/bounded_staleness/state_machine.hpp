#pragma once

// bounded_staleness: stale synchronous parallel (Petuum/Bösen SSP, the
// OSDI'14 parameter server's bounded delay), server side, as a state
// machine without I/O.
//
//   push(r, c, delta?)                         min clock advanced m -> m'
//   ---------------> [ accumulating clocks >= m ] -------------------------+
//   store delta under   ^                         fold clocks m .. m'-1     |
//   clock tag c,        |                         into the snapshot (tag   |
//   clocks[r] = c + 1   +---- refresh(m', version, snapshot) to all <-----+
//                                                   replicas
//   cross_assign(x) / cross_add(d): change the snapshot now, version + 1,
//   refresh (same m)
//
// How it works. Replica r works in clocks 0, 1, 2, ...; everything it adds
// during clock c is pushed once, at the end of the clock, as
// push(r, c, delta) (delta absent when it added nothing), after which r is
// at clock c + 1. The actor keeps per clock tag t >= min_clock_ each
// replica's delta (`pending_`), and `clocks_` per replica. The group's
// minimum clock m is the lowest clock of a live replica: every update
// tagged < m has arrived. When m grows to m', the tags m .. m'-1 are folded
// into `snapshot_` in tag order, each tag's deltas summed in replica index
// order (mean: that sum / R) — the same arithmetic as an on_write step, so
// s = 0 reproduces on_write exactly — and the new snapshot is sent to
// every replica. A replica's cache is snapshot(m) plus its own deltas
// tagged >= m; a replica at clock c may read it when m >= c - s, else it
// waits, and clock() waits until m >= c - s after advancing.
//
// A variable created while its group is running (a new layer, a new
// counter) joins the group's clocks: each replica reports its current clock
// when it attaches (`replica_attached`), its first push carries that clock,
// and once every live replica has attached, `start()` sets the minimum
// clock to the lowest of them, as if the variable had existed since clock 0
// with no updates. Until then the minimum clock does not move.
//
// Rows (assign_add_rows): a replica that only added rows during a clock
// pushes them as one packed row delta (runtime/core/row_delta.hpp), so a
// push costs bytes in proportion to the rows. A tag whose deltas are all
// packed folds row by row into the snapshot, in place; a tag that mixes
// them scatters the packed ones first. Either way the arithmetic is the
// dense one (rows summed in replica order, / R for mean). When every clock
// a refresh folds holds only packed rows (or nothing), the refresh carries
// those rows (`staleness_refresh::rows`) and replicas add them to their
// snapshot in place: refreshes of a table cost the touched rows too. A
// replica that finds it missed a refresh asks for the whole snapshot.
//
// Guarantee: a read by replica r at clock c includes every update of every
// replica tagged < c - s, all of r's own updates, and no update that was
// not pushed.

#include "actors/policies/policy_settings.hpp"
#include "runtime/core/tensor_math.hpp"
#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace varsync::policies {

/// What every replica's cache must be refreshed with.
struct staleness_refresh {
  /// (A constructor, not an aggregate: most refreshes are made whole, as
  /// `{min_clock, version, snapshot}`.)
  staleness_refresh(std::uint64_t min_clock = 0, std::uint64_t version = 0,
                    tensor snapshot = {},
                    std::optional<tensor> rows = std::nullopt)
      : min_clock(min_clock), version(version), snapshot(std::move(snapshot)),
        rows(std::move(rows)) {
    // nop
  }

  /// Every update tagged below this clock is in `snapshot`.
  std::uint64_t min_clock = 0;
  /// Orders refreshes (grows by one with every refresh).
  std::uint64_t version = 0;
  tensor snapshot;
  /// Set when `snapshot` differs from the previous refresh's (version - 1)
  /// only by these packed rows (runtime/core/row_delta.hpp), added in
  /// order: each folded clock's combined rows, one clock after the other
  /// (none when no replica added anything). A replica holding version - 1
  /// adds them to its snapshot instead of taking `snapshot`: the same
  /// additions as the server's, so the same bits, and a refresh costs
  /// bytes in proportion to the rows.
  std::optional<tensor> rows;
};

/// What a surviving replica holds of a bounded_staleness variable whose
/// actor was lost.
struct cached_state {
  std::size_t replica = 0;
  /// The replica's clock: it pushed every tag below it.
  std::uint64_t clock = 0;
  /// The latest refresh it installed.
  staleness_refresh refresh;
  /// Its pushed deltas that no snapshot it holds includes, by tag (raw, as
  /// pushed).
  std::map<std::uint64_t, tensor> own;
};

/// The server-side SSP state of one variable.
class bounded_staleness {
public:
  using settings = policy_settings;

  /// The state of a variable re-created after its actor was lost, from
  /// what the surviving replicas (`held`; the others are lost) hold: the
  /// newest snapshot any of them installed, each survivor's pushed deltas
  /// tagged at or above that snapshot's minimum clock (pushed again, as
  /// if they arrived now), and each survivor's clock. Lost: the deltas of
  /// replicas that are not among the survivors and that no snapshot a
  /// survivor holds includes. `start()` gives the first refresh
  /// (it folds the tags every survivor pushed).
  static bounded_staleness recovered(settings config,
                                     const std::vector<cached_state>& held);

  /// Every replica starts at clock 0 (the variable existed from the start);
  /// call `await_attachments()` right after to learn the clocks instead.
  bounded_staleness(settings config, tensor initial);

  /// Forgets the replicas' clocks: each becomes known when its replica
  /// attaches (`replica_attached`), and the minimum clock stays put until
  /// `start()`. For variables created after their group may have clocked.
  void await_attachments();

  /// Replica `replica` attached while at clock `clock`: its first push is
  /// tagged `clock`. Ignored for an unknown or already attached replica.
  void replica_attached(std::size_t replica, std::uint64_t clock);

  /// Every live replica attached: the minimum clock starts at the lowest
  /// attach clock, then advances over what was pushed meanwhile. Returns
  /// the refresh every replica must install (its cache starts at min clock
  /// 0 until then).
  staleness_refresh start();

  /// Replica `replica` finished clock `clock` having added `delta` (nullopt
  /// when it added nothing): dense, or a packed row delta
  /// (runtime/core/row_delta.hpp) when it only added rows, which stays
  /// rows through the fold when every replica's delta of that clock is
  /// one. `clock` must be the replica's current clock.
  /// Returns the refresh to broadcast when the minimum clock advanced.
  expected<std::optional<staleness_refresh>>
  push(std::size_t replica, std::uint64_t clock, std::optional<tensor> delta);

  /// Cross-replica assign: the server value (all deltas received so far
  /// plus the snapshot) becomes `value`; deltas pushed later add to it.
  expected<staleness_refresh> cross_assign(const tensor& value);

  /// Cross-replica delta, applied to the snapshot at once. op add_rows
  /// takes a packed row delta (repeats summed first, as the dense delta
  /// sums them), added in place, and the refresh carries the rows;
  /// assign_rows is `wrong_context`.
  expected<staleness_refresh> cross_add(update_op op, const tensor& delta);

  /// Removes a replica (its node died); the minimum clock is recomputed
  /// over the survivors. Returns the refresh when it advanced.
  std::optional<staleness_refresh> drop_replica(std::size_t replica);

  /// Takes the lost `replica` back (it rejoined) at the minimum clock, which
  /// it holds from now on until it pushes, and returns the refresh its
  /// cache starts from (the replica moves its clock up to the refresh's
  /// minimum clock). Its pushes may skip clocks (its clock is shared with
  /// the group's other variables, which may be further on): a skipped
  /// clock holds no update of it.
  staleness_refresh add_replica(std::size_t replica);

  /// The snapshot plus every delta received (what a cross-replica read
  /// returns).
  tensor total() const;

  /// The lowest clock of a live replica.
  std::uint64_t min_clock() const noexcept { return min_clock_; }

  /// Each replica's clock, by index.
  const std::vector<std::uint64_t>& clocks() const noexcept { return clocks_; }

  /// The current refresh (for replicas that attach or ask).
  staleness_refresh current() const {
    return {min_clock_, version_, snapshot_};
  }

private:
  std::uint64_t lowest_live_clock() const;

  /// Folds the tags below the new minimum into the snapshot.
  std::optional<staleness_refresh> advance();

  /// The deltas of one tag combined as an on_write step would combine them:
  /// a packed row delta when every one is (else dense).
  tensor combine(const std::vector<std::optional<tensor>>& deltas) const;

  /// `delta` as a dense delta (a packed one scattered).
  tensor dense(const tensor& delta) const;

  /// value += combined (in place for a packed row delta).
  void add_into(tensor& value, const tensor& combined) const;

  /// A packed row delta of no rows, or nullopt for a variable without rows
  /// (a scalar).
  std::optional<tensor> no_rows() const;

  settings config_;
  tensor snapshot_;
  std::uint64_t min_clock_ = 0;
  std::uint64_t version_ = 0;
  std::vector<std::uint64_t> clocks_;
  std::vector<bool> live_;
  /// Whether each replica's clock is known (all, unless awaiting attaches).
  std::vector<bool> attached_;
  /// Replicas that rejoined: their pushes may skip clocks.
  std::vector<bool> rejoined_;
  /// False between `await_attachments()` and `start()`.
  bool started_ = true;
  /// Deltas by clock tag (>= min_clock_), then by replica index.
  std::map<std::uint64_t, std::vector<std::optional<tensor>>> pending_;
};

} // namespace varsync::policies
