#pragma once

// Where a replica actor sends the outcome of a replica-context update: the
// response promise of a CAF request, or the host call the host thread
// handed over in a local message (actors/host_call.hpp: no helper actor and
// no reply hop — the replica actor reports to the host's callback itself,
// exactly once; if it never does, the call reports `shutting_down`).

#include "actors/caf_error.hpp"
#include "actors/host_call.hpp"
#include "actors/protocol.hpp"
#include "varsync/error.hpp"

#include <caf/all.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace varsync {

/// The host's callback for one update: a host_call that reports success
/// too.
class update_completion : public host_call {
public:
  /// `what` names the call in errors ("assign_add of variable 'w'").
  update_completion(std::function<void(expected<void>)> done, std::string what)
      : host_call([done](error err) { done(std::move(err)); }, std::move(what)),
        done_(std::move(done)) {
    // nop
  }

  /// Reports `result` unless an outcome was reported already. Thread-safe.
  void finish(expected<void> result) {
    if (!result)
      fail(result.error());
    else if (claim())
      done_(expected<void>{});
  }

private:
  std::function<void(expected<void>)> done_;
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
