#pragma once

// Dispatch on a tensor's element type: one generic lambda instead of a
// switch per operation.

#include "varsync/tensor.hpp"

#include <cstdint>

namespace varsync {

/// Calls `f(tag)` with a value-initialized element of `type`'s C++ type
/// (float, double or std::int64_t) and returns what it returns.
template <class F> decltype(auto) visit_dtype(dtype type, F&& f) {
  switch (type) {
  case dtype::f32:
    return f(float{});
  case dtype::f64:
    return f(double{});
  default:
    return f(std::int64_t{});
  }
}

} // namespace varsync
