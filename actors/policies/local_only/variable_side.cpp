#include "actors/policies/local_only/variable_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/local_only/state_machine.hpp"
#include "actors/policies/variable_interface.hpp"

#include <map>
#include <memory>
#include <utility>

namespace varsync {

caf::behavior local_only_variable_side(variable_actor_type* self) {
  auto policy = std::make_shared<policies::local_only>(self->state.spec.name);
  // Typed: the compiler checks these handlers against the interface.
  variable_actor_interface::behavior_type behavior{
      plain_attach_handler(self),
      unversioned_status_handler(),
      [self, policy](read_atom, std::int64_t) -> caf::result<tensor> {
        return to_caf_error(policy->reject_cross_replica("read"));
      },
      [self, policy](cross_update_atom, std::uint8_t op_byte, const tensor&,
                     std::int64_t) -> caf::result<ok_atom> {
        auto op = op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        return to_caf_error(policy->reject_cross_replica(to_string(*op)));
      },
      // No synchronization: a rejoining replica's copy starts over at the
      // variable's initial value, as a new replica's would.
      [self](rejoin_atom, std::uint64_t index,
             caf::actor& replica) -> caf::result<ok_atom> {
        if (auto later = rejoin_after_loss(self, index, replica))
          return std::move(*later);
        return readmit_replica(self, index, replica, self->state.spec.initial);
      },
  };
  return std::move(behavior.unbox());
}

} // namespace varsync
