#include "actors/directory_follower.hpp"

#include "actors/caf_error.hpp"
#include "actors/directory_election.hpp"
#include "runtime/transport/log.hpp"

#include <algorithm>

namespace varsync {

namespace {

/// Watches the agents of the nodes in `follower.copy` (their DOWN tells
/// who is gone when a candidate must be named).
void watch_agents(caf::event_based_actor* self, directory_follower& follower) {
  for (const auto& node : follower.copy.nodes) {
    if (!node.alive || node.info.name == follower.own.node ||
        follower.watched.count(node.info.agent.address()) > 0)
      continue;
    follower.watched.emplace(node.info.agent.address(), node.info.name);
    self->monitor(node.info.agent);
  }
}

/// Names the candidate for the next holder (actors/directory_election.hpp)
/// and, if it is this node, spawns its directory.
void start_election(caf::event_based_actor* self,
                    directory_follower& follower) {
  const auto& copy = follower.copy;
  if (copy.epoch == 0 || follower.own.node.empty())
    return; // not joined yet: nothing to hold
  const directory_node_row* candidate = nullptr;
  for (const auto& node : copy.nodes)
    if (node.alive && node.info.name != copy.holder &&
        follower.lost_nodes.count(node.info.name) == 0) {
      candidate = &node;
      break;
    }
  if (candidate == nullptr) {
    log().error("the directory's holder '{}' was lost and no node is left to "
                "hold it",
                copy.holder);
    return;
  }
  if (candidate->info.name != follower.own.node) {
    log().info("the directory's holder '{}' was lost: waiting for node '{}' "
               "to hold it",
               copy.holder, candidate->info.name);
    return;
  }
  auto epoch = std::max(copy.epoch, follower.epoch) + 1;
  auto directory = spawn_elected_directory(self->home_system(), copy, epoch,
                                           follower.counters, follower.own);
  follow(self, follower, std::move(directory), epoch);
}

} // namespace

void follow(caf::event_based_actor* self, directory_follower& follower,
            caf::actor directory, std::uint64_t epoch) {
  follower.orphaned = false;
  follower.epoch = std::max(follower.epoch, epoch);
  follower.directory = std::move(directory);
  if (follower.handle) {
    follower.handle->set(follower.directory, follower.epoch);
    follower.handle->set_followed_epoch(follower.epoch);
  }
  self->monitor(follower.directory);
}

caf::result<std::uint64_t> accept_copy(caf::event_based_actor* self,
                                       directory_follower& follower,
                                       directory_snapshot& copy) {
  if (auto why = check_snapshot(copy); !why.empty())
    return to_caf_error(error{errc::invalid_argument, why});
  if (!follower.directory ||
      self->current_sender() != follower.directory.address() ||
      copy.epoch < follower.epoch)
    return follower.epoch;
  follower.epoch = std::max(follower.epoch, copy.epoch);
  if (follower.handle)
    follower.handle->set_followed_epoch(follower.epoch);
  if (copy.newer_than(follower.copy)) {
    follower.copy = std::move(copy);
    watch_agents(self, follower);
  }
  return follower.epoch;
}

caf::result<directory_snapshot> answer_follow(caf::event_based_actor* self,
                                              directory_follower& follower,
                                              std::uint64_t epoch,
                                              const std::string& holder) {
  if (epoch <= follower.epoch)
    return to_caf_error(error{
        errc::already_exists,
        "node '" + follower.own.node + "' follows the directory of epoch " +
            std::to_string(follower.epoch) + ", not epoch " +
            std::to_string(epoch) + " of node '" + holder + "'"});
  auto candidate = caf::actor_cast<caf::actor>(self->current_sender());
  if (!candidate)
    return to_caf_error(
        error{errc::invalid_argument, "a follow request without a sender"});
  log().info("node '{}' follows node '{}' as the directory's holder (epoch "
             "{})",
             follower.own.node, holder, epoch);
  follow(self, follower, std::move(candidate), epoch);
  return follower.copy;
}

void follow_handle(caf::event_based_actor* self, directory_follower& follower) {
  if (!follower.handle)
    return;
  follower.own = follower.handle->own();
  auto directory = follower.handle->get();
  if (!directory || directory == follower.directory)
    return;
  follower.isolated = false;
  follower.lost_nodes.clear();
  follower.watched.clear();
  follow(self, follower, std::move(directory),
         follower.handle->epoch_of_actor());
}

namespace {

/// Asks the host to look for a newer holder when this node sees fewer than
/// a majority of the nodes alive in its copy (a holder that was frozen and
/// came back, a node on the small side of a partition).
void check_isolation(directory_follower& follower) {
  if (follower.isolated || !follower.handle || follower.copy.epoch == 0 ||
      follower.handle->coordinated())
    return;
  std::size_t members = 0;
  std::size_t alive = 0;
  std::vector<endpoint> others;
  for (const auto& node : follower.copy.nodes) {
    if (!node.alive)
      continue;
    ++members;
    if (node.info.name == follower.own.node ||
        follower.lost_nodes.count(node.info.name) == 0)
      ++alive;
    if (node.info.name != follower.own.node && node.info.port != 0)
      others.push_back(endpoint{node.info.host, node.info.port});
  }
  if (alive >= members / 2 + 1 || others.empty())
    return;
  follower.isolated = true;
  log().warn("node '{}' sees {} of the {} nodes of the cluster: looking for "
             "a newer directory holder",
             follower.own.node, alive, members);
  follower.handle->isolated(std::move(others), follower.epoch);
}

} // namespace

void take_over_won_epoch(caf::event_based_actor* self,
                         directory_follower& follower) {
  if (!follower.handle)
    return;
  auto epoch = follower.handle->won_epoch();
  if (epoch <= follower.epoch ||
      (follower.copy.epoch == 0 && follower.handle->won_copy().epoch == 0))
    return;
  follower.own = follower.handle->own();
  // The copy in etcd is the holder's last word; this node's own copy may
  // be older (or newer, if the etcd write failed).
  auto from_etcd = follower.handle->won_copy();
  auto use_etcd = from_etcd.newer_than(follower.copy);
  auto copy = use_etcd ? from_etcd : follower.copy;
  // The last holder may have registered this node and stopped before any
  // copy named it: the new holder lists itself.
  const auto& own = follower.own;
  if (std::none_of(
          copy.nodes.begin(), copy.nodes.end(),
          [&own](const auto& row) { return row.info.name == own.node; }))
    copy.nodes.push_back(directory_node_row{
        node_info{own.node, own.host, own.port, own.serves_variables,
                  caf::actor_cast<caf::actor>(self)},
        true});
  if (use_etcd)
    log().info("node '{}' takes the directory's state from etcd (epoch {}, "
               "change {})",
               follower.own.node, from_etcd.epoch, from_etcd.seq);
  auto directory = spawn_elected_directory(
      self->home_system(), copy, epoch, follower.counters, follower.own,
      directory_election_rule{true, epoch, follower.handle->get_persister()});
  follow(self, follower, std::move(directory), epoch);
}

bool follower_down(caf::event_based_actor* self, directory_follower& follower,
                   const caf::down_msg& msg) {
  if (follower.directory && msg.source == follower.directory.address()) {
    auto shut_down = msg.reason == caf::exit_reason::user_shutdown ||
                     msg.reason == caf::exit_reason::normal;
    if (shut_down)
      return true; // the holder stopped on purpose: the cluster ends
    follower.orphaned = true;
    // With etcd, the node that wins the next epoch there takes over
    // (take_over_won_epoch).
    if (!follower.handle || !follower.handle->coordinated())
      start_election(self, follower);
    return true;
  }
  auto i = follower.watched.find(msg.source);
  if (i == follower.watched.end())
    return false;
  follower.lost_nodes.insert(i->second);
  follower.watched.erase(i);
  check_isolation(follower);
  // The candidate this node waited for may be the one that died.
  if (follower.orphaned &&
      (!follower.handle || !follower.handle->coordinated()))
    start_election(self, follower);
  return true;
}

} // namespace varsync
