#pragma once

// What a surviving replica reports when its variable's actor is re-created
// on another node (re-hosting, actors/directory_actor.hpp): the state that
// the lost actor held and the replicas still have. One type for every
// policy; each fills what its recovery needs (actors/policies/<policy>/
// variable_side.cpp):
//   on_write, periodic   the latest installed version, its step count and
//                        value
//   bounded_staleness    the cached snapshot (min clock, version, value)
//                        and the replica's own pushed deltas that no
//                        snapshot holds yet, by clock tag
//   on_read, none        nothing (the copies are the state)
// It crosses process boundaries: registered in runtime/caf_setup.cpp.

#include "actors/protocol.hpp"
#include "varsync/tensor.hpp"

#include <caf/all.hpp>
#include <cstdint>
#include <vector>

namespace varsync {

struct replica_recovery {
  /// The replica's index in the group.
  std::uint64_t index = 0;
  /// False when the replica does not hold the variable (it rejoined after
  /// the variable's actor was lost: the re-created actor readmits it).
  bool holds = true;
  /// The replica's clock (its next push is tagged with it).
  std::uint64_t clock = 0;
  /// on_write/periodic: the latest installed version, how many steps it
  /// holds, and its value.
  std::uint64_t version = 0;
  std::uint64_t steps = 0;
  tensor value;
  /// on_write/periodic: the step this replica contributes next (or has in
  /// flight).
  std::uint64_t next_step = 0;
  /// bounded_staleness: the cached snapshot ...
  std::uint64_t min_clock = 0;
  std::uint64_t snapshot_version = 0;
  tensor snapshot;
  /// ... and the replica's pushed deltas not in it (raw, as pushed).
  std::vector<std::uint64_t> own_tags;
  std::vector<tensor> own_deltas;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_recovery& x) {
  return f(caf::meta::type_name("replica_recovery"), x.index, x.holds, x.clock,
           x.version, x.steps, x.value, x.next_step, x.min_clock,
           x.snapshot_version, x.snapshot, x.own_tags, x.own_deltas);
}

} // namespace varsync
