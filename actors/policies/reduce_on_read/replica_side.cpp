#include "actors/policies/reduce_on_read/replica_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/reduce_on_read/interface.hpp"
#include "runtime/core/row_delta.hpp"
#include "runtime/core/row_math.hpp"

#include <string>

namespace varsync {

namespace {

/// The name of variable `id` at this replica, for error messages.
std::string slot_name(replica_actor_type* self, variable_id id) {
  auto i = self->state.variables.find(id);
  return i != self->state.variables.end() ? i->second.name
                                          : "with id " + std::to_string(id);
}

} // namespace

caf::message_handler reduce_on_read_replica_side(replica_actor_type* self) {
  // Typed: the compiler checks these handlers against the interface.
  reduce_on_read_replica::behavior_type behavior{
      [self](copy_get_atom, variable_id id) -> caf::result<tensor> {
        auto slot = self->state.store->find(id);
        if (!slot)
          return to_caf_error(not_attached(self->state.index, id));
        return slot->load()->value;
      },
      [self](copy_rows_atom, variable_id id,
             const tensor& rows) -> caf::result<tensor> {
        auto slot = self->state.store->find(id);
        if (!slot)
          return to_caf_error(not_attached(self->state.index, id));
        auto current = slot->load();
        auto indices =
            row_indices_of(rows, current->value.shape(), slot_name(self, id));
        if (!indices)
          return to_caf_error(indices.error());
        return gather_rows(current->value, *indices);
      },
      [self](copy_set_atom, variable_id id, std::uint8_t op_byte,
             const tensor& operand) -> caf::result<ok_atom> {
        auto op = step_op_from_wire(op_byte);
        if (!op || *op == update_op::assign_rows)
          return to_caf_error(invalid_op(op_byte));
        auto slot = self->state.store->find(id);
        if (!slot)
          return to_caf_error(not_attached(self->state.index, id));
        if (*op != update_op::add_rows) {
          slot->update(*op, operand);
          return ok_atom::value;
        }
        // Rows from the network: checked, then added in place.
        const auto& value = slot->load()->value;
        if (auto valid = check_packed_rows(operand, value.type(), value.shape(),
                                           slot_name(self, id));
            !valid)
          return to_caf_error(valid.error());
        slot->add_packed_rows(operand);
        return ok_atom::value;
      },
  };
  return caf::message_handler{behavior.unbox().as_behavior_impl()};
}

} // namespace varsync
