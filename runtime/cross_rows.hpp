#pragma once

// Cross-replica row calls of an on_write or on_read variable (runtime::
// assign_add_rows, runtime::assign_rows, runtime::read_rows) that travel
// as rows.
//
// How it works. The rows and their values are packed into one row delta
// (runtime/core/row_delta.hpp) and sent to the variable's actor as a
// cross-replica update of op add_rows or assign_rows. The actor sums a
// row's repeats (add_rows; the dense path sums them the same way) or keeps
// them in order (assign_rows), applies the rows to its value in place and
// installs them at every replica as the delta from the version before
// (install_rows): every copy reaches the same bits as with the dense
// update, and the bytes on the wire go with the rows named. A sharded
// variable sends every shard its rows (rows within the shard), an empty
// delta to a shard no row falls into, so that the shards count the same
// versions. The call completes when every replica received the rows (a
// replica whose copy still misses the version before installs both as
// soon as that one arrives, as after a row step). on_read: the actor
// writes the rows (assign_add_rows only, under assign_add's rule) into
// every replica's copy in place, and a read of rows gathers just those
// rows of every copy and aggregates them. A read of rows asks the
// actor (each shard's, for the rows within it) for those rows and the
// version they belong to; shards answering from different versions (a
// call being applied shard by shard) are asked again, so that the rows
// come from one version of the whole variable.

#include "runtime/core/tensor_math.hpp"
#include "varsync/error.hpp"
#include "varsync/replica.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable.hpp"

#include <cstdint>
#include <span>

namespace varsync::detail {

class runtime_core;

/// Whether a cross-replica row call of `var` travels as rows: a valid
/// handle of an on_write or on_read variable with rows (rank >= 1).
/// Others take the dense path.
bool cross_rows_travel(const variable& var);

/// The cross-replica update `op` (add_rows or assign_rows) of `rows` with
/// `values` (shape [rows.size(), ...the variable's row shape]) of
/// `cross_rows_travel` variable `var`. Checks the rows first (an index
/// out of range is refused, naming it and the row count; nothing is
/// sent). Blocking: returns when every replica (every shard's) received
/// the rows, or the error (a timeout after `timeout`). Thread-safe.
expected<void> cross_rows_update(runtime_core& core, const variable& var,
                                 update_op op,
                                 std::span<const std::int64_t> rows,
                                 const tensor& values, timeout_type timeout);

/// The rows `rows` (repeats allowed) of the cross-replica read of
/// `cross_rows_travel` variable `var`: shape [rows.size(), ...the row
/// shape]. Only the rows travel: the variable's actor (every shard's, at
/// one version: asked again while their versions differ, until the
/// deadline) sends them with the version they belong to. Checks the rows
/// first (`invalid_argument` naming the index and the row count).
/// Blocking; thread-safe.
expected<tensor> cross_read_rows(runtime_core& core, const variable& var,
                                 std::span<const std::int64_t> rows,
                                 timeout_type timeout);

} // namespace varsync::detail
