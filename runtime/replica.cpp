#include "varsync/replica.hpp"

#include "runtime/call_checks.hpp"
#include "runtime/runtime_core.hpp"

namespace varsync {

namespace {

/// `check_handle` plus: the variable belongs to this replica's group.
expected<void> check_same_group(const detail::replica_core& core,
                                const variable& var, const char* call) {
  if (auto valid = detail::check_handle(var, &core.runtime(), call); !valid)
    return valid;
  if (var.record()->group->name != core.group().name)
    return error{errc::invalid_argument,
                 std::string{call} + ": variable '" + var.name() +
                     "' belongs to replica group '" + var.group_name() +
                     "', this replica is of group '" + core.group().name + "'"};
  return {};
}

error empty_handle(const char* call) {
  return error{errc::unknown_group,
               std::string{call} + ": the replica handle is empty"};
}

std::chrono::milliseconds blocking_limit(std::chrono::milliseconds deadline) {
  return deadline + 2 * reply_grace;
}

/// Replica-context update: on_write goes through the replica actor as a
/// collective step; on_read and none update the local copy in place.
void update_async(const std::shared_ptr<detail::replica_core>& core,
                  const variable& var, update_op op, const tensor& operand,
                  update_callback done, timeout_type timeout) {
  auto call = to_string(op);
  if (!core)
    return done(empty_handle(call));
  if (auto valid = check_same_group(*core, var, call); !valid)
    return done(valid.error());
  if (auto valid = check_operand(operand, var.type(), var.shape(), var.name());
      !valid)
    return done(valid.error());
  const auto& options = var.options();
  switch (options.sync) {
  case synchronization::on_read:
  case synchronization::none: {
    auto slot = core->store().find(var.record()->id);
    if (!slot)
      return done(
          error{errc::unknown_variable, "variable '" + var.name() +
                                            "' is not attached to replica " +
                                            std::to_string(core->index())});
    slot->update(op, operand);
    return done(expected<void>{});
  }
  default:
    break;
  }
  if (options.aggregation == aggregation::none && core->group().size > 1)
    return done(error{
        errc::aggregation_required,
        "variable '" + var.name() + "': " + call + " in replica context with " +
            std::to_string(core->group().size) +
            " replicas needs an aggregation (sum, mean or "
            "only_first_replica), the variable has aggregation none"});
  auto& runtime = core->runtime();
  if (auto refused = runtime.refuse_if_stopping(call))
    return done(*refused);
  auto deadline = runtime.deadline_of(timeout);
  runtime.ask_ok(core->actor(), deadline + reply_grace,
                 caf::make_message(update_atom::value, var.record()->id,
                                   to_wire(op), operand,
                                   std::int64_t{deadline.count()}),
                 std::move(done), detail::describe_call(call, var));
}

expected<void> update(const std::shared_ptr<detail::replica_core>& core,
                      const variable& var, update_op op, const tensor& operand,
                      timeout_type timeout) {
  if (!core)
    return empty_handle(to_string(op));
  auto deadline = core->runtime().deadline_of(timeout);
  return detail::wait_for_result<void>(
      blocking_limit(deadline),
      [&](auto done) { update_async(core, var, op, operand, done, timeout); },
      var.valid() ? detail::describe_call(to_string(op), var) : to_string(op));
}

} // namespace

std::size_t replica::index() const {
  return core_->index();
}

std::size_t replica::group_size() const {
  return core_->group().size;
}

expected<tensor> replica::read(const variable& var, timeout_type) const {
  if (!core_)
    return empty_handle("read");
  if (auto valid = check_same_group(*core_, var, "read"); !valid)
    return valid.error();
  auto slot = core_->store().find(var.record()->id);
  if (!slot)
    return error{errc::unknown_variable, "variable '" + var.name() +
                                             "' is not attached to replica " +
                                             std::to_string(core_->index())};
  return slot->load()->value;
}

void replica::read_async(const variable& var, read_callback done,
                         timeout_type timeout) const {
  done(read(var, timeout));
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
