#pragma once

// on_write, host side: every replica-context update is a collective step
// through the replica actor (actors/policies/eager_broadcast/
// replica_side.hpp); in a group of more than one replica it needs an
// aggregation (TF's rule). Installs go to the slot. Row updates are
// row-delta steps: bytes and time in proportion to the rows touched.

#include "actors/policies/local_part.hpp"

namespace varsync {

/// The on_write part of one variable at one replica.
class eager_broadcast_local_part : public local_part {
public:
  using local_part::local_part;

  /// Returns the step (the update as is) or aggregation_required.
  host_update_plan update(update_op op, const tensor& operand) override;

  /// A row-delta step (the rows packed, runtime/core/row_delta.hpp), or
  /// aggregation_required; nullopt (the dense delta) under min or max,
  /// which are not row aggregations.
  std::optional<host_update_plan> add_rows(std::span<const std::int64_t> rows,
                                           const tensor& values) override;

  /// A row step that sets the rows (op assign_rows; the caller checked
  /// TF's rule: aggregation none or only_first_replica), or
  /// aggregation_required.
  std::optional<host_update_plan>
  assign_rows(std::span<const std::int64_t> rows,
              const tensor& values) override;

  bool takes_steps() const noexcept override { return true; }
};

/// The policy table's factory for on_write.
std::shared_ptr<local_part>
make_eager_broadcast_local_part(const local_part_spec& spec,
                                local_store& store);

} // namespace varsync
