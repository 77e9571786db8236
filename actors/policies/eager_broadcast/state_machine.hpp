#pragma once

// on_write: eager broadcast (TF MirroredVariable), as a state machine
// without I/O; the variable actor feeds it events and carries out what it
// returns.
//
//   contribute(r, k, op, x)                     every live replica has
//   ---------------------> [ step k collecting ] ----------------------+
//   expire(r, k): withdraw  |   ^                contributed to k       |
//   r's contribution, tell  |   |                                       v
//   r who is missing  <-----+   +--- next_step = k + 1 <--- aggregate the
//                                                          operands (index
//   cross_update(op, x): apply once, version + 1,          order), apply op
//   publish (not a step; rows for row ops)                 once, version + 1,
//                                                          publish
//
// How it works. Every replica numbers its own updates of this variable:
// 0, 1, 2, ... ("steps"). Replica r's k-th update arrives as
// contribute(r, k, op, x). Contributions for step `next_step_` and later are
// buffered in `pending_`; when every live replica has contributed to
// `next_step_`, the operands are aggregated (sum/mean add them in replica
// index order, only_first_replica takes the lowest live index), `op` is
// applied once to `value_`, `version_` is bumped and the result is
// published; the actor then installs it at every replica and acknowledges
// each contributor. All replicas of a step must use the same op; a
// contribution with another op is rejected (`collective_mismatch`) and
// changes nothing. A contribution whose deadline passed is withdrawn, so a
// failed call never applies anything.
//
// Row steps (assign_add_rows, op add_rows, on_write only): each operand is
// a packed row delta; the step aggregates them into one delta of distinct
// rows (exactly what the dense step would add to those rows), adds it to
// `value_` in place and publishes the delta, not the value: every replica
// adds it to the version before. Bytes and time go with the rows touched.
// assign_rows steps (op assign_rows, aggregation only_first_replica, or
// none in a group of one) take the first live replica's packed rows as
// they are and publish them as rows that set (row_delta.hpp `setting_rows`):
// written over in order, so a repeated row ends with its last value.
//
// Pipelined reduce (dense assign_add / assign_sub with sum, mean, min or
// max). A large contribution may arrive in parts (bulk_plane.hpp, "Parts"):
// `contribute` with the elements received so far, then `receive_more` as
// each further part lands in the same buffer. Once every live replica's
// contribution to `next_step_` is at least partly there, the elements all
// of them hold are reduced at once (apply_aggregate_range: the same
// operations per element as the whole reduce, so the same bits) into the
// step's output buffer, and that range is published as a part
// (`take_parts`) for the actor to send while the next parts arrive; the
// step completes when the last range is reduced (its version then says
// `in_parts`). Anything that changes what the step reduces from before it
// completes (a replica dropped, a contribution withdrawn, a cross-replica
// update of the value) starts the step's reduce over in a fresh buffer;
// its parts are published again from offset 0 (receivers restart the
// frame), or the version goes out whole.
//
// Guarantee: every replica installs the same sequence of (version, value)
// pairs, and a contributor is acknowledged only after the version holding
// its step was published.

#include "actors/policies/policy_settings.hpp"
#include "runtime/core/tensor_math.hpp"
#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace varsync::policies {

/// A value the variable actor must install at every replica.
struct published_version {
  std::uint64_t version = 0;
  tensor value;
  /// The collective step this version completes, or nullopt for a
  /// cross-replica update.
  std::optional<std::uint64_t> step;
  /// How many steps this version holds (the variable's next step once it
  /// is published): replicas keep it with the value, so that a re-hosted
  /// variable knows which steps its lost actor committed.
  std::uint64_t steps = 0;
  /// True when `value` is a packed row delta (runtime/core/row_delta.hpp)
  /// that turns version - 1 into this version, not the whole value.
  bool rows = false;
  /// True when the whole value went out as parts (`take_parts`, from
  /// offset 0 to the end, the last one in the same call).
  bool in_parts = false;
};

/// A reduced range of a step's version, published before the step
/// completes: elements [offset, offset + count) of `value` (the whole
/// version's buffer, of which the elements before offset + count hold
/// their values; later ones are written while this part travels).
struct published_part {
  /// The version the step will publish.
  std::uint64_t version = 0;
  std::uint64_t step = 0;
  /// The steps that version holds.
  std::uint64_t steps = 0;
  tensor value;
  std::uint64_t offset = 0;
  std::uint64_t count = 0;
  /// The step's last part: its version is published in the same call.
  bool last = false;
};

/// What a surviving replica holds of an on_write variable whose actor was
/// lost: the latest version installed there.
struct committed_state {
  std::size_t replica = 0;
  /// The step the replica contributes next (or has in flight): beyond the
  /// recovered steps only for a replica that rejoined and was told to
  /// start later.
  std::uint64_t next_step = 0;
  std::uint64_t version = 0;
  /// The steps that version holds.
  std::uint64_t steps = 0;
  tensor value;
};

/// The on_write protocol state of one variable.
class eager_broadcast {
public:
  using settings = policy_settings;

  eager_broadcast(settings config, tensor initial);

  /// Records replica `replica`'s update number `step`. Returns the versions
  /// this completes (in order; usually none or one), or an error when the
  /// contribution is invalid, in which case nothing changed. `received`
  /// (default: all) is how many of the operand's elements hold their
  /// values yet; the rest arrive later (`receive_more`): only for
  /// assign_add / assign_sub, and the operand must not change elsewhere
  /// meanwhile.
  expected<std::vector<published_version>>
  contribute(std::size_t replica, std::uint64_t step, update_op op,
             tensor operand,
             std::optional<std::uint64_t> received = std::nullopt);

  /// More of `replica`'s contribution to `step` arrived: the elements of
  /// `operand` before `received` hold their values. Nothing happens unless
  /// the step is pending with a partly received contribution of `replica`
  /// in that same buffer (`operand` shares it) and `received` is more
  /// (a withdrawn contribution stays withdrawn). Returns the versions
  /// this completes.
  std::vector<published_version> receive_more(std::size_t replica,
                                              std::uint64_t step,
                                              const tensor& operand,
                                              std::uint64_t received);

  /// The parts published since the last call, in order (see "Pipelined
  /// reduce" above); send them before the versions the same call returned.
  std::vector<published_part> take_parts();

  /// Withdraws `replica`'s contribution to `step` when that step is still
  /// pending and returns the `timeout` error to report to it (naming the
  /// replicas that had not contributed); nullopt when the step already
  /// completed or holds no contribution of `replica`.
  std::optional<error> expire(std::size_t replica, std::uint64_t step);

  /// Applies a cross-replica update once. Returns the version to publish or
  /// an error (nothing changed). With op add_rows or assign_rows the
  /// operand is a packed row delta (rows that add; repeats of a row are
  /// summed first, as the dense path sums them, or for assign_rows set in
  /// order) and the published version holds the rows (`rows`), not the
  /// value.
  expected<published_version> cross_update(update_op op, const tensor& operand);

  /// Removes `replica` from the group (its node died): pending steps finish
  /// with the survivors. Returns the versions this completes.
  std::vector<published_version> drop_replica(std::size_t replica);

  /// Removes every replica of `replicas` from the group before any pending
  /// step completes (a node with several replicas died): no step completes
  /// with some of them dropped and the others' contributions still in.
  /// Returns the versions this completes.
  std::vector<published_version>
  drop_replicas(const std::vector<std::size_t>& replicas);

  /// Takes the lost `replica` back into the group (it rejoined) and returns
  /// the first step it takes part in: the first step nobody contributed to
  /// yet. Earlier steps complete without it; from that step on every step
  /// waits for it too. Nothing is published.
  std::uint64_t add_replica(std::size_t replica);

  /// The state of a variable re-created after its actor was lost: the
  /// latest version any surviving replica (those in `held`; the others
  /// are lost) holds: the highest version, the most steps among equal
  /// versions. It holds every step that was acknowledged to anyone (a
  /// replica installs a version before its step is acknowledged). Steps
  /// after it start anew.
  static eager_broadcast recovered(settings config,
                                   const std::vector<committed_state>& held);

  /// The current value (the latest published).
  const tensor& value() const noexcept { return value_; }

  /// The latest published version (0 = the initial value).
  std::uint64_t version() const noexcept { return version_; }

  /// The latest published version whole (value, version and the steps it
  /// holds), for a replica that missed a row step.
  published_version latest() const {
    return {version_, value_, std::nullopt, next_step_, false};
  }

  /// The lowest step that has not completed.
  std::uint64_t next_step() const noexcept { return next_step_; }

  /// Live replicas that have not contributed to `step`, in index order.
  std::vector<std::size_t> missing(std::uint64_t step) const;

  /// The number of replicas still in the group.
  std::size_t live_replicas() const noexcept;

private:
  struct contribution {
    update_op op;
    tensor operand;
    /// Elements of `operand` that hold their values (all, unless it
    /// arrives in parts).
    std::uint64_t received = 0;
  };

  struct pending_step {
    std::vector<std::optional<contribution>> by_replica;
    /// Replicas that contributed at some point, even if they withdrew
    /// since: a timeout names only the replicas that never showed up.
    std::vector<bool> seen;
    /// The pipelined reduce of this step (only `next_step_`): the output
    /// buffer, written through `output_bytes` (taken before it was shared
    /// with a published part), and how many elements are reduced.
    tensor output;
    std::span<std::byte> output_bytes;
    std::uint64_t reduced = 0;
  };

  /// Reduces what every contribution of the pending `next_step_` holds
  /// beyond what was reduced (publishing it as a part); true when the
  /// whole step is reduced into `entry.output`.
  bool reduce_received(pending_step& entry);
  /// Starts the pending `next_step_`'s reduce over (see above).
  void restart_reduce();

  expected<void> check(std::size_t replica, std::uint64_t step, update_op op,
                       const tensor& operand) const;

  /// Completes `next_step_` and following steps while they are full.
  std::vector<published_version> complete_ready_steps();

  bool is_complete(std::uint64_t step, const pending_step& entry) const;
  /// Whether every replica that takes part in `step` contributed (some of
  /// it may still be arriving).
  bool all_present(std::uint64_t step, const pending_step& entry) const;
  /// Whether `replica` must contribute to `step` (live, and joined by then).
  bool takes_part(std::size_t replica, std::uint64_t step) const;

  settings config_;
  tensor value_;
  std::uint64_t version_ = 0;
  std::uint64_t next_step_ = 0;
  std::vector<bool> live_;
  /// The first step each replica takes part in (0, or its rejoin step).
  std::vector<std::uint64_t> joined_at_;
  std::map<std::uint64_t, pending_step> pending_;
  std::vector<published_part> parts_;
};

} // namespace varsync::policies
