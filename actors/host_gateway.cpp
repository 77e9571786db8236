#include "actors/host_gateway.hpp"

#include <map>
#include <vector>

namespace varsync {

namespace {

struct gateway_state {
  /// Calls waiting for a reply from a remote target, by target.
  std::map<caf::actor_addr, std::vector<std::weak_ptr<host_call>>> waiting;
  static inline const char* name = "varsync.host_gateway";
};

using gateway_type = caf::stateful_actor<gateway_state>;

/// Remembers `call` as waiting for `target`, dropping calls of the same
/// target that already reported (their handlers released them).
void remember(gateway_type* self, const caf::actor& target,
              const host_call_ptr& call) {
  auto& calls = self->state.waiting[target.address()];
  if (calls.empty())
    self->monitor(target);
  std::erase_if(calls, [](const auto& weak) { return weak.expired(); });
  calls.push_back(call);
}

caf::behavior host_gateway(gateway_type* self, caf::actor lifetime) {
  self->link_to(lifetime);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto i = self->state.waiting.find(msg.source);
    if (i == self->state.waiting.end())
      return;
    auto calls = std::move(i->second);
    self->state.waiting.erase(i);
    for (auto& weak : calls)
      if (auto call = weak.lock())
        call->fail(error{errc::variable_unavailable,
                         call->what() +
                             ": the actor serving it is unreachable (" +
                             caf::to_string(msg.reason) + ")"});
  });
  return {
      [self](host_ask_atom, host_request& request) {
        if (!request.target) {
          request.call->fail(
              error{errc::variable_unavailable,
                    request.call->what() + ": no actor serves it"});
          return;
        }
        // A request to a local actor that stops fails at once by itself.
        if (request.target.node() != self->node())
          remember(self, request.target, request.call);
        request.send(self);
      },
  };
}

} // namespace

caf::actor spawn_host_gateway(caf::actor_system& system,
                              const caf::actor& lifetime) {
  return system.spawn(host_gateway, lifetime);
}

} // namespace varsync
