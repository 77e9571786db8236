#pragma once

// The private side of `runtime`: the actor system, the directory actor and
// the helpers that turn actor replies into callbacks and blocking results.

#include "actors/actor_counters.hpp"
#include "actors/caf_error.hpp"
#include "actors/protocol.hpp"
#include "actors/records.hpp"
#include "varsync/runtime.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>

namespace varsync::detail {

/// Owns the actor system of one runtime. Thread-safe.
class runtime_core {
public:
  explicit runtime_core(runtime_options options);

  /// Stops every actor and waits until they are gone.
  ~runtime_core();

  runtime_core(const runtime_core&) = delete;
  runtime_core& operator=(const runtime_core&) = delete;

  const runtime_options& options() const noexcept { return options_; }

  caf::actor_system& system() noexcept { return *system_; }

  const caf::actor& directory() const noexcept { return directory_; }

  const std::shared_ptr<actor_counters>& counters() const noexcept {
    return counters_;
  }

  /// `timeout`, or the default deadline when unset.
  std::chrono::milliseconds deadline_of(const timeout_type& timeout) const {
    return timeout.value_or(options_.default_timeout);
  }

  /// The `shutting_down` error when the runtime is stopping.
  std::optional<error> refuse_if_stopping(const std::string& what) const;

  /// Sends `message` as a request to `target` with `timeout` and calls
  /// `done` once, on a CAF worker thread, with the single reply of type
  /// `Reply` or the error (`what` names the call in CAF's own errors).
  template <class Reply>
  void ask(const caf::actor& target, std::chrono::milliseconds timeout,
           caf::message message, std::function<void(expected<Reply>)> done,
           std::string what) {
    system_->spawn([=](caf::event_based_actor* self) {
      self->request(target, timeout, message)
          .then([done](Reply& reply) { done(std::move(reply)); },
                [done, what](caf::error& err) {
                  done(from_caf_error(err, what));
                });
    });
  }

  /// `ask` for requests answered with `ok_atom`.
  void ask_ok(const caf::actor& target, std::chrono::milliseconds timeout,
              caf::message message, std::function<void(expected<void>)> done,
              std::string what);

private:
  runtime_options options_;
  std::unique_ptr<caf::actor_system_config> config_;
  std::unique_ptr<caf::actor_system> system_;
  std::shared_ptr<actor_counters> counters_;
  caf::actor directory_;
  std::atomic<bool> stopping_{false};
};

/// How long a blocking call waits for the callback of its asynchronous
/// form: the deadline plus the grace the actors get to report it.
inline std::chrono::milliseconds
blocking_limit(std::chrono::milliseconds deadline) {
  return deadline + 2 * reply_grace;
}

/// Runs `start(callback)` and blocks until the callback delivered a result
/// or `limit` passed (then `timeout` naming `what`). The callback may run
/// after a timeout; it then only drops its result.
template <class T, class Start>
expected<T> wait_for_result(std::chrono::milliseconds limit, Start start,
                            const std::string& what) {
  auto promise = std::make_shared<std::promise<expected<T>>>();
  auto future = promise->get_future();
  start(
      [promise](expected<T> result) { promise->set_value(std::move(result)); });
  if (future.wait_for(limit) != std::future_status::ready)
    return error{errc::timeout, what + ": no result within " +
                                    std::to_string(limit.count()) + " ms"};
  return future.get();
}

/// The state behind a `replica` handle.
class replica_core {
public:
  replica_core(group_record_ptr group, std::size_t index)
      : group_(std::move(group)), index_(index) {
    // nop
  }

  const group_record& group() const noexcept { return *group_; }

  std::size_t index() const noexcept { return index_; }

  runtime_core& runtime() const noexcept { return *group_->runtime; }

  local_store& store() const noexcept { return *group_->stores[index_]; }

  const caf::actor& actor() const noexcept {
    return group_->replica_actors[index_];
  }

private:
  group_record_ptr group_;
  std::size_t index_;
};

} // namespace varsync::detail
