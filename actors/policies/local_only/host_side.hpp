#pragma once

// none and on_read, host side: a replica-context update changes the
// replica's own copy in place, on the calling thread, with no message
// (on_read aggregates the copies only when read cross-replica).

#include "actors/policies/local_part.hpp"

namespace varsync {

/// The part of a variable whose replica-context updates stay local.
class local_copy_part : public local_part {
public:
  using local_part::local_part;

  /// Applies the update to the slot. Always done here.
  host_update_plan update(update_op op, const tensor& operand) override;

  /// Adds the rows to the slot, in place (replica_slot::add_rows). Always
  /// done here.
  std::optional<host_update_plan> add_rows(std::span<const std::int64_t> rows,
                                           const tensor& values) override;
};

/// The policy table's factory for none and on_read.
std::shared_ptr<local_part> make_local_copy_part(const local_part_spec& spec,
                                                 local_store& store);

} // namespace varsync
