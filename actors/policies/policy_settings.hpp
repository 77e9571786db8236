#pragma once

// What every policy state machine knows about its variable.

#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <string>

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
};

} // namespace varsync::policies
