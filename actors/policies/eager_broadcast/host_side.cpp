#include "actors/policies/eager_broadcast/host_side.hpp"

namespace varsync {

host_update_plan eager_broadcast_local_part::update(update_op op,
                                                    const tensor& operand) {
  if (auto missing = aggregation_missing(op))
    return expected<void>{*missing};
  return collective_update{op, operand, {}};
}

std::shared_ptr<local_part>
make_eager_broadcast_local_part(const local_part_spec& spec, local_store&) {
  return std::make_shared<eager_broadcast_local_part>(spec);
}

} // namespace varsync
