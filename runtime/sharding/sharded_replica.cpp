// Replica-context calls of a sharded variable.
//
// An update is cut by rows into one update per shard variable; all are
// sent at once (each shard's variable actor runs its own step, on its own
// node), and the call completes when every shard reported. Every call
// reaches every shard — a row update that names no row of a shard sends it
// an empty one — so the shards' copies at a replica count the same
// versions: version v of every shard is the result of the same calls.
//
// A read returns the shards of one version, never a mix: it loads every
// shard's installed value and, when their versions differ (a step is
// being installed shard by shard), loads again until they agree or the
// deadline passes. bounded_staleness copies are read shard by shard, each
// within the staleness bound (their snapshots may stem from different
// clocks, as Petuum's rows do).

#include "actors/replica_slot.hpp"
#include "runtime/call_checks.hpp"
#include "runtime/core/row_math.hpp"
#include "runtime/replica_access.hpp"
#include "runtime/runtime_core.hpp"
#include "runtime/sharding/shard_gather.hpp"
#include "runtime/sharding/shard_layout.hpp"
#include "runtime/sharding/sharded_calls.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace varsync::detail {

namespace {

using steady = std::chrono::steady_clock;

error no_replica(const char* call) {
  return error{errc::unknown_group,
               std::string{call} + ": the replica handle is empty"};
}

variable shard_of(const variable& var, std::size_t index) {
  return variable{var.record()->shards[index]};
}

/// Shard versions as "3, 4" for an error message.
std::string list_versions(const std::vector<std::uint64_t>& versions) {
  std::string result;
  for (auto version : versions)
    result += (result.empty() ? "" : ", ") + std::to_string(version);
  return result;
}

/// The slots of every shard at `core`'s replica, or an empty vector when a
/// shard has none there that reads may take as is (bounded_staleness).
std::vector<const replica_slot*> plain_slots(const replica_core* core,
                                             const variable& var) {
  std::vector<const replica_slot*> result;
  for (std::size_t i = 0; i < var.record()->shards.size(); ++i) {
    const auto* slot = plain_slot(core, shard_of(var, i));
    if (slot == nullptr)
      return {};
    result.push_back(slot);
  }
  return result;
}

/// Waits before the next attempt to find the shards at one version: a
/// yield at first (a step installs its shards within microseconds), then
/// growing sleeps so that a reader facing a failed step does not burn a
/// core until its deadline.
void back_off(std::size_t attempt) {
  if (attempt < 64) {
    std::this_thread::yield();
    return;
  }
  auto micros = std::min<std::size_t>(1000, std::size_t{1} << (attempt / 64));
  std::this_thread::sleep_for(std::chrono::microseconds{micros});
}

/// Every shard's installed value at one version, stacked; `pick` maps a
/// shard's installed value to its part of the result.
template <class Pick, class Join>
expected<tensor> one_version(const replica_core& core, const variable& var,
                             const std::vector<const replica_slot*>& slots,
                             timeout_type timeout, Pick pick, Join join) {
  auto& runtime = core.runtime();
  auto until = steady::now() + runtime.deadline_of(timeout);
  std::vector<std::uint64_t> versions(slots.size());
  std::vector<tensor> parts(slots.size());
  for (std::size_t attempt = 0;; ++attempt) {
    for (std::size_t i = 0; i < slots.size(); ++i) {
      auto installed = slots[i]->load();
      versions[i] = installed->version;
      parts[i] = pick(i, *slots[i], installed->value);
    }
    // A part picked from a slot is of the version loaded just before it
    // unless a row update changed the slot in place meanwhile: the
    // versions loaded again must still agree.
    bool same = std::all_of(versions.begin(), versions.end(),
                            [&](auto v) { return v == versions.front(); });
    for (std::size_t i = 0; same && i < slots.size(); ++i)
      same = slots[i]->load()->version == versions[i];
    if (same)
      return join(parts);
    if (steady::now() >= until)
      return error{errc::timeout,
                   "read of sharded variable '" + var.name() + "' at replica " +
                       std::to_string(core.index()) +
                       ": its shards stayed at different versions (" +
                       list_versions(versions) + ") until the deadline"};
    back_off(attempt);
  }
}

/// Checks shared by every replica-context call of a sharded variable.
expected<void> check_call(const std::shared_ptr<replica_core>& core,
                          const variable& var, const char* call) {
  if (!core)
    return no_replica(call);
  return check_same_group(*core, var, call);
}

/// Starts shard `index`'s part of an update.
void update_shard(replica& self, const variable& shard, update_op op,
                  tensor part, update_callback done, timeout_type timeout) {
  switch (op) {
  case update_op::assign:
    return self.assign_async(shard, part, std::move(done), timeout);
  case update_op::add:
    return self.assign_add_async(shard, part, std::move(done), timeout);
  case update_op::subtract:
    return self.assign_sub_async(shard, part, std::move(done), timeout);
  case update_op::add_rows: // never asked for: rows go through their calls
  case update_op::assign_rows:
    break;
  }
  done(error{errc::invalid_argument,
             "a sharded update takes assign, assign_add or assign_sub"});
}

} // namespace

expected<stamped_read> sharded_read(const std::shared_ptr<replica_core>& core,
                                    const variable& var, timeout_type timeout) {
  if (auto valid = check_call(core, var, "read"); !valid)
    return valid.error();
  const auto& record = *var.record();
  auto clock = core->store().clock.load();
  if (auto slots = plain_slots(core.get(), var); !slots.empty()) {
    auto value = one_version(
        *core, var, slots, timeout,
        [](std::size_t, const replica_slot&, const tensor& value) {
          return value;
        },
        [&](const std::vector<tensor>& parts) {
          return concat_rows(parts, record.shape);
        });
    if (!value)
      return value.error();
    return stamped_read{std::move(*value), clock, 0};
  }
  // bounded_staleness: each shard within the bound.
  replica self{core};
  std::vector<tensor> parts;
  stamped_read result;
  for (std::size_t i = 0; i < record.shards.size(); ++i) {
    auto part = self.read_stamped(shard_of(var, i), timeout);
    if (!part)
      return part.error();
    result.clock = part->clock;
    result.staleness = std::max(result.staleness, part->staleness);
    parts.push_back(std::move(part->value));
  }
  result.value = concat_rows(parts, record.shape);
  return result;
}

void sharded_read_async(const std::shared_ptr<replica_core>& core,
                        const variable& var, read_callback done,
                        timeout_type timeout) {
  if (auto valid = check_call(core, var, "read"); !valid)
    return done(valid.error());
  if (!plain_slots(core.get(), var).empty()) {
    auto result = sharded_read(core, var, timeout);
    if (!result)
      return done(result.error());
    return done(std::move(result->value));
  }
  // bounded_staleness: every shard's read at once, none blocking here.
  const auto& record = *var.record();
  auto gather = make_shard_gather<tensor>(
      record.shards.size(), stack_parts(var.shape(), std::move(done)));
  replica self{core};
  for (std::size_t i = 0; i < record.shards.size(); ++i)
    self.read_async(shard_of(var, i), gather->part(i), timeout);
}

expected<tensor> sharded_read_rows(const std::shared_ptr<replica_core>& core,
                                   const variable& var,
                                   std::span<const std::int64_t> rows,
                                   timeout_type timeout) {
  if (auto valid = check_call(core, var, "read_rows"); !valid)
    return valid.error();
  if (auto valid =
          check_rows(var.type(), var.shape(), rows, nullptr, var.name());
      !valid)
    return valid.error();
  const auto& record = *var.record();
  auto split = split_rows(rows, record.shard_bounds);
  auto result_shape = var.shape();
  result_shape.front() = static_cast<std::int64_t>(rows.size());
  auto assemble = [&](const std::vector<tensor>& parts) -> tensor {
    auto result = tensor::uninitialized(var.type(), result_shape);
    for (std::size_t i = 0; i < parts.size(); ++i)
      place_rows(*result, split[i].positions, parts[i]);
    return std::move(*result);
  };
  if (auto slots = plain_slots(core.get(), var); !slots.empty())
    return one_version(
        *core, var, slots, timeout,
        [&](std::size_t i, const replica_slot& slot, const tensor&) {
          return slot.gather(split[i].rows);
        },
        assemble);
  replica self{core};
  std::vector<tensor> parts;
  for (std::size_t i = 0; i < record.shards.size(); ++i) {
    auto part = self.read_rows(shard_of(var, i), split[i].rows, timeout);
    if (!part)
      return part.error();
    parts.push_back(std::move(*part));
  }
  return assemble(parts);
}

void sharded_update_async(const std::shared_ptr<replica_core>& core,
                          const variable& var, update_op op,
                          const tensor& operand, update_callback done,
                          timeout_type timeout) {
  auto call = to_string(op);
  if (auto valid = check_call(core, var, call); !valid)
    return done(valid.error());
  if (auto valid = check_operand(operand, var.type(), var.shape(), var.name());
      !valid)
    return done(valid.error());
  const auto& record = *var.record();
  auto gather = make_shard_gather<void>(
      record.shards.size(),
      [done = std::move(done)](auto results) { done(first_failure(results)); });
  replica self{core};
  const auto& bounds = record.shard_bounds;
  for (std::size_t i = 0; i < record.shards.size(); ++i)
    update_shard(self, shard_of(var, i), op,
                 slice_rows(operand, bounds[i], bounds[i + 1]), gather->part(i),
                 timeout);
}

namespace {

/// Runs `start(done)`, an asynchronous sharded update of op `op`, and
/// blocks until it reported (or the deadline of `timeout`).
template <class Start>
expected<void> wait_for_update(const std::shared_ptr<replica_core>& core,
                               const variable& var, update_op op,
                               timeout_type timeout, Start start) {
  if (!core)
    return no_replica(to_string(op));
  auto& runtime = core->runtime();
  return wait_for_result<void>(blocking_limit(runtime.deadline_of(timeout)),
                               start, describe_call(to_string(op), var),
                               runtime.options().spin);
}

} // namespace

expected<void> sharded_update(const std::shared_ptr<replica_core>& core,
                              const variable& var, update_op op,
                              const tensor& operand, timeout_type timeout) {
  return wait_for_update(core, var, op, timeout, [&](auto done) {
    sharded_update_async(core, var, op, operand, done, timeout);
  });
}

void sharded_rows_async(const std::shared_ptr<replica_core>& core,
                        const variable& var, update_op op,
                        std::span<const std::int64_t> rows,
                        const tensor& values, update_callback done,
                        timeout_type timeout) {
  auto sets = op == update_op::assign_rows;
  if (auto valid = check_call(core, var, sets ? "assign" : "assign_add");
      !valid)
    return done(valid.error());
  if (auto valid =
          check_rows(var.type(), var.shape(), rows, &values, var.name());
      !valid)
    return done(valid.error());
  const auto& record = *var.record();
  auto split = split_rows(rows, record.shard_bounds);
  auto gather = make_shard_gather<void>(
      record.shards.size(),
      [done = std::move(done)](auto results) { done(first_failure(results)); });
  replica self{core};
  for (std::size_t i = 0; i < record.shards.size(); ++i) {
    auto part = pick_rows(values, split[i].positions);
    if (sets)
      self.assign_rows_async(shard_of(var, i), split[i].rows, part,
                             gather->part(i), timeout);
    else
      self.assign_add_rows_async(shard_of(var, i), split[i].rows, part,
                                 gather->part(i), timeout);
  }
}

expected<void> sharded_rows(const std::shared_ptr<replica_core>& core,
                            const variable& var, update_op op,
                            std::span<const std::int64_t> rows,
                            const tensor& values, timeout_type timeout) {
  return wait_for_update(core, var, op, timeout, [&](auto done) {
    sharded_rows_async(core, var, op, rows, values, done, timeout);
  });
}

} // namespace varsync::detail
