#include "runtime/periodic_checkpoints.hpp"

#include "runtime/core/metrics.hpp"
#include "runtime/job_checkpoint.hpp"
#include "runtime/transport/log.hpp"
#include "varsync/runtime.hpp"

namespace varsync {

periodic_checkpoints::periodic_checkpoints(
    runtime& owner, std::filesystem::path root, std::chrono::milliseconds every,
    std::optional<std::uint64_t> every_steps, std::size_t keep,
    std::function<bool()> active)
    : owner_(owner), root_(std::move(root)), every_(every),
      every_steps_(every_steps), keep_(keep), active_(std::move(active)) {
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

/// How often the steps mode looks at the versions: a status request (one
/// message per variable) a fifth of a second; the save follows at most
/// that long after the step that made the count.
constexpr std::chrono::milliseconds steps_poll{200};

bool periodic_checkpoints::enough_steps() {
  auto status = owner_.status(std::chrono::seconds{5});
  if (!status)
    return false;
  std::uint64_t highest = 0;
  for (const auto& row : status->variables)
    highest = std::max(highest, row.version);
  if (highest < saved_at_version_ + *every_steps_)
    return false;
  saved_at_version_ = highest;
  return true;
}

void periodic_checkpoints::run() {
  auto interval = every_steps_ ? steps_poll : every_;
  for (;;) {
    {
      std::unique_lock lock{mutex_};
      if (wake_.wait_for(lock, interval, [this] { return stopping_; }))
        return;
    }
    if (!active_() || (every_steps_ && !enough_steps()))
      continue;
    auto saved = owner_.save(root_);
    if (!saved) {
      log().warn("automatic checkpoint under '{}' failed: {}", root_.string(),
                 saved.error().message());
      continue;
    }
    metrics::process_metrics().last_checkpoint_unix_seconds.store(
        std::chrono::duration<double>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    auto removed = prune_checkpoints(root_, keep_);
    log().info("saved checkpoint '{}' (removed {} older)", saved->string(),
               removed);
  }
}

} // namespace varsync
