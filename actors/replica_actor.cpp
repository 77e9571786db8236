#include "actors/replica_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/protocol.hpp"
#include "actors/update_reply.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace varsync {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct queued_update {
  update_op op;
  tensor operand;
  clock_type::time_point deadline;
  update_reply reply;
};

struct attached_variable {
  std::string name;
  caf::actor variable_actor;
  /// bounded_staleness only: the SSP cache feeding the slot.
  std::shared_ptr<staleness_cache> cache;
  /// The number this replica gives its next collective update.
  std::uint64_t next_step = 0;
  bool in_flight = false;
  /// The caller of the update in flight.
  update_reply in_flight_reply;
  std::deque<queued_update> queue;
  /// Whether updates travel on the bulk plane, and where to.
  bool use_bulk = false;
  std::string bulk_host;
  std::uint16_t bulk_port = 0;
  /// Tags the bulk attempts: an ack answers the attempt with its tag.
  std::uint64_t tag = 0;
  /// Set once the variable actor is gone (its node died or it stopped):
  /// every call that needs it fails with this error from then on.
  std::optional<error> unavailable;
};

/// A clock() or read waiting for fresher bounded_staleness snapshots.
struct staleness_waiter {
  /// Identifies the waiter's expiry message.
  std::uint64_t token = 0;
  /// The clock the replica must be allowed to be at.
  std::uint64_t clock = 0;
  /// For a read: the variable read; nullopt for clock() and catch-up.
  std::optional<variable_id> read;
  /// Catch-up: wait for min clock >= clock itself, not clock - s.
  bool exact = false;
  caf::response_promise promise;
};

/// A replica-context update with its variable, as it arrived.
struct numbered_update {
  variable_id id;
  queued_update update;
  /// Rejected on arrival (already answered): only its number counts.
  bool rejected = false;
};

struct replica_state {
  /// The number of the next host call to accept (calls are numbered from
  /// 1 by the replica handles; 0 means "no order needed").
  std::uint64_t next_call = 1;
  /// Calls that arrived before an earlier one, by number.
  std::map<std::uint64_t, numbered_update> out_of_order;
  std::vector<staleness_waiter> waiters;
  std::uint64_t next_token = 1;
  std::size_t index = 0;
  std::shared_ptr<local_store> store;
  std::shared_ptr<actor_counters> counters;
  std::unordered_map<variable_id, attached_variable> variables;
  std::shared_ptr<bulk_plane> bulk;
  std::optional<std::uint64_t> bulk_threshold;
  static inline const char* name = "varsync.replica";
};

using replica_actor_type = caf::stateful_actor<replica_state>;

error not_attached(std::size_t index, variable_id id) {
  return error{errc::unknown_variable, "replica " + std::to_string(index) +
                                           " holds no variable with id " +
                                           std::to_string(id)};
}

/// Sends the oldest queued update of `id` unless one is in flight.
void send_next_update(replica_actor_type* self, variable_id id) {
  auto& entry = self->state.variables[id];
  while (!entry.in_flight && !entry.queue.empty()) {
    auto update = std::move(entry.queue.front());
    entry.queue.pop_front();
    if (entry.unavailable) {
      update.reply.fail(*entry.unavailable);
      continue;
    }
    auto remaining = std::chrono::duration_cast<milliseconds>(
        update.deadline - clock_type::now());
    if (remaining.count() <= 0) {
      update.reply.fail(
          error{errc::timeout, "replica " + std::to_string(self->state.index) +
                                   ": the deadline passed while an earlier "
                                   "update of the same variable was pending; "
                                   "nothing was applied"});
      continue;
    }
    entry.in_flight = true;
    entry.in_flight_reply = update.reply;
    auto step = entry.next_step;
    if (entry.use_bulk) {
      bulk_frame frame;
      frame.kind = bulk_kind::contribute;
      frame.code = to_wire(update.op);
      frame.target = entry.variable_actor.id();
      frame.reply_to = self->id();
      frame.variable = id;
      frame.index = static_cast<std::uint64_t>(self->state.index);
      frame.number = step;
      frame.tag = ++entry.tag;
      frame.timeout_ms = static_cast<std::int64_t>(remaining.count());
      frame.value = std::move(update.operand);
      self->state.bulk->send(entry.bulk_host, entry.bulk_port,
                             std::move(frame));
      self->delayed_send(self, remaining + reply_grace,
                         bulk_expired_atom::value, id, entry.tag);
      continue;
    }
    self->request(entry.variable_actor, remaining + reply_grace,
                  contribute_atom::value,
                  static_cast<std::uint64_t>(self->state.index), step,
                  to_wire(update.op), std::move(update.operand),
                  static_cast<std::int64_t>(remaining.count()))
        .then(
            [self, id, reply = update.reply](ok_atom) mutable {
              auto& current = self->state.variables[id];
              if (current.unavailable)
                return; // the caller already got variable_unavailable
              ++current.next_step;
              current.in_flight = false;
              reply.succeed();
              send_next_update(self, id);
            },
            [self, id, reply = update.reply](caf::error& err) mutable {
              if (self->state.variables[id].unavailable)
                return; // the caller already got variable_unavailable
              self->state.variables[id].in_flight = false;
              reply.fail(std::move(err));
              send_next_update(self, id);
            });
  }
}

void send_next_update(replica_actor_type* self, variable_id id);

/// Queues an update behind the variable's earlier ones.
void accept_update(replica_actor_type* self, numbered_update update) {
  self->state.variables[update.id].queue.push_back(std::move(update.update));
  send_next_update(self, update.id);
}

/// The first bounded_staleness variable (only `read` when set) whose cache
/// is too stale for a replica at `clock`, or nullptr when all are fresh.
attached_variable* lagging_variable(replica_actor_type* self,
                                    std::uint64_t clock,
                                    std::optional<variable_id> read,
                                    bool exact = false) {
  for (auto& [id, entry] : self->state.variables) {
    if (entry.cache == nullptr || entry.unavailable || (read && *read != id))
      continue;
    auto fresh = exact ? entry.cache->min_clock() >= clock
                       : entry.cache->fresh_for(clock);
    if (!fresh)
      return &entry;
  }
  return nullptr;
}

/// Parks a clock() (read empty) or a read until the caches are fresh for
/// `clock`, or until `timeout_ms` passed.
caf::response_promise wait_for_fresh(replica_actor_type* self,
                                     std::uint64_t clock,
                                     std::optional<variable_id> read,
                                     std::int64_t timeout_ms,
                                     bool exact = false) {
  auto token = self->state.next_token++;
  auto promise = self->make_response_promise();
  self->state.waiters.push_back(
      staleness_waiter{token, clock, read, exact, promise});
  self->delayed_send(self, milliseconds{std::max<std::int64_t>(timeout_ms, 1)},
                     wait_expired_atom::value, token);
  return promise;
}

/// Why `waiter` of replica `index` timed out; `lagging` is the variable
/// still too stale (nullptr: the caches caught up just now).
std::string staleness_timeout_message(std::size_t index,
                                      const staleness_waiter& waiter,
                                      const attached_variable* lagging) {
  auto who = "replica " + std::to_string(index) + " at clock " +
             std::to_string(waiter.clock);
  if (lagging == nullptr)
    return who + " waited until its deadline; the snapshots caught up just "
                 "after it";
  const auto& cache = *lagging->cache;
  auto needed = waiter.exact || waiter.clock <= cache.bound()
                    ? waiter.clock
                    : waiter.clock - cache.bound();
  auto state = "variable '" + lagging->name + "' still reflects min clock " +
               std::to_string(cache.min_clock()) + ", needs at least " +
               std::to_string(needed) + " (staleness bound " +
               std::to_string(cache.bound()) + ")";
  if (cache.replicas() == 1)
    return who +
           " waited until its deadline for the variable's actor to "
           "confirm its own clocks (it is the group's only replica): " +
           state;
  return who + " waited for slower replicas until its deadline: " + state;
}

/// Answers every waiter whose caches became fresh.
void release_waiters(replica_actor_type* self) {
  auto& waiters = self->state.waiters;
  for (auto i = waiters.begin(); i != waiters.end();) {
    if (lagging_variable(self, i->clock, i->read, i->exact) != nullptr) {
      ++i;
      continue;
    }
    if (i->read)
      i->promise.deliver(self->state.store->find(*i->read)->load()->value);
    else
      i->promise.deliver(ok_atom::value);
    i = waiters.erase(i);
  }
}

/// The variable actor of `entry` is gone: fails the update in flight, the
/// queued ones and reads waiting for the variable; later calls fail at once.
/// The local copy stays readable.
void variable_lost(replica_actor_type* self, attached_variable& entry,
                   variable_id id, const caf::error& reason) {
  entry.unavailable =
      error{errc::variable_unavailable,
            "variable '" + entry.name + "': its actor is unreachable (" +
                caf::to_string(reason) +
                "); local reads of the last installed value still work"};
  auto failure = to_caf_error(*entry.unavailable);
  if (entry.in_flight) {
    entry.in_flight_reply.fail(*entry.unavailable);
    entry.in_flight = false;
  }
  for (auto& update : entry.queue)
    update.reply.fail(*entry.unavailable);
  entry.queue.clear();
  auto& waiters = self->state.waiters;
  for (auto i = waiters.begin(); i != waiters.end();) {
    if (i->read && *i->read == id) {
      i->promise.deliver(failure);
      i = waiters.erase(i);
    } else {
      ++i;
    }
  }
  // clock() and catch-up no longer wait for this variable.
  release_waiters(self);
}

/// Ends the bulk attempt `tag` of variable `id` with `outcome` (nullopt:
/// success) unless it is no longer the attempt in flight.
void finish_bulk_attempt(replica_actor_type* self, variable_id id,
                         std::uint64_t tag, std::optional<error> outcome) {
  auto i = self->state.variables.find(id);
  if (i == self->state.variables.end())
    return;
  auto& entry = i->second;
  if (!entry.in_flight || entry.tag != tag || entry.unavailable)
    return;
  entry.in_flight = false;
  if (outcome) {
    entry.in_flight_reply.fail(*outcome);
  } else {
    ++entry.next_step;
    entry.in_flight_reply.succeed();
  }
  send_next_update(self, id);
}

/// Takes a replica-context update of `id` (the `call`-th call of this
/// replica, 0: unnumbered) and answers `reply` when it is done. Calls are
/// applied in number order; one rejected at once still uses up its number.
void receive_update(replica_actor_type* self, variable_id id,
                    std::uint64_t call, std::uint8_t op_byte, tensor& operand,
                    std::int64_t timeout_ms, update_reply reply) {
  self->state.counters->count_message();
  std::optional<error> rejection;
  auto op = op_from_wire(op_byte);
  auto i = self->state.variables.find(id);
  if (!op)
    rejection = invalid_op(op_byte);
  else if (i == self->state.variables.end())
    rejection = not_attached(self->state.index, id);
  else if (i->second.unavailable)
    rejection = *i->second.unavailable;
  if (rejection)
    reply.fail(*rejection);
  numbered_update update{
      id,
      queued_update{op.value_or(update_op::assign), std::move(operand),
                    clock_type::now() + milliseconds{timeout_ms},
                    rejection ? update_reply{} : std::move(reply)},
      rejection.has_value()};
  if (call == 0) {
    if (!update.rejected)
      accept_update(self, std::move(update));
    return;
  }
  // Calls may arrive out of order (the host API used to send each through
  // its own helper actor; a CAF request from elsewhere can still race):
  // hold them back until every earlier call arrived.
  auto& state = self->state;
  state.out_of_order.emplace(call, std::move(update));
  for (auto next = state.out_of_order.find(state.next_call);
       next != state.out_of_order.end();
       next = state.out_of_order.find(state.next_call)) {
    auto ready = std::move(next->second);
    state.out_of_order.erase(next);
    ++state.next_call;
    if (!ready.rejected)
      accept_update(self, std::move(ready));
  }
}

caf::behavior replica_actor(replica_actor_type* self, std::size_t index,
                            std::shared_ptr<local_store> store,
                            std::shared_ptr<actor_counters> counters,
                            std::shared_ptr<bulk_plane> bulk,
                            std::optional<std::uint64_t> bulk_threshold) {
  self->state.bulk = std::move(bulk);
  self->state.bulk_threshold = bulk_threshold;
  self->state.index = index;
  self->state.store = std::move(store);
  self->state.counters = std::move(counters);
  self->set_down_handler([self](caf::down_msg& msg) {
    for (auto& [id, entry] : self->state.variables)
      if (!entry.unavailable && entry.variable_actor.address() == msg.source)
        variable_lost(self, entry, id, msg.reason);
  });
  return {
      [self](attach_atom, variable_id id, std::string& name,
             const caf::actor& variable_actor, const tensor& initial,
             const variable_options& options, std::uint64_t replicas,
             std::string& bulk_host, std::uint16_t bulk_port) {
        self->state.counters->count_message();
        auto slot = self->state.store->attach(id, initial);
        auto& entry = self->state.variables[id];
        entry.name = std::move(name);
        if (entry.variable_actor != variable_actor)
          self->monitor(variable_actor);
        entry.variable_actor = variable_actor;
        const auto& threshold = self->state.bulk_threshold;
        entry.use_bulk = self->state.bulk != nullptr && threshold &&
                         !bulk_host.empty() && bulk_port != 0 &&
                         variable_actor &&
                         variable_actor.node() != self->node() &&
                         options.sync == synchronization::on_write &&
                         initial.bytes().size() >= *threshold;
        entry.bulk_host = std::move(bulk_host);
        entry.bulk_port = bulk_port;
        if (options.sync == synchronization::bounded_staleness &&
            entry.cache == nullptr) {
          entry.cache = std::make_shared<staleness_cache>(
              slot, initial, options.staleness_bound, options.aggregation,
              static_cast<std::size_t>(replicas));
          self->state.store->attach_cache(id, entry.cache);
        }
        // The variable's clocks start where this replica is (its next push
        // is tagged with this clock).
        return self->state.store->clock.load();
      },
      [self](refresh_atom, variable_id id, std::uint64_t min_clock,
             std::uint64_t version, tensor& snapshot) {
        self->state.counters->count_message();
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.cache == nullptr)
          return;
        i->second.cache->refresh({min_clock, version, std::move(snapshot)});
        release_waiters(self);
      },
      [self](clock_atom, std::int64_t timeout_ms) -> caf::result<ok_atom> {
        self->state.counters->count_message();
        auto& store = *self->state.store;
        auto clock = store.clock.load();
        for (auto& [id, entry] : self->state.variables) {
          if (entry.cache == nullptr)
            continue;
          auto delta = entry.cache->take_pending(clock);
          self->send(entry.variable_actor, push_atom::value,
                     static_cast<std::uint64_t>(self->state.index), clock,
                     delta.has_value(), delta ? std::move(*delta) : tensor{});
        }
        store.clock.store(clock + 1);
        if (lagging_variable(self, clock + 1, std::nullopt) == nullptr)
          return ok_atom::value;
        return wait_for_fresh(self, clock + 1, std::nullopt, timeout_ms);
      },
      [self](wait_read_atom, variable_id id, std::uint64_t clock,
             std::int64_t timeout_ms) -> caf::result<tensor> {
        self->state.counters->count_message();
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.cache == nullptr)
          return to_caf_error(not_attached(self->state.index, id));
        if (i->second.unavailable)
          return to_caf_error(*i->second.unavailable);
        if (i->second.cache->fresh_for(clock))
          return self->state.store->find(id)->load()->value;
        return wait_for_fresh(self, clock, id, timeout_ms);
      },
      [self](catch_up_atom, std::int64_t timeout_ms) -> caf::result<ok_atom> {
        self->state.counters->count_message();
        auto clock = self->state.store->clock.load();
        if (lagging_variable(self, clock, std::nullopt, true) == nullptr)
          return ok_atom::value;
        return wait_for_fresh(self, clock, std::nullopt, timeout_ms, true);
      },
      [self](wait_expired_atom, std::uint64_t token) {
        self->state.counters->count_message();
        auto& waiters = self->state.waiters;
        auto i =
            std::find_if(waiters.begin(), waiters.end(),
                         [token](const auto& w) { return w.token == token; });
        if (i == waiters.end())
          return;
        auto* lagging = lagging_variable(self, i->clock, i->read, i->exact);
        i->promise.deliver(to_caf_error(
            error{errc::timeout,
                  staleness_timeout_message(self->state.index, *i, lagging)}));
        waiters.erase(i);
      },
      [self](install_atom, variable_id id, std::uint64_t version,
             tensor& value) {
        self->state.counters->count_message();
        if (auto slot = self->state.store->find(id))
          slot->install(version, std::move(value));
      },
      [self](bulk_ack_atom, variable_id id, std::uint64_t step,
             std::uint64_t tag, std::uint8_t code, std::string& text) {
        self->state.counters->count_message();
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.next_step != step)
          return;
        std::optional<error> outcome;
        if (code != 0)
          outcome = code <= static_cast<std::uint8_t>(errc::shutting_down)
                        ? error{static_cast<errc>(code), std::move(text)}
                        : error{errc::invalid_argument,
                                "variable '" + i->second.name +
                                    "': its actor answered with unknown error "
                                    "code " +
                                    std::to_string(code) + ": " + text};
        finish_bulk_attempt(self, id, tag, std::move(outcome));
      },
      [self](bulk_expired_atom, variable_id id, std::uint64_t tag) {
        self->state.counters->count_message();
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end())
          return;
        finish_bulk_attempt(
            self, id, tag,
            error{errc::timeout, "variable '" + i->second.name +
                                     "': no answer from its actor on the bulk "
                                     "plane by the deadline; the step may or "
                                     "may not have been applied"});
      },
      [self](copy_get_atom, variable_id id) -> caf::result<tensor> {
        self->state.counters->count_message();
        auto slot = self->state.store->find(id);
        if (!slot)
          return to_caf_error(not_attached(self->state.index, id));
        return slot->load()->value;
      },
      [self](copy_set_atom, variable_id id, std::uint8_t op_byte,
             const tensor& operand) -> caf::result<ok_atom> {
        self->state.counters->count_message();
        auto op = op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto slot = self->state.store->find(id);
        if (!slot)
          return to_caf_error(not_attached(self->state.index, id));
        slot->update(*op, operand);
        return ok_atom::value;
      },
      [self](update_atom, variable_id id, std::uint64_t call,
             std::uint8_t op_byte, tensor& operand,
             std::int64_t timeout_ms) -> caf::result<ok_atom> {
        auto promise = self->make_response_promise();
        receive_update(self, id, call, op_byte, operand, timeout_ms,
                       update_reply{promise, nullptr});
        return promise;
      },
      [self](local_update_atom, variable_id id, std::uint64_t call,
             std::uint8_t op_byte, tensor& operand, std::int64_t timeout_ms,
             update_completion_ptr& completion) {
        receive_update(self, id, call, op_byte, operand, timeout_ms,
                       update_reply{{}, std::move(completion)});
      },
  };
}

} // namespace

caf::actor spawn_replica_actor(caf::actor_system& system, std::size_t index,
                               std::shared_ptr<local_store> store,
                               std::shared_ptr<actor_counters> counters,
                               std::shared_ptr<bulk_plane> bulk,
                               std::optional<std::uint64_t> bulk_threshold) {
  return system.spawn(replica_actor, index, std::move(store),
                      std::move(counters), std::move(bulk), bulk_threshold);
}

} // namespace varsync
