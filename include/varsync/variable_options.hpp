#pragma once

/// Options of a distributed variable. Defaults match TensorFlow's:
/// synchronization `automatic`, aggregation `none`, trainable unless on_read.

#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace varsync {

/// A staleness bound meaning "never wait for other replicas" (fully
/// asynchronous bounded_staleness).
inline constexpr std::uint64_t unbounded_staleness =
    std::numeric_limits<std::uint64_t>::max();

/// What a variable is: its policy, aggregation and flags. Every field has a
/// default; set only what you need.
struct variable_options {
  /// The synchronization policy; `automatic` resolves to `on_write`.
  synchronization sync = synchronization::automatic;

  /// How per-replica values are combined.
  varsync::aggregation aggregation = aggregation::none;

  /// bounded_staleness only: how many clocks a replica may run ahead of the
  /// slowest one (0 = bulk synchronous, `unbounded_staleness` = async).
  std::uint64_t staleness_bound = 0;

  /// periodic only: every how many replica-context updates a replica
  /// synchronizes (k >= 1; 0 = unset, an error with periodic).
  std::uint64_t period = 0;

  /// Into how many shards the value is split along its first dimension
  /// (rows; a 1-D tensor's elements). 1: one variable actor holds the whole
  /// value. K > 1: K shard variables, each with its own variable actor
  /// (placed on distinct serving nodes where the cluster has them), hold
  /// contiguous row ranges; one handle still names the whole variable
  /// (README, "Sharded variables"). 0: automatic, one shard per serving
  /// node when the value has at least `runtime_options::auto_shard_bytes`
  /// bytes, else 1. Never more shards than rows; a scalar has one.
  std::uint32_t shards = 1;

  /// Whether an optimizer may train it. Unset means TF's default: true,
  /// except false for on_read. Explicitly true with on_read is an error.
  std::optional<bool> trainable;

  friend bool operator==(const variable_options&,
                         const variable_options&) = default;
};

/// The options with `automatic` resolved to `on_write` and `trainable`
/// resolved, or an `invalid_policy` error naming `variable_name`, the two
/// values that do not combine and what would be allowed, given the
/// variable's `type`.
expected<variable_options> resolve(const variable_options& options, dtype type,
                                   const std::string& variable_name);

/// E.g. "on_write (resolved from automatic), aggregation sum, trainable".
std::string describe(const variable_options& requested,
                     const variable_options& resolved);

} // namespace varsync
