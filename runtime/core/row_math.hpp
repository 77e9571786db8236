#pragma once

// Row operations on a variable (rows: the slices along the first
// dimension, e.g. the embeddings of a [rows, columns] table): checking row
// indices and row values against the variable, gathering rows, and
// scattering rows into a dense delta or adding them in place.

#include "varsync/error.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace varsync {

/// Elements per row of a tensor of `shape` (the product of its dimensions
/// after the first; 1 for rank 1). Precondition: rank >= 1.
std::size_t row_length(const shape_type& shape);

/// Checks a row operation on variable `name` of `type` and `shape`: the
/// variable has at least one dimension, every index of `rows` lies in
/// [0, shape[0]) (else `invalid_argument` naming the index, its position
/// and the row count), and `values`, when given, has dtype `type` and shape
/// [rows.size(), shape[1], ...] (else `dtype_mismatch` / `shape_mismatch`).
/// Never throws; allocates only for the error.
expected<void> check_rows(dtype type, const shape_type& shape,
                          std::span<const std::int64_t> rows,
                          const tensor* values, const std::string& name);

/// The row indices a message carries (an i64 tensor of rank 1) for a read
/// of variable `name` of `shape`: checked as by check_rows, and the
/// tensor's type and rank (`invalid_argument` naming what it got). The
/// span views `indices`' buffer.
expected<std::span<const std::int64_t>> row_indices_of(const tensor& indices,
                                                       const shape_type& shape,
                                                       const std::string& name);

/// The rows `rows` of `x`, in that order (repeats repeat): shape
/// [rows.size(), x.shape()[1], ...]. Precondition: check_rows passed.
tensor gather_rows(const tensor& x, std::span<const std::int64_t> rows);

/// A tensor of `type` and `shape`, zero except that row rows[i] holds the
/// sum of every values[i] aimed at it (added in the order given).
/// Precondition: check_rows passed.
tensor scatter_rows(dtype type, const shape_type& shape,
                    std::span<const std::int64_t> rows, const tensor& values);

/// Adds every values[i] to row rows[i] of `value` as `value +
/// scatter_rows(...)` would, row by row: repeated rows are summed first,
/// from zero, in the order given; each touched row is then added to. Rows
/// not named keep their exact bits (the dense sum would turn -0.0 into
/// +0.0). Writes in place when `value`'s buffer is not shared, else after
/// one copy (copy on write, counted in runtime_stats::bytes_copied). Costs
/// time and memory in proportion to `rows`, not to `value`.
/// Precondition: check_rows passed.
void add_rows_into(tensor& value, std::span<const std::int64_t> rows,
                   const tensor& values);

/// Writes values[i] over row rows[i] of `value` for every i in order, so
/// a row named more than once ends with its last value; other rows keep
/// their bits. Writes in place when `value`'s buffer is not shared, else
/// after one copy (copy on write). Precondition: check_rows passed.
void assign_rows_into(tensor& value, std::span<const std::int64_t> rows,
                      const tensor& values);

} // namespace varsync
