#include "actors/policies/bounded_staleness/variable_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/bounded_staleness/interface.hpp"
#include "actors/policies/bounded_staleness/state_machine.hpp"

#include <map>
#include <memory>
#include <utility>

namespace varsync {

namespace {

/// Sends `refresh` to every live replica: its rows when it is only rows
/// added to the previous refresh (every live replica holds that one:
/// refreshes go to each in order), else the snapshot.
void broadcast(variable_actor_type* self,
               const policies::staleness_refresh& refresh) {
  for (const auto& replica : self->state.live_replicas()) {
    auto to = caf::actor_cast<bounded_staleness_replica>(replica);
    if (refresh.rows)
      self->send(to, refresh_rows_atom::value, self->state.spec.id,
                 refresh.min_clock, refresh.version, *refresh.rows);
    else
      self->send(to, refresh_atom::value, self->state.spec.id,
                 refresh.min_clock, refresh.version, refresh.snapshot);
  }
}

/// The variable side of bounded_staleness around `policy` (new, or
/// recovered from the replicas).
caf::behavior bounded_staleness_behavior(
    variable_actor_type* self,
    std::shared_ptr<policies::bounded_staleness> policy) {
  auto broadcast = [self](const policies::staleness_refresh& refresh) {
    varsync::broadcast(self, refresh);
  };
  // A lost replica no longer holds the minimum clock back.
  self->set_down_handler([self, policy, broadcast](caf::down_msg& msg) {
    for (auto index : replica_down(self, msg))
      if (auto refresh = policy->drop_replica(index))
        broadcast(*refresh);
  });
  // Typed: the compiler checks these handlers against the interface.
  bounded_staleness_variable::behavior_type behavior{
      [self, policy, broadcast](attach_atom) {
        return attach_everywhere(
            self,
            [policy](std::size_t replica, std::uint64_t clock) {
              policy->replica_attached(replica, clock);
            },
            [policy, broadcast] { broadcast(policy->start()); });
      },
      [self, policy, broadcast](push_atom, std::uint64_t replica,
                                std::uint64_t clock, bool has_delta,
                                tensor& delta) {
        std::optional<tensor> pushed;
        if (has_delta)
          pushed = std::move(delta);
        // A push is one-way: the replica validated it before sending, so an
        // invalid one comes from a faulty or hostile peer and is dropped
        // (the variable keeps serving everyone else).
        auto refresh = policy->push(static_cast<std::size_t>(replica), clock,
                                    std::move(pushed));
        if (refresh && *refresh)
          broadcast(**refresh);
      },
      [self, policy](min_clock_atom) { return policy->min_clock(); },
      [self, policy](
          refresh_atom) -> caf::result<std::uint64_t, std::uint64_t, tensor> {
        auto whole = policy->current();
        return {whole.min_clock, whole.version, std::move(whole.snapshot)};
      },
      [self, policy](status_atom) -> caf::result<std::uint64_t, std::uint64_t> {
        return {policy->current().version, policy->min_clock()};
      },
      [self, policy](read_atom, std::int64_t) { return policy->total(); },
      // Rows of the server value (version 0: a shard's refreshes are its
      // own).
      [self, policy](read_rows_atom, const tensor& rows, std::int64_t) {
        return rows_reply(self->state.spec, rows, policy->total(), 0);
      },
      // Row ops too (add_rows: a packed row delta, refreshed as rows).
      [self, policy, broadcast](cross_update_atom, std::uint8_t op_byte,
                                const tensor& operand,
                                std::int64_t) -> caf::result<ok_atom> {
        auto op = step_op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto refresh = *op == update_op::assign
                           ? policy->cross_assign(operand)
                           : policy->cross_add(*op, operand);
        if (!refresh)
          return to_caf_error(refresh.error());
        broadcast(*refresh);
        return ok_atom::value;
      },
      // A lost replica joined again. Once attached it is live at the
      // minimum clock (holding it there until it pushes) and starts from
      // the current snapshot; it moves its clock up to that minimum clock
      // (its clock is shared with the group's other variables, so it may
      // be further on; then its pushes skip clocks of this one).
      [self, policy](rejoin_atom, std::uint64_t index,
                     caf::actor& replica) -> caf::result<ok_atom> {
        if (auto later = rejoin_after_loss(self, index, replica))
          return std::move(*later);
        return readmit_replica(
            self, index, replica, policy->current().snapshot,
            [self, policy,
             index](std::uint64_t) -> std::optional<caf::message> {
              auto refresh = policy->add_replica(index);
              return caf::make_message(rejoin_refresh_atom::value,
                                       self->state.spec.id, refresh.min_clock,
                                       refresh.version, refresh.snapshot);
            });
      },
  };
  return std::move(behavior.unbox());
}

} // namespace

caf::behavior bounded_staleness_variable_side(variable_actor_type* self) {
  const auto& spec = self->state.spec;
  auto policy = std::make_shared<policies::bounded_staleness>(settings_of(spec),
                                                              spec.initial);
  // The group may have clocked before this variable was created: its
  // clocks are learned from the attach replies.
  policy->await_attachments();
  return bounded_staleness_behavior(self, std::move(policy));
}

caf::behavior
bounded_staleness_rehosted_side(variable_actor_type* self,
                                const std::vector<replica_recovery>& held) {
  const auto& spec = self->state.spec;
  std::vector<policies::cached_state> states;
  for (const auto& replica : held) {
    policies::cached_state state;
    state.replica = static_cast<std::size_t>(replica.index);
    state.clock = replica.clock;
    state.refresh = {replica.min_clock, replica.snapshot_version,
                     replica.snapshot};
    for (std::size_t k = 0;
         k < replica.own_tags.size() && k < replica.own_deltas.size(); ++k)
      state.own.emplace(replica.own_tags[k], replica.own_deltas[k]);
    states.push_back(std::move(state));
  }
  auto policy = std::make_shared<policies::bounded_staleness>(
      policies::bounded_staleness::recovered(settings_of(spec), states));
  // The first refresh folds what every survivor pushed; it is newer than
  // any snapshot a survivor holds, so every cache takes it.
  broadcast(self, policy->start());
  return bounded_staleness_behavior(self, std::move(policy));
}

} // namespace varsync
