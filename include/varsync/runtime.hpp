#pragma once

/// `runtime`: one per process. Owns the actor system, creates replica
/// groups and variables, and is the cross-replica context. Embedded (a
/// cluster of one process, no network) or a node of a cluster
/// (`runtime::start(node_config)`).

#include "varsync/cluster_status.hpp"
#include "varsync/error.hpp"
#include "varsync/node_config.hpp"
#include "varsync/remote_task.hpp"
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

struct job_process;

/// Settings of a runtime. Every field has a default; the default runtime is
/// embedded (no network, no configuration files).
struct runtime_options {
  /// Deadline of calls that pass no timeout.
  std::chrono::milliseconds default_timeout{std::chrono::seconds{30}};

  /// Worker threads of the actor scheduler; 0 = one per hardware thread
  /// (at least 2).
  std::size_t worker_threads = 0;

  /// How long an idle thread of the runtime (a scheduler worker, the bulk
  /// plane's I/O thread, a blocking call waiting for its result) keeps
  /// polling, yielding its core between polls, before it sleeps. Work that
  /// arrives in that window costs no thread wake-up (~25 us each on a VM,
  /// several per step: the 8-byte step at P = 2 went from ~150 to ~30 us).
  /// Polling uses only idle time (any runnable thread goes first) but
  /// keeps an idle core awake for that long. 0: sleep at once.
  std::chrono::microseconds spin{100};

  /// Variables created with `variable_options::shards == 0` (automatic) of
  /// at least this many bytes get one shard per serving node.
  std::size_t auto_shard_bytes = std::size_t{1} << 20;
};

/// Counters of what the runtime's actors did; for tests and monitoring.
struct runtime_stats {
  /// Messages handled by varsync actors since the runtime started.
  std::uint64_t actor_messages = 0;

  /// Tensor payload bytes this process sent to other processes, as CAF
  /// messages or on the bulk plane (every runtime of the process together);
  /// 0 for an embedded runtime.
  std::uint64_t bytes_sent = 0;

  /// Frames this node sent and received on its bulk plane (large on_write
  /// tensors, their acks); 0 for an embedded runtime.
  std::uint64_t bulk_frames_sent = 0;
  std::uint64_t bulk_frames_received = 0;

  /// Tensor payload bytes this process copied in user space (copy-on-write,
  /// CAF's message buffers, the bulk plane's inbox), every runtime of the
  /// process together; the reduction's own pass and the kernel's socket
  /// copies are not included (runtime/core/copy_count.hpp lists the
  /// places).
  std::uint64_t bytes_copied = 0;
};

/// A handle to a replica group: `size()` replicas, each a replica actor. In
/// a cluster a process holds some of the replicas (`is_local`); the others
/// live on other nodes. Copyable; thread-safe.
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
  /// `index >= size()`, `wrong_context` when the replica lives on another
  /// node.
  expected<replica> at(std::size_t index) const;

  /// Whether replica `index` lives in this process.
  bool is_local(std::size_t index) const;

  /// The indices of the replicas that live in this process, ascending.
  std::vector<std::size_t> local_indices() const;

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

  /// Starts a node of a cluster: listens on `config.host:config.port` and
  /// either hosts the cluster's directory (no `join`: the seed) or joins
  /// the seed at `config.join`, retrying with backoff until
  /// `config.join_deadline`: then `unreachable` when the last attempt was
  /// refused ("connection refused by HOST:PORT"), `timeout` when it was
  /// not answered. Fails at once with `not_varsync` when what answers at
  /// `join` is not a varsync node, `unauthenticated` on a wrong secret,
  /// `address_in_use` when another socket holds `config.port`. Blocks
  /// until joined.
  static expected<std::unique_ptr<runtime>> start(const node_config& config);

  /// Starts a node of a job that `varsync run -np N -- PROGRAM` launched
  /// (README, "Launching a job"), from the environment the launcher gives
  /// each worker:
  ///   VARSYNC_JOIN         HOST:PORT[,...] of the job's seed
  ///   VARSYNC_SECRET_FILE  the cluster secret's file
  ///   VARSYNC_RANK         this process's rank, 0 .. size - 1
  ///   VARSYNC_SIZE         the job's number of worker processes
  /// `base` supplies every other setting; the variables replace its `join`
  /// and `secret_file`, and an empty `base.name` becomes "rank-<RANK>".
  /// A missing or malformed variable is `invalid_argument` naming the
  /// variable and its value, before anything starts. Blocks as `start`
  /// does, until joined. The rank and size come back with the node, so
  /// `join_group(name, job->size, {job->rank})` gives every worker its
  /// replica.
  static expected<job_process> start_from_env(node_config base = {});

  /// Stops every actor; blocks until they are gone.
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The options the runtime was started with.
  const runtime_options& options() const noexcept;

  /// Creates a group of `replicas` replica actors, all in this process, or
  /// returns the existing group of that name when its size is the same
  /// (`already_exists` otherwise). `replicas` must be at least 1. Blocks
  /// until the actors run.
  expected<replica_group> create_group(const std::string& name,
                                       std::size_t replicas);

  /// Joins the replicas `local_indices` of group `name` (of `size`
  /// replicas) from this process; other processes join the other indices.
  /// Blocks until every index of the group has joined (the group is then
  /// complete, and variables can be created), or fails with `timeout`
  /// naming the missing indices. Joining an index another process holds is
  /// `already_exists`.
  expected<replica_group>
  join_group(const std::string& name, std::size_t size,
             const std::vector<std::size_t>& local_indices,
             timeout_type timeout = {});

  /// Creates a variable of `group` with `initial` as every replica's value,
  /// or returns the existing variable of that name when dtype, shape, group
  /// and options agree (`already_exists` naming the difference otherwise).
  /// Invalid option combinations are `invalid_policy`. In a cluster every
  /// process calls it alike and gets the same variable; its actor lives on
  /// the seed (or, when the seed spreads variables, on a serving node).
  /// Blocks until every replica installed the initial value. With
  /// `options.shards != 1` the variable may be sharded (README, "Sharded
  /// variables"): every process gets the shard count of the first creator.
  expected<variable> create_variable(const replica_group& group,
                                     const std::string& name,
                                     const tensor& initial,
                                     variable_options options = {});

  /// The variable called `name` (sharded or not), or `unknown_variable`.
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

  /// The rows `rows` (along the first dimension, repeats allowed) of the
  /// cross-replica `read`: shape [rows.size(), var.shape()[1], ...]. An
  /// index out of range is `invalid_argument` naming it and the row count.
  /// on_write, on_read and bounded_staleness: only the rows travel (an
  /// on_write sharded variable's from one version of every shard).
  /// Blocks like `read`.
  expected<tensor> read_rows(const variable& var,
                             std::span<const std::int64_t> rows,
                             timeout_type timeout = {});

  /// Cross-replica `var[rows[i]] += values[i]` (repeated rows summed): the
  /// cross-replica `assign_add` of a delta that is zero outside `rows`,
  /// with its rules; nothing is applied on a bad index or values of
  /// another dtype or shape. on_write, on_read and bounded_staleness: the
  /// rows travel (bytes in proportion to them) and are added in place
  /// (on_write: every replica's copy, the call returns when every replica
  /// received them; on_read: every copy; bounded_staleness: the server's
  /// snapshot, refreshed to the replicas as rows). periodic: sent as the
  /// dense delta. Blocks.
  expected<void> assign_add_rows(const variable& var,
                                 std::span<const std::int64_t> rows,
                                 const tensor& values,
                                 timeout_type timeout = {});

  /// Cross-replica `var[rows[i]] = values[i]` (a row named twice ends with
  /// its last value), allowed under TF's scatter_update rule: on_write and
  /// periodic with aggregation none or only_first_replica; other
  /// aggregations, on_read, bounded_staleness and none are
  /// `wrong_context`. Nothing is applied on an error. on_write: the rows
  /// travel and every replica writes them over its copy, atomically with
  /// respect to steps; periodic: a read of the whole value and an `assign`
  /// of it (not atomic with respect to concurrent steps). Blocks.
  expected<void> assign_rows(const variable& var,
                             std::span<const std::int64_t> rows,
                             const tensor& values, timeout_type timeout = {});

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

  /// Saves every variable of the cluster (but `none` variables, which have
  /// no cross-replica value) into a new numbered checkpoint under `root`
  /// (created if missing): each variable's cross-replica value to its own
  /// file, then a manifest naming them, written last and atomically, so
  /// that a crash mid-save leaves the previous checkpoints as they were
  /// (runtime/job_checkpoint.hpp has the layout). Returns the new
  /// checkpoint's directory. The values are read one after another: save
  /// where no update is in flight (e.g. after a step every replica waited
  /// for) to get a consistent cut. Blocks.
  expected<std::filesystem::path> save(const std::filesystem::path& root,
                                       timeout_type timeout = {});

  /// Restores the newest complete checkpoint under `root` into the
  /// variables of `group` it holds: creates those that do not exist yet
  /// (with the saved options), then assigns each saved value in
  /// cross-replica context (TF's restore rule per policy, as
  /// `restore(var, path)`). All-or-nothing as far as files go: every file
  /// is read and checked before anything is assigned, and a newest
  /// checkpoint that is incomplete or corrupt is skipped, with a log line,
  /// for the one before it. Returns the directory restored from;
  /// `checkpoint_io` when `root` holds no complete checkpoint. Blocks.
  expected<std::filesystem::path> restore(const std::filesystem::path& root,
                                          const replica_group& group,
                                          timeout_type timeout = {});

  // -- introspection ----------------------------------------------------------

  /// Counters of the actors' work so far. Thread-safe, never blocks.
  runtime_stats stats() const noexcept;

  // -- cluster
  // ------------------------------------------------------------------

  /// This node's name ("local" for an embedded runtime).
  const std::string& node_name() const noexcept;

  /// The TCP port this node listens on; 0 for an embedded runtime.
  std::uint16_t port() const noexcept;

  /// The port of this node's HTTP server (metrics at /metrics, the live
  /// dashboard at /, status at /status.json; `node_config::http_port`); 0
  /// without one.
  std::uint16_t http_port() const noexcept;

  /// Whether this node hosts the cluster's directory.
  bool is_seed() const noexcept;

  /// The file holding the cluster secret this node proves and checks
  /// (configured, from $VARSYNC_SECRET_FILE, or generated by a seed started
  /// without one); empty for an embedded runtime. Pass it to members
  /// (`--secret-file`).
  const std::string& secret_file() const noexcept;

  /// The cluster's nodes, groups (with lost replicas) and variables (with
  /// version, clock and node). Blocks.
  expected<cluster_status> status(timeout_type timeout = {});

  /// The membership of `group`: which replicas are alive and which were
  /// lost (their node died; the group's variables continue without them).
  /// Blocks.
  expected<group_status> membership(const replica_group& group,
                                    timeout_type timeout = {});

  /// Starts the task registered as `task` (see `node_config::tasks`) on
  /// the node called `node`, with `argument`. Blocks until the task
  /// started (not until it finished: see `task_handle::wait`). An unknown
  /// node is `invalid_argument`, an unknown task name `invalid_argument`.
  expected<task_handle> spawn_task(const std::string& node,
                                   const std::string& task,
                                   const std::string& argument,
                                   timeout_type timeout = {});

  /// Internal core; used by the library.
  detail::runtime_core& core() noexcept { return *core_; }

private:
  explicit runtime(std::unique_ptr<detail::runtime_core> core);

  std::unique_ptr<detail::runtime_core> core_;
};

/// A worker process of a launched job (`runtime::start_from_env`): its
/// node and its place in the job. Movable, not copyable.
struct job_process {
  /// The running node, joined to the job's seed.
  std::unique_ptr<runtime> node;

  /// This process's rank ($VARSYNC_RANK), 0 .. size - 1: the replica
  /// index it takes in a group of `size` replicas.
  std::size_t rank = 0;

  /// The job's number of worker processes ($VARSYNC_SIZE), at least 1.
  std::size_t size = 1;
};

} // namespace varsync
