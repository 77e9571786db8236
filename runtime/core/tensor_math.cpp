#include "runtime/core/tensor_math.hpp"

#include "runtime/core/wording.hpp"

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
                     to_string(expected_type) + ", got " +
                     wording::with_article(value.type()) + " tensor"};
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

/// A new tensor of `like`'s dtype and shape, for a result that overwrites
/// every element (cheaper than copying `like` and updating it in place: the
/// buffer is written once instead of read and written twice).
tensor fresh_like(const tensor& like) {
  return *tensor::uninitialized(like.type(), like.shape());
}

/// Whether `x` and `y` have the same dtype and shape (the precondition of
/// every element-wise operation here).
bool same_layout(const tensor& x, const tensor& y) {
  return x.type() == y.type() && x.shape() == y.shape();
}

/// A new tensor of `x`'s dtype and shape whose elements are
/// `op(x[i], y[i])`; `x` itself if `y` has another dtype or shape (callers
/// check operands first; this only keeps a bug from reading past a buffer).
template <class Op> tensor binary(const tensor& x, const tensor& y, Op op) {
  if (!same_layout(x, y))
    return x;
  return visit_dtype(x.type(), [&](auto tag) {
    using element_type = decltype(tag);
    tensor result = fresh_like(x);
    auto out = result.mutable_values<element_type>();
    auto lhs = x.values<element_type>();
    auto rhs = y.values<element_type>();
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = op(lhs[i], rhs[i]);
    return result;
  });
}

/// `first(i) ± combine(values)[i]` in one pass, where combine adds
/// `values` in index order and divides by their count for a mean: the same
/// operations in the same order as `aggregate` followed by `apply`, so the
/// result is bit for bit the same. `sign` is +1, -1 or 0 (no `first`).
template <class T>
void combine_into(std::span<T> out, const T* first, int sign,
                  std::span<const tensor> values, bool mean) {
  std::vector<const T*> inputs;
  for (const auto& value : values)
    inputs.push_back(value.values<T>().data());
  const auto divisor = static_cast<T>(values.size());
  const auto* v0 = inputs.front();
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto sum = v0[i];
    for (std::size_t k = 1; k < inputs.size(); ++k)
      sum = sum + inputs[k][i];
    auto combined = mean ? static_cast<T>(sum / divisor) : sum;
    out[i] = sign > 0   ? static_cast<T>(first[i] + combined)
             : sign < 0 ? static_cast<T>(first[i] - combined)
                        : combined;
  }
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
  if (values.empty())
    return tensor{};
  // A value of another dtype or shape is never read past its end: the
  // first value stands for the aggregate (callers validate contributions).
  for (const auto& value : values)
    if (!same_layout(value, values.front()))
      return values.front();
  // A mean of one value is the value itself, bit for bit.
  if (how == aggregation::only_first_replica || values.size() == 1)
    return values.front();
  // One pass over the data into a fresh buffer: out[i] = ((v0[i] + v1[i])
  // + ...) [/ n], the same operations in the same order as adding the
  // values one by one and dividing at the end.
  return visit_dtype(values.front().type(), [&](auto tag) {
    using element_type = decltype(tag);
    tensor total = fresh_like(values.front());
    combine_into<element_type>(total.mutable_values<element_type>(), nullptr, 0,
                               values, how == aggregation::mean);
    return total;
  });
}

tensor apply_aggregate(update_op op, const tensor& current,
                       std::span<const tensor> values, aggregation how) {
  if (values.empty())
    return current;
  for (const auto& value : values)
    if (!same_layout(value, current))
      return current;
  if (op == update_op::assign || how == aggregation::only_first_replica ||
      values.size() == 1)
    return apply(op, current, aggregate(values, how));
  return visit_dtype(current.type(), [&](auto tag) {
    using element_type = decltype(tag);
    tensor result = fresh_like(current);
    combine_into<element_type>(result.mutable_values<element_type>(),
                               current.values<element_type>().data(),
                               op == update_op::add ? 1 : -1, values,
                               how == aggregation::mean);
    return result;
  });
}

} // namespace varsync
