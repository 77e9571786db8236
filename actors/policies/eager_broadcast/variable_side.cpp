#include "actors/policies/eager_broadcast/variable_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/deadline_alarm.hpp"
#include "actors/policies/eager_broadcast/interface.hpp"
#include "actors/policies/eager_broadcast/state_machine.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <utility>

namespace varsync {

namespace {

/// Where a replica that contributes on the bulk plane gets its answers: the
/// connection its contribution came in on and its actor id there.
struct bulk_route {
  std::uint64_t connection = 0;
  std::uint64_t replica_actor = 0;
};

/// A contributor waiting for its step: a CAF request (promise) or a bulk
/// contribution (route and attempt tag).
struct contributor {
  caf::response_promise promise;
  std::optional<bulk_route> route;
  std::uint64_t tag = 0;
  /// When the step fails for this contributor if still incomplete.
  std::chrono::steady_clock::time_point deadline;
};

/// Which replicas receive the version being published in parts on their
/// bulk connection: a part goes to a replica only on the connection that
/// took the version's first part (a replica without one gets the version
/// whole once it is complete).
struct parts_progress {
  std::uint64_t version = 0;
  std::vector<std::optional<std::uint64_t>> connection;
  /// The last part carried the step's ack (install_ack).
  std::vector<bool> acked;
};

} // namespace

namespace {

/// The variable side of on_write around `policy` (new, or recovered from
/// the replicas).
caf::behavior
eager_broadcast_behavior(variable_actor_type* self,
                         std::shared_ptr<policies::eager_broadcast> policy) {
  auto& spec = self->state.spec;
  // Contributors waiting for their step, by (step, replica index).
  using waiting_map =
      std::map<std::pair<std::uint64_t, std::size_t>, contributor>;
  auto waiting = std::make_shared<waiting_map>();
  // Guards the contributors' deadlines with one pending timer.
  auto alarm = std::make_shared<deadline_alarm<step_alarm_atom>>();
  // Bulk routes of the replicas that contribute on the bulk plane.
  auto routes = std::make_shared<std::vector<std::optional<bulk_route>>>(
      spec.replicas.size());
  // Each replica's node as bulk planes name themselves (CAF's node id):
  // a bulk contribution for a replica must come from its node.
  auto replica_nodes = std::make_shared<std::vector<std::string>>();
  for (const auto& replica : spec.replicas)
    replica_nodes->push_back(caf::to_string(replica.node()));
  // Answers contributor `who` (replica `index`, `step`) with `outcome`
  // (nullopt: the step was published). A bulk ack follows the installs on
  // the same connection; when that connection is gone the answer goes
  // through CAF, preceded by the current value (the bulk install may have
  // been lost with the connection).
  auto answer = [self, policy](contributor& who, std::size_t index,
                               std::uint64_t step,
                               const std::optional<error>& outcome) {
    if (!who.route) {
      if (outcome)
        who.promise.deliver(to_caf_error(*outcome));
      else
        who.promise.deliver(ok_atom::value);
      return;
    }
    const auto& spec = self->state.spec;
    auto code =
        outcome ? static_cast<std::uint8_t>(outcome->code()) : std::uint8_t{0};
    auto text = outcome ? outcome->message() : std::string{};
    bulk_frame ack;
    ack.kind = bulk_kind::ack;
    ack.code = code;
    ack.target = who.route->replica_actor;
    ack.variable = spec.id;
    ack.number = step;
    ack.tag = who.tag;
    ack.text = text;
    if (spec.bulk && spec.bulk->reply(who.route->connection, std::move(ack)))
      return;
    if (index >= spec.replicas.size())
      return; // a frame naming no replica of the group: nobody to tell
    auto replica =
        caf::actor_cast<eager_broadcast_replica>(spec.replicas[index]);
    self->send(replica, install_atom::value, spec.id, policy->version(),
               policy->next_step(), policy->value());
    self->send(replica, bulk_ack_atom::value, spec.id, step, who.tag, code,
               text);
  };
  // A bulk install of `value` (a version and the steps it holds) for
  // replica `index` on `route`; an install_ack when that replica's
  // contribution to `step` waits for it on the same route (the ack rides
  // along).
  auto install_frame = [self, waiting](const bulk_route& route,
                                       std::size_t index, std::uint64_t version,
                                       std::uint64_t steps, const tensor& value,
                                       std::optional<std::uint64_t> step) {
    bulk_frame install;
    install.kind = bulk_kind::install;
    install.target = route.replica_actor;
    install.variable = self->state.spec.id;
    install.number = version;
    install.index = steps;
    install.value = value;
    if (!step)
      return install;
    auto who = waiting->find({*step, index});
    if (who != waiting->end() && who->second.route &&
        who->second.route->connection == route.connection &&
        who->second.route->replica_actor == route.replica_actor) {
      install.kind = bulk_kind::install_ack;
      install.index = *step;
      install.tag = who->second.tag;
    }
    return install;
  };
  // The parts of a version whose reduce runs as its contributions arrive
  // (state_machine.hpp, "Pipelined reduce"): each reduced range goes at
  // once to every replica with a bulk connection, the last one with the
  // ack of its contributor there (install_ack).
  auto progress = std::make_shared<parts_progress>();
  auto send_parts = [self, routes, progress, install_frame](
                        std::vector<policies::published_part> parts) {
    auto& state = self->state;
    auto replicas = state.spec.replicas.size();
    for (auto& part : parts) {
      if (part.offset == 0) {
        progress->version = part.version;
        progress->connection.assign(replicas, std::nullopt);
        progress->acked.assign(replicas, false);
      }
      for (std::size_t i = 0; i < replicas; ++i) {
        auto& route = (*routes)[i];
        if (state.lost[i] || !route)
          continue;
        if (part.offset == 0)
          progress->connection[i] = route->connection;
        else if (progress->connection[i] != route->connection)
          continue;
        auto install =
            install_frame(*route, i, part.version, part.steps, part.value,
                          part.last ? std::optional{part.step} : std::nullopt);
        install.part_offset = part.offset;
        install.part_count = part.count;
        auto with_ack = install.kind == bulk_kind::install_ack;
        if (!state.spec.bulk->reply(route->connection, std::move(install))) {
          progress->connection[i].reset();
          route.reset(); // the connection is gone: back to CAF
          continue;
        }
        if (part.last)
          progress->acked[i] = with_ack;
      }
    }
  };
  // Installs each version everywhere (a row step's version as its row
  // delta: install_rows, or a bulk install whose code says rows), then
  // releases the step's contributors:
  // a replica actor handles our install before our reply (same sender, same
  // receiver, FIFO; on the bulk plane: same connection), so a released
  // caller's next read sees the version. A bulk contributor of the step gets
  // its install and its ack in one frame (install_ack). A version that went
  // out in parts reached the replicas whose connection took every part.
  auto publish = [self, policy, waiting, routes, answer, send_parts, progress,
                  install_frame](
                     const std::vector<policies::published_version>& versions) {
    send_parts(policy->take_parts());
    auto& state = self->state;
    for (const auto& published : versions) {
      std::vector<bool> acked(state.spec.replicas.size(), false);
      for (std::size_t i = 0; i < state.spec.replicas.size(); ++i) {
        if (state.lost[i])
          continue;
        if (published.in_parts && progress->version == published.version &&
            progress->connection[i] && (*routes)[i] &&
            (*routes)[i]->connection == *progress->connection[i]) {
          acked[i] = progress->acked[i];
          continue;
        }
        auto& route = (*routes)[i];
        if (route) {
          auto install =
              install_frame(*route, i, published.version, published.steps,
                            published.value, published.step);
          install.code = published.rows ? bulk_install_rows : 0;
          auto with_ack = install.kind == bulk_kind::install_ack;
          if (state.spec.bulk->reply(route->connection, std::move(install))) {
            acked[i] = with_ack;
            continue;
          }
          route.reset(); // the connection is gone: back to CAF
        }
        auto replica =
            caf::actor_cast<eager_broadcast_replica>(state.spec.replicas[i]);
        if (published.rows)
          self->send(replica, install_rows_atom::value, state.spec.id,
                     published.version, published.steps, published.value);
        else
          self->send(replica, install_atom::value, state.spec.id,
                     published.version, published.steps, published.value);
      }
      if (!published.step)
        continue;
      auto first = waiting->lower_bound({*published.step, 0});
      auto last = waiting->lower_bound({*published.step + 1, 0});
      for (auto i = first; i != last; ++i) {
        auto index = i->first.second;
        if (index >= acked.size() || !acked[index])
          answer(i->second, index, *published.step, std::nullopt);
      }
      waiting->erase(first, last);
    }
  };
  // Records a contribution (from a CAF request or a bulk frame) and
  // publishes what it completes; errors go back to `who` at once.
  // `accepted` (may be empty) runs once the state machine took the
  // contribution, before anything is published.
  // `received`: the operand's elements that arrived (nullopt: all).
  auto contribute = [self, policy, waiting, publish, answer,
                     alarm](contributor who, std::uint64_t replica,
                            std::uint64_t step, std::uint8_t op_byte,
                            tensor& operand, std::int64_t timeout_ms,
                            const std::function<void()>& accepted = {},
                            std::optional<std::uint64_t> received = {}) {
    auto index = static_cast<std::size_t>(replica);
    auto op = step_op_from_wire(op_byte);
    if (!op) {
      answer(who, index, step, invalid_op(op_byte));
      return;
    }
    auto published =
        policy->contribute(index, step, *op, std::move(operand), received);
    if (!published) {
      answer(who, index, step, published.error());
      return;
    }
    if (accepted)
      accepted();
    who.deadline = std::chrono::steady_clock::now() + to_timeout(timeout_ms);
    if (published->empty())
      alarm->arm(self, who.deadline);
    waiting->emplace(std::pair{step, index}, std::move(who));
    publish(*published);
  };
  // Lost replicas leave the group (all of a lost node's at once): pending
  // steps finish with the survivors (mean divides by them).
  self->set_down_handler([self, policy, publish](caf::down_msg& msg) {
    if (auto lost = replica_down(self, msg); !lost.empty())
      publish(policy->drop_replicas(lost));
  });
  // Typed: the compiler checks these handlers against the interface.
  eager_broadcast_variable::behavior_type behavior{
      [self](attach_atom) { return attach_everywhere(self); },
      [self, contribute](contribute_atom, std::uint64_t replica,
                         std::uint64_t step, std::uint8_t op_byte,
                         tensor& operand,
                         std::int64_t timeout_ms) -> caf::result<ok_atom> {
        auto promise = self->make_response_promise();
        contribute(contributor{promise, {}, 0, {}}, replica, step, op_byte,
                   operand, timeout_ms);
        return promise;
      },
      [self, policy, waiting, publish, contribute, routes, replica_nodes](
          bulk_contribute_atom, std::uint64_t connection,
          const std::string& node, std::uint64_t reply_to,
          std::uint64_t replica, std::uint64_t step, std::uint8_t op_byte,
          tensor& operand, std::int64_t timeout_ms, std::uint64_t tag,
          std::uint64_t part_offset, std::uint64_t part_count) {
        if (part_offset > 0) {
          // A further part: counts only for the accepted contribution it
          // continues, from the connection and actor that sent its first.
          auto who = waiting->find({step, static_cast<std::size_t>(replica)});
          if (who == waiting->end() || !who->second.route ||
              who->second.route->connection != connection ||
              who->second.route->replica_actor != reply_to)
            return;
          publish(policy->receive_more(static_cast<std::size_t>(replica), step,
                                       operand, part_offset + part_count));
          return;
        }
        bulk_route route{connection, reply_to};
        contributor who{{}, route, tag, {}};
        // Only the replica's own actor contributes for it, from its own
        // node, and its route is recorded only once the state machine
        // accepted the contribution: a frame with a bogus step or sender
        // never redirects its installs.
        const auto& replicas = self->state.spec.replicas;
        if (!self->state.spec.bulk)
          return; // no bulk plane here: no frame can have come from one
        if (replica >= replicas.size() || replicas[replica].id() != reply_to ||
            (*replica_nodes)[replica] != node) {
          // Told on the sender's connection only: never through the named
          // replica, whose own attempt the refusal must not touch.
          bulk_frame refusal;
          refusal.kind = bulk_kind::ack;
          refusal.code = static_cast<std::uint8_t>(errc::invalid_argument);
          refusal.target = reply_to;
          refusal.variable = self->state.spec.id;
          refusal.number = step;
          refusal.tag = tag;
          refusal.text = "variable '" + self->state.spec.name +
                         "': a bulk contribution names replica " +
                         std::to_string(replica) +
                         ", which is not the sender's (or not on its node)";
          self->state.spec.bulk->reply(connection, std::move(refusal));
          return;
        }
        // Later installs for this replica take its connection too.
        contribute(
            std::move(who), replica, step, op_byte, operand, timeout_ms,
            [routes, replica, route] { (*routes)[replica] = route; },
            part_count);
      },
      // Fails the contributions whose deadline passed (their step stays
      // open for the others) and arms the alarm for the earliest left.
      [self, policy, waiting, answer, alarm](step_alarm_atom,
                                             std::int64_t ticks) {
        auto now = alarm->fired(ticks);
        std::optional<std::chrono::steady_clock::time_point> earliest;
        for (auto i = waiting->begin(); i != waiting->end();) {
          auto [step, index] = i->first;
          if (i->second.deadline > now) {
            if (!earliest || i->second.deadline < *earliest)
              earliest = i->second.deadline;
            ++i;
          } else if (auto err = policy->expire(index, step)) {
            answer(i->second, index, step, *err);
            i = waiting->erase(i);
          } else {
            ++i;
          }
        }
        if (earliest)
          alarm->arm(self, *earliest);
      },
      [self, policy](read_atom, std::int64_t) { return policy->value(); },
      [self, policy](
          latest_atom) -> caf::result<std::uint64_t, std::uint64_t, tensor> {
        auto latest = policy->latest();
        return {latest.version, latest.steps, std::move(latest.value)};
      },
      [self, policy](read_rows_atom, const tensor& rows, std::int64_t) {
        return rows_reply(self->state.spec, rows, policy->value(),
                          policy->version());
      },
      [self, policy](status_atom) -> caf::result<std::uint64_t, std::uint64_t> {
        return {policy->version(), std::uint64_t{0}};
      },
      [self, policy](cross_update_atom, std::uint8_t op_byte,
                     const tensor& operand,
                     std::int64_t timeout_ms) -> caf::result<ok_atom> {
        // Row ops (add_rows, assign_rows: a packed row delta) too: their
        // version travels as rows, acknowledged like a whole one.
        auto op = step_op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto published = policy->cross_update(*op, operand);
        if (!published)
          return to_caf_error(published.error());
        const auto& spec = self->state.spec;
        return send_to_all_replicas<void>(
            self, timeout_ms,
            published->rows
                ? caf::make_message(install_rows_atom::value, spec.id,
                                    published->version, published->steps,
                                    published->value)
                : caf::make_message(install_atom::value, spec.id,
                                    published->version, published->steps,
                                    published->value));
      },
      // A lost replica joined again: once attached it receives the current
      // version and the first step it takes part in (every later step
      // waits for it; earlier ones complete without it).
      [self, policy, routes,
       replica_nodes](rejoin_atom, std::uint64_t index,
                      caf::actor& replica) -> caf::result<ok_atom> {
        if (auto later = rejoin_after_loss(self, index, replica))
          return std::move(*later);
        if (index < routes->size()) {
          (*routes)[index].reset();
          (*replica_nodes)[index] = caf::to_string(replica.node());
        }
        return readmit_replica(
            self, index, replica, policy->value(),
            [self, policy,
             index](std::uint64_t) -> std::optional<caf::message> {
              auto first_step = policy->add_replica(index);
              return caf::make_message(rejoin_atom::value, self->state.spec.id,
                                       policy->version(), policy->next_step(),
                                       first_step, policy->value());
            });
      },
  };
  return std::move(behavior.unbox());
}

} // namespace

caf::behavior eager_broadcast_variable_side(variable_actor_type* self) {
  const auto& spec = self->state.spec;
  return eager_broadcast_behavior(
      self, std::make_shared<policies::eager_broadcast>(settings_of(spec),
                                                        spec.initial));
}

caf::behavior
eager_broadcast_rehosted_side(variable_actor_type* self,
                              const std::vector<replica_recovery>& held) {
  const auto& spec = self->state.spec;
  std::vector<policies::committed_state> states;
  for (const auto& replica : held)
    states.push_back({static_cast<std::size_t>(replica.index),
                      replica.next_step, replica.version, replica.steps,
                      replica.value});
  auto policy = std::make_shared<policies::eager_broadcast>(
      policies::eager_broadcast::recovered(settings_of(spec), states));
  // Every survivor learns what the new actor holds: its update in flight
  // succeeded if its step is among the steps, else it sends it again.
  for (const auto& replica : held)
    self->send(caf::actor_cast<eager_broadcast_replica>(
                   spec.replicas[static_cast<std::size_t>(replica.index)]),
               rehosted_atom::value, spec.id, policy->version(),
               policy->next_step(), policy->value());
  return eager_broadcast_behavior(self, std::move(policy));
}

} // namespace varsync