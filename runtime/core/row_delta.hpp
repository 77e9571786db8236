#pragma once

// A row delta as one tensor: how on_write's assign_add_rows travels (the
// contribution, and the aggregated version the variable actor installs at
// every replica) so that its bytes are in proportion to the rows touched.
//
// Layout: a [n, w + l] tensor of the variable's dtype, where l is the
// elements of one row of the variable and w the elements that hold an
// int64 row index (2 for f32, 1 for f64 and i64): packed row i is the
// index's 8 bytes, then the row's l values. Packing is a byte copy, so
// any index survives any dtype (no float arithmetic ever touches it).
//
// A packed row usually adds its values to row `index`. In the version an
// on_write assign_rows step installs, each row *sets* its row instead: its
// index is stored as ~row (= -row - 1; `setting_rows`), and applying the
// delta writes the values over the row. Only installs may hold such rows
// (check_packed_rows with `packed_rows::may_set`); contributions, SSP
// deltas and refreshes only add.

#include "varsync/error.hpp"
#include "varsync/policy.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace varsync {

/// The rows `rows` with values `values` (shape [rows.size(), ...the
/// variable's row shape]) as one packed delta. Precondition: check_rows
/// passed.
tensor pack_rows(std::span<const std::int64_t> rows, const tensor& values);

/// Which packed rows `check_packed_rows` accepts.
enum class packed_rows {
  /// Rows that add (an index within the variable's rows).
  add,
  /// Rows that add or set (also an index ~row for a row within them).
  may_set,
};

/// Checks a packed delta for variable `name` of `type` and `shape`: its
/// dtype, a [n, w + l] shape, and every index within the variable's rows
/// (`accepted` says whether ~row, a row that sets, is one).
/// The error names what was wrong (the index, its position and the row
/// count for an index out of range). Never reads past `packed`'s buffer.
expected<void> check_packed_rows(const tensor& packed, dtype type,
                                 const shape_type& shape,
                                 const std::string& name,
                                 packed_rows accepted = packed_rows::add);

/// The number of rows in a packed delta (0 for anything that is not one).
std::size_t packed_row_count(const tensor& packed);

/// Aggregates the replicas' packed deltas (index order; each checked) by
/// `how` into one packed delta with distinct rows, each holding exactly
/// what the dense path computes for that row: every replica's repeated
/// rows summed from zero, then folded across the replicas in index order
/// with zero for a replica that did not touch the row, then divided by
/// the number of deltas for mean; only_first_replica (and a single delta)
/// takes the first delta's rows. min and max are not row aggregations:
/// they take the sum (callers refuse them before).
tensor aggregate_packed_rows(std::span<const tensor> deltas, aggregation how);

/// The packed delta `packed` of an assign_add_rows on variable `name` of
/// `type` and `shape`, checked (check_packed_rows: rows that add), as
/// distinct rows, each the sum of its repeats from zero: what the dense
/// delta holds in those rows (aggregate_packed_rows of the one delta).
expected<tensor> combine_repeated_rows(const tensor& packed, dtype type,
                                       const shape_type& shape,
                                       const std::string& name);

/// Whether `delta`, sent as an update of a variable of shape `shape`, is a
/// packed row delta rather than a dense one: anything not of the
/// variable's own shape (the two never coincide: a packed row is wider
/// than the variable's row). Says nothing of its validity.
inline bool is_packed_rows(const tensor& delta, const shape_type& shape) {
  return delta.shape() != shape;
}

/// `packed` (distinct rows) with every row value divided by `divisor`, as
/// `divide` divides a dense delta (the indices are kept).
tensor divide_packed_rows(const tensor& packed, std::int64_t divisor);

/// The dense delta of a checked packed delta for a variable of `type` and
/// `shape`: zero outside its rows, each row the sum of its repeats from
/// zero (what scatter_rows makes of the same rows and values).
tensor dense_from_packed_rows(const tensor& packed, dtype type,
                              const shape_type& shape);

/// Two packed deltas of one variable as one (a's rows, then b's): adding
/// it is adding a, then b.
tensor concat_packed_rows(const tensor& a, const tensor& b);

/// Applies each row of `packed` to `value` in order: adds it (a repeated
/// row adds again), or writes it over its row when it sets one (~row: a
/// repeated row ends with its last value); in place when `value`'s buffer
/// is not shared, else after one copy (counted). Costs time in proportion
/// to the rows. Precondition: check_packed_rows passed (with
/// packed_rows::may_set when rows may set).
void add_packed_rows_into(tensor& value, const tensor& packed);

/// `packed` (rows that add, checked) as rows that set the same rows to the
/// same values, in the same order (indices stored as ~row): what an
/// assign_rows step installs.
tensor setting_rows(const tensor& packed);

} // namespace varsync
