#include "actors/policies/reduce_on_read/variable_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/reduce_on_read/interface.hpp"
#include "actors/policies/reduce_on_read/state_machine.hpp"
#include "runtime/core/row_math.hpp"

#include <map>
#include <memory>
#include <utility>

namespace varsync {

namespace {

/// Asks every live replica for `message` (its copy, or some rows of it)
/// and hands their aggregate (in replica index order) to `deliver(promise,
/// value)`; a failure, or no live replica left, goes to `promise`.
template <class Promise, class Deliver>
void aggregate_copies(variable_actor_type* self,
                      std::shared_ptr<policies::reduce_on_read> policy,
                      caf::message message, std::int64_t timeout_ms,
                      Promise promise, Deliver deliver) {
  request_all<tensor>(
      self, self->state.live_replicas(), to_timeout(timeout_ms),
      std::move(message),
      [promise, policy, deliver](std::vector<tensor> copies) mutable {
        if (copies.empty())
          promise.deliver(to_caf_error(error{
              errc::replica_lost, "every replica of the group was lost"}));
        else
          deliver(promise, policy->finish_read(copies));
      },
      [promise](const caf::error& err) mutable { promise.deliver(err); },
      &self->state.gatherings);
}

} // namespace

caf::behavior reduce_on_read_variable_side(variable_actor_type* self) {
  auto& spec = self->state.spec;
  auto policy = std::make_shared<policies::reduce_on_read>(settings_of(spec));
  // A lost replica's copy is gone: reads aggregate the survivors' copies
  // (variable_actor.cpp's DOWN handler marks it lost).
  // Typed: the compiler checks these handlers against the interface.
  reduce_on_read_variable::behavior_type behavior{
      plain_attach_handler(self),
      unversioned_status_handler(),
      [self, policy](read_atom,
                     std::int64_t timeout_ms) -> caf::result<tensor> {
        if (auto allowed = policy->check_read(); !allowed)
          return to_caf_error(allowed.error());
        auto promise = self->make_response_promise<tensor>();
        aggregate_copies(
            self, policy,
            caf::make_message(copy_get_atom::value, self->state.spec.id),
            timeout_ms, promise,
            [](auto& to, tensor value) { to.deliver(std::move(value)); });
        return promise;
      },
      // A read of rows gathers just those rows of every copy.
      [self,
       policy](read_rows_atom, const tensor& rows,
               std::int64_t timeout_ms) -> caf::result<std::uint64_t, tensor> {
        if (auto allowed = policy->check_read(); !allowed)
          return to_caf_error(allowed.error());
        const auto& spec = self->state.spec;
        if (auto indices = row_indices_of(rows, spec.shape, spec.name);
            !indices)
          return to_caf_error(indices.error());
        auto promise = self->make_response_promise<std::uint64_t, tensor>();
        aggregate_copies(
            self, policy,
            caf::make_message(copy_rows_atom::value, spec.id, rows), timeout_ms,
            promise, [](auto& to, tensor value) {
              to.deliver(std::uint64_t{0}, std::move(value));
            });
        return promise;
      },
      // Row ops too (add_rows: a packed row delta; the policy refuses
      // assign_rows).
      [self, policy](cross_update_atom, std::uint8_t op_byte,
                     const tensor& operand,
                     std::int64_t timeout_ms) -> caf::result<ok_atom> {
        auto op = step_op_from_wire(op_byte);
        if (!op)
          return to_caf_error(invalid_op(op_byte));
        auto plan = policy->plan_update(*op, operand);
        if (!plan)
          return to_caf_error(plan.error());
        const auto& spec = self->state.spec;
        return send_to_all_replicas<ok_atom>(
            self, timeout_ms,
            caf::make_message(copy_set_atom::value, spec.id, to_wire(plan->op),
                              plan->operand));
      },
      // A lost replica joined again. Its copy starts where a cross-replica
      // read stays what it was: sum at zero (the survivors' copies hold
      // the sum), mean and only_first_replica at the survivors' aggregate
      // (a copy equal to the mean leaves the mean; a rejoined first replica
      // holds what the first survivor held), none at the initial value.
      // (TF's restore rule, value / R per copy for sum and value per copy
      // otherwise, sets every copy at once; a rejoin sets one.)
      [self, policy](rejoin_atom, std::uint64_t index,
                     caf::actor& replica) -> caf::result<ok_atom> {
        if (auto later = rejoin_after_loss(self, index, replica))
          return std::move(*later);
        const auto& spec = self->state.spec;
        if (spec.options.aggregation == aggregation::none ||
            spec.options.aggregation == aggregation::sum) {
          auto start = spec.options.aggregation == aggregation::sum
                           ? tensor::filled(spec.type, spec.shape, 0.0)
                           : expected<tensor>{spec.initial};
          if (!start)
            return to_caf_error(start.error());
          return readmit_replica(self, index, replica, std::move(*start));
        }
        auto promise = self->make_response_promise<ok_atom>();
        request_all<tensor>(
            self, self->state.live_replicas(), std::chrono::seconds{30},
            caf::make_message(copy_get_atom::value, spec.id),
            [self, policy, index, replica,
             promise](std::vector<tensor> copies) mutable {
              auto start = copies.empty() ? self->state.spec.initial
                                          : policy->finish_read(copies);
              readmit_replica(self, index, replica, std::move(start), nullptr,
                              promise);
            },
            [promise](const caf::error& err) mutable { promise.deliver(err); },
            &self->state.gatherings);
        return promise;
      },
  };
  return std::move(behavior.unbox());
}

} // namespace varsync
