#pragma once

/// The synchronization policies and aggregations of a variable, named after
/// TensorFlow's `tf.VariableSynchronization` and `tf.VariableAggregation`.

#include "varsync/error.hpp"

#include <cstdint>
#include <string_view>

namespace varsync {

/// How the replicas of a variable are kept in agreement.
enum class synchronization : std::uint8_t {
  /// Resolves to `on_write` (as in TF) when the variable is created.
  automatic = 0,
  /// Independent local copies; no messages; cross-replica access is an error.
  none,
  /// Eager broadcast: an update is aggregated across replicas, applied once
  /// and installed at every replica before the update call returns.
  on_write,
  /// Lazy reduce-on-read: replicas update local copies; a cross-replica read
  /// aggregates all copies.
  on_read,
  /// Stale synchronous parallel: additive updates, reads may miss at most
  /// the last `staleness_bound` clocks of other replicas.
  bounded_staleness,
  /// Local steps, averaged every k: replica-context updates change the
  /// local copy only; every `period`-th update of each replica is a
  /// collective step that adds the aggregate of the replicas' accumulated
  /// changes to the last synchronized value (mean: model averaging, as in
  /// Local SGD) and installs it everywhere. k = 1 is on_write.
  periodic,
};

/// How per-replica values are combined.
enum class aggregation : std::uint8_t {
  /// No aggregation: replica-context updates of on_write variables are
  /// errors when the group has more than one replica.
  none = 0,
  /// The sum of the replicas' values.
  sum,
  /// The mean of the replicas' values (not allowed for integer dtypes).
  mean,
  /// Replica 0's value; the others' are ignored.
  only_first_replica,
  /// The elementwise minimum of the replicas' values (every dtype,
  /// integers included). on_write and on_read only: bounded_staleness and
  /// periodic add up changes, and a minimum of changes is not a change of
  /// the minimum.
  min,
  /// The elementwise maximum; like `min`.
  max,
};

/// "automatic", "none", "on_write", "on_read", "bounded_staleness" or
/// "periodic".
const char* to_string(synchronization x) noexcept;

/// "none", "sum", "mean", "only_first_replica", "min" or "max".
const char* to_string(aggregation x) noexcept;

/// Parses the names `to_string` gives; anything else is `invalid_argument`
/// naming the text and the accepted names.
expected<synchronization> synchronization_from_string(std::string_view name);

/// Parses the names `to_string` gives; anything else is `invalid_argument`
/// naming the text and the accepted names.
expected<aggregation> aggregation_from_string(std::string_view name);

} // namespace varsync
