#pragma once

// Message counting for every varsync actor, in one place.
//
// How it works: a varsync actor's type is `counted_actor<State>` instead of
// `caf::stateful_actor<State>`. CAF hands each message taken from the
// mailbox to `scheduled_actor::consume`; the override counts the message in
// the runtime's counters (`message_counters(state)`, found by ADL next to
// each state) when a handler consumed it — requests, replies to the
// actor's own requests, alarms and system messages (down, exit) alike. No
// handler counts for itself. Messages CAF drops unseen (a timeout of a
// request already answered) are not counted.

#include "actors/actor_counters.hpp"

#include <caf/all.hpp>

namespace varsync {

/// A stateful event-based actor whose handled messages are counted.
/// Spawn it like `stateful_actor` (function-based: the function's first
/// parameter is `counted_actor<State>*`). `State` needs a free function
/// `actor_counters* message_counters(State&)` (null: do not count).
template <class State> class counted_actor : public caf::stateful_actor<State> {
public:
  using super = caf::stateful_actor<State>;

  explicit counted_actor(caf::actor_config& config) : super(config) {
    // nop
  }

  /// Handles `element` as CAF does and counts it if a handler consumed it.
  /// Called by CAF on the actor's own thread. The count comes first (and
  /// is taken back for a message CAF skipped or dropped): a reply the
  /// handler sends must not reach a reader of the counters before it.
  caf::invoke_message_result consume(caf::mailbox_element& element) override {
    auto* counters = message_counters(this->state);
    if (counters)
      counters->count_message();
    auto result = super::consume(element);
    if (counters && result != caf::invoke_message_result::consumed)
      counters->messages.fetch_sub(1, std::memory_order_relaxed);
    return result;
  }
};

} // namespace varsync
