#pragma once

/// `runtime`: one per process. Owns the actor system, creates replica
/// groups and variables, and is the cross-replica context.

#include "varsync/error.hpp"
#include "varsync/replica.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable.hpp"
#include "varsync/variable_options.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace varsync {

namespace detail {
class runtime_core;
struct group_record;
} // namespace detail

/// Settings of a runtime. Every field has a default; the default runtime is
/// embedded (no network, no configuration files).
struct runtime_options {
  /// Deadline of calls that pass no timeout.
  std::chrono::milliseconds default_timeout{std::chrono::seconds{30}};

  /// Worker threads of the actor scheduler; 0 = one per hardware thread.
  std::size_t worker_threads = 0;
};

/// Counters of what the runtime's actors did; for tests and monitoring.
struct runtime_stats {
  /// Messages handled by varsync actors since the runtime started.
  std::uint64_t actor_messages = 0;
};

/// A handle to a replica group: `size()` replicas, each a replica actor.
/// Copyable; thread-safe.
class replica_group {
public:
  replica_group() = default;

  /// Used by the runtime; applications get groups from
  /// `runtime::create_group`.
  explicit replica_group(std::shared_ptr<detail::group_record> record)
      : record_(std::move(record)) {
    // nop
  }

  /// The group's name.
  const std::string& name() const;

  /// The number of replicas.
  std::size_t size() const;

  /// The replica context of replica `index`; `unknown_group` when
  /// `index >= size()`.
  expected<replica> at(std::size_t index) const;

  /// Internal record; used by the runtime.
  const std::shared_ptr<detail::group_record>& record() const {
    return record_;
  }

private:
  std::shared_ptr<detail::group_record> record_;
};

/// The per-process runtime and the cross-replica context. Thread-safe: every
/// member may be called from any thread. Destroying the runtime stops its
/// actors; pending calls then fail with `shutting_down`.
class runtime {
public:
  /// Starts an embedded runtime with default options.
  runtime();

  /// Starts an embedded runtime.
  explicit runtime(runtime_options options);

  /// Stops every actor; blocks until they are gone.
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The options the runtime was started with.
  const runtime_options& options() const noexcept;

  /// Creates a group of `replicas` replica actors, or returns the existing
  /// group of that name when its size is the same (`already_exists`
  /// otherwise). `replicas` must be at least 1. Blocks until the actors run.
  expected<replica_group> create_group(const std::string& name,
                                       std::size_t replicas);

  /// Creates a variable of `group` with `initial` as every replica's value,
  /// or returns the existing variable of that name when dtype, shape, group
  /// and options agree (`already_exists` naming the difference otherwise).
  /// Invalid option combinations are `invalid_policy`. Blocks until every
  /// replica installed the initial value.
  expected<variable> create_variable(const replica_group& group,
                                     const std::string& name,
                                     const tensor& initial,
                                     variable_options options = {});

  /// The variable called `name`, or `unknown_variable`.
  expected<variable> find_variable(const std::string& name) const;

  // -- cross-replica context --------------------------------------------------

  /// Cross-replica read: on_write returns the current value; on_read asks
  /// every replica for its copy and aggregates (aggregation `none` is
  /// `aggregation_required`); bounded_staleness returns the server value
  /// (every delta pushed so far); none is `wrong_context`. Blocks until the
  /// result is ready or the deadline passes.
  expected<tensor> read(const variable& var, timeout_type timeout = {});

  /// Cross-replica assign: on_write applies `value` once and installs it at
  /// every replica before returning; on_read writes `value / R` (sum) or
  /// `value` (otherwise) into every copy; bounded_staleness sets the server
  /// value (deltas pushed later add to it; every replica's next refresh
  /// shows it); none is `wrong_context`.
  expected<void> assign(const variable& var, const tensor& value,
                        timeout_type timeout = {});

  /// Cross-replica `+= delta`: on_write applies it once and broadcasts;
  /// on_read with mean/only_first_replica adds it to every copy, with sum
  /// it is `wrong_context`; none is `wrong_context`.
  expected<void> assign_add(const variable& var, const tensor& delta,
                            timeout_type timeout = {});

  /// Cross-replica `-= delta`; see `assign_add`.
  expected<void> assign_sub(const variable& var, const tensor& delta,
                            timeout_type timeout = {});

  /// Asynchronous cross-replica read; `done` runs once on a varsync worker
  /// thread (or the caller's, for input errors). Never blocks.
  void read_async(const variable& var, read_callback done,
                  timeout_type timeout = {});

  /// Asynchronous cross-replica assign; see `read_async`.
  void assign_async(const variable& var, const tensor& value,
                    update_callback done, timeout_type timeout = {});

  /// bounded_staleness: the group's minimum clock as the variable actor
  /// knows it (every update of clocks below it is in every snapshot).
  /// Other policies: `wrong_context`. Blocks.
  expected<std::uint64_t> min_clock(const variable& var,
                                    timeout_type timeout = {});

  // -- checkpoints ------------------------------------------------------------

  /// Writes the variable's cross-replica value (on_read: the aggregated
  /// value) to `path` atomically (temp file, fsync, rename) with a version
  /// header and a checksum. Blocks.
  expected<void> save(const variable& var, const std::filesystem::path& path,
                      timeout_type timeout = {});

  /// Reads `path` and assigns its value in cross-replica context (on_read
  /// sum: every copy gets value / R, truncated toward zero for i64). The
  /// file must hold this variable's name, dtype and shape (else
  /// `invalid_argument`, `dtype_mismatch`, `shape_mismatch`); a truncated
  /// or altered file is `checkpoint_corrupt`. On error nothing changes.
  /// Blocks.
  expected<void> restore(const variable& var, const std::filesystem::path& path,
                         timeout_type timeout = {});

  // -- introspection ----------------------------------------------------------

  /// Counters of the actors' work so far. Thread-safe, never blocks.
  runtime_stats stats() const noexcept;

  /// Internal core; used by the library.
  detail::runtime_core& core() noexcept { return *core_; }

private:
  std::unique_ptr<detail::runtime_core> core_;
};

} // namespace varsync
