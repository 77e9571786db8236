#pragma once

// The directory actor a node currently follows, shared between the node
// agent (which changes it when a new holder is elected) and the host
// threads of the runtime (which send requests to it).

#include "actors/directory_snapshot.hpp"
#include "varsync/node_config.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace varsync {

/// A node that may hold the directory, as copies name it.
struct directory_holder {
  std::string node;
  std::string host;
  std::uint16_t port = 0;
  /// Whether the node hosts variable actors (node_info::serves_variables).
  bool serves_variables = false;
  /// While it holds the directory: status stops reporting nodes that left
  /// or were lost this long ago (node_config::forget_nodes_after).
  std::chrono::milliseconds forget_nodes_after{std::chrono::minutes{10}};
};

/// A thread-safe handle on the directory actor this node follows.
class directory_handle {
public:
  /// The directory actor; null before the node joined. Thread-safe.
  caf::actor get() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return actor_;
  }

  /// Follows `actor`, the directory of `epoch` (0: unknown until its first
  /// copy), from now on. Thread-safe.
  void set(caf::actor actor, std::uint64_t epoch = 0) {
    std::lock_guard<std::mutex> guard{mutex_};
    actor_ = std::move(actor);
    actor_epoch_ = epoch;
  }

  /// The epoch of the directory `get()` names, when known (else 0).
  /// Thread-safe.
  std::uint64_t epoch_of_actor() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return actor_epoch_;
  }

  /// This node's name and address (empty until it registered).
  /// Thread-safe.
  directory_holder own() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return own_;
  }

  /// Sets this node's name and address. Thread-safe.
  void set_own(directory_holder own) {
    std::lock_guard<std::mutex> guard{mutex_};
    own_ = std::move(own);
  }

  /// What the node does when its agent finds it cut off from most of the
  /// cluster: look for a newer holder at `members` (this node follows
  /// `epoch`). Called on the agent's thread; must not block.
  using isolation_handler =
      std::function<void(std::vector<endpoint> members, std::uint64_t epoch)>;

  /// Sets the isolation handler. Thread-safe.
  void on_isolated(isolation_handler handler) {
    std::lock_guard<std::mutex> guard{mutex_};
    isolated_ = std::move(handler);
  }

  /// Calls the isolation handler, if any. Thread-safe.
  void isolated(std::vector<endpoint> members, std::uint64_t epoch) const {
    isolation_handler handler;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      handler = isolated_;
    }
    if (handler)
      handler(std::move(members), epoch);
  }

  /// Whether etcd elects the holder (node_config::coordinator): the node
  /// agent then runs no election of its own. Thread-safe.
  bool coordinated() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return coordinated_;
  }

  /// Sets whether etcd elects the holder. Thread-safe.
  void set_coordinated(bool value) {
    std::lock_guard<std::mutex> guard{mutex_};
    coordinated_ = value;
  }

  /// The epoch of the directory this node follows (0 before its first
  /// copy), as its agent last recorded it. Thread-safe.
  std::uint64_t followed_epoch() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return followed_epoch_;
  }

  /// Records the epoch the agent follows. Thread-safe.
  void set_followed_epoch(std::uint64_t epoch) {
    std::lock_guard<std::mutex> guard{mutex_};
    followed_epoch_ = epoch;
  }

  /// The epoch this node won in etcd (0: none); its agent then takes the
  /// directory over. Thread-safe.
  std::uint64_t won_epoch() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return won_epoch_;
  }

  /// Records an epoch this node won in etcd. Thread-safe.
  void set_won_epoch(std::uint64_t epoch) {
    std::lock_guard<std::mutex> guard{mutex_};
    won_epoch_ = epoch;
  }

  /// With etcd: what stores each copy of the directory there, and the
  /// copy read from etcd when this node won an epoch (epoch 0: none).
  /// Thread-safe.
  using persister = std::function<void(const directory_snapshot&)>;

  void set_persister(persister store) {
    std::lock_guard<std::mutex> guard{mutex_};
    persist_ = std::move(store);
  }

  persister get_persister() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return persist_;
  }

  void set_won_copy(directory_snapshot copy) {
    std::lock_guard<std::mutex> guard{mutex_};
    won_copy_ = std::move(copy);
  }

  directory_snapshot won_copy() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return won_copy_;
  }

private:
  mutable std::mutex mutex_;
  persister persist_;
  directory_snapshot won_copy_;
  caf::actor actor_;
  std::uint64_t actor_epoch_ = 0;
  directory_holder own_;
  isolation_handler isolated_;
  bool coordinated_ = false;
  std::uint64_t won_epoch_ = 0;
  std::uint64_t followed_epoch_ = 0;
};

} // namespace varsync
