#include "actors/policies/local_only/host_side.hpp"

namespace varsync {

host_update_plan local_copy_part::update(update_op op, const tensor& operand) {
  slot_->update(op, operand);
  return expected<void>{};
}

std::optional<host_update_plan>
local_copy_part::add_rows(std::span<const std::int64_t> rows,
                          const tensor& values) {
  slot_->add_rows(rows, values);
  return host_update_plan{expected<void>{}};
}

std::shared_ptr<local_part> make_local_copy_part(const local_part_spec& spec,
                                                 local_store&) {
  return std::make_shared<local_copy_part>(spec);
}

} // namespace varsync
