#pragma once

// What one runtime knows about a replica group and a variable: built by the
// runtime from the directory's answers, shared with the handles of the
// public API. Local to one process.

#include "actors/local_store.hpp"
#include "actors/protocol.hpp"
#include "runtime/core/metrics.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable_options.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
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
  /// This process's metrics of the variable, looked up once (the registry
  /// takes a mutex per lookup; steps and SSP reads use this instead).
  /// Thread-safe: racing first calls store the same pointer.
  metrics::variable_metrics& recorded() const {
    auto* found = recorded_.load(std::memory_order_acquire);
    if (found == nullptr) {
      found = &metrics::process_metrics().variables.of(name);
      recorded_.store(found, std::memory_order_release);
    }
    return *found;
  }
  /// The variable's actor (thread-safe; it changes when the variable is
  /// re-hosted on another node).
  caf::actor current_actor() const {
    std::lock_guard guard{host_mutex_};
    return actor_;
  }
  /// Records that the variable was re-hosted: `actor` serves it now.
  /// Thread-safe.
  void rehosted(caf::actor actor) const {
    std::lock_guard guard{host_mutex_};
    actor_ = std::move(actor);
  }
  /// This process's slots and SSP caches of the variable by replica index
  /// (null for replicas elsewhere), so that reads skip the store lookup.
  std::vector<std::shared_ptr<replica_slot>> slots;
  std::vector<std::shared_ptr<staleness_cache>> caches;
  /// This process's local parts of the variable by replica index (null
  /// for replicas of other processes): the host path takes them from here
  /// without the store's lock.
  std::vector<std::shared_ptr<local_part>> parts;

  /// A sharded variable (variable_options::shards > 1): the records of its
  /// shard variables, in row order, and the first row of each shard plus
  /// the row count at the end (runtime/sharding/shard_layout.hpp). Empty
  /// for an ordinary variable; such a record has no actor, slots or parts
  /// of its own.
  std::vector<std::shared_ptr<const variable_record>> shards;
  std::vector<std::int64_t> shard_bounds;

  /// Whether this record names a sharded variable.
  bool sharded() const noexcept { return !shards.empty(); }

  /// Set once by the runtime that makes the record.
  void set_actor(caf::actor actor) { actor_ = std::move(actor); }

private:
  mutable std::mutex host_mutex_;
  mutable std::atomic<metrics::variable_metrics*> recorded_{nullptr};
  mutable caf::actor actor_;
};

} // namespace varsync::detail
