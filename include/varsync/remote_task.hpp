#pragma once

/// Remote tasks: functions an application registers by name on every node
/// (`node_config::tasks`), which a driver starts on a chosen node
/// (`runtime::spawn_task`) and waits for (`task_handle::wait`). Built on
/// CAF's remote spawn; used to place replicas and workers on bare nodes.

#include "varsync/error.hpp"
#include "varsync/replica.hpp"

#include <functional>
#include <memory>
#include <string>

namespace varsync {

class runtime;

namespace detail {
struct task_record;
} // namespace detail

/// A task: runs on a thread of its own on the node it was spawned on, with
/// that node's runtime and the driver's argument (an application-defined
/// string); its result (or error) goes back to the driver. It may block
/// (e.g. a training loop).
using task_function =
    std::function<expected<std::string>(runtime& node, const std::string& arg)>;

/// A started remote task. Copyable handle; thread-safe.
class task_handle {
public:
  task_handle() = default;

  /// Used by the runtime.
  explicit task_handle(std::shared_ptr<detail::task_record> record)
      : record_(std::move(record)) {
    // nop
  }

  /// Blocks until the task returned (its result or error), its node was
  /// lost (`replica_lost`), or `timeout` passed (`timeout`; the task keeps
  /// running and `wait` may be called again).
  expected<std::string> wait(timeout_type timeout = {}) const;

  /// The node the task runs on.
  const std::string& node() const;

  /// The task's registered name.
  const std::string& name() const;

private:
  std::shared_ptr<detail::task_record> record_;
};

} // namespace varsync
