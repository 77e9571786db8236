#pragma once

// The private side of `runtime`: the actor system, this node's agent and
// replica actors, the handle of the cluster's directory (local on the seed
// and in an embedded runtime, remote otherwise) and the helpers that turn
// actor replies into callbacks and blocking results.

#include "actors/actor_counters.hpp"
#include "actors/caf_error.hpp"
#include "actors/cluster_protocol.hpp"
#include "actors/directory_handle.hpp"
#include "actors/host_call.hpp"
#include "actors/protocol.hpp"
#include "actors/records.hpp"
#include "runtime/basp_port.hpp"
#include "runtime/etcd_coordinator.hpp"
#include "runtime/http/node_http.hpp"
#include "runtime/periodic_checkpoints.hpp"
#include "runtime/transport/bulk_plane.hpp"
#include "runtime/transport/refusal_log.hpp"
#include "varsync/node_config.hpp"
#include "varsync/runtime.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace varsync::detail {

/// Owns the actor system of one runtime (one node). Thread-safe.
class runtime_core {
public:
  /// An embedded runtime: a cluster of one node, without network.
  explicit runtime_core(runtime_options options);

  /// Starts a node: publishes its port and hosts the directory (seed) or
  /// joins the seed (retrying until `config.join_deadline`). Blocks.
  static expected<std::unique_ptr<runtime_core>>
  start(const node_config& config);

  /// Stops every actor of this node and waits until they are gone.
  ~runtime_core();

  runtime_core(const runtime_core&) = delete;
  runtime_core& operator=(const runtime_core&) = delete;

  const runtime_options& options() const noexcept { return options_; }

  caf::actor_system& system() noexcept { return *system_; }

  /// The directory actor this node follows now (it changes when a new
  /// holder is elected). Thread-safe.
  caf::actor directory() const { return directory_->get(); }

  /// This node's name ("local" for an embedded runtime).
  const std::string& node_name() const noexcept { return node_name_; }

  /// The port this node listens on; 0 for an embedded runtime.
  std::uint16_t port() const noexcept { return port_; }

  /// The cluster secret file this node uses; empty for an embedded runtime.
  const std::string& secret_file() const noexcept { return secret_path_; }

  /// Whether this node started the cluster (held the directory first).
  bool is_seed() const noexcept { return seed_; }

  /// This node's bulk plane; null when it has none.
  const std::shared_ptr<bulk_plane>& bulk() const noexcept { return bulk_; }

  const std::shared_ptr<actor_counters>& counters() const noexcept {
    return counters_;
  }

  /// `timeout`, or the default deadline when unset.
  std::chrono::milliseconds deadline_of(const timeout_type& timeout) const {
    return timeout.value_or(options_.default_timeout);
  }

  /// The `shutting_down` error when the runtime is stopping.
  std::optional<error> refuse_if_stopping(const std::string& what) const;

  /// Spawns replica actors for the `indices` of group `name` that this node
  /// does not hold yet, joins them through the directory and blocks until
  /// the group is complete (or `timeout`).
  expected<group_record_ptr> join_group(const std::string& name,
                                        std::size_t size,
                                        const std::vector<std::size_t>& indices,
                                        std::chrono::milliseconds timeout);

  /// The local record of a variable the directory described.
  variable_record_ptr make_record(const variable_info& info);

  /// The record of sharded variable `record->name` this runtime keeps:
  /// `record` the first time, the one kept before afterwards (so that
  /// handles of one variable compare equal). Thread-safe.
  variable_record_ptr keep_sharded(variable_record_ptr record);

  /// The public runtime owning this core; tasks run with it. Wakes the
  /// tasks waiting for it. Thread-safe.
  void set_owner(runtime* owner) {
    {
      std::lock_guard guard{owner_mutex_};
      owner_ = owner;
    }
    owner_set_.notify_all();
  }

  /// The public runtime owning this core. A node joins its cluster before
  /// runtime::start hands the core to its runtime, so a task spawned here
  /// at once may run first: this blocks the calling (task) thread until the
  /// owner is set, at most `limit`; nullptr if it was not by then.
  runtime* wait_for_owner(std::chrono::milliseconds limit) {
    std::unique_lock guard{owner_mutex_};
    owner_set_.wait_for(guard, limit, [this] { return owner_ != nullptr; });
    return owner_;
  }

  /// Starts automatic checkpoints of the owner's variables under `root`
  /// (the seed of a node started with checkpoint_dir).
  void start_checkpoints(const std::filesystem::path& root,
                         std::chrono::milliseconds every,
                         std::optional<std::uint64_t> every_steps,
                         std::size_t keep);

  /// Serves the node's HTTP port (node_config::http_port: metrics,
  /// dashboard, status) with the owner as its source. Blocks until
  /// listening; stopped first at shutdown.
  expected<void> start_http(const node_config& config);

  /// Tells the directory (when another node holds it) that this node
  /// leaves in order. Blocks at most a second.
  void say_leaving();

  /// The HTTP port; 0 without one.
  std::uint16_t http_port() const noexcept;

  /// Connects to `host:port` once; returns the node id and the actor
  /// published there. Blocks at most `timeout`.
  expected<std::pair<caf::node_id, caf::actor>>
  connect(const std::string& host, std::uint16_t port,
          std::chrono::milliseconds timeout);

  /// The response handler of `ask<Reply>`: one argument, or one per
  /// element when `Reply` is a std::tuple (a reply of several values).
  template <class Reply> struct reply_handler {
    template <class Done, class Call> static auto make(Done done, Call call) {
      return [done, call](Reply& reply) {
        if (call->claim())
          done(std::move(reply));
      };
    }
  };
  template <class... Ts> struct reply_handler<std::tuple<Ts...>> {
    template <class Done, class Call> static auto make(Done done, Call call) {
      return [done, call](Ts&... values) {
        if (call->claim())
          done(std::tuple<Ts...>{std::move(values)...});
      };
    }
  };

  /// Sends `message` as a request to `target` with `timeout` and calls
  /// `done` once, on a CAF worker thread, with the reply of type `Reply` (a
  /// std::tuple for a reply of several values) or the error (`what` names the
  /// call in errors). Fails at once with `variable_unavailable` when `target`
  /// is or becomes unreachable (CAF 0.17 would leave the request pending until
  /// its timeout), and with `shutting_down` when the runtime stops first.
  template <class Reply>
  void ask(const caf::actor& target, std::chrono::milliseconds timeout,
           caf::message message, std::function<void(expected<Reply>)> done,
           std::string what) {
    if (!target)
      return done(error{errc::variable_unavailable,
                        what + ": this node follows no directory (not joined, "
                               "or the holder was lost and no successor "
                               "is known yet)"});
    auto call = std::make_shared<host_call>(
        [done](error failure) { done(std::move(failure)); }, std::move(what));
    auto send = [target, timeout, message = std::move(message), done,
                 call](caf::event_based_actor* self) {
      self->request(target, timeout, message)
          .then(reply_handler<Reply>::make(done, call),
                [call](caf::error& err) { call->fail(err); });
    };
    send_through_gateway(host_request{target, std::move(send), call});
  }

  /// `ask` of variable `record`'s actor. When that actor is unreachable
  /// (its node was lost) asks the directory for the variable's actor now —
  /// the directory answers once a re-hosting ended — and, when that is
  /// another actor, sends `message` to it once, within `timeout`.
  template <class Reply>
  void ask_variable(const variable_record_ptr& record,
                    std::chrono::milliseconds timeout, caf::message message,
                    std::function<void(expected<Reply>)> done,
                    std::string what) {
    auto first = record->current_actor();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto retry = [this, record, first, deadline, message, done,
                  what](expected<Reply> result) mutable {
      if (result || result.error().code() != errc::variable_unavailable)
        return done(std::move(result));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return done(std::move(result));
      // The directory answers once it knows more than "unreachable".
      ask<variable_info>(
          directory(), left,
          caf::make_message(lookup_atom::value, record->name, first),
          [this, record, first, left, message, done, what,
           failed = result.error()](expected<variable_info> info) mutable {
            if (!info || !info->actor || info->actor == first)
              return done(info ? failed : info.error());
            record->rehosted(info->actor);
            ask<Reply>(info->actor, left, std::move(message), std::move(done),
                       std::move(what));
          },
          what);
    };
    ask<Reply>(first, timeout, std::move(message), std::move(retry), what);
  }

  /// `ask` for requests answered with `ok_atom`.
  void ask_ok(const caf::actor& target, std::chrono::milliseconds timeout,
              caf::message message, std::function<void(expected<void>)> done,
              std::string what);

  /// `ask_variable` for requests answered with `ok_atom`.
  void ask_variable_ok(const variable_record_ptr& record,
                       std::chrono::milliseconds timeout, caf::message message,
                       std::function<void(expected<void>)> done,
                       std::string what);

private:
  runtime_core(runtime_options options, const node_config* config);

  /// Connects to one of `members` (in turn, retrying with backoff until
  /// `deadline`); returns the address it reached and that node's agent.
  expected<std::pair<endpoint, caf::actor>>
  connect_with_retry(const std::vector<endpoint>& members,
                     std::chrono::milliseconds deadline);

  /// The directory a member named, once this node connected to its holder.
  struct found_directory {
    /// The addresses this node connected to on the way.
    std::vector<endpoint> connected;
    caf::actor directory;
    std::uint64_t epoch = 0;
  };

  /// Finds the directory through one of `config.join` and connects to its
  /// holder. Blocks (at most about `config.join_deadline`).
  expected<found_directory> find_directory(const node_config& config);

  /// Joins the cluster again after this node's agent found it cut off from
  /// most nodes (actors/directory_follower.cpp): looks at `members` for a
  /// holder of an epoch after `epoch`, follows it and registers again.
  /// Runs on its own thread (joined at shutdown); gives up at the join
  /// deadline.
  void rejoin_newer_holder(std::vector<endpoint> members, std::uint64_t epoch);

  /// Connects to every node in `others` not in `connected`.
  expected<void> connect_to_others(const std::vector<node_info>& others,
                                   const std::vector<endpoint>& connected,
                                   std::chrono::milliseconds timeout);

  /// Enters the etcd-coordinated cluster of `config.coordinator`: the
  /// epoch this node won (it holds the directory first), or the address of
  /// the holder to join (`config.join`'s first, else the one etcd names).
  expected<std::variant<std::uint64_t, endpoint>>
  join_through_etcd(const node_config& config);

  /// A copy of the directory's state as bytes (CAF's binary form; empty
  /// when it does not serialize) and back (nullopt, logged, when malformed).
  std::string to_bytes(const directory_snapshot& copy);
  std::optional<directory_snapshot> from_bytes(const std::string& bytes);

  /// Registers this node with the directory it follows; returns the other
  /// live nodes.
  expected<std::vector<node_info>> register_here(const node_config& config);

  expected<void> start_node(const node_config& config);

  /// Hands `request` to the host gateway (actors/host_gateway.hpp); if the
  /// gateway is gone the request is dropped and its call reports
  /// `shutting_down`.
  void send_through_gateway(host_request request);

  runtime_options options_;
  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<actor_counters> counters_;
  /// The host gateway links to it; killed first at shutdown.
  caf::actor lifetime_;
  /// Makes every host request (actors/host_gateway.hpp).
  caf::actor gateway_;
  caf::actor agent_;
  std::shared_ptr<directory_handle> directory_ =
      std::make_shared<directory_handle>();
  std::string node_name_ = "local";
  std::uint16_t port_ = 0;
  bool seed_ = true;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::map<std::string, group_record_ptr> groups_;
  std::map<variable_id, variable_record_ptr> variables_;
  std::map<std::string, variable_record_ptr> sharded_variables_;
  /// Replica and task actors of this node; stopped at shutdown.
  std::vector<caf::actor> replicas_;
  runtime* owner_ = nullptr;
  std::mutex owner_mutex_;
  std::condition_variable owner_set_;
  /// This node's bulk plane (null for an embedded runtime or when
  /// `node_config::bulk_threshold` is unset) and its threshold.
  std::shared_ptr<bulk_plane> bulk_;
  std::optional<std::uint64_t> bulk_threshold_;
  /// The secret file and how this node opens and bounds CAF connections.
  std::string secret_path_;
  /// Whether this node generated the secret file (removed when starting
  /// fails or the node stops).
  bool secret_generated_ = false;
  detail::link_settings link_;
  /// Refusals on CAF connections this node opened (oversized messages).
  std::shared_ptr<refusal_log> caf_refusals_ =
      std::make_shared<refusal_log>("CAF connection");
  /// The listening BASP port (null for an embedded runtime).
  std::unique_ptr<detail::basp_port> basp_port_;
  /// The node's configuration (a joining node's join list and deadlines).
  node_config node_config_;
  /// The node's part in an etcd-coordinated cluster (null: built in).
  std::unique_ptr<etcd_coordinator> coordinator_;
  /// Guards coordinator_'s end against directory actors storing a copy.
  std::mutex coordinator_mutex_;
  /// Looks for a newer directory holder after an isolation; joined at
  /// shutdown. Guarded by mutex_.
  std::thread rejoin_thread_;
  bool rejoining_ = false;
  /// Threads of the tasks started on this node; joined at shutdown.
  std::vector<std::thread> task_threads_;
  /// Automatic checkpoints (seed with node_config::checkpoint_dir); stopped
  /// with the tasks at shutdown.
  std::unique_ptr<periodic_checkpoints> checkpoints_;
  /// The HTTP port (node_config::http_port); stopped first at shutdown.
  std::unique_ptr<http::node_http> http_;
};

/// How long a blocking call waits for the callback of its asynchronous
/// form: the deadline plus the grace the actors get to report it.
inline std::chrono::milliseconds
blocking_limit(std::chrono::milliseconds deadline) {
  return deadline + 2 * reply_grace;
}

/// One result handed from the thread that produces it to one thread that
/// waits for it. The waiter first polls for a short while, yielding its
/// core between polls, and only then sleeps: a result that arrives within
/// that window costs no wake-up (~25 us on a VM; see
/// runtime/transport/spinning_io.hpp). Thread-safe.
template <class T> class result_slot {
public:
  /// Stores `result` and wakes the waiter. Call once.
  void put(expected<T> result) {
    {
      std::lock_guard guard{mutex_};
      result_.emplace(std::move(result));
    }
    ready_.store(true, std::memory_order_release);
    arrived_.notify_one();
  }

  /// Blocks until `put` ran (its result) or `limit` passed (nullopt),
  /// polling for `spin` before it sleeps.
  std::optional<expected<T>> take(std::chrono::milliseconds limit,
                                  std::chrono::microseconds spin) {
    auto start = std::chrono::steady_clock::now();
    while (!ready_.load(std::memory_order_acquire) &&
           std::chrono::steady_clock::now() - start < spin)
      std::this_thread::yield();
    std::unique_lock guard{mutex_};
    if (!arrived_.wait_until(guard, start + limit,
                             [this] { return result_.has_value(); }))
      return std::nullopt;
    return std::move(result_);
  }

private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::atomic<bool> ready_{false};
  std::optional<expected<T>> result_;
};

/// Runs `start(callback)` and blocks until the callback delivered a result
/// or `limit` passed (then `timeout` naming `what`), polling for `spin`
/// first (pass runtime_options::spin for calls on a step's path). The
/// callback may run after a timeout; it then only drops its result.
template <class T, class Start>
expected<T> wait_for_result(std::chrono::milliseconds limit, Start start,
                            const std::string& what,
                            std::chrono::microseconds spin = {}) {
  auto slot = std::make_shared<result_slot<T>>();
  start([slot](expected<T> result) { slot->put(std::move(result)); });
  auto result = slot->take(limit, spin);
  if (!result)
    return error{errc::timeout, what + ": no result within " +
                                    std::to_string(limit.count()) + " ms"};
  return std::move(*result);
}

/// The state behind a `replica` handle.
class replica_core {
public:
  replica_core(group_record_ptr group, std::size_t index)
      : group_(std::move(group)), index_(index) {
    // nop
  }

  const group_record& group() const noexcept { return *group_; }

  std::size_t index() const noexcept { return index_; }

  runtime_core& runtime() const noexcept { return *group_->runtime; }

  local_store& store() const noexcept { return *group_->stores[index_]; }

  const caf::actor& actor() const noexcept {
    return group_->replica_actors[index_];
  }

private:
  group_record_ptr group_;
  std::size_t index_;
};

} // namespace varsync::detail
