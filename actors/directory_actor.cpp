#include "actors/directory_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/counted_actor.hpp"
#include "actors/directory_state.hpp"
#include "actors/policies/variable_interface.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/core/wording.hpp"
#include "runtime/transport/log.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace varsync {

namespace directory_parts {

namespace {

using std::chrono::milliseconds;

/// Sent to itself when a group join reaches its deadline.
using join_expired_atom = caf::atom_constant<caf::atom("joinexp")>;

/// Lookups that may wait for one variable's re-hosting (or for its
/// actor's loss to be seen here); more are answered at once.
constexpr std::size_t max_waiting_lookups = 4096;

/// How long spawning and attaching a variable may take.
constexpr milliseconds creation_timeout{std::chrono::seconds{60}};

caf::error invalid(std::string message) {
  return to_caf_error(error{errc::invalid_argument, std::move(message)});
}

// -- nodes
// ---------------------------------------------------------------------

caf::result<std::vector<node_info>> register_node(directory_actor_type* self,
                                                  node_info& info) {
  if (info.name.empty() || !info.agent)
    return invalid("a node registers with a non-empty name and an agent");
  if (auto refused =
          refuse_change(self, "registering node '" + info.name + "'"))
    return *refused;
  std::vector<node_info> others;
  node_entry* returning = nullptr;
  for (auto& entry : self->state.nodes) {
    if (entry.info.name == info.name && entry.alive)
      return to_caf_error(
          error{errc::already_exists, "a live node named '" + info.name +
                                          "' is already in the cluster"});
    if (entry.info.name == info.name)
      returning = &entry;
    if (entry.alive)
      others.push_back(entry.info);
  }
  self->monitor(info.agent);
  if (returning != nullptr) {
    // A node that was lost or left comes back under its name: same row.
    log().info("node '{}' joined the cluster again ({}:{})", info.name,
               info.host, info.port);
    *returning = node_entry{std::move(info), true};
    changed(self);
    return others;
  }
  log().info("node '{}' joined the cluster ({}:{})", info.name, info.host,
             info.port);
  self->state.nodes.push_back(node_entry{std::move(info), true});
  changed(self);
  return others;
}

/// The agent that spawns the next variable actor, or nullptr. A shard
/// (`placement` set) goes to the live serving node at that position among
/// them, whatever the cluster's spread setting.
const node_entry* place_variable(directory_actor_type* self,
                                 std::optional<std::uint64_t> placement) {
  auto& nodes = self->state.nodes;
  if (nodes.empty())
    return nullptr;
  if (placement) {
    std::vector<const node_entry*> serving;
    for (const auto& node : nodes)
      if (node.alive && node.info.serves_variables)
        serving.push_back(&node);
    if (!serving.empty())
      return serving[*placement % serving.size()];
  }
  if (!self->state.spread)
    return nodes.front().alive ? &nodes.front() : nullptr;
  for (std::size_t tried = 0; tried < nodes.size(); ++tried) {
    auto& candidate = nodes[self->state.next_placement++ % nodes.size()];
    if (candidate.alive && candidate.info.serves_variables)
      return &candidate;
  }
  return nodes.front().alive ? &nodes.front() : nullptr;
}

// -- groups
// --------------------------------------------------------------------

caf::result<group_info>
readmit_everywhere(directory_actor_type* self, const std::string& name,
                   const std::vector<std::uint64_t>& indices,
                   const std::vector<caf::actor>& actors,
                   const std::vector<std::size_t>& rejoining);

caf::result<group_info> join_group(directory_actor_type* self,
                                   const std::string& name, std::uint64_t size,
                                   const std::vector<std::uint64_t>& indices,
                                   const std::vector<caf::actor>& actors,
                                   const std::string& node,
                                   std::int64_t timeout_ms) {
  if (name.empty() || size == 0)
    return invalid("a replica group needs a non-empty name and at least one "
                   "replica, got '" +
                   name + "' with " + std::to_string(size) + " replicas");
  if (indices.size() != actors.size())
    return invalid("join of group '" + name +
                   "': " + std::to_string(indices.size()) + " indices but " +
                   std::to_string(actors.size()) + " replica actors");
  for (std::size_t i = 0; i < indices.size(); ++i)
    if (indices[i] >= size || !actors[i])
      return invalid("join of group '" + name + "': replica index " +
                     std::to_string(indices[i]) + " is out of range 0.." +
                     std::to_string(size - 1) + " or has no actor");
  if (auto refused = refuse_change(self, "join of group '" + name + "'"))
    return *refused;
  changed(self);
  auto [i, created] = self->state.groups.try_emplace(name);
  auto& group = i->second;
  if (created) {
    group.name = name;
    group.size = size;
    group.replicas.resize(size);
    group.nodes.resize(size);
    group.lost.resize(size, false);
    group.rejoins.resize(size, 0);
  } else if (group.size != size) {
    return to_caf_error(error{errc::already_exists,
                              "replica group '" + name + "' exists with " +
                                  std::to_string(group.size) +
                                  " replicas, the request asked for " +
                                  std::to_string(size)});
  }
  // A lost replica's index may join again (its node was restarted):
  // every variable of the group takes the new replica actor in.
  std::vector<std::size_t> rejoining;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    auto index = static_cast<std::size_t>(indices[k]);
    if (group.replicas[index] == actors[k])
      continue;
    if (group.replicas[index] && !group.lost[index])
      return to_caf_error(error{errc::already_exists,
                                "replica " + std::to_string(index) +
                                    " of group '" + name +
                                    "' already joined from node '" +
                                    group.nodes[index] + "' and is alive"});
    if (group.replicas[index])
      rejoining.push_back(k);
  }
  for (std::size_t k = 0; k < indices.size(); ++k) {
    auto index = static_cast<std::size_t>(indices[k]);
    if (group.replicas[index] == actors[k])
      continue;
    if (group.replicas[index] && group.lost[index]) {
      group.lost[index] = false;
      ++group.rejoins[index];
      log().info("replica {} of group '{}' rejoined from node '{}'", index,
                 name, node);
    } else if (group.replicas[index]) {
      continue;
    }
    group.replicas[index] = actors[k];
    group.nodes[index] = node;
    self->monitor(actors[k]);
  }
  if (!rejoining.empty())
    return readmit_everywhere(self, name, indices, actors, rejoining);
  if (group.missing().empty()) {
    group.complete = true;
    for (auto& waiter : group.waiters)
      waiter.promise.deliver(group.info());
    group.waiters.clear();
    return group.info();
  }
  auto token = self->state.next_token++;
  auto promise = self->make_response_promise<group_info>();
  group.waiters.push_back(join_waiter{token, promise});
  self->delayed_send(self, milliseconds{std::max<std::int64_t>(timeout_ms, 1)},
                     join_expired_atom::value, name, token);
  return promise;
}

/// Takes the rejoining replicas (`rejoining`: positions in `indices` and
/// `actors`) into every available variable of group `name`; answers with
/// the group once all did, or with the first refusal.
caf::result<group_info>
readmit_everywhere(directory_actor_type* self, const std::string& name,
                   const std::vector<std::uint64_t>& indices,
                   const std::vector<caf::actor>& actors,
                   const std::vector<std::size_t>& rejoining) {
  struct gathering {
    std::size_t remaining = 0;
    bool answered = false;
  };
  auto promise = self->make_response_promise<group_info>();
  auto state = std::make_shared<gathering>();
  auto info = self->state.groups[name].info();
  auto succeeded = [state, promise, info]() mutable {
    if (--state->remaining == 0 && !state->answered) {
      state->answered = true;
      promise.deliver(info);
    }
  };
  auto failed = [state, promise](caf::error& err) mutable {
    if (!state->answered) {
      state->answered = true;
      promise.deliver(err);
    }
  };
  auto readmit = [self, indices, actors, succeeded,
                  failed](const caf::actor& variable, std::size_t k) {
    self->request(caf::actor_cast<variable_actor_interface>(variable),
                  creation_timeout, rejoin_atom::value, indices[k], actors[k])
        .then([succeeded](ok_atom) mutable { succeeded(); }, failed);
  };
  std::vector<variable_entry*> variables;
  for (auto& [variable, entry] : self->state.variables)
    if (entry.info.group == name && (entry.available || entry.rehosting))
      variables.push_back(&entry);
  state->remaining = variables.size() * rejoining.size();
  if (state->remaining == 0) {
    promise.deliver(info);
    return promise;
  }
  for (auto* entry : variables)
    for (auto k : rejoining) {
      if (!entry->rehosting) {
        readmit(entry->info.actor, k);
        continue;
      }
      // Its new actor counts the replica as lost; it readmits it once
      // ready (or the rejoin goes on without a variable that is gone).
      entry->after_rehosting.push_back(
          [readmit, succeeded, k](const caf::actor* actor) mutable {
            if (actor != nullptr)
              readmit(*actor, k);
            else
              succeeded();
          });
    }
  return promise;
}

void expire_join(directory_actor_type* self, const std::string& name,
                 std::uint64_t token) {
  auto i = self->state.groups.find(name);
  if (i == self->state.groups.end())
    return;
  auto& waiters = i->second.waiters;
  auto w = std::find_if(waiters.begin(), waiters.end(),
                        [token](const auto& x) { return x.token == token; });
  if (w == waiters.end())
    return;
  auto missing = i->second.missing();
  w->promise.deliver(to_caf_error(
      error{errc::timeout, "replica group '" + name +
                               "' is incomplete at the "
                               "deadline: " +
                               wording::replicas(missing) + " " +
                               wording::agree(missing, "has", "have") +
                               " not joined"}));
  waiters.erase(w);
}

// -- variables
// -----------------------------------------------------------------

/// Whether `existing` is what `request` asks for; otherwise the
/// `already_exists` error naming the first difference.
expected<void> same_variable(const variable_info& existing,
                             const variable_request& request) {
  auto differ = [&](const std::string& what, const std::string& have,
                    const std::string& asked) {
    return error{errc::already_exists,
                 "variable '" + existing.name + "' exists with " + what + " " +
                     have + ", the request asked for " + asked};
  };
  if (existing.group != request.group)
    return differ("group", existing.group, request.group);
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

void answer(const variable_info& info, variable_request& request) {
  if (auto same = same_variable(info, request); !same)
    request.promise.deliver(to_caf_error(same.error()));
  else
    request.promise.deliver(info);
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
      answer(i->second.info, request);
  }
}

void create_variable(directory_actor_type* self, variable_request request) {
  auto group = self->state.groups.find(request.group);
  if (group == self->state.groups.end() || !group->second.complete) {
    auto why =
        group == self->state.groups.end()
            ? std::string{"does not exist"}
            : "is incomplete (" + wording::replicas(group->second.missing()) +
                  " " + wording::agree(group->second.missing(), "has", "have") +
                  " not joined)";
    request.promise.deliver(
        to_caf_error(error{errc::unknown_group,
                           "variable '" + request.name + "': replica group '" +
                               request.group + "' " + why}));
    return;
  }
  if (auto refused =
          refuse_change(self, "creating variable '" + request.name + "'")) {
    request.promise.deliver(*refused);
    return;
  }
  auto resolved =
      resolve(request.options, request.initial.type(), request.name);
  if (!resolved) {
    request.promise.deliver(to_caf_error(resolved.error()));
    return;
  }
  const auto* host = place_variable(self, request.placement);
  if (host == nullptr) {
    request.promise.deliver(to_caf_error(
        error{errc::variable_unavailable,
              "variable '" + request.name + "': no live node can host it"}));
    return;
  }
  variable_info info;
  info.id = self->state.next_id++;
  info.name = request.name;
  info.group = request.group;
  info.group_size = group->second.size;
  info.type = request.initial.type();
  info.shape = request.initial.shape();
  info.requested = request.options;
  info.resolved = *resolved;
  info.node = host->info.name;
  auto initial = request.initial;
  auto name = request.name;
  self->state.creating[name].push_back(std::move(request));
  auto fail = [self, name](caf::error& err) {
    finish_creation(self, name, &err);
  };
  self->request(host->info.agent, creation_timeout, spawn_atom::value, info,
                std::move(initial), group->second.replicas)
      .then(
          [self, info, name, fail](caf::actor& actor) mutable {
            info.actor = actor;
            self->request(caf::actor_cast<variable_actor_interface>(actor),
                          creation_timeout, attach_atom::value)
                .then(
                    [self, info, name](ok_atom) {
                      self->monitor(info.actor);
                      self->state.variables.emplace(
                          name, variable_entry{info, true, false, {}, {}});
                      changed(self);
                      finish_creation(self, name, nullptr);
                    },
                    [self, actor, fail](caf::error& err) mutable {
                      self->send_exit(actor, caf::exit_reason::user_shutdown);
                      fail(err);
                    });
          },
          fail);
}

caf::result<variable_info> create_or_get(directory_actor_type* self,
                                         variable_request request) {
  auto promise = request.promise;
  const auto& name = request.name;
  if (auto i = self->state.variables.find(name);
      i != self->state.variables.end())
    answer(i->second.info, request);
  else if (auto j = self->state.creating.find(name);
           j != self->state.creating.end())
    j->second.push_back(std::move(request));
  else
    create_variable(self, std::move(request));
  return caf::result<variable_info>{promise};
}

// -- status and failures
// ---------------------------------------------------------

cluster_status snapshot(directory_actor_type* self) {
  cluster_status status;
  status.holder = self->state.own_node;
  status.epoch = self->state.epoch;
  if (self->state.refusal)
    status.directory_note = *self->state.refusal;
  else if (!sees_majority(self->state))
    status.directory_note = "the holder sees no majority of the cluster";
  auto now = unix_ms_now();
  auto forget_after = self->state.forget_nodes_after.count();
  for (const auto& entry : self->state.nodes) {
    // Nodes that ended long ago are forgotten by status (their row stays:
    // a node coming back under its name takes it again).
    if (!entry.alive && now - entry.ended_unix_ms > forget_after)
      continue;
    auto address = entry.info.port == 0 ? std::string{}
                                        : entry.info.host + ":" +
                                              std::to_string(entry.info.port);
    status.nodes.push_back(node_status{entry.info.name, address,
                                       entry.info.name == self->state.own_node,
                                       entry.info.serves_variables, entry.alive,
                                       entry.left, entry.ended_unix_ms});
  }
  for (const auto& [name, group] : self->state.groups) {
    group_status row{name, group.size, {}, group.complete};
    for (std::size_t i = 0; i < group.size; ++i)
      row.replicas.push_back(replica_status{i, group.nodes[i],
                                            group.replicas[i] && !group.lost[i],
                                            group.rejoins[i]});
    status.groups.push_back(std::move(row));
  }
  for (const auto& [name, entry] : self->state.variables) {
    const auto& info = entry.info;
    status.variables.push_back(
        variable_status{name, info.group,
                        to_string(info.type) + to_string(info.shape) + ", " +
                            describe(info.requested, info.resolved),
                        info.node, entry.available, 0, 0});
  }
  return status;
}

/// Answers with the status once every available variable reported its
/// version and clock, or failed to within half of `timeout` (the asker's
/// whole budget): a variable actor that does not answer (busy recovering,
/// or on a frozen node) is shown unavailable instead of making the answer
/// arrive after the asker gave up.
caf::result<cluster_status> report_status(directory_actor_type* self,
                                          milliseconds timeout) {
  struct gathering {
    cluster_status status;
    std::size_t remaining = 0;
  };
  auto state = std::make_shared<gathering>();
  state->status = snapshot(self);
  auto promise = self->make_response_promise<cluster_status>();
  std::vector<std::pair<std::size_t, caf::actor>> asked;
  std::size_t row = 0;
  for (const auto& [name, entry] : self->state.variables) {
    if (entry.available)
      asked.emplace_back(row, entry.info.actor);
    ++row;
  }
  if (asked.empty()) {
    promise.deliver(std::move(state->status));
    return promise;
  }
  state->remaining = asked.size();
  for (auto& [index, actor] : asked) {
    auto finish = [state, promise]() mutable {
      if (--state->remaining == 0)
        promise.deliver(std::move(state->status));
    };
    self->request(caf::actor_cast<variable_actor_interface>(actor),
                  std::max(timeout / 2, milliseconds{1}), status_atom::value)
        .then(
            [state, index = index, finish](std::uint64_t version,
                                           std::uint64_t clock) mutable {
              state->status.variables[index].version = version;
              state->status.variables[index].clock = clock;
              finish();
            },
            [state, index = index, finish](caf::error&) mutable {
              state->status.variables[index].available = false;
              finish();
            });
  }
  return promise;
}

// -- re-hosting
// ------------------------------------------------------------------

/// Where a variable lost with node `lost_node` is re-created: the first
/// live node serving variables after the lost one in registration order
/// (wrapping around), else the seed. Every node's view of the membership
/// gives the same answer; no vote (and nothing from the lost node) needed.
const node_entry* place_rehosted(directory_actor_type* self,
                                 const std::string& lost_node) {
  auto& nodes = self->state.nodes;
  std::size_t start = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].info.name == lost_node)
      start = i + 1;
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const auto& candidate = nodes[(start + k) % nodes.size()];
    if (candidate.alive && candidate.info.serves_variables &&
        candidate.info.name != lost_node)
      return &candidate;
  }
  if (!nodes.empty() && nodes.front().alive &&
      nodes.front().info.name != lost_node)
    return &nodes.front();
  return nullptr;
}

bool node_alive(directory_actor_type* self, const std::string& name) {
  for (const auto& entry : self->state.nodes)
    if (entry.info.name == name)
      return entry.alive;
  return false;
}

/// Ends the re-hosting of `entry`: with its new actor (`failure` empty) or
/// without one. Answers the waiting lookups (the new actor, or `failure`)
/// and runs the waiting rejoins.
void end_rehosting(variable_entry& entry, const std::optional<error>& failure) {
  entry.rehosting = false;
  entry.available = !failure;
  for (auto& promise : entry.lookups)
    if (failure)
      promise.deliver(to_caf_error(*failure));
    else
      promise.deliver(entry.info);
  entry.lookups.clear();
  auto rejoins = std::move(entry.after_rehosting);
  entry.after_rehosting.clear();
  for (auto& rejoin : rejoins)
    rejoin(failure ? nullptr : &entry.info.actor);
}

/// Re-creates the actor of variable `name` (lost with its node) on a
/// surviving node from what the surviving replicas hold; lookups wait
/// meanwhile and get the new actor.
void rehost_variable(directory_actor_type* self, const std::string& name) {
  auto i = self->state.variables.find(name);
  if (i == self->state.variables.end() || !i->second.rehosting)
    return;
  auto& entry = i->second;
  // Without a majority the holder leaves it to the next holder (lookups
  // keep waiting until their deadline).
  if (refuse_change(self, "re-hosting"))
    return;
  auto group = self->state.groups.find(entry.info.group);
  const auto* host = place_rehosted(self, entry.info.node);
  if (host == nullptr || group == self->state.groups.end()) {
    give_up_rehosting(self, name, entry.info.node, "no live node can host it");
    return;
  }
  // Replicas of the lost node went with it, whether or not their DOWN
  // arrived yet.
  std::vector<std::uint64_t> lost;
  const auto& members = group->second;
  for (std::size_t r = 0; r < members.size; ++r)
    if (!members.replicas[r] || members.lost[r] ||
        members.nodes[r] == entry.info.node ||
        !node_alive(self, members.nodes[r]))
      lost.push_back(r);
  auto info = entry.info;
  auto from = info.node;
  info.node = host->info.name;
  info.actor = nullptr;
  auto started = std::chrono::steady_clock::now();
  auto fail = [self, name, from](caf::error& err) {
    give_up_rehosting(self, name, from, self->system().render(err));
  };
  self->request(host->info.agent, creation_timeout, rehost_atom::value, info,
                members.replicas, lost)
      .then(
          [self, name, info, from, started, fail](caf::actor& actor) mutable {
            auto i = self->state.variables.find(name);
            if (i == self->state.variables.end())
              return;
            // Lookups still wait; a loss of the new actor re-hosts again.
            i->second.info.actor = actor;
            i->second.info.node = info.node;
            self->monitor(actor);
            self->request(actor, creation_timeout, rehost_atom::value)
                .then(
                    [self, name, from, started](ok_atom) {
                      auto i = self->state.variables.find(name);
                      if (i == self->state.variables.end())
                        return;
                      auto& entry = i->second;
                      end_rehosting(entry, std::nullopt);
                      changed(self);
                      log().info(
                          "variable '{}' was re-hosted from lost node '{}' "
                          "on node '{}' in {} ms",
                          name, from, entry.info.node,
                          std::chrono::duration_cast<milliseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count());
                    },
                    fail);
          },
          fail);
}

/// The variable named `name`; waits while it is re-hosted, or (with
/// `stale`, an actor the caller found unreachable) while the directory
/// knows no more than the caller. At most max_waiting_lookups wait.
caf::result<variable_info> lookup(directory_actor_type* self,
                                  const std::string& name,
                                  const caf::actor* stale) {
  auto i = self->state.variables.find(name);
  if (i == self->state.variables.end())
    return to_caf_error(
        error{errc::unknown_variable,
              "no variable named '" + name + "' exists in this cluster"});
  auto& entry = i->second;
  auto waiting = entry.rehosting || (stale != nullptr && entry.available &&
                                     entry.info.actor == *stale);
  if (waiting && entry.lookups.size() < max_waiting_lookups) {
    auto promise = self->make_response_promise<variable_info>();
    entry.lookups.push_back(promise);
    return promise;
  }
  return entry.info;
}

/// Variable `name`'s actor ended: with its node's shutdown, or lost (then
/// it is re-created elsewhere once the rest of this loss was seen).
void variable_ended(directory_actor_type* self, const std::string& name,
                    variable_entry& entry, bool shut_down) {
  entry.available = false;
  if (shut_down) {
    for (auto& promise : entry.lookups)
      promise.deliver(entry.info);
    entry.lookups.clear();
    return;
  }
  if (entry.rehosting)
    return;
  log().warn("variable '{}' was lost with node '{}': re-hosting it", name,
             entry.info.node);
  metrics::process_metrics().rehostings.fetch_add(1, std::memory_order_relaxed);
  entry.rehosting = true;
  self->send(self, rehost_now_atom::value, name);
}

/// A node says it shuts down in order (before its connections close and
/// its actors go down, which then change nothing more about it).
caf::result<bool> leave(directory_actor_type* self, const std::string& name) {
  auto sender = self->current_sender();
  for (auto& entry : self->state.nodes) {
    if (entry.info.name != name || !entry.alive)
      continue;
    // Never on another's word: only the node itself may say it leaves.
    if (!sender || sender->node() != entry.info.agent.node())
      return invalid("only node '" + name + "' itself can say it leaves");
    entry.end(true);
    log().info("node '{}' ({}:{}) left the cluster", entry.info.name,
               entry.info.host, entry.info.port);
    // It no longer counts toward the majority the holder needs: a node
    // that left in order takes no part in any side of a partition, so the
    // nodes that remain may go on (several leaving at once, as at the end
    // of a job, must not leave the rest without a majority).
    auto& state = self->state;
    state.membership.erase(name);
    for (auto& [seq, copy] : state.unconfirmed) {
      copy.alive.erase(name);
      copy.acked.erase(name);
    }
    changed(self);
    return true;
  }
  return false;
}

void on_down(directory_actor_type* self, const caf::down_msg& msg) {
  // A node that shut down left; any other end is a loss.
  auto shut_down = msg.reason == caf::exit_reason::user_shutdown ||
                   msg.reason == caf::exit_reason::normal;
  for (auto& entry : self->state.nodes)
    if (entry.info.agent.address() == msg.source && entry.alive) {
      entry.end(shut_down);
      if (shut_down)
        log().info("node '{}' ({}:{}) left the cluster", entry.info.name,
                   entry.info.host, entry.info.port);
      else
        log().warn("node '{}' ({}:{}) was lost: {}", entry.info.name,
                   entry.info.host, entry.info.port,
                   self->system().render(msg.reason));
      changed(self);
    }
  for (auto& [name, group] : self->state.groups)
    for (std::size_t i = 0; i < group.size; ++i)
      if (group.replicas[i] && group.replicas[i].address() == msg.source &&
          !group.lost[i]) {
        group.lost[i] = true;
        changed(self);
      }
  for (auto& [name, entry] : self->state.variables)
    if (entry.available && entry.info.actor.address() == msg.source) {
      variable_ended(self, name, entry, shut_down);
      changed(self);
    }
}

caf::behavior directory_actor(directory_actor_type* self, bool spread,
                              std::shared_ptr<actor_counters> counters,
                              directory_holder holder,
                              directory_election_rule rule) {
  self->state.spread = spread;
  self->state.by_etcd = rule.by_etcd;
  self->state.epoch = rule.first_epoch;
  self->state.persist = std::move(rule.persist);
  self->state.counters = std::move(counters);
  self->state.own_node = std::move(holder.node);
  self->state.own_host = std::move(holder.host);
  self->state.own_port = holder.port;
  self->state.forget_nodes_after = holder.forget_nodes_after;
  return acting_directory(self);
}

} // namespace

void lose_node(directory_actor_type* self, const std::string& node,
               const std::string& why) {
  for (auto& entry : self->state.nodes)
    if (entry.info.name == node && entry.alive) {
      entry.end(false);
      log().warn("node '{}' ({}:{}) was lost: {}", node, entry.info.host,
                 entry.info.port, why);
    }
  for (auto& [name, group] : self->state.groups)
    for (std::size_t i = 0; i < group.size; ++i)
      if (group.replicas[i] && group.nodes[i] == node)
        group.lost[i] = true;
  for (auto& [name, entry] : self->state.variables)
    if (entry.available && entry.info.node == node)
      variable_ended(self, name, entry, false);
  changed(self);
}

/// Ends the re-hosting of `name` without a new actor: waiting lookups and
/// the surviving replicas' held updates fail with `why`.
void give_up_rehosting(directory_actor_type* self, const std::string& name,
                       const std::string& lost_node, const std::string& why) {
  auto i = self->state.variables.find(name);
  if (i == self->state.variables.end())
    return;
  auto& entry = i->second;
  auto message = "variable '" + name + "': its node '" + lost_node +
                 "' was lost and it could not be re-hosted: " + why;
  log().error("{}", message);
  end_rehosting(entry, error{errc::variable_unavailable, message});
  changed(self);
  if (auto group = self->state.groups.find(entry.info.group);
      group != self->state.groups.end())
    for (std::size_t r = 0; r < group->second.size; ++r)
      if (group->second.replicas[r] && !group->second.lost[r])
        self->send(group->second.replicas[r], rehost_failed_atom::value,
                   entry.info.id, message);
}

void monitor_recorded(directory_actor_type* self) {
  auto& state = self->state;
  for (const auto& node : state.nodes)
    if (node.alive)
      self->monitor(node.info.agent);
  for (const auto& [name, group] : state.groups)
    for (std::size_t i = 0; i < group.size; ++i)
      if (group.replicas[i] && !group.lost[i])
        self->monitor(group.replicas[i]);
  for (const auto& [name, entry] : state.variables)
    if (entry.available && entry.info.actor)
      self->monitor(entry.info.actor);
}

caf::behavior acting_directory(directory_actor_type* self) {
  self->set_down_handler([self](caf::down_msg& msg) { on_down(self, msg); });
  return {
      [self](node_atom, node_info& info) { return register_node(self, info); },
      [self](group_atom, const std::string& name, std::uint64_t size,
             const std::vector<std::uint64_t>& indices,
             const std::vector<caf::actor>& actors, const std::string& node,
             std::int64_t timeout_ms) {
        return join_group(self, name, size, indices, actors, node, timeout_ms);
      },
      [self](join_expired_atom, const std::string& name, std::uint64_t token) {
        expire_join(self, name, token);
      },
      [self](variable_atom, std::string& group, std::string& name,
             tensor& initial,
             variable_options& options) -> caf::result<variable_info> {
        if (name.empty())
          return invalid("a variable needs a non-empty name");
        return create_or_get(self,
                             variable_request{std::move(group), std::move(name),
                                              std::move(initial), options,
                                              self->make_response_promise()});
      },
      [self](variable_atom, std::string& group, std::string& name,
             tensor& initial, variable_options& options,
             std::uint64_t placement) -> caf::result<variable_info> {
        if (name.empty())
          return invalid("a variable needs a non-empty name");
        return create_or_get(
            self, variable_request{std::move(group), std::move(name),
                                   std::move(initial), options,
                                   self->make_response_promise(), placement});
      },
      [self](lookup_atom, const std::string& name) {
        return lookup(self, name, nullptr);
      },
      // A caller found `stale` (the variable's actor it knew) unreachable:
      // answered once the directory knows more than the caller (another
      // actor, a re-hosting that ended, or the actor's end seen here too).
      [self](lookup_atom, const std::string& name, const caf::actor& stale) {
        return lookup(self, name, &stale);
      },
      [self](rehost_now_atom, const std::string& name) {
        rehost_variable(self, name);
      },
      [self](replicate_now_atom) { replicate(self); },
      [self](leave_atom, const std::string& name) -> caf::result<bool> {
        return leave(self, name);
      },
      [self](status_atom, std::int64_t timeout_ms) {
        return report_status(
            self, milliseconds{std::max<std::int64_t>(timeout_ms, 1)});
      },
  };
}

} // namespace directory_parts

caf::actor spawn_directory_actor(caf::actor_system& system,
                                 bool spread_variables,
                                 std::shared_ptr<actor_counters> counters,
                                 directory_holder holder,
                                 directory_election_rule rule) {
  return system.spawn(directory_parts::directory_actor, spread_variables,
                      std::move(counters), std::move(holder), rule);
}

} // namespace varsync
