#pragma once

// Checks shared by the runtime and replica handles before any message is
// sent: the handle is valid and belongs to this runtime, the operand fits.

#include "actors/records.hpp"
#include "runtime/core/tensor_math.hpp"
#include "varsync/variable.hpp"

#include <string>

namespace varsync::detail {

/// `unknown_variable` unless `var` is a valid handle of `runtime`.
inline expected<void> check_handle(const variable& var,
                                   const runtime_core* runtime,
                                   const char* call) {
  if (!var.valid())
    return error{errc::unknown_variable, std::string{call} +
                                             ": the variable handle is empty "
                                             "(default-constructed)"};
  if (var.record()->group->runtime != runtime)
    return error{errc::unknown_variable, std::string{call} + ": variable '" +
                                             var.name() +
                                             "' belongs to another runtime"};
  return {};
}

/// `check_handle` plus the operand's dtype and shape.
inline expected<void> check_update(const variable& var,
                                   const runtime_core* runtime,
                                   const tensor& operand, const char* call) {
  if (auto valid = check_handle(var, runtime, call); !valid)
    return valid;
  return check_operand(operand, var.type(), var.shape(), var.name());
}

/// "assign of variable 'w'", for messages about CAF's own errors.
inline std::string describe_call(const char* call, const variable& var) {
  if (!var.valid())
    return std::string{call} + " of an empty variable handle";
  return std::string{call} + " of variable '" + var.name() + "'";
}

} // namespace varsync::detail
