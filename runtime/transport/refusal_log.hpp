#pragma once

// Logging of refused connections and frames, rate-limited: a peer that
// sends garbage in a loop must not flood the log or grow memory. Each
// (peer address, reason) is logged at most once per interval; the next
// line says how many were suppressed meanwhile. Lines go to varsync's
// logger (runtime/transport/log.hpp) at warning level.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace varsync {

/// A rate-limited log of refusals for one port. Thread-safe.
class refusal_log {
public:
  /// `where` names the port in each line, e.g. "BASP port 127.0.0.1:4242".
  explicit refusal_log(std::string where, std::chrono::milliseconds interval =
                                              std::chrono::seconds{10});

  /// Logs "refused <address>: <reason>" unless the same address and reason
  /// were logged less than an interval ago (then counts it). Never blocks
  /// on the network; keeps at most `max_entries` (address, reason) pairs.
  void operator()(const std::string& address, const std::string& reason);

  /// Refusals seen (logged or not).
  std::uint64_t total() const;

  /// Lines written.
  std::uint64_t lines() const;

  /// (address, reason) pairs remembered now (at most `max_entries`).
  std::size_t remembered() const;

  static constexpr std::size_t max_entries = 1024;

private:
  struct entry {
    std::chrono::steady_clock::time_point logged;
    std::uint64_t suppressed = 0;
  };
  std::string where_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, entry> entries_;
  std::uint64_t total_ = 0;
  std::uint64_t lines_ = 0;
};

} // namespace varsync
