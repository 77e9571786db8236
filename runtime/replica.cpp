#include "varsync/replica.hpp"

#include "actors/policies/eager_broadcast/interface.hpp"
#include "actors/policies/local_part.hpp"
#include "actors/update_reply.hpp"
#include "runtime/call_checks.hpp"
#include "runtime/core/metrics.hpp"
#include "runtime/replica_access.hpp"
#include "runtime/runtime_core.hpp"
#include "runtime/sharding/sharded_calls.hpp"

#include <optional>
#include <variant>

namespace varsync {

using detail::check_same_group;
using detail::local_part_of;
using detail::not_attached;
using detail::plain_slot;

namespace {

using steady = std::chrono::steady_clock;

std::uint64_t elapsed_ns(steady::time_point start) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() -
                                                           start)
          .count());
}

error empty_handle(const char* call) {
  return error{errc::unknown_group,
               std::string{call} + ": the replica handle is empty"};
}

/// The part of a replica-context update that completes on the calling
/// thread: argument checks, then the policy's local part
/// (actors/policies/local_part.hpp) either completes it (a local copy, an
/// SSP cache, a periodic local step) or names the collective step to run.
host_update_plan update_here(const std::shared_ptr<detail::replica_core>& core,
                             const variable& var, update_op op,
                             const tensor& operand) {
  auto call = to_string(op);
  if (!core)
    return expected<void>{empty_handle(call)};
  if (auto valid = check_same_group(*core, var, call); !valid)
    return valid;
  if (auto valid = check_operand(operand, var.type(), var.shape(), var.name());
      !valid)
    return valid;
  std::shared_ptr<local_part> keep;
  auto* part = local_part_of(*core, var, keep);
  if (!part)
    return expected<void>{not_attached(*core, var)};
  return part->update(op, operand);
}

/// Runs `step` (from `update_here`) through the replica actor; `done` runs
/// once with the outcome, after the step's `settle`.
void collective_step(const std::shared_ptr<detail::replica_core>& core,
                     const variable& var, collective_update step,
                     update_callback done, timeout_type timeout) {
  auto call = to_string(step.op);
  if (step.settle)
    done = [settle = std::move(step.settle),
            done = std::move(done)](expected<void> result) {
      settle(result.has_value());
      done(std::move(result));
    };
  // Each step's outcome and latency, for the node's metrics endpoint.
  done = [recorded = &var.record()->recorded(), start = steady::now(),
          done = std::move(done)](expected<void> result) {
    (result ? recorded->steps : recorded->failed_steps)
        .fetch_add(1, std::memory_order_relaxed);
    recorded->step_seconds.observe(
        std::chrono::duration<double>(steady::now() - start).count());
    done(std::move(result));
  };
  auto& runtime = core->runtime();
  if (auto refused = runtime.refuse_if_stopping(call))
    return done(*refused);
  auto deadline = runtime.deadline_of(timeout);
  // The replica actor is local: send it the update with the callback
  // itself (no helper actor, no reply message). It reports the outcome
  // once; if it stops first, the completion reports shutting_down.
  auto completion = std::make_shared<update_completion>(
      std::move(done), detail::describe_call(call, var));
  caf::anon_send(caf::actor_cast<eager_broadcast_replica>(core->actor()),
                 local_update_atom::value, var.record()->id,
                 core->store().last_call.fetch_add(1) + 1, to_wire(step.op),
                 std::move(step.operand), std::int64_t{deadline.count()},
                 std::move(completion));
}

/// Replica-context update, reporting to `done` (on the calling thread
/// unless it is a collective step).
void update_async(const std::shared_ptr<detail::replica_core>& core,
                  const variable& var, update_op op, const tensor& operand,
                  update_callback done, timeout_type timeout) {
  if (var.valid() && var.record()->sharded())
    return detail::sharded_update_async(core, var, op, operand, std::move(done),
                                        timeout);
  detail::finish_update_async(core, var, update_here(core, var, op, operand),
                              std::move(done), timeout);
}

/// Replica-context update, blocking until it completed. Updates the local
/// part completes return at once, without a waiter.
expected<void> update(const std::shared_ptr<detail::replica_core>& core,
                      const variable& var, update_op op, const tensor& operand,
                      timeout_type timeout) {
  if (var.valid() && var.record()->sharded())
    return detail::sharded_update(core, var, op, operand, timeout);
  return detail::finish_update(core, var, update_here(core, var, op, operand),
                               timeout);
}

} // namespace

void detail::finish_update_async(const std::shared_ptr<replica_core>& core,
                                 const variable& var, host_update_plan plan,
                                 update_callback done, timeout_type timeout) {
  if (auto* step = std::get_if<collective_update>(&plan))
    return collective_step(core, var, std::move(*step), std::move(done),
                           timeout);
  done(std::move(std::get<expected<void>>(plan)));
}

expected<void> detail::finish_update(const std::shared_ptr<replica_core>& core,
                                     const variable& var, host_update_plan plan,
                                     timeout_type timeout) {
  auto* step = std::get_if<collective_update>(&plan);
  if (!step)
    return std::move(std::get<expected<void>>(plan));
  auto call = to_string(step->op);
  auto deadline = core->runtime().deadline_of(timeout);
  return wait_for_result<void>(
      blocking_limit(deadline),
      [&](auto done) {
        collective_step(core, var, std::move(*step), done, timeout);
      },
      describe_call(call, var), core->runtime().options().spin);
}

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
  if (var.valid() && var.record()->sharded())
    return detail::sharded_read(core_, var, timeout);
  if (!core_)
    return empty_handle("read");
  if (auto valid = check_same_group(*core_, var, "read"); !valid)
    return valid.error();
  auto id = var.record()->id;
  auto part = core_->store().find_part(id);
  if (!part)
    return not_attached(*core_, var);
  auto clock = core_->store().clock.load();
  auto& staleness = var.record()->recorded().staleness_clocks;
  if (part->fresh_at(clock)) {
    auto fresh = part->read_at(clock);
    staleness.observe(static_cast<double>(fresh.staleness));
    return fresh;
  }
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
  // The copy only moves forward: it is at least as fresh now.
  auto fresh = part->read_at(clock);
  staleness.observe(static_cast<double>(fresh.staleness));
  return fresh;
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
  if (var.valid() && var.record()->sharded())
    return detail::sharded_read_async(core_, var, std::move(done), timeout);
  auto part = core_ && var.valid() ? core_->store().find_part(var.record()->id)
                                   : nullptr;
  auto clock = core_ ? core_->store().clock.load() : 0;
  if (part && !part->fresh_at(clock)) {
    auto& runtime = core_->runtime();
    auto deadline = runtime.deadline_of(timeout);
    runtime.ask<tensor>(
        core_->actor(), deadline + reply_grace,
        caf::make_message(wait_read_atom::value, var.record()->id, clock,
                          std::int64_t{deadline.count()}),
        [part, clock, done](expected<tensor> waited) {
          if (!waited)
            return done(waited.error());
          done(part->read_at(clock).value);
        },
        detail::describe_call("read", var));
    return;
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
        auto waited = elapsed_ns(start);
        core->store().counters.clock_wait_ns.fetch_add(
            waited, std::memory_order_relaxed);
        metrics::process_metrics().clock_wait_seconds.observe(
            static_cast<double>(waited) * 1e-9);
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
      "clock of replica " + std::to_string(core_->index()),
      core_->runtime().options().spin);
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
