#include "actors/policies/eager_broadcast/host_side.hpp"

#include "runtime/core/row_delta.hpp"

namespace varsync {

host_update_plan eager_broadcast_local_part::update(update_op op,
                                                    const tensor& operand) {
  if (auto missing = aggregation_missing(op))
    return expected<void>{*missing};
  return collective_update{op, operand, {}};
}

std::optional<host_update_plan>
eager_broadcast_local_part::add_rows(std::span<const std::int64_t> rows,
                                     const tensor& values) {
  if (options_.aggregation == aggregation::min ||
      options_.aggregation == aggregation::max)
    return std::nullopt;
  if (auto missing = aggregation_missing(update_op::add_rows))
    return host_update_plan{expected<void>{*missing}};
  return host_update_plan{
      collective_update{update_op::add_rows, pack_rows(rows, values), {}}};
}

std::optional<host_update_plan>
eager_broadcast_local_part::assign_rows(std::span<const std::int64_t> rows,
                                        const tensor& values) {
  if (auto missing = aggregation_missing(update_op::assign_rows))
    return host_update_plan{expected<void>{*missing}};
  return host_update_plan{
      collective_update{update_op::assign_rows, pack_rows(rows, values), {}}};
}

std::shared_ptr<local_part>
make_eager_broadcast_local_part(const local_part_spec& spec, local_store&) {
  return std::make_shared<eager_broadcast_local_part>(spec);
}

} // namespace varsync
