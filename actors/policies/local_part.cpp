#include "actors/policies/local_part.hpp"

namespace varsync {

std::optional<error> local_part::aggregation_missing(update_op op) const {
  if (options_.aggregation != aggregation::none || replicas_ <= 1)
    return std::nullopt;
  return error{errc::aggregation_required,
               "variable '" + name_ + "': " + to_string(op) +
                   " in replica context with " + std::to_string(replicas_) +
                   " replicas needs an aggregation (sum, mean, "
                   "only_first_replica, min or max), the variable has "
                   "aggregation none"};
}

} // namespace varsync
