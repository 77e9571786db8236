#pragma once

// What every policy's variable side shares: the variable actor's state and
// the helpers for talking to the group's replica actors. The behaviors
// themselves live with their protocol in actors/policies/<policy>/
// variable_side.cpp; actors/variable_actor.cpp picks one through
// actors/policies/table.hpp.

#include "actors/cluster_protocol.hpp"
#include "actors/counted_actor.hpp"
#include "actors/policies/policy_settings.hpp"
#include "actors/protocol.hpp"
#include "actors/request_all.hpp"
#include "actors/variable_actor.hpp"

#include <caf/all.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>
#include <vector>

namespace varsync {

/// The state of a variable actor, whatever its policy.
struct variable_state {
  variable_spec spec;
  /// Replicas whose node was lost, by index.
  std::vector<bool> lost;
  /// Fan-ins waiting for replicas; told when one is lost.
  lost_targets gatherings;
  static inline const char* name = "varsync.variable";

  /// The replicas still in the group.
  std::vector<caf::actor> live_replicas() const {
    std::vector<caf::actor> result;
    for (std::size_t i = 0; i < spec.replicas.size(); ++i)
      if (!lost[i])
        result.push_back(spec.replicas[i]);
    return result;
  }
};

/// The runtime's counters (actors/counted_actor.hpp counts every message).
inline actor_counters* message_counters(variable_state& state) {
  return state.spec.counters.get();
}

using variable_actor_type = counted_actor<variable_state>;

/// Handles the DOWN message of a monitored replica: marks it lost, stops
/// every fan-in from waiting for it and returns its index (none for an
/// unknown sender or a replica already lost), followed by the indices of
/// the group's other replicas on its node when the DOWN says that node is
/// unreachable (remote_link_unreachable): they are lost at once, not one
/// DOWN message at a time. The policy then drops them.
std::vector<std::size_t> replica_down(variable_actor_type* self,
                                      const caf::down_msg& msg);

/// Reports a replica's clock when it attached (bounded_staleness joins the
/// group's clocks with it).
using attached_hook = std::function<void(std::size_t, std::uint64_t)>;

/// Runs once every live replica has attached, before the directory hears.
using all_attached_hook = std::function<void()>;

/// Attaches the variable to every replica (and monitors them: a replica
/// whose node dies is dropped from the group), then answers the directory.
/// Each replica answers with its current clock: `attached(index, clock)`
/// sees it before anything that replica sends afterwards (same sender, same
/// receiver: FIFO), and `all_attached()` runs once all have answered.
caf::result<ok_atom>
attach_everywhere(variable_actor_type* self, attached_hook attached = nullptr,
                  all_attached_hook all_attached = nullptr);

/// What a policy sends a readmitted replica after attaching it (nullopt:
/// nothing), given the clock the replica reported: evaluated once the
/// attach was answered, so it carries the variable's state of that moment.
/// The replica answers it with ok.
using readmission_follow_up =
    std::function<std::optional<caf::message>(std::uint64_t clock)>;

/// Takes the lost replica `index` back into the group as `replica` (its
/// node came back, it joined again): monitors it, attaches the variable to
/// it with `start` as its value, sends it `follow_up()` (if any) and
/// answers ok once it answered both. `invalid_argument` for an index out
/// of range or a replica that is not lost; the attach's error otherwise
/// (the replica is lost again then).
caf::result<ok_atom> readmit_replica(variable_actor_type* self,
                                     std::uint64_t index,
                                     const caf::actor& replica, tensor start,
                                     readmission_follow_up follow_up = nullptr);

/// When the directory says replica `index` rejoins as `replica` but this
/// actor has not seen the old replica's DOWN yet (each actor learns of a
/// lost node on its own connection): treats the old replica as lost now
/// (a DOWN message to itself, handled by the policy's down handler) and
/// handles the rejoin after it; nullopt when there is nothing to wait for.
/// The directory only sends a rejoin for an index it saw lost.
std::optional<caf::result<ok_atom>>
rejoin_after_loss(variable_actor_type* self, std::uint64_t index,
                  const caf::actor& replica);

/// The same, answering `promise` (for a policy that works out `start`
/// asynchronously first).
void readmit_replica(variable_actor_type* self, std::uint64_t index,
                     const caf::actor& replica, tensor start,
                     readmission_follow_up follow_up,
                     caf::typed_response_promise<ok_atom> promise);

/// The attach_atom handler of a policy without attach hooks
/// (attach_everywhere).
inline auto plain_attach_handler(variable_actor_type* self) {
  return [self](attach_atom) { return attach_everywhere(self); };
}

/// The status handler of a policy without versions or clocks: (0, 0).
inline auto unversioned_status_handler() {
  return [](status_atom) -> caf::result<std::uint64_t, std::uint64_t> {
    return {std::uint64_t{0}, std::uint64_t{0}};
  };
}

/// What the policy state machines know of the variable.
policies::policy_settings settings_of(const variable_spec& spec);

/// Timeouts on the wire are milliseconds; 0 or less means "no deadline
/// given", which the host API never sends.
std::chrono::milliseconds to_timeout(std::int64_t timeout_ms);

/// The reply to read_rows_atom from a variable actor whose value is
/// `value`: `version` and the rows `rows` names (row indices from the
/// network: checked first), or the error naming what was wrong.
caf::result<std::uint64_t, tensor> rows_reply(const variable_spec& spec,
                                              const tensor& rows,
                                              const tensor& value,
                                              std::uint64_t version);

/// Sends `message` to every live replica and answers ok once all replied
/// (`Reply` is what each answers with; void for an empty reply), or the
/// first error.
template <class Reply>
caf::result<ok_atom> send_to_all_replicas(variable_actor_type* self,
                                          std::int64_t timeout_ms,
                                          caf::message message) {
  auto promise = self->make_response_promise<ok_atom>();
  auto succeeded = [promise](auto&&...) mutable {
    promise.deliver(ok_atom::value);
  };
  auto failed = [promise](const caf::error& err) mutable {
    promise.deliver(err);
  };
  auto replicas = self->state.live_replicas();
  auto* gatherings = &self->state.gatherings;
  if constexpr (std::is_void_v<Reply>)
    request_all_acks(self, replicas, to_timeout(timeout_ms), message, succeeded,
                     failed, gatherings);
  else
    request_all<Reply>(self, replicas, to_timeout(timeout_ms), message,
                       succeeded, failed, gatherings);
  return promise;
}

} // namespace varsync
