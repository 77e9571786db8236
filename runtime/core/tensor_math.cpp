#include "runtime/core/tensor_math.hpp"

#include "runtime/core/row_delta.hpp"
#include "runtime/core/visit_dtype.hpp"
#include "runtime/core/wording.hpp"

#include <algorithm>
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
  case update_op::add_rows:
    return "assign_add_rows";
  case update_op::assign_rows:
    return "assign_rows";
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

/// Elements folded per block by `combine_into`: a block's running fold
/// lives in a stack array (4 KiB for f32) that stays in L1 while every
/// input passes over it.
template <class T>
inline constexpr std::size_t combine_block = 4096 / sizeof(T);

/// One block of `combine_into`: `count` elements from `offset`. Each loop
/// is a plain pass over non-overlapping arrays, which the compiler
/// vectorizes (with `count` a std::integral_constant, also under -O2's cheap
/// cost model); per element the operations and their order are the ones of the
/// scalar definition, so the result is bit for bit the same.
template <class T, class Count, class Fold, class Finish>
void combine_one_block(T* __restrict out, const T* __restrict first, int sign,
                       const std::vector<const T*>& inputs, Count count,
                       Fold fold, Finish finish) {
  T folded[combine_block<T>];
  const T* __restrict v0 = inputs.front();
  for (std::size_t i = 0; i < count; ++i)
    folded[i] = v0[i];
  for (std::size_t k = 1; k < inputs.size(); ++k) {
    const T* __restrict vk = inputs[k];
    for (std::size_t i = 0; i < count; ++i)
      folded[i] = fold(folded[i], vk[i]);
  }
  if (sign > 0) {
    for (std::size_t i = 0; i < count; ++i)
      out[i] = static_cast<T>(first[i] + finish(folded[i]));
  } else if (sign < 0) {
    for (std::size_t i = 0; i < count; ++i)
      out[i] = static_cast<T>(first[i] - finish(folded[i]));
  } else {
    for (std::size_t i = 0; i < count; ++i)
      out[i] = finish(folded[i]);
  }
}

/// `first(i) ± combine(values)[i]` in one pass, where combine folds
/// `values` in index order (sum, dividing by their count for a mean; or
/// the elementwise minimum / maximum, as std::min / std::max fold): the
/// same operations in the same order as `aggregate` followed by `apply`, so
/// the result is bit for bit the same. `sign` is +1, -1 or 0 (no `first`).
/// `out` overlaps neither `first` nor a value (callers pass a fresh
/// buffer). The data goes block by block (`combine_one_block`): the
/// reduce of an on_write step runs at memory speed, not one element at a
/// time (16% of a 16 MiB P = 2 step's CPU before, scalar). Only elements
/// [begin, end) are read and written.
template <class T>
void combine_into(std::span<T> out, const T* first, int sign,
                  std::span<const tensor> values, aggregation how,
                  std::size_t begin, std::size_t end) {
  std::vector<const T*> inputs;
  for (const auto& value : values)
    inputs.push_back(value.values<T>().data());
  const auto divisor = static_cast<T>(values.size());
  auto run = [&](auto fold, auto finish) {
    constexpr auto block = combine_block<T>;
    std::vector<const T*> at(inputs.size());
    auto one_block = [&](std::size_t offset, auto count) {
      for (std::size_t k = 0; k < inputs.size(); ++k)
        at[k] = inputs[k] + offset;
      combine_one_block<T>(out.data() + offset,
                           first == nullptr ? nullptr : first + offset, sign,
                           at, count, fold, finish);
    };
    std::size_t offset = begin;
    for (; offset + block <= end; offset += block)
      one_block(offset, std::integral_constant<std::size_t, block>{});
    if (offset < end)
      one_block(offset, end - offset);
  };
  auto add = [](T a, T b) { return static_cast<T>(a + b); };
  auto keep = [](T x) { return x; };
  switch (how) {
  case aggregation::mean:
    run(add, [divisor](T x) { return static_cast<T>(x / divisor); });
    return;
  case aggregation::min:
    run([](T a, T b) { return std::min(a, b); }, keep);
    return;
  case aggregation::max:
    run([](T a, T b) { return std::max(a, b); }, keep);
    return;
  default: // sum (callers handle none and only_first_replica)
    run(add, keep);
    return;
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
  case update_op::add_rows: {
    if (!check_packed_rows(operand, current.type(), current.shape(), ""))
      return current;
    tensor result = current;
    add_packed_rows_into(
        result, aggregate_packed_rows({&operand, 1}, aggregation::sum));
    return result;
  }
  case update_op::assign_rows: {
    if (!check_packed_rows(operand, current.type(), current.shape(), ""))
      return current;
    tensor result = current;
    add_packed_rows_into(result, setting_rows(operand));
    return result;
  }
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
    auto out = total.mutable_values<element_type>();
    combine_into<element_type>(out, nullptr, 0, values, how, 0, out.size());
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
    auto out = result.mutable_values<element_type>();
    combine_into<element_type>(out, current.values<element_type>().data(),
                               op == update_op::add ? 1 : -1, values, how, 0,
                               out.size());
    return result;
  });
}

bool reduces_in_ranges(update_op op, aggregation how) noexcept {
  return (op == update_op::add || op == update_op::subtract) &&
         (how == aggregation::sum || how == aggregation::mean ||
          how == aggregation::min || how == aggregation::max);
}

void apply_aggregate_range(std::span<std::byte> out, update_op op,
                           const tensor& current,
                           std::span<const tensor> values, aggregation how,
                           std::size_t begin, std::size_t end) {
  if (values.empty() || !reduces_in_ranges(op, how) ||
      out.size() != current.bytes().size() || begin > end ||
      end > current.size())
    return;
  for (const auto& value : values)
    if (!same_layout(value, current))
      return;
  visit_dtype(current.type(), [&](auto tag) {
    using element_type = decltype(tag);
    std::span<element_type> elements{
        reinterpret_cast<element_type*>(out.data()), current.size()};
    combine_into<element_type>(elements, current.values<element_type>().data(),
                               op == update_op::add ? 1 : -1, values, how,
                               begin, end);
  });
}

} // namespace varsync
