#include "actors/variable_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/replica_recovery.hpp"
#include "actors/policies/table.hpp"
#include "actors/policies/variable_interface.hpp"
#include "actors/variable_actor_state.hpp"
#include "runtime/core/row_math.hpp"

#include <utility>

namespace varsync {

namespace {

using std::chrono::milliseconds;

/// Bounds fan-out requests that the caller gave no deadline for (only the
/// attach at creation).
constexpr milliseconds attach_timeout{std::chrono::seconds{30}};

/// A variable actor whose policy has no row in the table: answers every
/// request with that error (CAF's default handler sees every message, the
/// behavior only keeps the actor alive) and never acts as another policy.
caf::behavior refusing_behavior(variable_actor_type* self, error why) {
  self->set_default_handler(
      [why](caf::scheduled_actor*,
            caf::message_view&) -> caf::result<caf::message> {
        return to_caf_error(why);
      });
  return {
      [why](status_atom) -> caf::result<caf::message> {
        return to_caf_error(why);
      },
  };
}

/// Asks every surviving replica to take this actor over and report what it
/// holds; once all answered (a replica found lost meanwhile is dropped),
/// becomes `side` built from the reports and delivers ok to `promise`.
void take_over_replicas(variable_actor_type* self,
                        policies::rehosted_side_factory side,
                        caf::typed_response_promise<ok_atom> promise) {
  auto& state = self->state;
  auto& spec = state.spec;
  std::vector<caf::actor> targets;
  auto asked = std::make_shared<std::vector<std::size_t>>();
  for (std::size_t i = 0; i < spec.replicas.size(); ++i) {
    if (state.lost[i])
      continue;
    self->monitor(spec.replicas[i]);
    targets.push_back(spec.replicas[i]);
    asked->push_back(i);
  }
  // Which of the asked replicas answered (the replies come in `asked`
  // order, without the lost ones).
  auto replied = std::make_shared<std::vector<bool>>(asked->size(), false);
  auto fail = [self, promise](const caf::error& err) mutable {
    promise.deliver(err);
    self->quit(caf::exit_reason::user_shutdown);
  };
  request_all<replica_recovery>(
      self, targets, attach_timeout,
      caf::make_message(rehost_atom::value, spec.id,
                        caf::actor_cast<caf::actor>(self),
                        spec.bulk ? spec.bulk->host() : std::string{},
                        spec.bulk ? spec.bulk->port() : std::uint16_t{0}),
      [self, side, promise, asked, replied,
       fail](std::vector<replica_recovery> held) mutable {
        auto& state = self->state;
        std::fill(state.lost.begin(), state.lost.end(), true);
        std::size_t next = 0;
        for (std::size_t k = 0; k < asked->size(); ++k) {
          if (!(*replied)[k])
            continue;
          // The replica asked, whatever it claims.
          held[next++].index = (*asked)[k];
          state.lost[(*asked)[k]] = false;
        }
        // A replica without the variable (it rejoined meanwhile) counts as
        // lost here; the directory readmits it once this actor is ready.
        std::erase_if(held, [&state](const replica_recovery& replica) {
          if (replica.holds)
            return false;
          state.lost[static_cast<std::size_t>(replica.index)] = true;
          return true;
        });
        if (held.empty()) {
          fail(to_caf_error(error{
              errc::variable_unavailable,
              "variable '" + state.spec.name +
                  "': no surviving replica answered; nothing to re-host it "
                  "from"}));
          return;
        }
        self->set_default_handler(caf::print_and_drop);
        self->become(side(self, held));
        promise.deliver(ok_atom::value);
      },
      fail, &state.gatherings,
      [replied](std::size_t k, const replica_recovery&) {
        (*replied)[k] = true;
      });
}

/// A re-created variable actor until the replicas reported: takes
/// (rehost_atom) from the directory; every other message waits.
caf::behavior recovering_behavior(variable_actor_type* self,
                                  policies::rehosted_side_factory side) {
  self->set_default_handler(caf::skip);
  return {
      [self, side](rehost_atom) -> caf::result<ok_atom> {
        auto promise = self->make_response_promise<ok_atom>();
        take_over_replicas(self, side, promise);
        return promise;
      },
  };
}

caf::behavior variable_actor(variable_actor_type* self, variable_spec spec) {
  self->state.spec = std::move(spec);
  self->state.lost.assign(self->state.spec.replicas.size(), false);
  for (std::size_t i = 0;
       i < self->state.spec.lost.size() && i < self->state.lost.size(); ++i)
    self->state.lost[i] = self->state.spec.lost[i];
  // The variable monitors its replicas; a policy that does not care about
  // a lost replica still takes the DOWN message (CAF's default handler
  // prints every unhandled one, e.g. at every shutdown).
  self->set_down_handler(
      [self](caf::down_msg& msg) { replica_down(self, msg); });
  if (self->state.spec.rehosted) {
    auto side = policies::rehosted_side_of(self->state.spec.options.sync);
    if (!side)
      return refusing_behavior(self, side.error());
    return recovering_behavior(self, *side);
  }
  auto side = policies::variable_side_of(self->state.spec.options.sync);
  if (!side)
    return refusing_behavior(self, side.error());
  return (*side)(self);
}

} // namespace

std::vector<std::size_t> replica_down(variable_actor_type* self,
                                      const caf::down_msg& msg) {
  auto& state = self->state;
  const auto& replicas = state.spec.replicas;
  std::vector<std::size_t> lost;
  for (std::size_t i = 0; i < replicas.size(); ++i)
    if (!state.lost[i] && replicas[i].address() == msg.source)
      lost.push_back(i);
  if (lost.empty())
    return lost;
  // The node is gone: so are its other replicas, whose DOWN messages are
  // still on their way. Dropping them now keeps a step from completing in
  // between with the contribution one of them sent before the loss (seen
  // in cluster.replica_loss: a periodic mean over 5 of 6 replicas).
  if (msg.reason == caf::exit_reason::remote_link_unreachable &&
      msg.source.node() != self->node())
    for (std::size_t i = 0; i < replicas.size(); ++i)
      if (!state.lost[i] && i != lost.front() &&
          replicas[i].node() == msg.source.node())
        lost.push_back(i);
  for (auto i : lost) {
    state.lost[i] = true;
    state.gatherings.lost(replicas[i].address());
  }
  return lost;
}

caf::result<ok_atom> attach_everywhere(variable_actor_type* self,
                                       attached_hook attached,
                                       all_attached_hook all_attached) {
  auto& spec = self->state.spec;
  for (const auto& replica : spec.replicas)
    self->monitor(replica);
  auto promise = self->make_response_promise<ok_atom>();
  request_all<std::uint64_t>(
      self, spec.replicas, attach_timeout,
      caf::make_message(attach_atom::value, spec.id, spec.name,
                        caf::actor_cast<caf::actor>(self), spec.initial,
                        spec.options,
                        static_cast<std::uint64_t>(spec.replicas.size()),
                        spec.bulk ? spec.bulk->host() : std::string{},
                        spec.bulk ? spec.bulk->port() : std::uint16_t{0}),
      [promise, all_attached](std::vector<std::uint64_t>) mutable {
        if (all_attached)
          all_attached();
        promise.deliver(ok_atom::value);
      },
      [promise](const caf::error& err) mutable { promise.deliver(err); },
      &self->state.gatherings, std::move(attached));
  return promise;
}

void readmit_replica(variable_actor_type* self, std::uint64_t index,
                     const caf::actor& replica, tensor start,
                     readmission_follow_up follow_up,
                     caf::typed_response_promise<ok_atom> promise) {
  auto& state = self->state;
  auto& spec = state.spec;
  if (index >= spec.replicas.size() || !replica) {
    promise.deliver(to_caf_error(error{
        errc::invalid_argument,
        "variable '" + spec.name + "': replica " + std::to_string(index) +
            " cannot rejoin a group of " +
            std::to_string(spec.replicas.size()) + " (or has no actor)"}));
    return;
  }
  if (spec.replicas[index] == replica && !state.lost[index]) {
    promise.deliver(ok_atom::value);
    return;
  }
  if (!state.lost[index]) {
    promise.deliver(to_caf_error(
        error{errc::already_exists, "variable '" + spec.name + "': replica " +
                                        std::to_string(index) +
                                        " is alive; only a lost replica "
                                        "rejoins"}));
    return;
  }
  spec.replicas[index] = replica;
  state.lost[index] = false;
  self->monitor(replica);
  auto fail = [promise](caf::error& err) mutable { promise.deliver(err); };
  self->request(replica, attach_timeout, attach_atom::value, spec.id, spec.name,
                caf::actor_cast<caf::actor>(self), std::move(start),
                spec.options, static_cast<std::uint64_t>(spec.replicas.size()),
                spec.bulk ? spec.bulk->host() : std::string{},
                spec.bulk ? spec.bulk->port() : std::uint16_t{0})
      .then(
          [self, replica, promise, fail,
           follow_up](std::uint64_t clock) mutable {
            auto message = follow_up ? follow_up(clock) : std::nullopt;
            if (!message) {
              promise.deliver(ok_atom::value);
              return;
            }
            self->request(replica, attach_timeout, std::move(*message))
                .then([promise](
                          ok_atom) mutable { promise.deliver(ok_atom::value); },
                      fail);
          },
          fail);
}

std::optional<caf::result<ok_atom>>
rejoin_after_loss(variable_actor_type* self, std::uint64_t index,
                  const caf::actor& replica) {
  auto& state = self->state;
  if (index >= state.spec.replicas.size() || state.lost[index] || !replica ||
      state.spec.replicas[index] == replica)
    return std::nullopt;
  const auto& old = state.spec.replicas[index];
  // Same sender, same receiver: the DOWN is handled before the rejoin.
  self->send(self, caf::down_msg{old.address(),
                                 caf::exit_reason::remote_link_unreachable});
  return caf::result<ok_atom>{
      self->delegate(caf::actor_cast<variable_actor_interface>(self),
                     rejoin_atom::value, index, replica)};
}

caf::result<ok_atom> readmit_replica(variable_actor_type* self,
                                     std::uint64_t index,
                                     const caf::actor& replica, tensor start,
                                     readmission_follow_up follow_up) {
  auto promise = self->make_response_promise<ok_atom>();
  readmit_replica(self, index, replica, std::move(start), std::move(follow_up),
                  promise);
  return promise;
}

policies::policy_settings settings_of(const variable_spec& spec) {
  return {spec.name,
          spec.type,
          spec.shape,
          spec.options.aggregation,
          spec.replicas.size(),
          spec.options.sync == synchronization::on_write};
}

milliseconds to_timeout(std::int64_t timeout_ms) {
  return milliseconds{timeout_ms > 0 ? timeout_ms : 1};
}

caf::result<std::uint64_t, tensor> rows_reply(const variable_spec& spec,
                                              const tensor& rows,
                                              const tensor& value,
                                              std::uint64_t version) {
  auto indices = row_indices_of(rows, spec.shape, spec.name);
  if (!indices)
    return to_caf_error(indices.error());
  return {version, gather_rows(value, *indices)};
}

caf::actor spawn_variable_actor(caf::actor_system& system, variable_spec spec) {
  return system.spawn(variable_actor, std::move(spec));
}

} // namespace varsync
