#pragma once

// bounded_staleness, host side: a replica-context update adds into the
// replica's SSP cache on the calling thread (read-your-writes, no message);
// the replica pushes its accumulated delta at its next clock()
// (replica_side.hpp); rows added with assign_add_rows stay rows in it and
// in the push. Updates must commute: assign is refused. A read is
// served from the copy when it is fresh enough for the replica's clock (the
// staleness bound); otherwise the caller waits for a refresh.

#include "actors/local_store.hpp"
#include "actors/policies/local_part.hpp"

namespace varsync {

/// The bounded_staleness part of one variable at one replica.
class bounded_staleness_local_part : public local_part {
public:
  bounded_staleness_local_part(const local_part_spec& spec,
                               std::shared_ptr<staleness_cache> cache,
                               staleness_counters& counters);

  /// Adds assign_add / assign_sub into the cache; refuses assign with
  /// wrong_context. Always done here.
  host_update_plan update(update_op op, const tensor& operand) override;

  /// Adds the rows into the cache as a packed row delta (the clock's push
  /// carries the rows, not the table). Always done here.
  std::optional<host_update_plan> add_rows(std::span<const std::int64_t> rows,
                                           const tensor& values) override;

  /// The SSP bound: the installed view reflects every replica's updates
  /// up to a min clock of at least `clock` - s.
  bool fresh_at(std::uint64_t clock) const override;

  /// The view, stamped with how many clocks it lags `clock` (recorded in
  /// the replica's staleness counters).
  stamped_read read_at(std::uint64_t clock) override;

private:
  std::shared_ptr<staleness_cache> cache_;
  /// The replica's counters, in the store that owns this part.
  staleness_counters& counters_;
};

/// The policy table's factory for bounded_staleness: creates the SSP cache
/// (feeding the slot) and registers it in `store`.
std::shared_ptr<local_part>
make_bounded_staleness_local_part(const local_part_spec& spec,
                                  local_store& store);

} // namespace varsync
