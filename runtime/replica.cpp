#include "varsync/replica.hpp"

#include "actors/update_reply.hpp"
#include "runtime/call_checks.hpp"
#include "runtime/runtime_core.hpp"

#include <optional>

namespace varsync {

namespace {

/// `check_handle` plus: the variable belongs to this replica's group.
expected<void> check_same_group(const detail::replica_core& core,
                                const variable& var, const char* call) {
  if (auto valid = detail::check_handle(var, &core.runtime(), call); !valid)
    return valid;
  if (var.record()->group.get() != &core.group() &&
      var.record()->group->name != core.group().name)
    return error{errc::invalid_argument,
                 std::string{call} + ": variable '" + var.name() +
                     "' belongs to replica group '" + var.group_name() +
                     "', this replica is of group '" + core.group().name + "'"};
  return {};
}

/// The slot and SSP cache (null for other policies) of `var` at `core`'s
/// replica: from the variable's record when it has them, else looked up.
std::pair<std::shared_ptr<replica_slot>, std::shared_ptr<staleness_cache>>
local_copy(const detail::replica_core& core, const variable& var) {
  const auto& record = *var.record();
  auto index = core.index();
  if (index < record.slots.size() && record.slots[index])
    return {record.slots[index], record.caches[index]};
  return {core.store().find(record.id), core.store().find_cache(record.id)};
}

/// The slot of `var` at `core`'s replica when a read may take it without
/// further checks: the handles are valid and of this runtime and group (by
/// identity), the record holds the slot, and the variable has no SSP cache
/// (so the read is the installed value as is). nullptr otherwise: the full
/// path then checks, reports errors, and handles bounded_staleness.
/// Touches no reference count.
const replica_slot* plain_slot(const detail::replica_core* core,
                               const variable& var) noexcept {
  if (core == nullptr || !var.valid())
    return nullptr;
  const auto& record = *var.record();
  if (record.group.get() != &core->group() ||
      record.group->runtime != &core->runtime())
    return nullptr;
  auto index = core->index();
  if (index >= record.slots.size() || index >= record.caches.size() ||
      record.caches[index])
    return nullptr;
  return record.slots[index].get();
}

error not_attached(const detail::replica_core& core, const variable& var) {
  return error{errc::unknown_variable, "variable '" + var.name() +
                                           "' is not attached to replica " +
                                           std::to_string(core.index())};
}

using steady = std::chrono::steady_clock;

std::uint64_t elapsed_ns(steady::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() -
                                                           start)
          .count());
}

/// The installed value with its clock stamp, recording the staleness.
stamped_read stamp(detail::replica_core& core, const installed_value& value,
                   std::uint64_t clock, bool bounded) {
  stamped_read result{value.value, clock, 0};
  if (bounded) {
    result.staleness = clock > value.min_clock ? clock - value.min_clock : 0;
    core.store().counters.record_read(result.staleness);
  }
  return result;
}

error empty_handle(const char* call) {
  return error{errc::unknown_group,
               std::string{call} + ": the replica handle is empty"};
}

/// TF's rule for collective updates (on_write, periodic): in a group of
/// more than one replica they need an aggregation. The error, or nullopt.
std::optional<error> aggregation_missing(const detail::replica_core& core,
                                         const variable& var,
                                         const std::string& call) {
  if (var.options().aggregation != aggregation::none || core.group().size <= 1)
    return std::nullopt;
  return error{errc::aggregation_required,
               "variable '" + var.name() + "': " + call +
                   " in replica context with " +
                   std::to_string(core.group().size) +
                   " replicas needs an aggregation (sum, mean or "
                   "only_first_replica), the variable has aggregation none"};
}

/// The part of a replica-context update that completes on the calling
/// thread: argument checks, bounded staleness (a local add into the
/// cache) and on_read / none (the local copy updated in place). Returns
/// nullopt for on_write, which goes through the replica actor.
std::optional<expected<void>>
update_here(const std::shared_ptr<detail::replica_core>& core,
            const variable& var, update_op op, const tensor& operand) {
  auto call = to_string(op);
  if (!core)
    return empty_handle(call);
  if (auto valid = check_same_group(*core, var, call); !valid)
    return valid.error();
  if (auto valid = check_operand(operand, var.type(), var.shape(), var.name());
      !valid)
    return valid.error();
  const auto& options = var.options();
  if (options.sync == synchronization::bounded_staleness) {
    if (op == update_op::assign)
      return error{errc::wrong_context,
                   "variable '" + var.name() +
                       "' has synchronization bounded_staleness: "
                       "replica-context assign is not allowed (updates "
                       "must commute); use assign_add/assign_sub, or "
                       "assign from the cross-replica context"};
    auto cache = local_copy(*core, var).second;
    if (!cache)
      return not_attached(*core, var);
    cache->add_local(op, operand);
    return expected<void>{};
  }
  switch (options.sync) {
  case synchronization::on_read:
  case synchronization::none: {
    auto slot = local_copy(*core, var).first;
    if (!slot)
      return error{errc::unknown_variable, "variable '" + var.name() +
                                               "' is not attached to replica " +
                                               std::to_string(core->index())};
    slot->update(op, operand);
    return expected<void>{};
  }
  case synchronization::on_write:
    return std::nullopt; // a collective step through the replica actor
  case synchronization::periodic: {
    if (auto missing = aggregation_missing(*core, var, call))
      return *missing;
    auto accumulator = core->store().find_accumulator(var.record()->id);
    if (!accumulator)
      return not_attached(*core, var);
    if (!accumulator->update(op, operand))
      return expected<void>{}; // a local step
    return std::nullopt;       // the k-th: synchronize through the actor
  }
  case synchronization::bounded_staleness:
    break; // handled above
  case synchronization::automatic:
    break; // resolved at creation; never the options of a variable
  }
  // No default above: -Wswitch names a policy that has no branch.
  return error{errc::invalid_policy,
               "variable '" + var.name() +
                   "': no replica-context update path for synchronization " +
                   to_string(options.sync)};
}

/// An on_write update that passed `update_here`'s checks: a collective
/// step through the replica actor; `done` runs once with the outcome.
void update_through_actor(const std::shared_ptr<detail::replica_core>& core,
                          const variable& var, update_op op,
                          const tensor& operand, update_callback done,
                          timeout_type timeout) {
  auto call = to_string(op);
  if (auto missing = aggregation_missing(*core, var, call))
    return done(*missing);
  auto& runtime = core->runtime();
  if (auto refused = runtime.refuse_if_stopping(call))
    return done(*refused);
  auto deadline = runtime.deadline_of(timeout);
  // The replica actor is local: send it the update with the callback
  // itself (no helper actor, no reply message). It reports the outcome
  // once; if it stops first, the completion reports shutting_down.
  auto completion = std::make_shared<update_completion>(
      std::move(done), detail::describe_call(call, var));
  caf::anon_send(core->actor(), local_update_atom::value, var.record()->id,
                 core->store().last_call.fetch_add(1) + 1, to_wire(op), operand,
                 std::int64_t{deadline.count()}, std::move(completion));
}

/// The collective part of a replica-context update that `update_here`
/// could not complete: an on_write step, or a periodic synchronization
/// (the accumulated change contributed as one assign_add step; the
/// accumulator learns the outcome before `done`).
void collective_step(const std::shared_ptr<detail::replica_core>& core,
                     const variable& var, update_op op, const tensor& operand,
                     update_callback done, timeout_type timeout) {
  if (var.options().sync != synchronization::periodic)
    return update_through_actor(core, var, op, operand, std::move(done),
                                timeout);
  auto accumulator = core->store().find_accumulator(var.record()->id);
  auto change = accumulator->begin_sync();
  update_through_actor(
      core, var, update_op::add, change,
      [accumulator, done = std::move(done)](expected<void> result) {
        accumulator->end_sync(result.has_value());
        done(std::move(result));
      },
      timeout);
}

/// Replica-context update, reporting to `done` (on the calling thread
/// unless it is a collective step).
void update_async(const std::shared_ptr<detail::replica_core>& core,
                  const variable& var, update_op op, const tensor& operand,
                  update_callback done, timeout_type timeout) {
  if (auto result = update_here(core, var, op, operand))
    return done(std::move(*result));
  collective_step(core, var, op, operand, std::move(done), timeout);
}

/// Replica-context update, blocking until it completed. on_read, none and
/// bounded staleness return at once, without a waiter.
expected<void> update(const std::shared_ptr<detail::replica_core>& core,
                      const variable& var, update_op op, const tensor& operand,
                      timeout_type timeout) {
  if (auto result = update_here(core, var, op, operand))
    return std::move(*result);
  auto deadline = core->runtime().deadline_of(timeout);
  return detail::wait_for_result<void>(
      detail::blocking_limit(deadline),
      [&](auto done) {
        collective_step(core, var, op, operand, done, timeout);
      },
      detail::describe_call(to_string(op), var));
}

} // namespace

std::size_t replica::index() const {
  return core_->index();
}

std::size_t replica::group_size() const {
  return core_->group().size;
}

expected<stamped_read> replica::read_stamped(const variable& var,
                                             timeout_type timeout) const {
  if (const auto* slot = plain_slot(core_.get(), var)) {
    auto clock = core_->store().clock.load();
    return stamped_read{slot->load_value(), clock, 0};
  }
  if (!core_)
    return empty_handle("read");
  if (auto valid = check_same_group(*core_, var, "read"); !valid)
    return valid.error();
  auto id = var.record()->id;
  auto [slot, cache] = local_copy(*core_, var);
  if (!slot)
    return not_attached(*core_, var);
  auto clock = core_->store().clock.load();
  auto installed = slot->load();
  if (!cache ||
      staleness_cache::is_fresh(cache->bound(), installed->min_clock, clock))
    return stamp(*core_, *installed, clock, cache != nullptr);
  // Too stale: the replica actor answers once a refresh made it fresh.
  auto start = steady::now();
  auto& runtime = core_->runtime();
  auto deadline = runtime.deadline_of(timeout);
  auto waited = detail::wait_for_result<tensor>(
      detail::blocking_limit(deadline),
      [&](auto done) {
        runtime.ask<tensor>(core_->actor(), deadline + reply_grace,
                            caf::make_message(wait_read_atom::value, id, clock,
                                              std::int64_t{deadline.count()}),
                            done, detail::describe_call("read", var));
      },
      detail::describe_call("read", var));
  auto& counters = core_->store().counters;
  counters.waiting_reads.fetch_add(1, std::memory_order_relaxed);
  counters.read_wait_ns.fetch_add(elapsed_ns(start), std::memory_order_relaxed);
  if (!waited)
    return waited.error();
  // The cache only moves forward: the slot is at least as fresh now.
  return stamp(*core_, *slot->load(), clock, true);
}

expected<tensor> replica::read(const variable& var,
                               timeout_type timeout) const {
  // The common case (on_write, on_read, none): no message, no error to
  // build, no shared reference count touched for small values.
  if (const auto* slot = plain_slot(core_.get(), var))
    return slot->load_value();
  auto result = read_stamped(var, timeout);
  if (!result)
    return result.error();
  return std::move(result->value);
}

expected<tensor> replica::read(const variable& var) const {
  if (const auto* slot = plain_slot(core_.get(), var))
    return slot->load_value();
  return read(var, timeout_type{});
}

void replica::read_async(const variable& var, read_callback done,
                         timeout_type timeout) const {
  if (core_ && var.valid() &&
      var.options().sync == synchronization::bounded_staleness) {
    auto cache = core_->store().find_cache(var.record()->id);
    auto slot = core_->store().find(var.record()->id);
    auto clock = core_->store().clock.load();
    if (cache && slot &&
        !staleness_cache::is_fresh(cache->bound(), slot->load()->min_clock,
                                   clock)) {
      auto& runtime = core_->runtime();
      auto deadline = runtime.deadline_of(timeout);
      auto core = core_;
      runtime.ask<tensor>(
          core_->actor(), deadline + reply_grace,
          caf::make_message(wait_read_atom::value, var.record()->id, clock,
                            std::int64_t{deadline.count()}),
          [core, slot, clock, done](expected<tensor> waited) {
            if (!waited)
              return done(waited.error());
            done(stamp(*core, *slot->load(), clock, true).value);
          },
          detail::describe_call("read", var));
      return;
    }
  }
  done(read(var, timeout));
}

void replica::clock_async(update_callback done, timeout_type timeout) {
  if (!core_)
    return done(empty_handle("clock"));
  auto& runtime = core_->runtime();
  if (auto refused = runtime.refuse_if_stopping("clock"))
    return done(*refused);
  auto deadline = runtime.deadline_of(timeout);
  auto start = steady::now();
  auto core = core_;
  runtime.ask_ok(
      core_->actor(), deadline + reply_grace,
      caf::make_message(clock_atom::value, std::int64_t{deadline.count()}),
      [core, start, done](expected<void> result) {
        core->store().counters.clock_wait_ns.fetch_add(
            elapsed_ns(start), std::memory_order_relaxed);
        done(std::move(result));
      },
      "clock of replica " + std::to_string(core_->index()));
}

expected<void> replica::clock(timeout_type timeout) {
  if (!core_)
    return empty_handle("clock");
  auto deadline = core_->runtime().deadline_of(timeout);
  return detail::wait_for_result<void>(
      detail::blocking_limit(deadline),
      [&](auto done) { clock_async(done, timeout); },
      "clock of replica " + std::to_string(core_->index()));
}

expected<void> replica::catch_up(timeout_type timeout) {
  if (!core_)
    return empty_handle("catch_up");
  auto& runtime = core_->runtime();
  if (auto refused = runtime.refuse_if_stopping("catch_up"))
    return *refused;
  auto deadline = runtime.deadline_of(timeout);
  auto what = "catch_up of replica " + std::to_string(core_->index());
  return detail::wait_for_result<void>(
      detail::blocking_limit(deadline),
      [&](auto done) {
        runtime.ask_ok(core_->actor(), deadline + reply_grace,
                       caf::make_message(catch_up_atom::value,
                                         std::int64_t{deadline.count()}),
                       done, what);
      },
      what);
}

replica_stats replica::stats() const {
  replica_stats result;
  if (!core_)
    return result;
  const auto& store = core_->store();
  const auto& counters = store.counters;
  result.clock = store.clock.load();
  result.stale_reads = counters.reads.load();
  result.max_staleness = counters.max_staleness.load();
  result.mean_staleness =
      result.stale_reads == 0
          ? 0.0
          : static_cast<double>(counters.staleness_sum.load()) /
                static_cast<double>(result.stale_reads);
  result.waiting_reads = counters.waiting_reads.load();
  result.read_wait = std::chrono::nanoseconds{counters.read_wait_ns.load()};
  result.clock_wait = std::chrono::nanoseconds{counters.clock_wait_ns.load()};
  return result;
}

expected<void> replica::assign(const variable& var, const tensor& value,
                               timeout_type timeout) {
  return update(core_, var, update_op::assign, value, timeout);
}

expected<void> replica::assign_add(const variable& var, const tensor& delta,
                                   timeout_type timeout) {
  return update(core_, var, update_op::add, delta, timeout);
}

expected<void> replica::assign_sub(const variable& var, const tensor& delta,
                                   timeout_type timeout) {
  return update(core_, var, update_op::subtract, delta, timeout);
}

void replica::assign_async(const variable& var, const tensor& value,
                           update_callback done, timeout_type timeout) {
  update_async(core_, var, update_op::assign, value, std::move(done), timeout);
}

void replica::assign_add_async(const variable& var, const tensor& delta,
                               update_callback done, timeout_type timeout) {
  update_async(core_, var, update_op::add, delta, std::move(done), timeout);
}

void replica::assign_sub_async(const variable& var, const tensor& delta,
                               update_callback done, timeout_type timeout) {
  update_async(core_, var, update_op::subtract, delta, std::move(done),
               timeout);
}

} // namespace varsync
