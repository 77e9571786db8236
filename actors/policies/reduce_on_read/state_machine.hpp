#pragma once

// on_read: lazy reduce-on-read (TF SyncOnReadVariable).
//
//   replica context                 cross-replica context
//   read / update the local copy    read:   [gathering R copies] --all in-->
//   (no message, no actor)                  aggregate in index order, reply
//                                   update: [writing R copies] --all acked-->
//                                           reply
//
// How it works. Each replica's copy lives in its replica slot and replica
// context touches only that copy. A cross-replica read sends copy_get to
// every replica actor, waits for all R copies and aggregates them (sum and
// mean add in replica index order, only_first_replica takes replica 0's;
// aggregation none is an error). A cross-replica assign of x writes x / R
// into every copy for sum (so that a later sum-read returns x) and x
// otherwise; a cross-replica assign_add / assign_sub applies the delta to
// every copy, except with sum, where it is an error because the result
// would depend on R. assign_add_rows (op add_rows, a packed row delta)
// follows assign_add's rule and writes the rows, repeats summed, into
// every copy in place: the bytes go with the rows. A cross-replica read of
// rows (read_rows) gathers just those rows of every copy (copy_rows) and
// aggregates them like whole copies. Replica actors handle copy_set messages
// from one variable actor in order, so concurrent cross-replica writes reach
// every copy in the same order.
//
// Guarantee: a cross-replica read returns aggregation(copy_0 .. copy_R-1)
// of copies that each include every update completed before the read was
// sent.

#include "actors/policies/policy_settings.hpp"
#include "runtime/core/tensor_math.hpp"
#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace varsync::policies {

/// The update to apply to every copy for one cross-replica update.
struct copy_update {
  update_op op;
  tensor operand;
};

/// The on_read protocol rules of one variable (stateless between calls).
class reduce_on_read {
public:
  using settings = policy_settings;

  explicit reduce_on_read(settings config) : config_(std::move(config)) {
    // nop
  }

  /// Whether a cross-replica read is allowed (not with aggregation none).
  expected<void> check_read() const;

  /// Aggregates the copies of all replicas, in replica index order.
  tensor finish_read(const std::vector<tensor>& copies) const;

  /// What to write into every copy for a cross-replica `op(operand)`, or
  /// an error (nothing is written). add_rows takes a packed row delta and
  /// plans its distinct rows (repeats summed); assign_rows is refused.
  expected<copy_update> plan_update(update_op op, const tensor& operand) const;

private:
  settings config_;
};

} // namespace varsync::policies
