// assign_rows, TF's scatter_update, in replica and cross-replica context
// (include/varsync/replica.hpp, runtime.hpp): the rule for the variable's
// policy and aggregation, the rows checked, then the context's read of the
// whole value with the rows written over and the context's `assign` of it.
// The assign carries the policy's own rules (on_write only_first_replica:
// replica 0's value wins; none in a group of several: aggregation_required).
// An on_write variable in replica context takes a row step instead (op
// assign_rows: the rows travel, each replica writes them over its copy in
// place; a sharded one, each shard its rows), which costs the rows; so
// does a cross-replica assign_rows of an on_write variable
// (runtime/cross_rows.hpp). The other cases (periodic, on_read and none's
// local copies) still read and assign the whole value.

#include "runtime/core/row_math.hpp"
#include "runtime/cross_rows.hpp"
#include "runtime/replica_access.hpp"
#include "runtime/sharding/sharded_calls.hpp"
#include "varsync/replica.hpp"
#include "varsync/runtime.hpp"

#include <string>

namespace varsync {

namespace {

/// TF allows scatter_update on a mirrored variable only with aggregation
/// none or only_first_replica: with sum or mean every replica's copy of the
/// rows it does not name would be combined, changing them. varsync applies
/// that to on_write and periodic, lets on_read and none write their local
/// copies in replica context, and refuses bounded_staleness (its updates
/// must commute; assign_add_rows does).
expected<void> check_rule(const variable& var, bool cross) {
  const auto& options = var.options();
  auto refuse = [&](const std::string& why) -> expected<void> {
    return error{errc::wrong_context,
                 std::string{cross ? "cross-replica " : ""} +
                     "assign_rows of variable '" + var.name() + "': " + why};
  };
  switch (options.sync) {
  case synchronization::on_write:
  case synchronization::periodic:
    if (options.aggregation == aggregation::none ||
        options.aggregation == aggregation::only_first_replica)
      return {};
    return refuse(std::string{"aggregation "} + to_string(options.aggregation) +
                  " would combine every replica's copy of the rows it does "
                  "not name; as TF's scatter_update, assign_rows needs "
                  "aggregation none or only_first_replica");
  case synchronization::on_read:
    if (!cross)
      return {};
    return refuse("on_read copies are written in replica context only");
  case synchronization::none:
    if (!cross)
      return {};
    return refuse("synchronization none has no cross-replica value");
  case synchronization::bounded_staleness:
    return refuse("bounded_staleness updates must commute (use "
                  "assign_add_rows)");
  case synchronization::automatic:
    break; // never in effect: resolved to on_write at creation
  }
  return {};
}

/// Whether the call may go ahead: a valid handle, TF's rule, the rows.
expected<void> check_call(const variable& var, bool cross,
                          std::span<const std::int64_t> rows,
                          const tensor& values) {
  if (!var.valid())
    return error{errc::unknown_variable,
                 "assign_rows: the variable handle is empty "
                 "(default-constructed)"};
  if (auto allowed = check_rule(var, cross); !allowed)
    return allowed.error();
  return check_rows(var.type(), var.shape(), rows, &values, var.name());
}

/// The row step of a checked replica-context assign_rows of an unsharded
/// variable at `core`'s replica (on_write: it costs the rows), or nullopt
/// when the policy assigns the whole value instead (periodic, on_read,
/// none) or the handle fails a check the dense path reports.
std::optional<host_update_plan> row_step(const detail::replica_core* core,
                                         const variable& var,
                                         std::span<const std::int64_t> rows,
                                         const tensor& values) {
  return detail::plan_at_part(core, var, "assign_rows", [&](local_part& part) {
    return part.assign_rows(rows, values);
  });
}

/// The value `read()` returns with rows[i] overwritten by values[i], or
/// why the call is refused.
template <class Read>
expected<tensor> with_rows_replaced(const variable& var, bool cross,
                                    std::span<const std::int64_t> rows,
                                    const tensor& values, Read read) {
  if (auto checked = check_call(var, cross, rows, values); !checked)
    return checked.error();
  auto value = read();
  if (!value)
    return value.error();
  assign_rows_into(*value, rows, values);
  return value;
}

} // namespace

expected<void> replica::assign_rows(const variable& var,
                                    std::span<const std::int64_t> rows,
                                    const tensor& values,
                                    timeout_type timeout) {
  if (var.valid() && check_call(var, false, rows, values)) {
    if (var.record()->sharded())
      return detail::sharded_rows(core_, var, update_op::assign_rows, rows,
                                  values, timeout);
    if (auto plan = row_step(core_.get(), var, rows, values))
      return detail::finish_update(core_, var, std::move(*plan), timeout);
  }
  auto value = with_rows_replaced(var, false, rows, values,
                                  [&] { return read(var, timeout); });
  if (!value)
    return value.error();
  return assign(var, *value, timeout);
}

void replica::assign_rows_async(const variable& var,
                                std::span<const std::int64_t> rows,
                                const tensor& values, update_callback done,
                                timeout_type timeout) {
  if (var.valid() && check_call(var, false, rows, values)) {
    if (var.record()->sharded())
      return detail::sharded_rows_async(core_, var, update_op::assign_rows,
                                        rows, values, std::move(done), timeout);
    if (auto plan = row_step(core_.get(), var, rows, values))
      return detail::finish_update_async(core_, var, std::move(*plan),
                                         std::move(done), timeout);
  }
  // The read is of this replica's own copy (bounded_staleness, whose reads
  // may wait, is refused first): it does not block.
  auto value = with_rows_replaced(var, false, rows, values,
                                  [&] { return read(var, timeout); });
  if (!value)
    return done(value.error());
  assign_async(var, *value, std::move(done), timeout);
}

expected<void> runtime::assign_rows(const variable& var,
                                    std::span<const std::int64_t> rows,
                                    const tensor& values,
                                    timeout_type timeout) {
  if (detail::cross_rows_travel(var)) {
    if (auto checked = check_call(var, true, rows, values); !checked)
      return checked;
    return detail::cross_rows_update(*core_, var, update_op::assign_rows, rows,
                                     values, timeout);
  }
  auto value = with_rows_replaced(var, true, rows, values,
                                  [&] { return read(var, timeout); });
  if (!value)
    return value.error();
  return assign(var, *value, timeout);
}

} // namespace varsync
