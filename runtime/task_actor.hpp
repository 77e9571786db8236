#pragma once

// Remote tasks on top of CAF's remote spawn. Every task name of
// node_config::tasks is registered with CAF as actor type
// "varsync.task.<name>"; a driver remote-spawns it on a node. The task
// actor runs the task function on a thread of its own (a task may block
// for minutes) and keeps its result:
//
//   driver --remote_spawn("varsync.task.train", arg)--> task actor
//                                                        | starts thread
//   driver --(wait_atom)--> task actor  ... thread ends: (task_done_atom,
//   <-- result string or error ---------               result) to itself
//
// A wait before the end is parked and answered when the result arrives.
// Stopping the runtime stops the task actors; their threads are joined by
// the runtime.

#include "varsync/remote_task.hpp"

#include <caf/all.hpp>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace varsync::detail {

using wait_atom = caf::atom_constant<caf::atom("wait")>;
using task_done_atom = caf::atom_constant<caf::atom("taskdone")>;

/// The CAF actor type name of task `name`.
inline std::string task_type_name(const std::string& name) {
  return "varsync.task." + name;
}

/// Starts a thread for a task (the runtime owns and joins it).
using thread_starter = std::function<void(std::function<void()>)>;

/// Registers every task of `tasks` with `config` as a spawnable actor type.
/// `node` returns the runtime a task runs with (set once the node started);
/// `start_thread` runs the task body on a thread the runtime joins; `adopt`
/// hands each task actor to the runtime, which stops it at shutdown.
void register_tasks(caf::actor_system_config& config,
                    const std::map<std::string, task_function>& tasks,
                    std::function<runtime*()> node, thread_starter start_thread,
                    std::function<void(const caf::actor&)> adopt);

/// What a task_handle refers to.
struct task_record {
  std::string node;
  std::string name;
  caf::actor actor;
  class runtime_core* core = nullptr;
};

} // namespace varsync::detail
