// Electing the next holder of the directory (actors/directory_election.hpp
// says how it works).

#include "actors/directory_election.hpp"

#include "actors/caf_error.hpp"
#include "actors/directory_state.hpp"
#include "runtime/transport/log.hpp"

namespace varsync {

namespace directory_parts {

namespace {

struct election {
  directory_snapshot best;
  std::string lost_holder;
  /// The nodes alive in the copy the election started from.
  std::size_t electorate = 0;
  std::set<std::string> votes;
  std::size_t remaining = 0;
  std::chrono::steady_clock::time_point started;
};

void decide(directory_actor_type* self, election& vote) {
  auto& state = self->state;
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - vote.started)
                     .count();
  // etcd decided already; the follow requests only gather copies.
  auto needed = state.by_etcd ? std::size_t{1} : vote.electorate / 2 + 1;
  load_snapshot(state, vote.best);
  state.seq = 0;
  self->set_default_handler(caf::print_and_drop);
  if (vote.votes.size() < needed) {
    auto why = "node '" + state.own_node +
               "' could not gather a majority "
               "after the directory's holder '" +
               vote.lost_holder + "' was lost (" +
               std::to_string(vote.votes.size()) + " of " +
               std::to_string(vote.electorate) + " nodes, " +
               std::to_string(needed) + " needed)";
    log().error("{}", why);
    state.refusal = why;
    lose_node(self, vote.lost_holder, "it held the directory");
    std::vector<std::string> orphans;
    for (const auto& [name, entry] : state.variables)
      if (entry.info.node == vote.lost_holder)
        orphans.push_back(name);
    for (const auto& name : orphans)
      give_up_rehosting(self, name, vote.lost_holder,
                        "no node holds the directory: " + why);
    self->become(acting_directory(self));
    return;
  }
  state.membership = vote.votes;
  log().warn("node '{}' holds the directory from epoch {} (node '{}' held it "
             "and was lost; {} of {} nodes agreed in {} ms)",
             state.own_node, state.epoch, vote.lost_holder, vote.votes.size(),
             vote.electorate, elapsed);
  monitor_recorded(self);
  lose_node(self, vote.lost_holder,
            "it held the directory; node '" + state.own_node +
                "' holds it from epoch " + std::to_string(state.epoch));
  changed(self);
  self->become(acting_directory(self));
}

caf::behavior elected_directory(directory_actor_type* self,
                                directory_snapshot copy, std::uint64_t epoch,
                                std::shared_ptr<actor_counters> counters,
                                directory_holder holder,
                                directory_election_rule rule) {
  self->state.by_etcd = rule.by_etcd;
  self->state.persist = std::move(rule.persist);
  auto& state = self->state;
  state.counters = std::move(counters);
  state.own_node = std::move(holder.node);
  state.own_host = std::move(holder.host);
  state.own_port = holder.port;
  state.forget_nodes_after = holder.forget_nodes_after;
  state.epoch = epoch;
  auto vote = std::make_shared<election>();
  vote->lost_holder = copy.holder;
  vote->started = std::chrono::steady_clock::now();
  vote->votes.insert(state.own_node);
  std::vector<directory_node_row> asked;
  for (const auto& node : copy.nodes) {
    if (!node.alive)
      continue;
    ++vote->electorate;
    if (node.info.name != copy.holder && node.info.name != state.own_node)
      asked.push_back(node);
  }
  vote->best = std::move(copy);
  vote->remaining = asked.size();
  log().info("node '{}' asks {} nodes to follow it as the directory's holder "
             "(epoch {})",
             state.own_node, asked.size(), state.epoch);
  // Requests wait in the mailbox until the election is decided.
  self->set_default_handler(caf::skip);
  if (asked.empty()) {
    self->send(self, ok_atom::value);
  }
  for (const auto& node : asked)
    self->request(node.info.agent, election_timeout, follow_atom::value,
                  state.epoch, state.own_node)
        .then(
            [self, vote, name = node.info.name](directory_snapshot& theirs) {
              if (check_snapshot(theirs).empty()) {
                vote->votes.insert(name);
                if (theirs.newer_than(vote->best))
                  vote->best = std::move(theirs);
              }
              if (--vote->remaining == 0)
                decide(self, *vote);
            },
            [self, vote, name = node.info.name](caf::error& err) {
              log().info("node '{}' does not follow: {}", name,
                         self->system().render(err));
              if (--vote->remaining == 0)
                decide(self, *vote);
            });
  return {
      [self, vote](ok_atom) { decide(self, *vote); },
  };
}

} // namespace

} // namespace directory_parts

caf::actor spawn_elected_directory(caf::actor_system& system,
                                   directory_snapshot copy, std::uint64_t epoch,
                                   std::shared_ptr<actor_counters> counters,
                                   directory_holder holder,
                                   directory_election_rule rule) {
  return system.spawn(directory_parts::elected_directory, std::move(copy),
                      epoch, std::move(counters), std::move(holder), rule);
}

} // namespace varsync
