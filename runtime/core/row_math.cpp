#include "runtime/core/row_math.hpp"

#include "runtime/core/visit_dtype.hpp"
#include "runtime/core/wording.hpp"

#include <cstring>
#include <unordered_map>
#include <vector>

namespace varsync {

std::size_t row_length(const shape_type& shape) {
  std::size_t length = 1;
  for (std::size_t d = 1; d < shape.size(); ++d)
    length *= static_cast<std::size_t>(shape[d]);
  return length;
}

expected<std::span<const std::int64_t>>
row_indices_of(const tensor& indices, const shape_type& shape,
               const std::string& name) {
  if (indices.type() != dtype::i64 || indices.shape().size() != 1)
    return error{errc::invalid_argument,
                 "variable '" + name +
                     "': row indices must be an i64 tensor of rank 1, got " +
                     wording::with_article(indices.type()) +
                     " tensor of shape " + to_string(indices.shape())};
  auto rows = indices.values<std::int64_t>();
  if (auto valid = check_rows(dtype::i64, shape, rows, nullptr, name); !valid)
    return valid.error();
  return rows;
}

expected<void> check_rows(dtype type, const shape_type& shape,
                          std::span<const std::int64_t> rows,
                          const tensor* values, const std::string& name) {
  if (shape.empty())
    return error{errc::invalid_argument,
                 "variable '" + name +
                     "' is a scalar: it has no rows to read or update"};
  auto count = shape.front();
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i] < 0 || rows[i] >= count)
      return error{errc::invalid_argument,
                   "variable '" + name + "': row index " +
                       std::to_string(rows[i]) + " (position " +
                       std::to_string(i) +
                       " of the indices) is out of range "
                       "for its " +
                       std::to_string(count) + " rows"};
  if (values == nullptr)
    return {};
  if (values->type() != type)
    return error{errc::dtype_mismatch,
                 "variable '" + name + "' has dtype " + to_string(type) +
                     ", got rows of " + wording::with_article(values->type()) +
                     " tensor"};
  shape_type expected = shape;
  expected.front() = static_cast<std::int64_t>(rows.size());
  if (values->shape() != expected)
    return error{errc::shape_mismatch,
                 "variable '" + name + "': " + std::to_string(rows.size()) +
                     " row indices take rows of shape " + to_string(expected) +
                     ", got a tensor of shape " + to_string(values->shape())};
  return {};
}

tensor gather_rows(const tensor& x, std::span<const std::int64_t> rows) {
  shape_type shape = x.shape();
  shape.front() = static_cast<std::int64_t>(rows.size());
  auto result = *tensor::uninitialized(x.type(), shape);
  auto row_bytes = row_length(x.shape()) * size_of(x.type());
  auto from = x.bytes();
  auto into = result.mutable_bytes();
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(into.data() + i * row_bytes,
                from.data() + static_cast<std::size_t>(rows[i]) * row_bytes,
                row_bytes);
  return result;
}

tensor scatter_rows(dtype type, const shape_type& shape,
                    std::span<const std::int64_t> rows, const tensor& values) {
  auto result = *tensor::filled(type, shape, 0);
  auto length = row_length(shape);
  auto add = [&](auto tag) {
    using T = decltype(tag);
    auto into = result.mutable_values<T>();
    auto from = values.values<T>();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto* row = into.data() + static_cast<std::size_t>(rows[i]) * length;
      const auto* add_row = from.data() + i * length;
      for (std::size_t j = 0; j < length; ++j)
        row[j] = static_cast<T>(row[j] + add_row[j]);
    }
  };
  visit_dtype(type, add);
  return result;
}

void add_rows_into(tensor& value, std::span<const std::int64_t> rows,
                   const tensor& values) {
  if (rows.empty())
    return;
  auto length = row_length(value.shape());
  // Each distinct row's position among the distinct rows, in first-seen
  // order; `partial` holds their sums when some row repeats.
  std::unordered_map<std::int64_t, std::size_t> distinct;
  distinct.reserve(rows.size());
  std::vector<std::size_t> position(rows.size());
  std::vector<std::int64_t> targets;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto [at, fresh] = distinct.try_emplace(rows[i], targets.size());
    if (fresh)
      targets.push_back(rows[i]);
    position[i] = at->second;
  }
  auto add = [&](auto tag) {
    using T = decltype(tag);
    auto from = values.values<T>();
    std::vector<T> partial;
    std::span<const T> sums = from;
    if (targets.size() != rows.size()) {
      partial.assign(targets.size() * length, T{0});
      for (std::size_t i = 0; i < rows.size(); ++i) {
        auto* sum = partial.data() + position[i] * length;
        const auto* add_row = from.data() + i * length;
        for (std::size_t j = 0; j < length; ++j)
          sum[j] = static_cast<T>(sum[j] + add_row[j]);
      }
      sums = partial;
    }
    auto into = value.mutable_values<T>();
    for (std::size_t k = 0; k < targets.size(); ++k) {
      auto* row = into.data() + static_cast<std::size_t>(targets[k]) * length;
      const auto* sum = sums.data() + k * length;
      // `T{0} + x`: the dense delta's element, bit for bit (-0.0 included).
      for (std::size_t j = 0; j < length; ++j)
        row[j] = static_cast<T>(row[j] + static_cast<T>(T{0} + sum[j]));
    }
  };
  visit_dtype(value.type(), add);
}

void assign_rows_into(tensor& value, std::span<const std::int64_t> rows,
                      const tensor& values) {
  if (rows.empty())
    return;
  auto bytes = row_length(value.shape()) * size_of(value.type());
  auto into = value.mutable_bytes();
  auto from = values.bytes();
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(into.data() + static_cast<std::size_t>(rows[i]) * bytes,
                from.data() + i * bytes, bytes);
}

} // namespace varsync
