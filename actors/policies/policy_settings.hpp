#pragma once

// What every policy state machine knows about its variable.

#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace varsync::policies {

/// The variable a policy instance coordinates.
struct policy_settings {
  /// For error messages.
  std::string variable_name;
  dtype type = dtype::f32;
  shape_type shape;
  aggregation how = aggregation::none;
  /// The size R of the replica group.
  std::size_t replicas = 1;
  /// Whether steps may be row deltas (update_op::add_rows): on_write
  /// variables; periodic steps are whole changes.
  bool row_steps = false;
};

/// The error for a message naming `replica` when it is out of range or no
/// longer `live`, or nullopt when it is a live member of the group.
inline std::optional<error> not_a_live_member(const policy_settings& settings,
                                              const std::vector<bool>& live,
                                              std::size_t replica) {
  if (replica < settings.replicas && replica < live.size() && live[replica])
    return std::nullopt;
  return error{errc::invalid_argument,
               "variable '" + settings.variable_name + "': replica " +
                   std::to_string(replica) +
                   " is not a live member of the group of " +
                   std::to_string(settings.replicas)};
}

} // namespace varsync::policies
