#pragma once

// Element-wise arithmetic the policies need: checking an operand against a
// variable, applying an update and aggregating per-replica values. Every
// result is a fresh tensor; inputs are never modified.

#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace varsync {

/// The ways a variable is updated.
enum class update_op : std::uint8_t {
  assign = 0,
  add = 1,
  subtract = 2,
  /// assign_add of some rows only: the operand is a packed row delta
  /// (runtime/core/row_delta.hpp). on_write's collective steps only.
  add_rows = 3,
  /// assign of some rows only (TF's scatter_update): the operand is a
  /// packed row delta whose rows are written over (a repeated row ends
  /// with its last value). on_write's collective steps only.
  assign_rows = 4,
};

/// "assign", "assign_add", "assign_sub", "assign_add_rows" or
/// "assign_rows".
const char* to_string(update_op op) noexcept;

/// Checks that `value` has the variable's dtype and shape; otherwise a
/// `dtype_mismatch` / `shape_mismatch` naming `variable_name`, the expected
/// and the received dtype or shape.
expected<void> check_operand(const tensor& value, dtype expected_type,
                             const shape_type& expected_shape,
                             const std::string& variable_name);

/// `current` after `op` with `operand` (same dtype and shape; an operand of
/// another dtype or shape leaves `current` unchanged, never read past its
/// buffer). add_rows: `operand` is a packed row delta (repeated rows
/// summed first); assign_rows: one whose rows are written over (the last
/// of a repeated row wins); one that fails check_packed_rows leaves
/// `current` unchanged.
tensor apply(update_op op, const tensor& current, const tensor& operand);

/// Element-wise `x * factor` (integers: truncated toward zero).
tensor scale(const tensor& x, double factor);

/// Element-wise `x / divisor` (integers: truncated toward zero).
tensor divide(const tensor& x, std::int64_t divisor);

/// Combines per-replica `values` (index order) by `how`: sum adds them in
/// index order (so every replica computes bit-identical results), mean
/// divides that sum by the count, min and max take the elementwise minimum
/// and maximum (folding as std::min / std::max do), only_first_replica
/// returns `values[0]`.
/// Precondition: `values` non-empty, same dtype/shape, `how != none` (if
/// not: an empty tensor for no values, else `values[0]`; nothing is read
/// past a buffer).
tensor aggregate(std::span<const tensor> values, aggregation how);

/// `apply(op, current, aggregate(values, how))` bit for bit, in one pass
/// over the data for assign_add / assign_sub with sum, mean, min or max (no
/// intermediate tensor). Preconditions as for `aggregate`, and `current`
/// of the same dtype/shape (if not: `current` unchanged).
tensor apply_aggregate(update_op op, const tensor& current,
                       std::span<const tensor> values, aggregation how);

/// Whether `apply_aggregate_range` computes `op` with `how`: assign_add /
/// assign_sub with sum, mean, min or max (an element's result depends on
/// that element of each input only).
bool reduces_in_ranges(update_op op, aggregation how) noexcept;

/// Elements [begin, end) of `apply_aggregate(op, current, values, how)`,
/// bit for bit, written to the same elements of `out` (the raw bytes of a
/// buffer of `current`'s size, overlapping no input); only those elements
/// of the inputs are read, so a value whose later elements are still
/// arriving may be passed. Does nothing unless `reduces_in_ranges(op,
/// how)`, `values` is non-empty, every value and `out` match `current`'s
/// dtype and size, and begin <= end <= current.size().
void apply_aggregate_range(std::span<std::byte> out, update_op op,
                           const tensor& current,
                           std::span<const tensor> values, aggregation how,
                           std::size_t begin, std::size_t end);

} // namespace varsync
