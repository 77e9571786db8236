#include "runtime/cross_rows.hpp"

#include "actors/protocol.hpp"
#include "runtime/call_checks.hpp"
#include "runtime/core/row_delta.hpp"
#include "runtime/core/row_math.hpp"
#include "runtime/runtime_core.hpp"
#include "runtime/sharding/shard_gather.hpp"
#include "runtime/sharding/shard_layout.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace varsync::detail {

namespace {

/// Sends the packed rows `packed` of op `op` to the actor of `record` as a
/// cross-replica update; `done` gets its outcome.
void send_rows(runtime_core& core, const variable_record_ptr& record,
               update_op op, tensor packed, std::chrono::milliseconds deadline,
               std::function<void(expected<void>)> done) {
  core.ask_variable_ok(
      record, deadline + reply_grace,
      caf::make_message(cross_update_atom::value, to_wire(op),
                        std::move(packed), std::int64_t{deadline.count()}),
      std::move(done),
      std::string{to_string(op)} + " of variable '" + record->name + "'");
}

using steady = std::chrono::steady_clock;

/// A shard's (or the variable's) answer to read_rows_atom.
using versioned_rows = std::tuple<std::uint64_t, tensor>;

/// The row indices as the i64 tensor read_rows_atom carries.
tensor index_tensor(std::span<const std::int64_t> rows) {
  return *tensor::from_values<std::int64_t>(
      std::vector<std::int64_t>(rows.begin(), rows.end()),
      shape_type{static_cast<std::int64_t>(rows.size())});
}

std::chrono::milliseconds left_until(steady::time_point until) {
  return std::max(std::chrono::milliseconds{0},
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      until - steady::now()));
}

/// One attempt of a read of rows from every shard at one version; tries
/// again (until `until`) when the shards answered from different versions.
void read_shard_rows(runtime_core& core, const variable& var,
                     std::shared_ptr<const std::vector<shard_rows>> split,
                     std::size_t count, steady::time_point until,
                     std::function<void(expected<tensor>)> done) {
  const auto& record = *var.record();
  auto shards = record.shards.size();
  auto gather = make_shard_gather<versioned_rows>(
      shards, [&core, var, split, count, until, done = std::move(done)](
                  std::vector<expected<versioned_rows>> results) mutable {
        std::vector<std::uint64_t> versions;
        for (auto& result : results) {
          if (!result)
            return done(result.error());
          versions.push_back(std::get<0>(*result));
        }
        if (std::all_of(versions.begin(), versions.end(),
                        [&](auto v) { return v == versions.front(); })) {
          auto whole = var.shape();
          whole[0] = static_cast<std::int64_t>(count);
          auto out = *tensor::uninitialized(var.type(), whole);
          for (std::size_t i = 0; i < results.size(); ++i)
            place_rows(out, (*split)[i].positions, std::get<1>(*results[i]));
          return done(std::move(out));
        }
        if (steady::now() >= until)
          return done(error{errc::timeout,
                            "read_rows of sharded variable '" + var.name() +
                                "': its shards stayed at different versions "
                                "until the deadline"});
        read_shard_rows(core, var, split, count, until, std::move(done));
      });
  for (std::size_t i = 0; i < shards; ++i)
    core.ask_variable<versioned_rows>(
        record.shards[i], left_until(until) + reply_grace,
        caf::make_message(read_rows_atom::value, index_tensor((*split)[i].rows),
                          std::int64_t{left_until(until).count()}),
        gather->part(i),
        "read_rows of variable '" + record.shards[i]->name + "'");
}

} // namespace

bool cross_rows_travel(const variable& var) {
  if (!var.valid() || var.shape().empty())
    return false;
  auto sync = var.options().sync;
  return sync == synchronization::on_write ||
         sync == synchronization::on_read ||
         sync == synchronization::bounded_staleness;
}

expected<void> cross_rows_update(runtime_core& core, const variable& var,
                                 update_op op,
                                 std::span<const std::int64_t> rows,
                                 const tensor& values, timeout_type timeout) {
  auto call = to_string(op);
  if (auto valid = check_handle(var, &core, call); !valid)
    return valid;
  if (auto valid =
          check_rows(var.type(), var.shape(), rows, &values, var.name());
      !valid)
    return valid;
  if (auto refused = core.refuse_if_stopping(call))
    return *refused;
  auto deadline = core.deadline_of(timeout);
  return wait_for_result<void>(
      blocking_limit(deadline),
      [&](auto done) {
        const auto& record = *var.record();
        if (!record.sharded())
          return send_rows(core, var.record(), op, pack_rows(rows, values),
                           deadline, std::move(done));
        auto split = split_rows(rows, record.shard_bounds);
        auto gather = make_shard_gather<void>(
            record.shards.size(), [done = std::move(done)](auto results) {
              done(first_failure(results));
            });
        for (std::size_t i = 0; i < record.shards.size(); ++i)
          send_rows(
              core, record.shards[i], op,
              pack_rows(split[i].rows, pick_rows(values, split[i].positions)),
              deadline, gather->part(i));
      },
      describe_call(call, var));
}

expected<tensor> cross_read_rows(runtime_core& core, const variable& var,
                                 std::span<const std::int64_t> rows,
                                 timeout_type timeout) {
  if (auto valid = check_handle(var, &core, "read_rows"); !valid)
    return valid.error();
  if (auto valid =
          check_rows(var.type(), var.shape(), rows, nullptr, var.name());
      !valid)
    return valid.error();
  if (auto refused = core.refuse_if_stopping("read_rows"))
    return *refused;
  auto deadline = core.deadline_of(timeout);
  return wait_for_result<tensor>(
      blocking_limit(deadline),
      [&](auto done) {
        const auto& record = *var.record();
        if (record.sharded())
          return read_shard_rows(
              core, var,
              std::make_shared<const std::vector<shard_rows>>(
                  split_rows(rows, record.shard_bounds)),
              rows.size(), steady::now() + deadline, std::move(done));
        core.ask_variable<versioned_rows>(
            var.record(), deadline + reply_grace,
            caf::make_message(read_rows_atom::value, index_tensor(rows),
                              std::int64_t{deadline.count()}),
            [done = std::move(done)](expected<versioned_rows> result) mutable {
              if (!result)
                return done(result.error());
              done(std::move(std::get<1>(*result)));
            },
            describe_call("read_rows", var));
      },
      describe_call("read_rows", var));
}

} // namespace varsync::detail
