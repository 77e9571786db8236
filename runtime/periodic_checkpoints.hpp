#pragma once

// Automatic whole-job checkpoints (node_config::checkpoint_dir): a thread
// of every node started with a checkpoint directory that, while its node
// holds the cluster's directory (the seed, then whoever took over), calls
// runtime::save(root) every interval and then keeps the newest complete
// checkpoints (runtime/job_checkpoint.hpp). A failed save is logged and
// retried at the next interval.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace varsync {

class runtime;

class periodic_checkpoints {
public:
  /// Starts saving `owner`'s variables under `root` every `every` (or,
  /// with `every_steps`, once the highest variable version grew by that
  /// much since the last save) while `active()` (this node holds the
  /// directory), keeping `keep` complete checkpoints. `owner` must outlive
  /// this object.
  periodic_checkpoints(runtime& owner, std::filesystem::path root,
                       std::chrono::milliseconds every,
                       std::optional<std::uint64_t> every_steps,
                       std::size_t keep, std::function<bool()> active);

  /// Stops and joins the thread (a save in progress ends first: its calls
  /// fail with shutting_down once the runtime stops). Blocks.
  ~periodic_checkpoints();

  periodic_checkpoints(const periodic_checkpoints&) = delete;
  periodic_checkpoints& operator=(const periodic_checkpoints&) = delete;

  /// Tells the thread to stop after the current save; does not wait.
  /// Thread-safe.
  void stop();

private:
  void run();

  /// Steps mode: whether the highest version grew by every_steps_ since
  /// the last save (asks the directory's status).
  bool enough_steps();

  runtime& owner_;
  std::filesystem::path root_;
  std::chrono::milliseconds every_;
  std::optional<std::uint64_t> every_steps_;
  /// The highest variable version at the last save (steps mode).
  std::uint64_t saved_at_version_ = 0;
  std::size_t keep_;
  std::function<bool()> active_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace varsync
