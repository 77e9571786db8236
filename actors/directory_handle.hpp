#pragma once

// The directory actor a node currently follows, shared between the node
// agent (which changes it when a new holder is elected) and the host
// threads of the runtime (which send requests to it).

#include <caf/all.hpp>
#include <cstdint>
#include <mutex>
#include <string>

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

private:
  mutable std::mutex mutex_;
  caf::actor actor_;
  directory_holder own_;
};

} // namespace varsync
