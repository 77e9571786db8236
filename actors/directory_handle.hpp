#pragma once

// The directory actor a node currently follows, shared between the node
// agent (which changes it when a new holder is elected) and the host
// threads of the runtime (which send requests to it).

#include "varsync/node_config.hpp"

#include <caf/all.hpp>
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
};

/// A thread-safe handle on the directory actor this node follows.
class directory_handle {
public:
  /// The directory actor; null before the node joined. Thread-safe.
  caf::actor get() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return actor_;
  }

  /// Follows `actor` from now on. Thread-safe.
  void set(caf::actor actor) {
    std::lock_guard<std::mutex> guard{mutex_};
    actor_ = std::move(actor);
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

private:
  mutable std::mutex mutex_;
  caf::actor actor_;
  directory_holder own_;
  isolation_handler isolated_;
};

} // namespace varsync
