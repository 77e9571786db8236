#pragma once

// How a sharded variable's value is cut into shards: contiguous ranges of
// rows (slices along the first dimension; a 1-D tensor's elements), and
// the copies between the whole value, its shards and row lists.

#include "varsync/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace varsync::detail {

/// The row bounds of `shards` shards of `rows` rows: shard i holds rows
/// [bounds[i], bounds[i + 1]); the first `rows % shards` shards hold one
/// row more than the others. Size shards + 1. Precondition: 1 <= shards
/// <= rows.
std::vector<std::int64_t> shard_bounds(std::int64_t rows, std::size_t shards);

/// The name of shard `index` of `count` of variable `name`, e.g.
/// "w/shard-1-of-4".
std::string shard_name(const std::string& name, std::size_t index,
                       std::size_t count);

/// The name of the variable that records the layout of sharded variable
/// `name` (its row bounds), e.g. "w/shards".
std::string layout_name(const std::string& name);

/// Rows [first, last) of `value`, sharing its buffer (tensor::row_slice:
/// no copy). Precondition: rank >= 1, 0 <= first <= last <= rows.
tensor slice_rows(const tensor& value, std::int64_t first, std::int64_t last);

/// The shards `parts` stacked along the first dimension into one tensor of
/// `whole` shape (one copy). Precondition: the parts have the same dtype
/// and their row counts add up to whole[0].
tensor concat_rows(std::span<const tensor> parts, const shape_type& whole);

/// A row list split by shard: the rows that fall into one shard, as
/// indices within the shard, and where each stood in the caller's list.
struct shard_rows {
  std::vector<std::int64_t> rows;
  std::vector<std::size_t> positions;
};

/// `rows` (checked against the whole variable) split by the shards of
/// `bounds`; one entry per shard, empty for a shard no row falls into.
std::vector<shard_rows> split_rows(std::span<const std::int64_t> rows,
                                   std::span<const std::int64_t> bounds);

/// The rows of `values` at `positions`, in that order: the values of one
/// shard's part of a row update.
tensor pick_rows(const tensor& values, std::span<const std::size_t> positions);

/// Writes `part`'s rows to rows `positions` of `out` (a read_rows result
/// being assembled from its shards). Precondition: `out` is not shared.
void place_rows(tensor& out, std::span<const std::size_t> positions,
                const tensor& part);

} // namespace varsync::detail
