#pragma once

// Where a replica actor sends the outcome of a replica-context update: the
// response promise of a CAF request, or a completion object the host
// thread handed over in a local message (no helper actor and no reply hop:
// the replica actor calls the host's callback itself).
//
// A completion reports exactly once. If the replica actor never finishes it
// (the actor stopped, or the message was dropped at shutdown), the last
// reference to it going away reports `shutting_down`, so a caller never
// waits for an answer that cannot come.

#include "actors/caf_error.hpp"
#include "actors/protocol.hpp"
#include "varsync/error.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace varsync {

/// The host's callback for one update, called once.
class update_completion {
public:
  /// `what` names the call in errors ("assign_add of variable 'w'").
  update_completion(std::function<void(expected<void>)> done, std::string what)
      : done_(std::move(done)), what_(std::move(what)) {
    // nop
  }

  ~update_completion() {
    finish(error{errc::shutting_down,
                 what_ + ": the replica stopped before the update finished"});
  }

  update_completion(const update_completion&) = delete;
  update_completion& operator=(const update_completion&) = delete;

  /// Reports `result` unless a result was reported already. Thread-safe.
  void finish(expected<void> result) {
    if (!finished_.exchange(true))
      done_(std::move(result));
  }

  /// Reports a CAF error (converted, naming the call).
  void fail(const caf::error& err) { finish(from_caf_error(err, what_)); }

private:
  std::function<void(expected<void>)> done_;
  std::string what_;
  std::atomic<bool> finished_{false};
};

using update_completion_ptr = std::shared_ptr<update_completion>;

/// The outcome's destination: a promise or a completion.
struct update_reply {
  caf::response_promise promise;
  update_completion_ptr completion;

  void succeed() {
    if (completion)
      completion->finish(expected<void>{});
    else
      promise.deliver(ok_atom::value);
  }

  void fail(const error& err) {
    if (completion)
      completion->finish(err);
    else
      promise.deliver(to_caf_error(err));
  }

  void fail(caf::error err) {
    if (completion)
      completion->fail(err);
    else
      promise.deliver(std::move(err));
  }
};

} // namespace varsync

// Completions only travel in local messages; CAF never serializes them.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(varsync::update_completion_ptr)
