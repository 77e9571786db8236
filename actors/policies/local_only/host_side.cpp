#include "actors/policies/local_only/host_side.hpp"

namespace varsync {

host_update_plan local_copy_part::update(update_op op, const tensor& operand) {
  slot_->update(op, operand);
  return expected<void>{};
}

std::shared_ptr<local_part> make_local_copy_part(const local_part_spec& spec,
                                                 local_store&) {
  return std::make_shared<local_copy_part>(spec);
}

} // namespace varsync
