#include "runtime/periodic_checkpoints.hpp"

#include "runtime/job_checkpoint.hpp"
#include "runtime/transport/log.hpp"
#include "varsync/runtime.hpp"

namespace varsync {

periodic_checkpoints::periodic_checkpoints(runtime& owner,
                                           std::filesystem::path root,
                                           std::chrono::milliseconds every,
                                           std::size_t keep,
                                           std::function<bool()> active)
    : owner_(owner), root_(std::move(root)), every_(every), keep_(keep),
      active_(std::move(active)) {
  thread_ = std::thread{[this] { run(); }};
}

periodic_checkpoints::~periodic_checkpoints() {
  stop();
  if (thread_.joinable())
    thread_.join();
}

void periodic_checkpoints::stop() {
  std::lock_guard guard{mutex_};
  stopping_ = true;
  wake_.notify_all();
}

void periodic_checkpoints::run() {
  for (;;) {
    {
      std::unique_lock lock{mutex_};
      if (wake_.wait_for(lock, every_, [this] { return stopping_; }))
        return;
    }
    if (!active_())
      continue;
    auto saved = owner_.save(root_);
    if (!saved) {
      log().warn("automatic checkpoint under '{}' failed: {}", root_.string(),
                 saved.error().message());
      continue;
    }
    auto removed = prune_checkpoints(root_, keep_);
    log().info("saved checkpoint '{}' (removed {} older)", saved->string(),
               removed);
  }
}

} // namespace varsync
