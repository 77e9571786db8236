#include "actors/policies/reduce_on_read/replica_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/reduce_on_read/interface.hpp"

namespace varsync {

caf::message_handler reduce_on_read_replica_side(replica_actor_type* self) {
  // Typed: the compiler checks these handlers against the interface.
  reduce_on_read_replica::behavior_type behavior{
      [self](copy_get_atom, variable_id id) -> caf::result<tensor> {
        auto slot = self->state.store->find(id);
        if (!slot)
          return to_caf_error(not_attached(self->state.index, id));
        return slot->load()->value;
      },
      [self](copy_set_atom, variable_id id, std::uint8_t op_byte,
             const tensor& operand) -> caf::result<ok_atom> {
        auto op = op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto slot = self->state.store->find(id);
        if (!slot)
          return to_caf_error(not_attached(self->state.index, id));
        slot->update(*op, operand);
        return ok_atom::value;
      },
  };
  return caf::message_handler{behavior.unbox().as_behavior_impl()};
}

} // namespace varsync
