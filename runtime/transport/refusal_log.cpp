#include "runtime/transport/refusal_log.hpp"

#include "runtime/transport/log.hpp"

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
    ++lines_;
  }
  if (suppressed == 0)
    log().warn("{}: refused {}: {}", where_, address, reason);
  else
    log().warn("{}: refused {}: {} ({} more like it not logged)", where_,
               address, reason, suppressed);
}

std::uint64_t refusal_log::total() const {
  std::lock_guard guard{mutex_};
  return total_;
}

std::uint64_t refusal_log::lines() const {
  std::lock_guard guard{mutex_};
  return lines_;
}

std::size_t refusal_log::remembered() const {
  std::lock_guard guard{mutex_};
  return entries_.size();
}

} // namespace varsync
