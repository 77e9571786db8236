#include "actors/replica_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/replica_recovery.hpp"
#include "actors/policies/table.hpp"
#include "actors/replica_actor_state.hpp"

#include <string>

namespace varsync {

namespace {

/// The variable actor of `entry` is gone: fails the update in flight, the
/// queued ones and reads waiting for the variable; later calls fail at once.
/// The local copy stays readable.
void variable_lost(replica_actor_type* self, attached_variable& entry,
                   variable_id id, const std::string& why) {
  entry.rehosting = false;
  entry.unavailable =
      error{errc::variable_unavailable,
            "variable '" + entry.name + "': " + why +
                "; local reads of the last installed value still work"};
  policies::fail_pending_calls(self, entry, id);
}

/// Whether the directory re-creates a variable actor that ended with
/// `reason`: its node was lost (not shut down). When the directory's holder
/// was lost with it, the next holder does (or, without a majority, sends
/// rehost_failed_atom at once).
bool rehostable(const caf::error& reason) {
  return reason != caf::exit_reason::user_shutdown &&
         reason != caf::exit_reason::normal;
}

void on_down(replica_actor_type* self, const caf::down_msg& msg) {
  auto& state = self->state;
  for (auto& [id, entry] : state.variables) {
    if (entry.unavailable || entry.variable_actor.address() != msg.source)
      continue;
    if (rehostable(msg.reason))
      entry.rehosting = true; // the directory re-creates it elsewhere
    else
      variable_lost(self, entry, id,
                    "its actor is unreachable (" + caf::to_string(msg.reason) +
                        ")");
  }
}

/// Points `entry` at `variable_actor` (at attach, or when a re-created
/// actor takes over): monitors it and decides whether updates of
/// `bytes`-byte tensors travel on the bulk plane to `bulk_host:bulk_port`.
void point_at(replica_actor_type* self, attached_variable& entry,
              const local_part& part, const caf::actor& variable_actor,
              std::size_t bytes, std::string bulk_host,
              std::uint16_t bulk_port) {
  if (entry.variable_actor != variable_actor)
    self->monitor(variable_actor);
  entry.variable_actor = variable_actor;
  const auto& threshold = self->state.bulk_threshold;
  entry.use_bulk = self->state.bulk != nullptr && threshold &&
                   !bulk_host.empty() && bulk_port != 0 && variable_actor &&
                   variable_actor.node() != self->node() &&
                   part.takes_steps() && bytes >= *threshold;
  entry.bulk_host = std::move(bulk_host);
  entry.bulk_port = bulk_port;
  entry.bulk_node = variable_actor ? caf::to_string(variable_actor.node()) : "";
}

/// A re-created variable actor takes this replica over: the replica points
/// `id` at it and reports what it holds (actors/policies/
/// replica_recovery.hpp). Updates keep waiting until the new actor says
/// which steps it holds (on_write, periodic).
caf::result<replica_recovery> take_over(replica_actor_type* self,
                                        variable_id id,
                                        const caf::actor& variable_actor,
                                        std::string& bulk_host,
                                        std::uint16_t bulk_port) {
  auto& state = self->state;
  auto i = state.variables.find(id);
  auto part = state.store->find_part(id);
  auto slot = state.store->find(id);
  if (i == state.variables.end() || !part || !slot) {
    replica_recovery absent;
    absent.index = static_cast<std::uint64_t>(state.index);
    absent.holds = false;
    return absent;
  }
  if (!variable_actor)
    return to_caf_error(
        error{errc::invalid_argument, "a re-hosted variable names no actor"});
  auto& entry = i->second;
  point_at(self, entry, *part, variable_actor,
           slot->load()->value.bytes().size(), std::move(bulk_host), bulk_port);
  entry.unavailable.reset();
  entry.rehosting = part->takes_steps();
  replica_recovery held;
  held.index = static_cast<std::uint64_t>(state.index);
  held.clock = state.store->clock.load();
  held.version = entry.committed_version;
  held.steps = entry.committed_steps;
  held.value =
      entry.committed_in_slot ? slot->load()->value : entry.committed_value;
  held.next_step = entry.next_step;
  if (entry.cache) {
    auto [refresh, own] = entry.cache->recovery();
    held.min_clock = refresh.min_clock;
    held.snapshot_version = refresh.version;
    held.snapshot = std::move(refresh.snapshot);
    for (auto& [tag, delta] : own) {
      held.own_tags.push_back(tag);
      held.own_deltas.push_back(std::move(delta));
    }
  }
  return held;
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
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
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
        point_at(self, entry, *part, variable_actor, initial.bytes().size(),
                 std::move(bulk_host), bulk_port);
        if (entry.committed_version == 0)
          entry.committed_value = slot->load()->value;
        entry.cache = store.find_cache(id);
        // The variable's clocks start where this replica is (its next push
        // is tagged with this clock).
        return caf::result<std::uint64_t>{self->state.store->clock.load()};
      },
      [self](rehost_atom, variable_id id, const caf::actor& variable_actor,
             std::string& bulk_host, std::uint16_t bulk_port) {
        return take_over(self, id, variable_actor, bulk_host, bulk_port);
      },
      // The directory gave up re-hosting the variable: what waited fails.
      [self](rehost_failed_atom, variable_id id, const std::string& why) {
        auto i = self->state.variables.find(id);
        // Also before this replica saw the actor's loss itself.
        if (i != self->state.variables.end() && !i->second.unavailable)
          variable_lost(self, i->second, id, why);
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
