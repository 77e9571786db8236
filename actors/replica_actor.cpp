#include "actors/replica_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/table.hpp"
#include "actors/replica_actor_state.hpp"

#include <string>

namespace varsync {

namespace {

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
  policies::fail_pending_calls(self, entry, id);
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
  caf::message_handler attach{
      [self](attach_atom, variable_id id, std::string& name,
             const caf::actor& variable_actor, const tensor& initial,
             const variable_options& options, std::uint64_t replicas,
             std::string& bulk_host,
             std::uint16_t bulk_port) -> caf::result<std::uint64_t> {
        auto& store = *self->state.store;
        auto slot = store.attach(id, initial);
        auto part = store.find_part(id);
        if (!part) {
          auto make = policies::local_part_of(options.sync);
          if (!make)
            return caf::result<std::uint64_t>{to_caf_error(make.error())};
          part = (*make)(local_part_spec{id, name, options,
                                         static_cast<std::size_t>(replicas),
                                         slot, initial},
                         store);
          store.attach_part(id, part);
        }
        auto& entry = self->state.variables[id];
        entry.name = std::move(name);
        if (entry.variable_actor != variable_actor)
          self->monitor(variable_actor);
        entry.variable_actor = variable_actor;
        const auto& threshold = self->state.bulk_threshold;
        entry.use_bulk =
            self->state.bulk != nullptr && threshold && !bulk_host.empty() &&
            bulk_port != 0 && variable_actor &&
            variable_actor.node() != self->node() && part->takes_steps() &&
            initial.bytes().size() >= *threshold;
        entry.bulk_host = std::move(bulk_host);
        entry.bulk_port = bulk_port;
        entry.bulk_node =
            variable_actor ? caf::to_string(variable_actor.node()) : "";
        entry.cache = store.find_cache(id);
        // The variable's clocks start where this replica is (its next push
        // is tagged with this clock).
        return caf::result<std::uint64_t>{self->state.store->clock.load()};
      },

  };
  // Each protocol's replica side handles its own messages (the table
  // lists them).
  return attach.or_else(policies::replica_sides(self));
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
