#include "runtime/transport/refusal_log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace varsync {

refusal_log::refusal_log(std::string where, std::chrono::milliseconds interval)
    : where_(std::move(where)), interval_(interval) {}

void refusal_log::operator()(const std::string& address,
                             const std::string& reason) {
  auto now = std::chrono::steady_clock::now();
  std::uint64_t suppressed = 0;
  {
    std::lock_guard guard{mutex_};
    ++total_;
    auto key = std::pair{address, reason};
    auto i = entries_.find(key);
    if (i != entries_.end() && now - i->second.logged < interval_) {
      ++i->second.suppressed;
      return;
    }
    if (i == entries_.end()) {
      if (entries_.size() >= max_entries) {
        // Forget pairs whose interval is over (nothing is owed for them
        // but their suppressed count); if none is, drop one at random
        // rather than grow.
        std::erase_if(entries_, [&](const auto& item) {
          return now - item.second.logged >= interval_;
        });
        if (entries_.size() >= max_entries)
          entries_.erase(entries_.begin());
      }
      i = entries_.emplace(std::move(key), entry{}).first;
    }
    suppressed = i->second.suppressed;
    i->second = entry{now, 0};
  }
  if (suppressed == 0)
    spdlog::warn("{}: refused {}: {}", where_, address, reason);
  else
    spdlog::warn("{}: refused {}: {} ({} more like it not logged)", where_,
                 address, reason, suppressed);
}

std::uint64_t refusal_log::total() const {
  std::lock_guard guard{mutex_};
  return total_;
}

bool set_log_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    return false;
  static auto logger = [] {
    auto created = spdlog::stderr_color_mt("varsync");
    spdlog::set_default_logger(created);
    return created;
  }();
  logger->set_level(parsed);
  return true;
}

} // namespace varsync
