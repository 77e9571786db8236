#include "runtime/sharding/shard_layout.hpp"

#include "runtime/core/row_math.hpp"

#include <algorithm>
#include <cstring>

namespace varsync::detail {

namespace {

/// Bytes per row of a tensor of `shape` and `type`.
std::size_t row_bytes(dtype type, const shape_type& shape) {
  return row_length(shape) * size_of(type);
}

shape_type with_rows(shape_type shape, std::int64_t rows) {
  shape.front() = rows;
  return shape;
}

tensor uninitialized_or_die(dtype type, shape_type shape) {
  // Shapes here come from a checked variable: the allocation is the only
  // way this can fail, and that fails loudly like any other allocation.
  auto result = tensor::uninitialized(type, std::move(shape));
  if (!result)
    throw std::bad_alloc{};
  return std::move(*result);
}

} // namespace

std::vector<std::int64_t> shard_bounds(std::int64_t rows, std::size_t shards) {
  auto count = static_cast<std::int64_t>(shards);
  auto base = rows / count;
  auto longer = rows % count;
  std::vector<std::int64_t> bounds{0};
  for (std::int64_t i = 0; i < count; ++i)
    bounds.push_back(bounds.back() + base + (i < longer ? 1 : 0));
  return bounds;
}

std::string shard_name(const std::string& name, std::size_t index,
                       std::size_t count) {
  return name + "/shard-" + std::to_string(index) + "-of-" +
         std::to_string(count);
}

std::string layout_name(const std::string& name) {
  return name + "/shards";
}

tensor slice_rows(const tensor& value, std::int64_t first, std::int64_t last) {
  return value.row_slice(first, last);
}

tensor concat_rows(std::span<const tensor> parts, const shape_type& whole) {
  auto result = uninitialized_or_die(parts.front().type(), whole);
  auto out = result.mutable_bytes();
  std::size_t offset = 0;
  for (const auto& part : parts) {
    auto bytes = part.bytes();
    if (!bytes.empty())
      std::memcpy(out.data() + offset, bytes.data(), bytes.size());
    offset += bytes.size();
  }
  return result;
}

std::vector<shard_rows> split_rows(std::span<const std::int64_t> rows,
                                   std::span<const std::int64_t> bounds) {
  std::vector<shard_rows> result(bounds.size() - 1);
  for (std::size_t position = 0; position < rows.size(); ++position) {
    auto row = rows[position];
    // The shard whose range holds `row`: the last bound not above it.
    auto shard = static_cast<std::size_t>(
        std::upper_bound(bounds.begin(), bounds.end(), row) - bounds.begin() -
        1);
    result[shard].rows.push_back(row - bounds[shard]);
    result[shard].positions.push_back(position);
  }
  return result;
}

tensor pick_rows(const tensor& values, std::span<const std::size_t> positions) {
  auto bytes = row_bytes(values.type(), values.shape());
  auto result = uninitialized_or_die(
      values.type(),
      with_rows(values.shape(), static_cast<std::int64_t>(positions.size())));
  auto out = result.mutable_bytes();
  auto in = values.bytes();
  for (std::size_t i = 0; i < positions.size(); ++i)
    std::memcpy(out.data() + i * bytes, in.data() + positions[i] * bytes,
                bytes);
  return result;
}

void place_rows(tensor& out, std::span<const std::size_t> positions,
                const tensor& part) {
  auto bytes = row_bytes(out.type(), out.shape());
  auto target = out.mutable_bytes();
  auto in = part.bytes();
  for (std::size_t i = 0; i < positions.size(); ++i)
    std::memcpy(target.data() + positions[i] * bytes, in.data() + i * bytes,
                bytes);
}

} // namespace varsync::detail
