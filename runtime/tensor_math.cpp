#include "runtime/tensor_math.hpp"

#include <vector>

namespace varsync {

const char* to_string(update_op op) noexcept {
  switch (op) {
  case update_op::assign:
    return "assign";
  case update_op::add:
    return "assign_add";
  case update_op::subtract:
    return "assign_sub";
  }
  return "invalid";
}

expected<void> check_operand(const tensor& value, dtype expected_type,
                             const shape_type& expected_shape,
                             const std::string& variable_name) {
  if (value.type() != expected_type)
    return error{errc::dtype_mismatch,
                 "variable '" + variable_name + "' has dtype " +
                     to_string(expected_type) + ", got a " +
                     to_string(value.type()) + " tensor"};
  if (value.shape() != expected_shape)
    return error{errc::shape_mismatch,
                 "variable '" + variable_name + "' has shape " +
                     to_string(expected_shape) + ", got a tensor of shape " +
                     to_string(value.shape())};
  return {};
}

namespace {

/// Calls `f(tag)` with a value of the element type of `type`.
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

/// A new tensor of `like`'s dtype and shape whose elements are
/// `op(x[i], y[i])`.
template <class Op> tensor binary(const tensor& x, const tensor& y, Op op) {
  return visit_dtype(x.type(), [&](auto tag) {
    using element_type = decltype(tag);
    tensor result = x;
    auto out = result.mutable_values<element_type>();
    auto rhs = y.values<element_type>();
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = op(out[i], rhs[i]);
    return result;
  });
}

} // namespace

tensor apply(update_op op, const tensor& current, const tensor& operand) {
  switch (op) {
  case update_op::assign:
    return operand;
  case update_op::add:
    return binary(current, operand, [](auto a, auto b) { return a + b; });
  case update_op::subtract:
    return binary(current, operand, [](auto a, auto b) { return a - b; });
  }
  return current;
}

tensor scale(const tensor& x, double factor) {
  return visit_dtype(x.type(), [&](auto tag) {
    using element_type = decltype(tag);
    tensor result = x;
    for (auto& element : result.mutable_values<element_type>())
      element = static_cast<element_type>(element * factor);
    return result;
  });
}

tensor divide(const tensor& x, std::int64_t divisor) {
  return visit_dtype(x.type(), [&](auto tag) {
    using element_type = decltype(tag);
    tensor result = x;
    for (auto& element : result.mutable_values<element_type>())
      element = static_cast<element_type>(element /
                                          static_cast<element_type>(divisor));
    return result;
  });
}

tensor aggregate(std::span<const tensor> values, aggregation how) {
  // A mean of one value is the value itself, bit for bit.
  if (how == aggregation::only_first_replica || values.size() == 1)
    return values.front();
  // One pass over the data: out[i] = ((v0[i] + v1[i]) + ...) [/ n], the
  // same operations in the same order as adding the values one by one and
  // dividing at the end, so the result is bit for bit the same; but one
  // copy (of v0) and one sweep instead of a copy and a sweep per value.
  return visit_dtype(values.front().type(), [&](auto tag) {
    using element_type = decltype(tag);
    tensor total = values.front();
    auto out = total.mutable_values<element_type>();
    std::vector<const element_type*> inputs;
    for (std::size_t k = 1; k < values.size(); ++k)
      inputs.push_back(values[k].values<element_type>().data());
    const auto divisor = static_cast<element_type>(values.size());
    const bool mean = how == aggregation::mean;
    for (std::size_t i = 0; i < out.size(); ++i) {
      auto sum = out[i];
      for (const auto* input : inputs)
        sum = sum + input[i];
      out[i] = mean ? static_cast<element_type>(sum / divisor) : sum;
    }
    return total;
  });
}

} // namespace varsync
