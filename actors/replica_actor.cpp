#include "actors/replica_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/protocol.hpp"

#include <chrono>
#include <deque>
#include <unordered_map>

namespace varsync {

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct queued_update {
  update_op op;
  tensor operand;
  clock_type::time_point deadline;
  caf::response_promise promise;
};

struct attached_variable {
  caf::actor variable_actor;
  /// The number this replica gives its next collective update.
  std::uint64_t next_step = 0;
  bool in_flight = false;
  std::deque<queued_update> queue;
};

struct replica_state {
  std::size_t index = 0;
  std::shared_ptr<local_store> store;
  std::shared_ptr<actor_counters> counters;
  std::unordered_map<variable_id, attached_variable> variables;
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
    auto remaining = std::chrono::duration_cast<milliseconds>(
        update.deadline - clock_type::now());
    if (remaining.count() <= 0) {
      update.promise.deliver(to_caf_error(
          error{errc::timeout, "replica " + std::to_string(self->state.index) +
                                   ": the deadline passed while an earlier "
                                   "update of the same variable was pending; "
                                   "nothing was applied"}));
      continue;
    }
    entry.in_flight = true;
    auto step = entry.next_step;
    self->request(entry.variable_actor, remaining + reply_grace,
                  contribute_atom::value,
                  static_cast<std::uint64_t>(self->state.index), step,
                  to_wire(update.op), std::move(update.operand),
                  static_cast<std::int64_t>(remaining.count()))
        .then(
            [self, id, promise = update.promise](ok_atom) mutable {
              auto& current = self->state.variables[id];
              ++current.next_step;
              current.in_flight = false;
              promise.deliver(ok_atom::value);
              send_next_update(self, id);
            },
            [self, id, promise = update.promise](caf::error& err) mutable {
              self->state.variables[id].in_flight = false;
              promise.deliver(std::move(err));
              send_next_update(self, id);
            });
  }
}

caf::behavior replica_actor(replica_actor_type* self, std::size_t index,
                            std::shared_ptr<local_store> store,
                            std::shared_ptr<actor_counters> counters) {
  self->state.index = index;
  self->state.store = std::move(store);
  self->state.counters = std::move(counters);
  return {
      [self](attach_atom, variable_id id, const caf::actor& variable_actor,
             const tensor& initial) {
        self->state.counters->count_message();
        self->state.store->attach(id, initial);
        self->state.variables[id].variable_actor = variable_actor;
        return ok_atom::value;
      },
      [self](install_atom, variable_id id, std::uint64_t version,
             tensor& value) {
        self->state.counters->count_message();
        if (auto slot = self->state.store->find(id))
          slot->install(version, std::move(value));
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
      [self](update_atom, variable_id id, std::uint8_t op_byte, tensor& operand,
             std::int64_t timeout_ms) -> caf::result<ok_atom> {
        self->state.counters->count_message();
        auto op = op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end())
          return to_caf_error(not_attached(self->state.index, id));
        auto promise = self->make_response_promise();
        i->second.queue.push_back(queued_update{
            *op, std::move(operand),
            clock_type::now() + milliseconds{timeout_ms}, promise});
        send_next_update(self, id);
        return promise;
      },
  };
}

} // namespace

caf::actor spawn_replica_actor(caf::actor_system& system, std::size_t index,
                               std::shared_ptr<local_store> store,
                               std::shared_ptr<actor_counters> counters) {
  return system.spawn(replica_actor, index, std::move(store),
                      std::move(counters));
}

} // namespace varsync
