#pragma once

// What one runtime knows about a replica group and a variable: built by the
// runtime from the directory's answers, shared with the handles of the
// public API. Local to one process.

#include "actors/local_store.hpp"
#include "actors/protocol.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable_options.hpp"

#include <caf/all.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace varsync::detail {

class runtime_core;

/// A replica group as one node sees it: the replica actors and local stores
/// of the replicas this node holds, by index (null for the others).
struct group_record {
  std::string name;
  std::size_t size = 0;
  std::vector<caf::actor> replica_actors;
  std::vector<std::shared_ptr<local_store>> stores;
  /// The runtime that owns the group (outlives every handle by contract).
  runtime_core* runtime = nullptr;
};

/// A variable: its identity, options and actor.
struct variable_record {
  variable_id id = 0;
  std::string name;
  dtype type = dtype::f32;
  shape_type shape;
  variable_options requested;
  variable_options resolved;
  group_record_ptr group;
  caf::actor actor;
  /// The node hosting the variable actor.
  std::string node;
  /// This process's slots and SSP caches of the variable by replica index
  /// (null for replicas elsewhere), so that reads skip the store lookup.
  std::vector<std::shared_ptr<replica_slot>> slots;
  std::vector<std::shared_ptr<staleness_cache>> caches;
  /// This process's local parts of the variable by replica index (null
  /// for replicas of other processes): the host path takes them from here
  /// without the store's lock.
  std::vector<std::shared_ptr<local_part>> parts;
};

} // namespace varsync::detail
