#include "varsync/runtime.hpp"

#include "runtime/call_checks.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/runtime_core.hpp"

namespace varsync {

using detail::blocking_limit;
using detail::wait_for_result;

// -- replica_group
// -------------------------------------------------------------

const std::string& replica_group::name() const {
  return record_->name;
}

std::size_t replica_group::size() const {
  return record_ ? record_->size : 0;
}

expected<replica> replica_group::at(std::size_t index) const {
  if (!record_)
    return error{errc::unknown_group, "the replica group handle is empty"};
  if (index >= record_->size)
    return error{errc::unknown_group,
                 "replica group '" + record_->name + "' has " +
                     std::to_string(record_->size) + " replicas, index " +
                     std::to_string(index) + " is out of range"};
  return replica{std::make_shared<detail::replica_core>(record_, index)};
}

// -- runtime
// -------------------------------------------------------------------

runtime::runtime() : runtime(runtime_options{}) {
  // nop
}

runtime::runtime(runtime_options options)
    : core_(std::make_unique<detail::runtime_core>(options)) {
  // nop
}

runtime::~runtime() = default;

const runtime_options& runtime::options() const noexcept {
  return core_->options();
}

expected<replica_group> runtime::create_group(const std::string& name,
                                              std::size_t replicas) {
  if (auto refused = core_->refuse_if_stopping("create_group"))
    return *refused;
  auto timeout = core_->options().default_timeout;
  auto record = wait_for_result<group_record_ptr>(
      blocking_limit(timeout),
      [&](auto done) {
        core_->ask<group_record_ptr>(
            core_->directory(), timeout,
            caf::make_message(group_atom::value, name, std::uint64_t{replicas}),
            done, "create_group '" + name + "'");
      },
      "create_group '" + name + "'");
  if (!record)
    return record.error();
  return replica_group{*record};
}

expected<variable> runtime::create_variable(const replica_group& group,
                                            const std::string& name,
                                            const tensor& initial,
                                            variable_options options) {
  if (auto refused = core_->refuse_if_stopping("create_variable"))
    return *refused;
  if (!group.record() || group.record()->runtime != core_.get())
    return error{errc::unknown_group,
                 "create_variable '" + name +
                     "': the replica group handle is empty or belongs to "
                     "another runtime"};
  auto timeout = core_->options().default_timeout;
  auto record = wait_for_result<variable_record_ptr>(
      blocking_limit(timeout),
      [&](auto done) {
        core_->ask<variable_record_ptr>(core_->directory(), timeout,
                                        caf::make_message(variable_atom::value,
                                                          group.record(), name,
                                                          initial, options),
                                        done, "create_variable '" + name + "'");
      },
      "create_variable '" + name + "'");
  if (!record)
    return record.error();
  return variable{*record};
}

expected<variable> runtime::find_variable(const std::string& name) const {
  if (auto refused = core_->refuse_if_stopping("find_variable"))
    return *refused;
  auto timeout = core_->options().default_timeout;
  auto record = wait_for_result<variable_record_ptr>(
      blocking_limit(timeout),
      [&](auto done) {
        core_->ask<variable_record_ptr>(
            core_->directory(), timeout,
            caf::make_message(lookup_atom::value, name), done,
            "find_variable '" + name + "'");
      },
      "find_variable '" + name + "'");
  if (!record)
    return record.error();
  return variable{*record};
}

// -- cross-replica context
// -------------------------------------------------------

void runtime::read_async(const variable& var, read_callback done,
                         timeout_type timeout) {
  if (auto valid = detail::check_handle(var, core_.get(), "read"); !valid)
    return done(valid.error());
  if (auto refused = core_->refuse_if_stopping("read"))
    return done(*refused);
  auto deadline = core_->deadline_of(timeout);
  core_->ask<tensor>(
      var.record()->actor, deadline + reply_grace,
      caf::make_message(read_atom::value, std::int64_t{deadline.count()}),
      std::move(done), detail::describe_call("read", var));
}

namespace {

void cross_update_async(detail::runtime_core& core, const variable& var,
                        update_op op, const tensor& operand,
                        update_callback done, timeout_type timeout) {
  if (auto valid = detail::check_update(var, &core, operand, to_string(op));
      !valid)
    return done(valid.error());
  if (auto refused = core.refuse_if_stopping(to_string(op)))
    return done(*refused);
  auto deadline = core.deadline_of(timeout);
  core.ask_ok(var.record()->actor, deadline + reply_grace,
              caf::make_message(update_atom::value, to_wire(op), operand,
                                std::int64_t{deadline.count()}),
              std::move(done), detail::describe_call(to_string(op), var));
}

expected<void> cross_update(detail::runtime_core& core, const variable& var,
                            update_op op, const tensor& operand,
                            timeout_type timeout) {
  return wait_for_result<void>(
      blocking_limit(core.deadline_of(timeout)),
      [&](auto done) {
        cross_update_async(core, var, op, operand, done, timeout);
      },
      detail::describe_call(to_string(op), var));
}

} // namespace

expected<tensor> runtime::read(const variable& var, timeout_type timeout) {
  return wait_for_result<tensor>(
      blocking_limit(core_->deadline_of(timeout)),
      [&](auto done) { read_async(var, done, timeout); },
      var.valid() ? detail::describe_call("read", var) : "read");
}

void runtime::assign_async(const variable& var, const tensor& value,
                           update_callback done, timeout_type timeout) {
  cross_update_async(*core_, var, update_op::assign, value, std::move(done),
                     timeout);
}

expected<void> runtime::assign(const variable& var, const tensor& value,
                               timeout_type timeout) {
  return cross_update(*core_, var, update_op::assign, value, timeout);
}

expected<void> runtime::assign_add(const variable& var, const tensor& delta,
                                   timeout_type timeout) {
  return cross_update(*core_, var, update_op::add, delta, timeout);
}

expected<void> runtime::assign_sub(const variable& var, const tensor& delta,
                                   timeout_type timeout) {
  return cross_update(*core_, var, update_op::subtract, delta, timeout);
}

expected<std::uint64_t> runtime::min_clock(const variable& var,
                                           timeout_type timeout) {
  if (auto valid = detail::check_handle(var, core_.get(), "min_clock"); !valid)
    return valid.error();
  if (var.options().sync != synchronization::bounded_staleness)
    return error{errc::wrong_context,
                 "variable '" + var.name() + "' has synchronization " +
                     to_string(var.options().sync) +
                     "; only bounded_staleness variables have clocks"};
  auto deadline = core_->deadline_of(timeout);
  return wait_for_result<std::uint64_t>(
      blocking_limit(deadline),
      [&](auto done) {
        core_->ask<std::uint64_t>(var.record()->actor, deadline,
                                  caf::make_message(min_clock_atom::value),
                                  done,
                                  detail::describe_call("min_clock", var));
      },
      detail::describe_call("min_clock", var));
}

// -- checkpoints
// -----------------------------------------------------------------

expected<void> runtime::save(const variable& var,
                             const std::filesystem::path& path,
                             timeout_type timeout) {
  auto value = read(var, timeout);
  if (!value)
    return value.error();
  return write_checkpoint(path, var.name(), *value);
}

expected<void> runtime::restore(const variable& var,
                                const std::filesystem::path& path,
                                timeout_type timeout) {
  if (auto valid = detail::check_handle(var, core_.get(), "restore"); !valid)
    return valid;
  auto value = read_checkpoint(path, var.name(), var.type(), var.shape());
  if (!value)
    return value.error();
  return assign(var, *value, timeout);
}

runtime_stats runtime::stats() const noexcept {
  return runtime_stats{core_->counters()->messages.load()};
}

} // namespace varsync
