#include "actors/node_agent.hpp"

#include "actors/bulk_delivery.hpp"
#include "actors/caf_error.hpp"
#include "actors/counted_actor.hpp"
#include "actors/directory_follower.hpp"
#include "actors/variable_actor.hpp"

#include <vector>

namespace varsync {

namespace {

struct node_agent_state {
  directory_follower follower;
  std::shared_ptr<actor_counters> counters;
  std::vector<caf::actor> spawned;
  std::shared_ptr<bulk_plane> bulk;
  static inline const char* name = "varsync.node_agent";
};

inline actor_counters* message_counters(node_agent_state& state) {
  return state.counters.get();
}

using node_agent_type = counted_actor<node_agent_state>;

/// Spawns the actor of variable `info` here, registers it with the bulk
/// plane and answers with it. With `lost` (the replicas already lost, by
/// index) the actor is re-created from its replicas (`initial` unused).
caf::result<caf::actor> spawn_variable(node_agent_type* self,
                                       const variable_info& info,
                                       tensor initial,
                                       std::vector<caf::actor> replicas,
                                       std::optional<std::vector<bool>> lost) {
  // Options from the network are checked like a caller's.
  auto resolved = resolve(info.resolved, info.type, info.name);
  if (!resolved)
    return to_caf_error(resolved.error());
  variable_spec spec{info.id,
                     info.name,
                     info.type,
                     info.shape,
                     *resolved,
                     std::move(replicas),
                     std::move(initial),
                     self->state.counters,
                     self->state.bulk,
                     lost.has_value(),
                     lost.value_or(std::vector<bool>{})};
  auto actor = spawn_variable_actor(self->home_system(), std::move(spec));
  if (const auto& bulk = self->state.bulk) {
    add_bulk_target(*bulk, actor);
    std::weak_ptr<bulk_plane> plane = bulk;
    actor->attach_functor([plane, id = actor.id()] {
      if (auto alive = plane.lock())
        alive->remove_target(id);
    });
  }
  self->state.spawned.push_back(actor);
  return actor;
}

/// An error unless the current message comes from the directory this node
/// follows (a holder of an older epoch is fenced off).
std::optional<caf::error> not_from_holder(node_agent_type* self,
                                          const std::string& what) {
  const auto& follower = self->state.follower;
  if (follower.directory &&
      self->current_sender() == follower.directory.address())
    return std::nullopt;
  return to_caf_error(
      error{errc::variable_unavailable,
            what + ": refused, it does not come from the directory node '" +
                follower.own.node + "' follows (epoch " +
                std::to_string(follower.epoch) + ")"});
}

caf::behavior node_agent(node_agent_type* self, caf::actor directory,
                         std::shared_ptr<actor_counters> counters,
                         std::shared_ptr<bulk_plane> bulk,
                         std::shared_ptr<directory_handle> handle) {
  self->state.bulk = std::move(bulk);
  self->state.counters = std::move(counters);
  auto& follower = self->state.follower;
  follower.handle = std::move(handle);
  follower.counters = self->state.counters;
  if (directory)
    follow(self, follower, std::move(directory), 0);
  self->set_down_handler([self](caf::down_msg& msg) {
    follower_down(self, self->state.follower, msg);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (const auto& actor : self->state.spawned)
      self->send_exit(actor, msg.reason);
    self->state.spawned.clear();
    self->quit(msg.reason);
  });
  auto no_directory = [] {
    return to_caf_error(error{errc::variable_unavailable,
                              "this node has not joined a cluster yet"});
  };
  return {
      // A joining node asks for the directory and its holder's address
      // (empty: this node's), which it connects to first.
      [self,
       no_directory](node_atom) -> caf::result<caf::actor, std::string,
                                               std::uint16_t, std::uint64_t> {
        const auto& follower = self->state.follower;
        if (!follower.directory)
          return no_directory();
        return {follower.directory, follower.copy.holder_host,
                follower.copy.holder_port, follower.epoch};
      },
      // The host thread found the directory (or joined again): follow
      // what the shared handle says. The handle, not the message, carries
      // the actor: a peer cannot redirect this node with a message.
      [self](node_atom, ok_atom) { follow_handle(self, self->state.follower); },
      // This node won an epoch in etcd (the shared handle says which; a
      // message from a peer cannot make it take over).
      [self](follow_atom, ok_atom) {
        take_over_won_epoch(self, self->state.follower);
      },
      [self](directory_state_atom, directory_snapshot& copy) {
        return accept_copy(self, self->state.follower, copy);
      },
      [self](follow_atom, std::uint64_t epoch, const std::string& holder) {
        return answer_follow(self, self->state.follower, epoch, holder);
      },
      [self, no_directory](
          status_atom, std::int64_t timeout_ms) -> caf::result<cluster_status> {
        if (!self->state.follower.directory)
          return no_directory();
        // Not a delegation: the directory may have no connection to the
        // asker (a status client connects to this node only).
        auto promise = self->make_response_promise();
        self->request(self->state.follower.directory,
                      std::chrono::milliseconds{timeout_ms} + reply_grace,
                      status_atom::value, timeout_ms)
            .then(
                [promise](cluster_status& status) mutable {
                  promise.deliver(std::move(status));
                },
                [promise](caf::error& err) mutable { promise.deliver(err); });
        return promise;
      },
      [self](spawn_atom, const variable_info& info, tensor& initial,
             std::vector<caf::actor>& replicas) -> caf::result<caf::actor> {
        if (auto refused =
                not_from_holder(self, "spawn of '" + info.name + "'"))
          return *refused;
        if (replicas.empty() || info.name.empty())
          return to_caf_error(
              error{errc::invalid_argument,
                    "spawn of a variable actor needs a name and replicas"});
        for (const auto& replica : replicas)
          if (!replica)
            return to_caf_error(error{errc::invalid_argument,
                                      "spawn of variable '" + info.name +
                                          "': a replica is missing"});
        if (initial.type() != info.type || initial.shape() != info.shape)
          return to_caf_error(
              error{errc::invalid_argument,
                    "spawn of variable '" + info.name +
                        "': the initial value is " + to_string(initial.type()) +
                        to_string(initial.shape()) + ", the variable is " +
                        to_string(info.type) + to_string(info.shape)});
        return spawn_variable(self, info, std::move(initial),
                              std::move(replicas), std::nullopt);
      },
      // A variable whose actor's node was lost is re-created here; the
      // directory then sends the new actor (rehost_atom).
      [self](
          rehost_atom, const variable_info& info,
          std::vector<caf::actor>& replicas,
          const std::vector<std::uint64_t>& lost) -> caf::result<caf::actor> {
        if (auto refused =
                not_from_holder(self, "re-hosting of '" + info.name + "'"))
          return *refused;
        if (replicas.empty() || info.name.empty())
          return to_caf_error(
              error{errc::invalid_argument,
                    "re-hosting a variable actor needs a name and replicas"});
        std::vector<bool> lost_flags(replicas.size(), false);
        for (auto index : lost) {
          if (index >= replicas.size())
            return to_caf_error(
                error{errc::invalid_argument,
                      "re-hosting variable '" + info.name + "': lost replica " +
                          std::to_string(index) + " is out of range"});
          lost_flags[index] = true;
        }
        for (std::size_t i = 0; i < replicas.size(); ++i)
          if (!replicas[i] && !lost_flags[i])
            return to_caf_error(error{errc::invalid_argument,
                                      "re-hosting variable '" + info.name +
                                          "': a replica is missing"});
        return spawn_variable(self, info, tensor{}, std::move(replicas),
                              std::move(lost_flags));
      },
  };
}

} // namespace

caf::actor spawn_node_agent(caf::actor_system& system, caf::actor directory,
                            std::shared_ptr<actor_counters> counters,
                            std::shared_ptr<bulk_plane> bulk,
                            std::shared_ptr<directory_handle> handle) {
  return system.spawn(node_agent, std::move(directory), std::move(counters),
                      std::move(bulk), std::move(handle));
}

} // namespace varsync
