#include "actors/directory_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/records.hpp"
#include "actors/replica_actor.hpp"
#include "actors/variable_actor.hpp"

#include <map>
#include <string>
#include <vector>

namespace varsync {

namespace {

/// A request for a variable, kept while its name is being created.
struct variable_request {
  group_record_ptr group;
  std::string name;
  tensor initial;
  variable_options options;
  caf::response_promise promise;
};

struct directory_state {
  detail::runtime_ref runtime;
  std::shared_ptr<actor_counters> counters;
  std::map<std::string, group_record_ptr> groups;
  std::map<std::string, variable_record_ptr> variables;
  /// Requests waiting for a name under creation, by name.
  std::map<std::string, std::vector<variable_request>> creating;
  variable_id next_id = 1;
  /// Every actor spawned for the runtime; stopped with the directory.
  std::vector<caf::actor> spawned;
  static inline const char* name = "varsync.directory";
};

using directory_actor_type = caf::stateful_actor<directory_state>;

/// Whether `existing` is what `request` asks for; otherwise the
/// `already_exists` error naming the first difference.
expected<void> same_variable(const detail::variable_record& existing,
                             const variable_request& request) {
  auto differ = [&](const std::string& what, const std::string& have,
                    const std::string& asked) {
    return error{errc::already_exists,
                 "variable '" + existing.name + "' exists with " + what + " " +
                     have + ", the request asked for " + asked};
  };
  if (existing.group->name != request.group->name)
    return differ("group", existing.group->name, request.group->name);
  if (existing.type != request.initial.type())
    return differ("dtype", to_string(existing.type),
                  to_string(request.initial.type()));
  if (existing.shape != request.initial.shape())
    return differ("shape", to_string(existing.shape),
                  to_string(request.initial.shape()));
  auto resolved = resolve(request.options, existing.type, existing.name);
  if (!resolved)
    return resolved.error();
  if (!(*resolved == existing.resolved))
    return differ("options", describe(existing.requested, existing.resolved),
                  describe(request.options, *resolved));
  return {};
}

void answer(const variable_record_ptr& record, variable_request& request) {
  if (auto same = same_variable(*record, request); !same)
    request.promise.deliver(to_caf_error(same.error()));
  else
    request.promise.deliver(record);
}

/// Finishes the creation of `name`: answers every waiting request.
void finish_creation(directory_actor_type* self, const std::string& name,
                     const caf::error* failure) {
  auto waiting = std::move(self->state.creating[name]);
  self->state.creating.erase(name);
  auto i = self->state.variables.find(name);
  for (auto& request : waiting) {
    if (failure != nullptr)
      request.promise.deliver(*failure);
    else
      answer(i->second, request);
  }
}

void create_variable(directory_actor_type* self, variable_request request) {
  auto resolved =
      resolve(request.options, request.initial.type(), request.name);
  if (!resolved) {
    request.promise.deliver(to_caf_error(resolved.error()));
    return;
  }
  auto record = std::make_shared<detail::variable_record>();
  record->id = self->state.next_id++;
  record->name = request.name;
  record->type = request.initial.type();
  record->shape = request.initial.shape();
  record->requested = request.options;
  record->resolved = *resolved;
  record->group = request.group;
  record->actor = spawn_variable_actor(
      self->home_system(),
      variable_spec{record->id, record->name, record->type, record->shape,
                    *resolved, request.group->replica_actors, request.initial,
                    self->state.counters});
  self->state.spawned.push_back(record->actor);
  auto name = request.name;
  self->state.creating[name].push_back(std::move(request));
  self->request(record->actor, std::chrono::seconds{60}, attach_atom::value)
      .then(
          [self, record, name](ok_atom) {
            self->state.variables.emplace(name, record);
            finish_creation(self, name, nullptr);
          },
          [self, record, name](caf::error& err) {
            self->send_exit(record->actor, caf::exit_reason::user_shutdown);
            finish_creation(self, name, &err);
          });
}

caf::behavior directory_actor(directory_actor_type* self,
                              detail::runtime_ref runtime,
                              std::shared_ptr<actor_counters> counters) {
  self->state.runtime = runtime;
  self->state.counters = std::move(counters);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (const auto& actor : self->state.spawned)
      self->send_exit(actor, msg.reason);
    self->state.spawned.clear();
    self->quit(msg.reason);
  });
  return {
      [self](group_atom, const std::string& name,
             std::uint64_t size) -> caf::result<group_record_ptr> {
        self->state.counters->count_message();
        if (name.empty() || size == 0)
          return to_caf_error(
              error{errc::invalid_argument,
                    "a replica group needs a non-empty name and "
                    "at least one replica, got '" +
                        name + "' with " + std::to_string(size) + " replicas"});
        if (auto i = self->state.groups.find(name);
            i != self->state.groups.end()) {
          if (i->second->size != size)
            return to_caf_error(error{errc::already_exists,
                                      "replica group '" + name +
                                          "' exists with " +
                                          std::to_string(i->second->size) +
                                          " replicas, the request asked for " +
                                          std::to_string(size)});
          return i->second;
        }
        auto record = std::make_shared<detail::group_record>();
        record->name = name;
        record->size = size;
        record->runtime = self->state.runtime.core;
        for (std::size_t index = 0; index < size; ++index) {
          auto store = std::make_shared<local_store>();
          auto actor = spawn_replica_actor(self->home_system(), index, store,
                                           self->state.counters);
          self->state.spawned.push_back(actor);
          record->stores.push_back(std::move(store));
          record->replica_actors.push_back(std::move(actor));
        }
        self->state.groups.emplace(name, record);
        return record;
      },
      [self](variable_atom, group_record_ptr& group, std::string& name,
             tensor& initial,
             variable_options& options) -> caf::result<variable_record_ptr> {
        self->state.counters->count_message();
        if (name.empty())
          return to_caf_error(error{errc::invalid_argument,
                                    "a variable needs a non-empty name"});
        auto promise = self->make_response_promise();
        variable_request request{std::move(group), name, std::move(initial),
                                 options, promise};
        if (auto i = self->state.variables.find(name);
            i != self->state.variables.end())
          answer(i->second, request);
        else if (auto j = self->state.creating.find(name);
                 j != self->state.creating.end())
          j->second.push_back(std::move(request));
        else
          create_variable(self, std::move(request));
        return promise;
      },
      [self](lookup_atom,
             const std::string& name) -> caf::result<variable_record_ptr> {
        self->state.counters->count_message();
        auto i = self->state.variables.find(name);
        if (i == self->state.variables.end())
          return to_caf_error(
              error{errc::unknown_variable,
                    "no variable named '" + name + "' exists in this runtime"});
        return i->second;
      },
  };
}

} // namespace

caf::actor spawn_directory_actor(caf::actor_system& system,
                                 detail::runtime_ref runtime,
                                 std::shared_ptr<actor_counters> counters) {
  return system.spawn(directory_actor, runtime, std::move(counters));
}

} // namespace varsync
