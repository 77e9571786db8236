#include "actors/variable_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/cluster_protocol.hpp"
#include "actors/policies/bounded_staleness.hpp"
#include "actors/policies/eager_broadcast.hpp"
#include "actors/policies/local_only.hpp"
#include "actors/policies/reduce_on_read.hpp"
#include "actors/request_all.hpp"

#include <functional>
#include <map>
#include <utility>

namespace varsync {

namespace {

using std::chrono::milliseconds;

/// Bounds fan-out requests that the caller gave no deadline for (only the
/// attach at creation).
constexpr milliseconds attach_timeout{std::chrono::seconds{30}};

struct variable_state {
  variable_spec spec;
  /// Replicas whose node was lost, by index.
  std::vector<bool> lost;
  /// Fan-ins waiting for replicas; told when one is lost.
  lost_targets gatherings;
  static inline const char* name = "varsync.variable";

  /// The replicas still in the group.
  std::vector<caf::actor> live_replicas() const {
    std::vector<caf::actor> result;
    for (std::size_t i = 0; i < spec.replicas.size(); ++i)
      if (!lost[i])
        result.push_back(spec.replicas[i]);
    return result;
  }
};

using variable_actor_type = caf::stateful_actor<variable_state>;

/// Handles the DOWN message of a monitored replica: marks it lost, stops
/// every fan-in from waiting for it and returns its index (nullopt for an
/// unknown sender or a replica already lost). The policy then drops it.
std::optional<std::size_t> replica_down(variable_actor_type* self,
                                        const caf::down_msg& msg) {
  auto& state = self->state;
  for (std::size_t i = 0; i < state.spec.replicas.size(); ++i) {
    if (state.lost[i] || state.spec.replicas[i].address() != msg.source)
      continue;
    state.lost[i] = true;
    state.gatherings.lost(msg.source);
    return i;
  }
  return std::nullopt;
}

/// Reports a replica's clock when it attached (bounded_staleness joins the
/// group's clocks with it).
using attached_hook = std::function<void(std::size_t, std::uint64_t)>;

/// Runs once every live replica has attached, before the directory hears.
using all_attached_hook = std::function<void()>;

/// Attaches the variable to every replica (and monitors them: a replica
/// whose node dies is dropped from the group), then answers the directory.
/// Each replica answers with its current clock: `attached(index, clock)`
/// sees it before anything that replica sends afterwards (same sender, same
/// receiver: FIFO), and `all_attached()` runs once all have answered.
caf::result<ok_atom>
attach_everywhere(variable_actor_type* self, attached_hook attached = nullptr,
                  all_attached_hook all_attached = nullptr) {
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

policies::policy_settings settings_of(const variable_spec& spec) {
  return {spec.name, spec.type, spec.shape, spec.options.aggregation,
          spec.replicas.size()};
}

/// Timeouts on the wire are milliseconds; 0 or less means "no deadline
/// given", which the host API never sends.
milliseconds to_timeout(std::int64_t timeout_ms) {
  return milliseconds{timeout_ms > 0 ? timeout_ms : 1};
}

/// Sends `message` to every replica and answers ok once all replied
/// (`Reply` is what each answers with; void for an empty reply), or the
/// first error.
template <class Reply>
caf::result<ok_atom> send_to_all_replicas(variable_actor_type* self,
                                          std::int64_t timeout_ms,
                                          caf::message message) {
  auto promise = self->make_response_promise<ok_atom>();
  auto succeeded = [promise](auto&&...) mutable {
    promise.deliver(ok_atom::value);
  };
  auto failed = [promise](const caf::error& err) mutable {
    promise.deliver(err);
  };
  auto replicas = self->state.live_replicas();
  auto* gatherings = &self->state.gatherings;
  if constexpr (std::is_void_v<Reply>)
    request_all_acks(self, replicas, to_timeout(timeout_ms), message, succeeded,
                     failed, gatherings);
  else
    request_all<Reply>(self, replicas, to_timeout(timeout_ms), message,
                       succeeded, failed, gatherings);
  return promise;
}

// -- on_write ----------------------------------------------------------------

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
};

caf::behavior eager_broadcast_behavior(variable_actor_type* self) {
  auto& spec = self->state.spec;
  auto policy = std::make_shared<policies::eager_broadcast>(settings_of(spec),
                                                            spec.initial);
  // Contributors waiting for their step, by (step, replica index).
  using waiting_map =
      std::map<std::pair<std::uint64_t, std::size_t>, contributor>;
  auto waiting = std::make_shared<waiting_map>();
  // Bulk routes of the replicas that contribute on the bulk plane.
  auto routes = std::make_shared<std::vector<std::optional<bulk_route>>>(
      spec.replicas.size());
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
    const auto& replica = spec.replicas[index];
    self->send(replica, install_atom::value, spec.id, policy->version(),
               policy->value());
    self->send(replica, bulk_ack_atom::value, spec.id, step, who.tag, code,
               text);
  };
  // Installs each version everywhere, then releases the step's contributors:
  // a replica actor handles our install before our reply (same sender, same
  // receiver, FIFO; on the bulk plane: same connection), so a released
  // caller's next read sees the version.
  auto publish = [self, waiting, routes, answer](
                     const std::vector<policies::published_version>& versions) {
    auto& state = self->state;
    for (const auto& published : versions) {
      for (std::size_t i = 0; i < state.spec.replicas.size(); ++i) {
        if (state.lost[i])
          continue;
        auto& route = (*routes)[i];
        if (route) {
          bulk_frame install;
          install.kind = bulk_kind::install;
          install.target = route->replica_actor;
          install.variable = state.spec.id;
          install.number = published.version;
          install.value = published.value;
          if (state.spec.bulk->reply(route->connection, std::move(install)))
            continue;
          route.reset(); // the connection is gone: back to CAF
        }
        self->send(state.spec.replicas[i], install_atom::value, state.spec.id,
                   published.version, published.value);
      }
      if (!published.step)
        continue;
      auto first = waiting->lower_bound({*published.step, 0});
      auto last = waiting->lower_bound({*published.step + 1, 0});
      for (auto i = first; i != last; ++i)
        answer(i->second, i->first.second, *published.step, std::nullopt);
      waiting->erase(first, last);
    }
  };
  // Records a contribution (from a CAF request or a bulk frame) and
  // publishes what it completes; errors go back to `who` at once.
  auto contribute = [self, policy, waiting, publish,
                     answer](contributor who, std::uint64_t replica,
                             std::uint64_t step, std::uint8_t op_byte,
                             tensor& operand, std::int64_t timeout_ms) {
    self->state.spec.counters->count_message();
    auto index = static_cast<std::size_t>(replica);
    auto op = op_from_wire(op_byte);
    if (!op) {
      answer(who, index, step, invalid_op(op_byte));
      return;
    }
    auto published = policy->contribute(index, step, *op, std::move(operand));
    if (!published) {
      answer(who, index, step, published.error());
      return;
    }
    waiting->emplace(std::pair{step, index}, std::move(who));
    if (published->empty())
      self->delayed_send(self, to_timeout(timeout_ms), step_expired_atom::value,
                         replica, step);
    publish(*published);
  };
  // A lost replica leaves the group: pending steps finish with the
  // survivors (mean divides by them).
  self->set_down_handler([self, policy, publish](caf::down_msg& msg) {
    if (auto index = replica_down(self, msg))
      publish(policy->drop_replica(*index));
  });
  return {
      [self](attach_atom) {
        self->state.spec.counters->count_message();
        return attach_everywhere(self);
      },
      [self, contribute](contribute_atom, std::uint64_t replica,
                         std::uint64_t step, std::uint8_t op_byte,
                         tensor& operand, std::int64_t timeout_ms) {
        contribute(contributor{self->make_response_promise(), {}, 0}, replica,
                   step, op_byte, operand, timeout_ms);
      },
      [self, contribute, routes](bulk_contribute_atom, std::uint64_t connection,
                                 std::uint64_t reply_to, std::uint64_t replica,
                                 std::uint64_t step, std::uint8_t op_byte,
                                 tensor& operand, std::int64_t timeout_ms,
                                 std::uint64_t tag) {
        bulk_route route{connection, reply_to};
        // Later installs for this replica take its connection too.
        if (replica < routes->size())
          (*routes)[replica] = route;
        contribute(contributor{{}, route, tag}, replica, step, op_byte, operand,
                   timeout_ms);
      },
      [self, policy, waiting, answer](step_expired_atom, std::uint64_t replica,
                                      std::uint64_t step) {
        self->state.spec.counters->count_message();
        auto index = static_cast<std::size_t>(replica);
        if (auto err = policy->expire(index, step)) {
          auto i = waiting->find({step, index});
          if (i != waiting->end()) {
            answer(i->second, index, step, *err);
            waiting->erase(i);
          }
        }
      },
      [self, policy](read_atom, std::int64_t) {
        self->state.spec.counters->count_message();
        return policy->value();
      },
      [self, policy](status_atom) {
        self->state.spec.counters->count_message();
        return caf::make_message(policy->version(), std::uint64_t{0});
      },
      [self, policy](update_atom, std::uint8_t op_byte, const tensor& operand,
                     std::int64_t timeout_ms) -> caf::result<ok_atom> {
        self->state.spec.counters->count_message();
        auto op = op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto published = policy->cross_update(*op, operand);
        if (!published)
          return to_caf_error(published.error());
        const auto& spec = self->state.spec;
        return send_to_all_replicas<void>(
            self, timeout_ms,
            caf::make_message(install_atom::value, spec.id, published->version,
                              published->value));
      },
  };
}

// -- on_read -----------------------------------------------------------------

caf::behavior reduce_on_read_behavior(variable_actor_type* self) {
  auto& spec = self->state.spec;
  auto policy = std::make_shared<policies::reduce_on_read>(settings_of(spec));
  // A lost replica's copy is gone: reads aggregate the survivors' copies.
  self->set_down_handler(
      [self](caf::down_msg& msg) { replica_down(self, msg); });
  return {
      [self](attach_atom) {
        self->state.spec.counters->count_message();
        return attach_everywhere(self);
      },
      [self](status_atom) {
        self->state.spec.counters->count_message();
        return caf::make_message(std::uint64_t{0}, std::uint64_t{0});
      },
      [self, policy](read_atom,
                     std::int64_t timeout_ms) -> caf::result<tensor> {
        self->state.spec.counters->count_message();
        if (auto allowed = policy->check_read(); !allowed)
          return to_caf_error(allowed.error());
        auto promise = self->make_response_promise<tensor>();
        const auto& spec = self->state.spec;
        request_all<tensor>(
            self, self->state.live_replicas(), to_timeout(timeout_ms),
            caf::make_message(copy_get_atom::value, spec.id),
            [promise, policy](std::vector<tensor> copies) mutable {
              if (copies.empty())
                promise.deliver(to_caf_error(error{errc::replica_lost,
                                                   "every replica of the group "
                                                   "was lost"}));
              else
                promise.deliver(policy->finish_read(copies));
            },
            [promise](const caf::error& err) mutable { promise.deliver(err); },
            &self->state.gatherings);
        return promise;
      },
      [self, policy](update_atom, std::uint8_t op_byte, const tensor& operand,
                     std::int64_t timeout_ms) -> caf::result<ok_atom> {
        self->state.spec.counters->count_message();
        auto op = op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto plan = policy->plan_update(*op, operand);
        if (!plan)
          return to_caf_error(plan.error());
        const auto& spec = self->state.spec;
        return send_to_all_replicas<ok_atom>(
            self, timeout_ms,
            caf::make_message(copy_set_atom::value, spec.id, to_wire(plan->op),
                              plan->operand));
      },
  };
}

// -- bounded_staleness
// ---------------------------------------------------------

caf::behavior bounded_staleness_behavior(variable_actor_type* self) {
  auto& spec = self->state.spec;
  auto policy = std::make_shared<policies::bounded_staleness>(settings_of(spec),
                                                              spec.initial);
  // The group may have clocked before this variable was created: its
  // clocks are learned from the attach replies.
  policy->await_attachments();
  auto broadcast = [self](const policies::staleness_refresh& refresh) {
    for (const auto& replica : self->state.live_replicas())
      self->send(replica, refresh_atom::value, self->state.spec.id,
                 refresh.min_clock, refresh.version, refresh.snapshot);
  };
  // A lost replica no longer holds the minimum clock back.
  self->set_down_handler([self, policy, broadcast](caf::down_msg& msg) {
    if (auto index = replica_down(self, msg))
      if (auto refresh = policy->drop_replica(*index))
        broadcast(*refresh);
  });
  return {
      [self, policy, broadcast](attach_atom) {
        self->state.spec.counters->count_message();
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
        self->state.spec.counters->count_message();
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
      [self, policy](min_clock_atom) {
        self->state.spec.counters->count_message();
        return policy->min_clock();
      },
      [self, policy](status_atom) {
        self->state.spec.counters->count_message();
        return caf::make_message(policy->current().version,
                                 policy->min_clock());
      },
      [self, policy](read_atom, std::int64_t) {
        self->state.spec.counters->count_message();
        return policy->total();
      },
      [self, policy, broadcast](update_atom, std::uint8_t op_byte,
                                const tensor& operand,
                                std::int64_t) -> caf::result<ok_atom> {
        self->state.spec.counters->count_message();
        auto op = op_from_wire(op_byte);
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
  };
}

// -- none --------------------------------------------------------------------

caf::behavior local_only_behavior(variable_actor_type* self) {
  auto policy = std::make_shared<policies::local_only>(self->state.spec.name);
  return {
      [self](attach_atom) {
        self->state.spec.counters->count_message();
        return attach_everywhere(self);
      },
      [self](status_atom) {
        self->state.spec.counters->count_message();
        return caf::make_message(std::uint64_t{0}, std::uint64_t{0});
      },
      [self, policy](read_atom, std::int64_t) -> caf::result<tensor> {
        self->state.spec.counters->count_message();
        return to_caf_error(policy->reject_cross_replica("read"));
      },
      [self, policy](update_atom, std::uint8_t op_byte, const tensor&,
                     std::int64_t) -> caf::result<ok_atom> {
        self->state.spec.counters->count_message();
        auto op = op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        return to_caf_error(policy->reject_cross_replica(to_string(*op)));
      },
  };
}

caf::behavior variable_actor(variable_actor_type* self, variable_spec spec) {
  self->state.spec = std::move(spec);
  self->state.lost.assign(self->state.spec.replicas.size(), false);
  // The variable monitors its replicas; a policy that does not care about
  // a lost replica still takes the DOWN message (CAF's default handler
  // prints every unhandled one to stderr, e.g. at every shutdown).
  self->set_down_handler(
      [self](caf::down_msg& msg) { replica_down(self, msg); });
  switch (self->state.spec.options.sync) {
  case synchronization::on_read:
    return reduce_on_read_behavior(self);
  case synchronization::none:
    return local_only_behavior(self);
  case synchronization::bounded_staleness:
    return bounded_staleness_behavior(self);
  default:
    return eager_broadcast_behavior(self);
  }
}

} // namespace

caf::actor spawn_variable_actor(caf::actor_system& system, variable_spec spec) {
  return system.spawn(variable_actor, std::move(spec));
}

} // namespace varsync
