// Row operations in replica and cross-replica context
// (include/varsync/replica.hpp, runtime.hpp): the rows are checked against
// the variable, then read through the context's `read` and gathered, or
// scattered into a dense delta that the context's `assign_add` applies.
// In replica context, a copy that reads need not refresh (on_write,
// on_read, none) is gathered from in place; a policy whose updates stay
// local (on_read, none) adds the rows to its copy in place, and on_write
// runs a row-delta step (sum, mean, only_first_replica): all cost time and
// bytes in proportion to the rows, not to the variable.

#include "runtime/call_checks.hpp"
#include "runtime/core/row_math.hpp"
#include "runtime/cross_rows.hpp"
#include "runtime/replica_access.hpp"
#include "runtime/sharding/sharded_calls.hpp"
#include "varsync/replica.hpp"
#include "varsync/runtime.hpp"

#include <optional>

namespace varsync {

namespace {

/// `read_rows` in either context: `read()` reads the whole variable.
template <class Read>
expected<tensor> rows_of(const variable& var,
                         std::span<const std::int64_t> rows, Read read) {
  if (var.valid())
    if (auto valid =
            check_rows(var.type(), var.shape(), rows, nullptr, var.name());
        !valid)
      return valid.error();
  auto whole = read();
  if (!whole)
    return whole.error();
  return gather_rows(*whole, rows);
}

/// The dense delta of a row update, or why the rows are refused. An
/// invalid handle passes `values` on, for `assign_add` to report it.
expected<tensor> delta_of(const variable& var,
                          std::span<const std::int64_t> rows,
                          const tensor& values) {
  if (!var.valid())
    return values;
  if (auto valid =
          check_rows(var.type(), var.shape(), rows, &values, var.name());
      !valid)
    return valid.error();
  return scatter_rows(var.type(), var.shape(), rows, values);
}

/// `assign_add_rows` in either context: `add(delta)` applies the dense
/// delta.
template <class Add>
expected<void> add_rows(const variable& var, std::span<const std::int64_t> rows,
                        const tensor& values, Add add) {
  auto delta = delta_of(var, rows, values);
  if (!delta)
    return delta.error();
  return add(*delta);
}

/// The plan of `core`'s policy part for a replica-context row update whose
/// cost goes with the rows, or nullopt when it takes the dense delta (or
/// the call fails a check that the dense path reports).
std::optional<host_update_plan> rows_plan(const detail::replica_core* core,
                                          const variable& var,
                                          std::span<const std::int64_t> rows,
                                          const tensor& values) {
  return detail::plan_at_part(
      core, var, "assign_add",
      [&](local_part& part) -> std::optional<host_update_plan> {
        if (auto valid =
                check_rows(var.type(), var.shape(), rows, &values, var.name());
            !valid)
          return host_update_plan{valid};
        return part.add_rows(rows, values);
      });
}

} // namespace

expected<tensor> replica::read_rows(const variable& var,
                                    std::span<const std::int64_t> rows,
                                    timeout_type timeout) const {
  if (const auto* slot = detail::plain_slot(core_.get(), var)) {
    if (auto valid =
            check_rows(var.type(), var.shape(), rows, nullptr, var.name());
        !valid)
      return valid.error();
    return slot->gather(rows);
  }
  if (var.valid() && var.record()->sharded())
    return detail::sharded_read_rows(core_, var, rows, timeout);
  return rows_of(var, rows, [&] { return read(var, timeout); });
}

expected<void> replica::assign_add_rows(const variable& var,
                                        std::span<const std::int64_t> rows,
                                        const tensor& values,
                                        timeout_type timeout) {
  if (var.valid() && var.record()->sharded())
    return detail::sharded_rows(core_, var, update_op::add_rows, rows, values,
                                timeout);
  if (auto plan = rows_plan(core_.get(), var, rows, values))
    return detail::finish_update(core_, var, std::move(*plan), timeout);
  return add_rows(var, rows, values, [&](const tensor& delta) {
    return assign_add(var, delta, timeout);
  });
}

void replica::assign_add_rows_async(const variable& var,
                                    std::span<const std::int64_t> rows,
                                    const tensor& values, update_callback done,
                                    timeout_type timeout) {
  if (var.valid() && var.record()->sharded())
    return detail::sharded_rows_async(core_, var, update_op::add_rows, rows,
                                      values, std::move(done), timeout);
  if (auto plan = rows_plan(core_.get(), var, rows, values))
    return detail::finish_update_async(core_, var, std::move(*plan),
                                       std::move(done), timeout);
  auto delta = delta_of(var, rows, values);
  if (!delta)
    return done(delta.error());
  assign_add_async(var, *delta, std::move(done), timeout);
}

expected<tensor> runtime::read_rows(const variable& var,
                                    std::span<const std::int64_t> rows,
                                    timeout_type timeout) {
  if (detail::cross_rows_travel(var))
    return detail::cross_read_rows(*core_, var, rows, timeout);
  return rows_of(var, rows, [&] { return read(var, timeout); });
}

expected<void> runtime::assign_add_rows(const variable& var,
                                        std::span<const std::int64_t> rows,
                                        const tensor& values,
                                        timeout_type timeout) {
  if (detail::cross_rows_travel(var))
    return detail::cross_rows_update(*core_, var, update_op::add_rows, rows,
                                     values, timeout);
  return add_rows(var, rows, values, [&](const tensor& delta) {
    return assign_add(var, delta, timeout);
  });
}

} // namespace varsync
