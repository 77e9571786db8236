#include "actors/policies/reduce_on_read/state_machine.hpp"

#include "runtime/core/row_delta.hpp"

#include <optional>

namespace varsync::policies {

expected<void> reduce_on_read::check_read() const {
  if (config_.how == aggregation::none)
    return error{errc::aggregation_required,
                 "variable '" + config_.variable_name +
                     "': a cross-replica read of an on_read variable "
                     "aggregates the replicas' copies and needs aggregation "
                     "sum, mean, only_first_replica, min or max, the "
                     "variable has aggregation none"};
  return {};
}

tensor reduce_on_read::finish_read(const std::vector<tensor>& copies) const {
  return aggregate(copies, config_.how);
}

expected<copy_update> reduce_on_read::plan_update(update_op op,
                                                  const tensor& operand) const {
  if (op == update_op::assign_rows)
    return error{errc::wrong_context,
                 "variable '" + config_.variable_name +
                     "': cross-replica assign_rows of an on_read variable is "
                     "not allowed (its copies are written in replica context "
                     "only)"};
  std::optional<tensor> rows; // add_rows: the distinct rows
  if (op == update_op::add_rows) {
    auto summed = combine_repeated_rows(operand, config_.type, config_.shape,
                                        config_.variable_name);
    if (!summed)
      return summed.error();
    rows = std::move(*summed);
  } else if (auto checked = check_operand(operand, config_.type, config_.shape,
                                          config_.variable_name);
             !checked) {
    return checked.error();
  }
  if (op == update_op::assign) {
    if (config_.how == aggregation::sum)
      return copy_update{
          update_op::assign,
          divide(operand, static_cast<std::int64_t>(config_.replicas))};
    return copy_update{update_op::assign, operand};
  }
  if (config_.how == aggregation::sum)
    return error{errc::wrong_context,
                 "variable '" + config_.variable_name + "': cross-replica " +
                     to_string(op) +
                     " of an on_read variable with aggregation sum is not "
                     "allowed (the sum would change by R times the delta); "
                     "use assign, or update in replica context"};
  if (rows)
    // Every copy adds them in place.
    return copy_update{op, std::move(*rows)};
  return copy_update{op, operand};
}

} // namespace varsync::policies
