// The holder's side of directory replication (actors/directory_snapshot.hpp
// says how it works): copies of the state, their acknowledgments, and the
// majority rule.
//
// The majority rule. The holder changes nothing (registers no node, joins
// no replica, creates or re-hosts no variable) unless it sees a majority of
// its membership alive: the nodes alive in the last copy that a majority of
// the membership before it acknowledged. A loss thus shrinks the membership
// only once a majority of the old one agreed, one step at a time, and a
// holder cut off from most nodes (frozen, or on the small side of a
// partition) stops acting while the others elect a new one.

#include "actors/caf_error.hpp"
#include "actors/directory_state.hpp"
#include "runtime/transport/log.hpp"

#include <algorithm>

namespace varsync::directory_parts {

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void node_entry::end(bool in_order) {
  alive = false;
  left = in_order;
  ended_unix_ms = unix_ms_now();
}

namespace {

/// Copies kept while they wait for a majority; older ones are dropped.
constexpr std::size_t max_unconfirmed = 64;

constexpr std::chrono::seconds copy_timeout{10};

std::size_t majority_of(std::size_t members) {
  return members / 2 + 1;
}

void confirm(directory_state& state, std::uint64_t seq) {
  auto i = state.unconfirmed.find(seq);
  if (i == state.unconfirmed.end())
    return;
  if (state.membership.empty()) {
    // The first copy: the seed alone agreed on it.
    state.membership = i->second.alive;
    state.unconfirmed.erase(state.unconfirmed.begin(), std::next(i));
    return;
  }
  std::size_t agreeing = 0;
  for (const auto& node : i->second.acked)
    agreeing += state.membership.count(node);
  if (agreeing < majority_of(state.membership.size()))
    return;
  state.membership = i->second.alive;
  state.unconfirmed.erase(state.unconfirmed.begin(), std::next(i));
}

void step_down(directory_actor_type* self, const std::string& why) {
  if (self->state.refusal)
    return;
  log().warn("the directory on node '{}' stops acting: {}",
             self->state.own_node, why);
  self->state.refusal = why;
}

} // namespace

directory_snapshot to_snapshot(const directory_state& state) {
  directory_snapshot copy;
  copy.epoch = state.epoch;
  copy.seq = state.seq;
  copy.holder = state.own_node;
  copy.holder_host = state.own_host;
  copy.holder_port = state.own_port;
  copy.spread = state.spread;
  copy.next_id = state.next_id;
  copy.next_placement = state.next_placement;
  for (const auto& node : state.nodes)
    copy.nodes.push_back(directory_node_row{node.info, node.alive, node.left,
                                            node.ended_unix_ms});
  for (const auto& [name, group] : state.groups) {
    directory_group_row row{name, group.size,    group.replicas, group.nodes,
                            {},   group.rejoins, group.complete};
    for (auto lost : group.lost)
      row.lost.push_back(lost ? 1 : 0);
    copy.groups.push_back(std::move(row));
  }
  for (const auto& [name, variable] : state.variables)
    copy.variables.push_back(
        directory_variable_row{variable.info, variable.available});
  return copy;
}

void load_snapshot(directory_state& state, const directory_snapshot& copy) {
  state.spread = copy.spread;
  state.next_id = copy.next_id;
  state.next_placement = copy.next_placement;
  state.nodes.clear();
  for (const auto& row : copy.nodes)
    state.nodes.push_back(
        node_entry{row.info, row.alive, row.left, row.ended_unix_ms});
  state.groups.clear();
  for (const auto& row : copy.groups) {
    auto& group = state.groups[row.name];
    group.name = row.name;
    group.size = row.size;
    group.replicas = row.replicas;
    group.nodes = row.nodes;
    group.lost.assign(row.lost.begin(), row.lost.end());
    group.rejoins = row.rejoins;
    group.complete = row.complete;
  }
  state.variables.clear();
  for (const auto& row : copy.variables)
    state.variables.emplace(
        row.info.name, variable_entry{row.info, row.available, false, {}, {}});
}

void changed(directory_actor_type* self) {
  auto& state = self->state;
  if (state.dirty)
    return;
  // Alone (an embedded runtime, a seed before anyone joined) and without
  // etcd there is nobody to copy to: no message at all.
  auto others = std::any_of(
      state.nodes.begin(), state.nodes.end(), [&state](const auto& node) {
        return node.alive && node.info.name != state.own_node;
      });
  if (!others && !state.persist)
    return;
  self->state.dirty = true;
  self->send(self, replicate_now_atom::value);
}

void replicate(directory_actor_type* self) {
  auto& state = self->state;
  state.dirty = false;
  if (state.refusal)
    return;
  ++state.seq;
  auto copy = to_snapshot(state);
  auto& pending = state.unconfirmed[state.seq];
  for (const auto& node : state.nodes)
    if (node.alive)
      pending.alive.insert(node.info.name);
  pending.alive.insert(state.own_node);
  pending.acked.insert(state.own_node);
  while (state.unconfirmed.size() > max_unconfirmed)
    state.unconfirmed.erase(state.unconfirmed.begin());
  confirm(state, state.seq);
  if (state.persist)
    state.persist(copy);
  auto seq = state.seq;
  for (const auto& node : state.nodes) {
    if (!node.alive)
      continue;
    self->request(node.info.agent, copy_timeout, directory_state_atom::value,
                  copy)
        .then(
            [self, seq, name = node.info.name](std::uint64_t followed) {
              // A node that follows a newer holder fences this one.
              if (followed > self->state.epoch) {
                step_down(self, "node '" + name +
                                    "' follows the directory of epoch " +
                                    std::to_string(followed) + ", this is " +
                                    std::to_string(self->state.epoch));
                return;
              }
              auto i = self->state.unconfirmed.find(seq);
              if (i == self->state.unconfirmed.end())
                return;
              i->second.acked.insert(name);
              confirm(self->state, seq);
            },
            [](caf::error&) {
              // Unreachable or slow: its DOWN, if any, says more.
            });
  }
}

bool sees_majority(const directory_state& state) {
  if (state.by_etcd)
    return true; // etcd's compare-and-swap made it the holder
  if (state.membership.empty())
    return true; // before the first copy: the seed alone
  std::size_t alive = 0;
  for (const auto& node : state.nodes)
    if (node.alive && state.membership.count(node.info.name) > 0)
      ++alive;
  if (state.membership.count(state.own_node) > 0) {
    bool own_listed = false;
    for (const auto& node : state.nodes)
      own_listed = own_listed || node.info.name == state.own_node;
    if (!own_listed)
      ++alive;
  }
  return alive >= majority_of(state.membership.size());
}

std::optional<caf::error> refuse_change(directory_actor_type* self,
                                        const std::string& what) {
  const auto& state = self->state;
  if (state.refusal)
    return to_caf_error(
        error{errc::variable_unavailable, what + ": " + *state.refusal});
  if (sees_majority(state))
    return std::nullopt;
  std::size_t alive = 0;
  for (const auto& node : state.nodes)
    if (node.alive && state.membership.count(node.info.name) > 0)
      ++alive;
  return to_caf_error(
      error{errc::variable_unavailable,
            what + ": node '" + state.own_node +
                "' holds the directory (epoch " + std::to_string(state.epoch) +
                ") but sees only " + std::to_string(alive) + " of the " +
                std::to_string(state.membership.size()) +
                " nodes of the cluster alive; it changes nothing without a "
                "majority (" +
                std::to_string(majority_of(state.membership.size())) + ")"});
}

} // namespace varsync::directory_parts
