#pragma once

// Helpers for tests that drive a replica group from the public API:
// one std::thread per replica (replica-context on_write updates are
// collectives, so every replica of the group must make its call
// concurrently), scalar tensors of any dtype, and waiting until the
// runtime's actors are idle.

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

namespace varsync::test {

/// Runs `body(r)` for every replica `r` of `group`, each on its own thread,
/// and returns when all threads finished. An exception thrown by a body (for
/// example a failed doctest REQUIRE) is caught on its thread and the first
/// one is rethrown here after every thread joined, so a failing replica never
/// terminates the test binary or leaves threads running.
inline void run_on_replicas(const replica_group& group,
                            const std::function<void(replica&)>& body) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> failures(group.size());
  threads.reserve(group.size());
  for (std::size_t index = 0; index < group.size(); ++index) {
    threads.emplace_back([&group, &body, &failures, index] {
      try {
        auto handle = group.at(index);
        if (!handle)
          throw std::runtime_error("replica_group::at(" +
                                   std::to_string(index) +
                                   ") failed: " + handle.error().to_string());
        body(*handle);
      } catch (...) {
        failures[index] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  for (auto& failure : failures)
    if (failure)
      std::rethrow_exception(failure);
}

/// A scalar tensor of `type` holding `value` converted to `type`.
inline tensor scalar(dtype type, double value) {
  auto result = tensor::filled(type, {}, value);
  if (!result)
    throw std::runtime_error("tensor::filled failed: " +
                             result.error().to_string());
  return *result;
}

/// Options with `sync` and `how` and every other field at its default.
/// (GCC 12 warns about designated initializers that leave fields out under
/// -Wextra, so the tests build options through this function.)
inline variable_options options_of(synchronization sync,
                                   aggregation how = aggregation::none) {
  variable_options result;
  result.sync = sync;
  result.aggregation = how;
  return result;
}

/// Runtime options whose calls have a default deadline of `timeout`.
inline runtime_options with_default_timeout(std::chrono::milliseconds timeout) {
  runtime_options result;
  result.default_timeout = timeout;
  return result;
}

/// The replica handles of `group`, in index order.
inline std::vector<replica> replicas_of(const replica_group& group) {
  std::vector<replica> result;
  for (std::size_t index = 0; index < group.size(); ++index) {
    auto handle = group.at(index);
    if (!handle)
      throw std::runtime_error("replica_group::at failed: " +
                               handle.error().to_string());
    result.push_back(*handle);
  }
  return result;
}

/// Waits until `rt.stats().actor_messages` stays the same across a few
/// consecutive polls (the actors finished the work of earlier calls, such as
/// installing a version at replicas other than the caller's), at most
/// `limit`. Returns true when the counter settled.
inline bool
wait_until_quiet(const runtime& rt,
                 std::chrono::milliseconds limit = std::chrono::seconds{5}) {
  using clock_type = std::chrono::steady_clock;
  auto give_up = clock_type::now() + limit;
  auto last = rt.stats().actor_messages;
  int stable_polls = 0;
  while (clock_type::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
    auto now = rt.stats().actor_messages;
    if (now == last) {
      if (++stable_polls == 5)
        return true;
    } else {
      stable_polls = 0;
      last = now;
    }
  }
  return false;
}

} // namespace varsync::test
