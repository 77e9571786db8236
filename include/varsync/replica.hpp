#pragma once

/// `replica`: the replica context of replica `i` of a replica group.

#include "varsync/error.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

namespace varsync {

namespace detail {
class replica_core;
} // namespace detail

/// A per-call deadline: how long a call may wait. Unset means the
/// runtime's default (`runtime_options::default_timeout`).
using timeout_type = std::optional<std::chrono::milliseconds>;

/// Callback of the asynchronous forms that produce a value.
using read_callback = std::function<void(expected<tensor>)>;

/// Callback of the asynchronous forms that produce no value.
using update_callback = std::function<void(expected<void>)>;

/// A read together with the SSP clocks it was made at.
struct stamped_read {
  /// The value read.
  tensor value;
  /// The reader's clock (completed clock() calls); 0 for other policies.
  std::uint64_t clock = 0;
  /// bounded_staleness: the reader's clock minus the minimum clock the
  /// value reflects (never more than the bound); 0 for other policies.
  std::uint64_t staleness = 0;
};

/// What one replica's bounded_staleness reads and clocks cost so far.
struct replica_stats {
  /// Completed clock() calls: the replica's current clock.
  std::uint64_t clock = 0;
  /// Reads of bounded_staleness variables.
  std::uint64_t stale_reads = 0;
  /// The largest staleness of those reads.
  std::uint64_t max_staleness = 0;
  /// Their mean staleness.
  double mean_staleness = 0;
  /// Reads that had to wait for a fresher snapshot.
  std::uint64_t waiting_reads = 0;
  /// Time spent in reads that waited.
  std::chrono::nanoseconds read_wait{0};
  /// Time spent in clock(), pushing and waiting for slower replicas.
  std::chrono::nanoseconds clock_wait{0};
};

/// The replica context of replica `index()` of a group: what a worker loop
/// calls. Copyable handle; all copies refer to the same replica.
///
/// Thread-safety: a replica is used by one thread at a time (the worker
/// loop that owns it), except `read`, which any thread may call.
///
/// What a call costs depends on the variable's policy:
/// - `read` of on_write, on_read and none copies is an atomic load of the
///   installed value: it never blocks and sends no message.
/// - on_write updates are collective: step k of a variable completes when
///   every replica made its k-th update; the call returns when this replica
///   installed the aggregated result.
/// - on_read and none updates touch only the local copy: no message.
/// - bounded_staleness: `assign_add`/`assign_sub` apply to the local cache
///   at once (no message) and accumulate a pending delta; `clock()` pushes
///   the deltas and waits until this replica is at most `staleness_bound`
///   clocks ahead of the slowest; `read` at clock c returns at once when
///   the cache reflects every update of clocks < c - s, else it waits.
///   Replica-context `assign` is `wrong_context` (updates must commute).
/// - A sharded variable (variable_options::shards) costs what its policy
///   costs, once per shard, with the shards' messages sent at once; a read
///   returns the shards of one version (it loads again while a step is
///   being installed shard by shard), so it may wait for that install.
class replica {
public:
  replica() = default;

  /// Used by the runtime; applications get handles from
  /// `replica_group::at`.
  explicit replica(std::shared_ptr<detail::replica_core> core)
      : core_(std::move(core)) {
    // nop
  }

  /// False for a default-constructed handle.
  bool valid() const noexcept { return core_ != nullptr; }

  /// This replica's index in its group, 0 ... group_size() - 1.
  std::size_t index() const;

  /// The number of replicas in the group.
  std::size_t group_size() const;

  // -- blocking forms ---------------------------------------------------------

  /// Reads this replica's copy. Never blocks for on_write, on_read and none
  /// (no message; the result is the latest installed value). For
  /// bounded_staleness it blocks only while the cache is too stale (see
  /// above), up to the deadline (then `timeout`).
  expected<tensor> read(const variable& var, timeout_type timeout) const;

  /// `read` with the default deadline. A separate overload, not a default
  /// argument: reads are the hottest call, and building an empty optional
  /// per call costs a measurable part of a scalar read.
  expected<tensor> read(const variable& var) const;

  /// Like `read`, also returning the clock and staleness of the read.
  expected<stamped_read> read_stamped(const variable& var,
                                      timeout_type timeout = {}) const;

  /// Ends this replica's SSP iteration: pushes the pending deltas of every
  /// bounded_staleness variable of the group (one message per variable
  /// actor), advances the clock, and blocks until this replica is at most
  /// `staleness_bound` clocks ahead of the slowest live replica, or until
  /// the deadline (`timeout`; the clock has advanced all the same). A group
  /// without bounded_staleness variables just advances the clock.
  expected<void> clock(timeout_type timeout = {});

  /// Asynchronous `clock`; `done` runs once on a varsync worker thread
  /// when the clock may proceed or the deadline passed. Never blocks.
  void clock_async(update_callback done, timeout_type timeout = {});

  /// Blocks until this replica's bounded_staleness caches include every
  /// update that any replica made before this replica's current clock
  /// (the minimum clock reached it), or until the deadline (`timeout`).
  /// After every replica's last clock(), a catch_up makes reads return the
  /// exact global value.
  expected<void> catch_up(timeout_type timeout = {});

  /// The bounded_staleness counters of this replica. Thread-safe.
  replica_stats stats() const;

  /// Replica-context assign. Blocks until the result is installed here
  /// (on_write: until every replica contributed to this step) or until the
  /// deadline, which yields `timeout` naming the replicas that had not
  /// contributed; on error nothing was applied.
  expected<void> assign(const variable& var, const tensor& value,
                        timeout_type timeout = {});

  /// Replica-context `var += delta`; blocking like `assign`.
  expected<void> assign_add(const variable& var, const tensor& delta,
                            timeout_type timeout = {});

  /// Replica-context `var -= delta`; blocking like `assign`.
  expected<void> assign_sub(const variable& var, const tensor& delta,
                            timeout_type timeout = {});

  // -- rows (slices along the first dimension, e.g. embeddings) -------------

  /// The rows `rows` of this replica's copy, in that order (an index may
  /// repeat): a tensor of shape [rows.size(), var.shape()[1], ...]. Blocks
  /// like `read` (only bounded_staleness may wait). An index outside
  /// [0, var.shape()[0]) is `invalid_argument` naming the index and the
  /// row count; a scalar variable has no rows (`invalid_argument`).
  expected<tensor> read_rows(const variable& var,
                             std::span<const std::int64_t> rows,
                             timeout_type timeout = {}) const;

  /// Replica-context `var[rows[i]] += values[i]` for every i, where
  /// `values` has shape [rows.size(), var.shape()[1], ...]; rows named
  /// more than once receive the sum of their values. The same update as
  /// `assign_add` with a delta that is zero outside `rows` (every policy's
  /// rules apply; on_write: one collective step), and it blocks like it.
  /// An index out of range, or values of another dtype or shape, is an
  /// error and nothing is applied. What travels and what is touched goes
  /// with the rows for on_write (sum, mean, only_first_replica: a row-delta
  /// step), on_read and none (the copy, in place) and bounded_staleness
  /// (the clock's push); periodic and on_write with min or max take the
  /// dense delta (README, "Rows").
  expected<void> assign_add_rows(const variable& var,
                                 std::span<const std::int64_t> rows,
                                 const tensor& values,
                                 timeout_type timeout = {});

  /// Replica-context `var[rows[i]] = values[i]` for every i, in order (a
  /// row named more than once ends with its last value; other rows keep
  /// their bits): TF's scatter_update. Allowed where an assign of the
  /// whole value keeps the other rows: on_write and periodic with
  /// aggregation only_first_replica (replica 0's rows win; every replica
  /// makes the call, as for `assign`) or none (then, as for `assign`, only
  /// in a group of one replica), on_read and none (this replica's copy).
  /// Other aggregations and bounded_staleness are `wrong_context`; bad
  /// rows or values are refused as by `assign_add_rows`; nothing is
  /// applied on an error. Blocks like `assign`. On an on_write variable
  /// it costs the rows (a row step; sharded: one per shard); elsewhere a
  /// read and an `assign` of the whole value (README, "Rows").
  expected<void> assign_rows(const variable& var,
                             std::span<const std::int64_t> rows,
                             const tensor& values, timeout_type timeout = {});

  /// Asynchronous `assign_rows`; see `assign_async` (refusals are reported
  /// to `done` on the caller's thread, nothing applied).
  void assign_rows_async(const variable& var,
                         std::span<const std::int64_t> rows,
                         const tensor& values, update_callback done,
                         timeout_type timeout = {});

  /// Asynchronous `assign_add_rows`; see `assign_async` (bad rows are
  /// reported to `done` on the caller's thread, nothing applied).
  void assign_add_rows_async(const variable& var,
                             std::span<const std::int64_t> rows,
                             const tensor& values, update_callback done,
                             timeout_type timeout = {});

  // -- asynchronous forms with callbacks --------------------------------------

  /// Like `read`, but never blocks the caller: `done` runs once with the
  /// result, on the caller's thread when the value is local, otherwise on a
  /// varsync worker thread. `done` must not block.
  void read_async(const variable& var, read_callback done,
                  timeout_type timeout = {}) const;

  /// Like `assign`, but returns at once; `done` runs once on a varsync
  /// worker thread (or on the caller's thread for local-only policies or
  /// input errors) when the value is installed here or the call failed.
  /// `done` must not block. Successive async updates of one variable from
  /// one replica are applied in call order.
  void assign_async(const variable& var, const tensor& value,
                    update_callback done, timeout_type timeout = {});

  /// Asynchronous `assign_add`; see `assign_async`.
  void assign_add_async(const variable& var, const tensor& delta,
                        update_callback done, timeout_type timeout = {});

  /// Asynchronous `assign_sub`; see `assign_async`.
  void assign_sub_async(const variable& var, const tensor& delta,
                        update_callback done, timeout_type timeout = {});

  // -- asynchronous forms with Boost.Asio completion tokens -------------------
  // Defined in <varsync/asio.hpp>; include it to use them. The completion
  // signature is void(expected<tensor>) for reads, void(expected<void>) for
  // updates: `co_await r.async_read(v, asio::use_awaitable)` yields an
  // expected<tensor>, resumed on the coroutine's own executor; with
  // `asio::use_future` the result is a std::future<expected<...>>. The
  // handler is invoked through its associated executor when the result is
  // ready (as for the callback forms).

  /// Asio form of `read_async`.
  template <class CompletionToken>
  auto async_read(const variable& var, CompletionToken&& token,
                  timeout_type timeout = {}) const;

  /// Asio form of `assign_async`.
  template <class CompletionToken>
  auto async_assign(const variable& var, const tensor& value,
                    CompletionToken&& token, timeout_type timeout = {});

  /// Asio form of `assign_add_async`.
  template <class CompletionToken>
  auto async_assign_add(const variable& var, const tensor& delta,
                        CompletionToken&& token, timeout_type timeout = {});

  /// Asio form of `assign_sub_async`.
  template <class CompletionToken>
  auto async_assign_sub(const variable& var, const tensor& delta,
                        CompletionToken&& token, timeout_type timeout = {});

  /// Internal core; used by the runtime.
  const std::shared_ptr<detail::replica_core>& core() const { return core_; }

private:
  std::shared_ptr<detail::replica_core> core_;
};

} // namespace varsync
