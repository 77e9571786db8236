#pragma once

// periodic, host side: a replica-context update applies to the replica's
// own copy and its accumulated change (replica_accumulator.hpp); every
// k-th update of the replica is a collective step that contributes the
// accumulated change as one assign_add through the replica actor (the
// variable side is on_write's). Installs carry the synchronized value,
// under which the accumulator keeps the replica's own change.

#include "actors/policies/local_part.hpp"
#include "actors/policies/periodic/replica_accumulator.hpp"

namespace varsync {

/// The periodic part of one variable at one replica.
class periodic_local_part : public local_part {
public:
  explicit periodic_local_part(const local_part_spec& spec);

  /// A local step (done here), or the k-th: the accumulated change as an
  /// assign_add step whose outcome settles the accumulator first.
  host_update_plan update(update_op op, const tensor& operand) override;

  bool takes_steps() const noexcept override { return true; }

  /// The synchronized value goes to the accumulator, which publishes the
  /// view (synchronized value plus the replica's own change) to the slot.
  void install(std::uint64_t version, tensor value) override;

private:
  std::shared_ptr<periodic_accumulator> accumulator_;
};

/// The policy table's factory for periodic.
std::shared_ptr<local_part>
make_periodic_local_part(const local_part_spec& spec, local_store& store);

} // namespace varsync
