#pragma once

// One host call in flight — the single mechanism by which every host call
// (blocking, callback or Asio form; on_write steps and requests alike)
// learns its outcome without a helper actor per call.
//
// A host_call reports exactly once: whoever `claim()`s it first reports
// (the success path after a reply, `fail` on an error or a lost target).
// If nobody ever reports — the actor holding it stopped, or the message
// carrying it was dropped at shutdown — the last reference going away
// reports `shutting_down`, so a caller never waits for an answer that
// cannot come. Calls travel only in local messages; CAF never serializes
// them.

#include "actors/caf_error.hpp"
#include "varsync/error.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace varsync {

/// The outcome slot of one host call. Thread-safe.
class host_call {
public:
  /// `failed` reports an error; `what` names the call in errors
  /// ("assign_add of variable 'w'").
  host_call(std::function<void(error)> failed, std::string what)
      : failed_(std::move(failed)), what_(std::move(what)) {
    // nop
  }

  virtual ~host_call() {
    fail(error{errc::shutting_down,
               what_ + ": the runtime stopped before the call finished"});
  }

  host_call(const host_call&) = delete;
  host_call& operator=(const host_call&) = delete;

  /// True for exactly one caller: that caller reports the outcome.
  bool claim() noexcept { return !finished_.exchange(true); }

  /// Reports `err` unless an outcome was reported already.
  void fail(error err) {
    if (claim())
      failed_(std::move(err));
  }

  /// Reports a CAF error (converted, naming the call).
  void fail(const caf::error& err) { fail(from_caf_error(err, what_)); }

  /// What the call is, for error messages.
  const std::string& what() const noexcept { return what_; }

private:
  std::function<void(error)> failed_;
  std::string what_;
  std::atomic<bool> finished_{false};
};

using host_call_ptr = std::shared_ptr<host_call>;

/// A request a host call wants made: the gateway actor
/// (actors/host_gateway.hpp) watches `target` and runs `send`, which makes
/// one request whose handlers report to `call`.
struct host_request {
  caf::actor target;
  std::function<void(caf::event_based_actor*)> send;
  host_call_ptr call;
};

} // namespace varsync

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(varsync::host_request)
