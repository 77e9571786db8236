#pragma once

// The calls of a sharded variable (variable_record::sharded()): the public
// API's functions hand a sharded handle to these, which split the call by
// rows into one call per shard variable, send them all at once, and join
// the outcomes. See runtime/sharding/sharded_replica.cpp (replica context),
// sharded_cross.cpp (cross-replica) and sharded_create.cpp (creation).

#include "runtime/core/tensor_math.hpp"
#include "varsync/replica.hpp"
#include "varsync/runtime.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace varsync::detail {

class replica_core;
class runtime_core;

// -- replica context ----------------------------------------------------------

/// `replica::read_stamped` of a sharded variable: every shard of one
/// version (see sharded_replica.cpp). Blocks up to the deadline.
expected<stamped_read> sharded_read(const std::shared_ptr<replica_core>& core,
                                    const variable& var, timeout_type timeout);

/// `replica::read_async` of a sharded variable: a bounded_staleness read
/// waits for no shard on the calling thread; other policies read as
/// sharded_read does (their copies are local).
void sharded_read_async(const std::shared_ptr<replica_core>& core,
                        const variable& var, read_callback done,
                        timeout_type timeout);

/// `replica::read_rows` of a sharded variable. Blocks like sharded_read.
expected<tensor> sharded_read_rows(const std::shared_ptr<replica_core>& core,
                                   const variable& var,
                                   std::span<const std::int64_t> rows,
                                   timeout_type timeout);

/// A replica-context update of a sharded variable: each shard gets its
/// rows of `operand` at once; `done` runs once every shard reported (the
/// first failure, else success). Never blocks.
void sharded_update_async(const std::shared_ptr<replica_core>& core,
                          const variable& var, update_op op,
                          const tensor& operand, update_callback done,
                          timeout_type timeout);

/// `sharded_update_async`, blocking until it completed.
expected<void> sharded_update(const std::shared_ptr<replica_core>& core,
                              const variable& var, update_op op,
                              const tensor& operand, timeout_type timeout);

/// `replica::assign_add_rows_async` (op add_rows) or `assign_rows_async`
/// (op assign_rows; its rule checked by the caller) of a sharded variable:
/// every shard gets the rows that fall into it, in their order (none for
/// some: an empty update, so that all shards stay at one version). Never
/// blocks.
void sharded_rows_async(const std::shared_ptr<replica_core>& core,
                        const variable& var, update_op op,
                        std::span<const std::int64_t> rows,
                        const tensor& values, update_callback done,
                        timeout_type timeout);

/// `sharded_rows_async`, blocking until it completed.
expected<void> sharded_rows(const std::shared_ptr<replica_core>& core,
                            const variable& var, update_op op,
                            std::span<const std::int64_t> rows,
                            const tensor& values, timeout_type timeout);

// -- cross-replica context ----------------------------------------------------

/// `runtime::read_async` of a sharded variable: every shard of one version
/// for on_write and periodic (their actors' latest versions agree), the
/// shards' cross-replica reads joined otherwise. Never blocks.
void sharded_cross_read_async(runtime_core& core, const variable& var,
                              read_callback done, timeout_type timeout);

/// A cross-replica update of a sharded variable: each shard's actor gets
/// its rows of `operand` at once. Never blocks.
void sharded_cross_update_async(runtime_core& core, const variable& var,
                                update_op op, const tensor& operand,
                                update_callback done, timeout_type timeout);

/// `runtime::min_clock` of a sharded bounded_staleness variable: the least
/// of its shards'. Blocks.
expected<std::uint64_t> sharded_min_clock(runtime& rt, const variable& var,
                                          timeout_type timeout);

// -- creation -----------------------------------------------------------------

/// `runtime::create_variable` with `options.shards != 1`: creates (or
/// finds) the variable's layout and its shard variables. Blocks.
expected<variable> create_sharded(runtime& rt, runtime_core& core,
                                  const replica_group& group,
                                  const std::string& name,
                                  const tensor& initial,
                                  const variable_options& options);

/// Creates (or gets) the ordinary variable `name` (`options.shards` is 1).
/// Blocks.
expected<variable> create_plain(runtime_core& core, const replica_group& group,
                                const std::string& name, const tensor& initial,
                                const variable_options& options);

/// `already_exists` when `name` is a sharded variable of more than one
/// shard (an ordinary variable of that name must not be created). Blocks.
expected<void> refuse_if_sharded(runtime_core& core, const std::string& name);

/// `runtime::find_variable` of a name that names no ordinary variable: the
/// sharded variable `name` when its layout exists, else `unknown_variable`.
/// Blocks.
expected<variable> find_sharded(runtime_core& core, const std::string& name);

} // namespace varsync::detail
