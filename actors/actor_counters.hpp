#pragma once

// Counters shared by all actors of one runtime; read by runtime::stats().

#include <atomic>
#include <cstdint>

namespace varsync {

/// What the actors of one runtime did. Thread-safe.
struct actor_counters {
  /// Messages handled by varsync actors.
  std::atomic<std::uint64_t> messages{0};

  /// Counts one handled message.
  void count_message() noexcept {
    messages.fetch_add(1, std::memory_order_relaxed);
  }
};

} // namespace varsync
