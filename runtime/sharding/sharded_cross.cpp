// Cross-replica calls of a sharded variable: one request per shard
// variable's actor, all sent at once, joined when the last answered.
//
// A read of an on_write or periodic variable returns the shards of one
// version: it asks every shard's actor for its latest version (latest_atom:
// version and value) and, when the versions differ (a step or a
// cross-replica update is being published shard by shard), asks again
// until they agree or the deadline passes. Since every call reaches every
// shard, equal versions mean the results of the same calls. Other policies
// join the shards' ordinary cross-replica reads.

#include "actors/policies/eager_broadcast/interface.hpp"
#include "actors/protocol.hpp"
#include "runtime/call_checks.hpp"
#include "runtime/runtime_core.hpp"
#include "runtime/sharding/shard_gather.hpp"
#include "runtime/sharding/shard_layout.hpp"
#include "runtime/sharding/sharded_calls.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace varsync::detail {

namespace {

using steady = std::chrono::steady_clock;

/// (version, steps held, value): an on_write actor's latest version.
using latest_version = std::tuple<std::uint64_t, std::uint64_t, tensor>;

bool has_versions(const variable& var) {
  auto sync = var.options().sync;
  return sync == synchronization::on_write || sync == synchronization::periodic;
}

std::chrono::milliseconds left_until(steady::time_point until) {
  return std::max(std::chrono::milliseconds{0},
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      until - steady::now()));
}

/// One attempt of a whole-version read of on_write shards; tries again
/// (until `until`) when the shards' versions differ.
void read_one_version(runtime_core& core, const variable& var,
                      steady::time_point until, read_callback done) {
  const auto& record = *var.record();
  auto count = record.shards.size();
  auto gather = make_shard_gather<latest_version>(
      count, [&core, var, until, done = std::move(done)](
                 std::vector<expected<latest_version>> results) mutable {
        std::vector<tensor> parts;
        std::vector<std::uint64_t> versions;
        for (auto& result : results) {
          if (!result)
            return done(result.error());
          versions.push_back(std::get<0>(*result));
          parts.push_back(std::move(std::get<2>(*result)));
        }
        if (std::all_of(versions.begin(), versions.end(),
                        [&](auto v) { return v == versions.front(); }))
          return done(concat_rows(parts, var.shape()));
        if (steady::now() >= until) {
          std::string list;
          for (auto v : versions)
            list += (list.empty() ? "" : ", ") + std::to_string(v);
          return done(error{errc::timeout,
                            "read of sharded variable '" + var.name() +
                                "': its shards stayed at different versions (" +
                                list + ") until the deadline"});
        }
        read_one_version(core, var, until, std::move(done));
      });
  for (std::size_t i = 0; i < count; ++i)
    core.ask_variable<latest_version>(
        record.shards[i], left_until(until) + reply_grace,
        caf::make_message(latest_atom::value), gather->part(i),
        "read of variable '" + record.shards[i]->name + "'");
}

} // namespace

void sharded_cross_read_async(runtime_core& core, const variable& var,
                              read_callback done, timeout_type timeout) {
  if (auto valid = check_handle(var, &core, "read"); !valid)
    return done(valid.error());
  if (auto refused = core.refuse_if_stopping("read"))
    return done(*refused);
  auto deadline = core.deadline_of(timeout);
  if (has_versions(var))
    return read_one_version(core, var, steady::now() + deadline,
                            std::move(done));
  const auto& record = *var.record();
  auto gather = make_shard_gather<tensor>(
      record.shards.size(), stack_parts(var.shape(), std::move(done)));
  for (std::size_t i = 0; i < record.shards.size(); ++i)
    core.ask_variable<tensor>(
        record.shards[i], deadline + reply_grace,
        caf::make_message(read_atom::value, std::int64_t{deadline.count()}),
        gather->part(i), "read of variable '" + record.shards[i]->name + "'");
}

void sharded_cross_update_async(runtime_core& core, const variable& var,
                                update_op op, const tensor& operand,
                                update_callback done, timeout_type timeout) {
  auto call = to_string(op);
  if (auto valid = check_update(var, &core, operand, call); !valid)
    return done(valid.error());
  if (auto refused = core.refuse_if_stopping(call))
    return done(*refused);
  auto deadline = core.deadline_of(timeout);
  const auto& record = *var.record();
  auto gather = make_shard_gather<void>(
      record.shards.size(),
      [done = std::move(done)](auto results) { done(first_failure(results)); });
  const auto& bounds = record.shard_bounds;
  for (std::size_t i = 0; i < record.shards.size(); ++i)
    core.ask_variable_ok(
        record.shards[i], deadline + reply_grace,
        caf::make_message(cross_update_atom::value, to_wire(op),
                          slice_rows(operand, bounds[i], bounds[i + 1]),
                          std::int64_t{deadline.count()}),
        gather->part(i),
        std::string{call} + " of variable '" + record.shards[i]->name + "'");
}

expected<std::uint64_t> sharded_min_clock(runtime& rt, const variable& var,
                                          timeout_type timeout) {
  std::uint64_t least = 0;
  for (std::size_t i = 0; i < var.record()->shards.size(); ++i) {
    auto clock = rt.min_clock(variable{var.record()->shards[i]}, timeout);
    if (!clock)
      return clock.error();
    least = i == 0 ? *clock : std::min(least, *clock);
  }
  return least;
}

} // namespace varsync::detail
