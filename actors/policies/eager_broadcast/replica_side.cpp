#include "actors/policies/eager_broadcast/replica_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/eager_broadcast/interface.hpp"
#include "runtime/core/row_delta.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace varsync {

namespace {

using std::chrono::milliseconds;

void finish_attempt(replica_actor_type* self, variable_id id, std::uint64_t tag,
                    std::optional<error> outcome);

/// Sends the contribution `frame` on `plane`: an assign_add / assign_sub
/// of more than twice the plane's part size in parts of that size (their
/// reduce starts with the first; bulk_plane.hpp, "Parts"), anything else
/// whole. The parts share the operand's buffer.
void send_contribution(bulk_plane& plane, const bulk_address& to,
                       bulk_frame frame, update_op op) {
  auto part_bytes = plane.part_bytes();
  auto bytes = frame.value.bytes().size();
  bool in_parts = (op == update_op::add || op == update_op::subtract) &&
                  part_bytes > 0 && bytes / 2 > part_bytes;
  if (!in_parts) {
    plane.send(to, std::move(frame));
    return;
  }
  auto per_part =
      std::max<std::uint64_t>(1, part_bytes / size_of(frame.value.type()));
  auto total = static_cast<std::uint64_t>(frame.value.size());
  for (std::uint64_t offset = 0; offset < total; offset += per_part) {
    auto part = frame;
    part.part_offset = offset;
    part.part_count = std::min(per_part, total - offset);
    plane.send(to, std::move(part));
  }
}

/// Sends the oldest queued update of `id` unless one is in flight. The
/// attempt is tagged; its answer (a CAF response or a bulk ack) or its
/// deadline ends it, whichever comes first (`finish_attempt`).
void send_next_update(replica_actor_type* self, variable_id id) {
  auto& entry = self->state.variables[id];
  // While the variable is re-hosted, updates wait (the alarm still guards
  // their deadlines, `expire_attempts`).
  while (!entry.in_flight && !entry.rehosting && !entry.queue.empty()) {
    auto update = std::move(entry.queue.front());
    entry.queue.pop_front();
    if (entry.unavailable) {
      update.reply.fail(*entry.unavailable);
      continue;
    }
    auto remaining = std::chrono::duration_cast<milliseconds>(
        update.deadline - clock_type::now());
    if (remaining.count() <= 0) {
      update.reply.fail(
          error{errc::timeout, "replica " + std::to_string(self->state.index) +
                                   ": the deadline passed while an earlier "
                                   "update of the same variable was pending; "
                                   "nothing was applied"});
      continue;
    }
    entry.in_flight = true;
    entry.in_flight_reply = update.reply;
    entry.in_flight_op = update.op;
    entry.in_flight_operand = update.operand; // shares the buffer
    entry.in_flight_call_deadline = update.deadline;
    entry.in_flight_deadline = update.deadline + reply_grace;
    self->state.update_alarm.arm(self, entry.in_flight_deadline);
    auto step = entry.next_step;
    auto tag = ++entry.tag;
    if (entry.use_bulk) {
      bulk_frame frame;
      frame.kind = bulk_kind::contribute;
      frame.code = to_wire(update.op);
      frame.target = entry.variable_actor.id();
      frame.reply_to = self->id();
      frame.variable = id;
      frame.index = static_cast<std::uint64_t>(self->state.index);
      frame.number = step;
      frame.tag = tag;
      frame.timeout_ms = static_cast<std::int64_t>(remaining.count());
      frame.value = std::move(update.operand);
      send_contribution(
          *self->state.bulk,
          bulk_address{entry.bulk_host, entry.bulk_port, entry.bulk_node},
          std::move(frame), update.op);
      continue;
    }
    // No CAF timeout: the alarm above guards the attempt (a CAF timeout
    // would cost the clock thread two wake-ups per step).
    self->request(
            caf::actor_cast<eager_broadcast_variable>(entry.variable_actor),
            caf::infinite, contribute_atom::value,
            static_cast<std::uint64_t>(self->state.index), step,
            to_wire(update.op), std::move(update.operand),
            static_cast<std::int64_t>(remaining.count()))
        .then([self, id,
               tag](ok_atom) { finish_attempt(self, id, tag, std::nullopt); },
              [self, id, tag](caf::error& err) {
                auto i = self->state.variables.find(id);
                if (i == self->state.variables.end())
                  return;
                // The actor is gone: its DOWN (monitored) decides, whether
                // it arrived yet or not: the attempt waits for a re-hosted
                // actor, or fails as the variable is lost.
                if (err == caf::sec::request_receiver_down)
                  return;
                finish_attempt(
                    self, id, tag,
                    from_caf_error(err, "variable '" + i->second.name + "'"));
              });
  }
}

/// Ends the attempt `tag` of variable `id` with `outcome` (nullopt:
/// success) unless it is no longer the attempt in flight (it timed out, or
/// the variable became unavailable and its caller was told so).
void finish_attempt(replica_actor_type* self, variable_id id, std::uint64_t tag,
                    std::optional<error> outcome) {
  auto i = self->state.variables.find(id);
  if (i == self->state.variables.end())
    return;
  auto& entry = i->second;
  if (!entry.in_flight || entry.tag != tag || entry.unavailable)
    return;
  entry.in_flight = false;
  entry.in_flight_operand = tensor{};
  if (outcome) {
    entry.in_flight_reply.fail(*outcome);
  } else {
    ++entry.next_step;
    entry.in_flight_reply.succeed();
  }
  send_next_update(self, id);
}

/// The error for an update whose deadline passed while its variable was
/// re-hosted.
error rehosting_timeout(const attached_variable& entry, bool sent) {
  return error{errc::variable_unavailable,
               "variable '" + entry.name +
                   "': its node was lost and it is being re-hosted; the "
                   "deadline passed first (" +
                   (sent ? "the update may or may not have been applied"
                         : "nothing was applied") +
                   ")"};
}

/// The update alarm went off: fails every attempt whose deadline passed
/// (and, for a variable being re-hosted, every queued update whose deadline
/// passed) and arms the alarm for the earliest one left.
void expire_attempts(replica_actor_type* self, std::int64_t ticks) {
  auto now = self->state.update_alarm.fired(ticks);
  std::vector<std::pair<variable_id, std::uint64_t>> expired;
  std::optional<clock_type::time_point> earliest;
  auto keep_earliest = [&earliest](clock_type::time_point at) {
    if (!earliest || at < *earliest)
      earliest = at;
  };
  for (auto& [id, entry] : self->state.variables) {
    if (entry.unavailable)
      continue;
    if (entry.rehosting) {
      std::erase_if(entry.queue, [&](queued_update& update) {
        if (update.deadline > now) {
          keep_earliest(update.deadline);
          return false;
        }
        update.reply.fail(rehosting_timeout(entry, false));
        return true;
      });
    }
    if (!entry.in_flight)
      continue;
    if (entry.in_flight_deadline <= now)
      expired.emplace_back(id, entry.tag);
    else
      keep_earliest(entry.in_flight_deadline);
  }
  if (earliest)
    self->state.update_alarm.arm(self, *earliest);
  for (auto [id, tag] : expired) {
    const auto& entry = self->state.variables[id];
    finish_attempt(
        self, id, tag,
        entry.rehosting
            ? rehosting_timeout(entry, true)
            : error{errc::timeout,
                    "variable '" + entry.name +
                        "': no answer from its actor by the deadline; the "
                        "step may or may not have been applied"});
  }
}

/// Queues an update behind the variable's earlier ones.
void accept_update(replica_actor_type* self, numbered_update update) {
  auto& entry = self->state.variables[update.id];
  if (entry.rehosting)
    self->state.update_alarm.arm(self, update.update.deadline);
  entry.queue.push_back(std::move(update.update));
  send_next_update(self, update.id);
}

/// Adds the early row steps of `entry` that follow the slot's version, in
/// order; drops those the slot is past.
void install_early_rows(attached_variable& entry, replica_slot& slot) {
  auto& early = entry.early_rows;
  while (!early.empty()) {
    auto first = early.begin();
    auto held = slot.load()->version; // the snapshot is released here
    if (first->first > held) {
      if (!slot.install_rows(first->first, first->second.second))
        return; // a version in between has not arrived yet
      entry.committed_version = first->first;
      entry.committed_steps = first->second.first;
      entry.committed_value = tensor{};
      entry.committed_in_slot = true;
    }
    early.erase(first);
  }
}

/// When row steps of `id` wait for a version that has not arrived, looks
/// again after rows_gap_wait (`check_rows_gap`; one look at a time).
void watch_rows_gap(replica_actor_type* self, variable_id id,
                    attached_variable& entry, const replica_slot& slot) {
  if (entry.early_rows.empty() || entry.rows_gap_pending || entry.unavailable)
    return;
  entry.rows_gap_pending = true;
  self->delayed_send(self, rows_gap_wait, rows_gap_atom::value, id,
                     slot.load()->version);
}

/// Records version `version` (holding `steps` steps) of `id` as installed
/// and hands it to the policy's local part.
void install(replica_actor_type* self, variable_id id, std::uint64_t version,
             std::uint64_t steps, tensor value) {
  auto i = self->state.variables.find(id);
  if (i != self->state.variables.end()) {
    auto& entry = i->second;
    if (version > entry.committed_version ||
        (version == entry.committed_version && steps > entry.committed_steps)) {
      entry.committed_version = version;
      entry.committed_steps = steps;
      entry.committed_value = value; // shares the buffer
      entry.committed_in_slot = false;
    }
  }
  // The policy's part decides where it goes (periodic: under the
  // replica's own change).
  if (auto part = self->state.store->find_part(id))
    part->install(version, std::move(value));
  if (i != self->state.variables.end() && !i->second.early_rows.empty())
    if (auto slot = self->state.store->find(id)) {
      install_early_rows(i->second, *slot);
      watch_rows_gap(self, id, i->second, *slot);
    }
}

/// Row step `version` of `id` (holding `steps` steps) as its packed delta
/// from the version before: added to the slot in place when the slot holds
/// that version, else kept until it does (installs may arrive out of order
/// across channels). A delta that does not fit the variable is dropped: it
/// did not come from the variable's actor.
void install_rows(replica_actor_type* self, variable_id id,
                  std::uint64_t version, std::uint64_t steps, tensor packed) {
  auto i = self->state.variables.find(id);
  auto slot = self->state.store->find(id);
  if (i == self->state.variables.end() || !slot)
    return;
  auto& entry = i->second;
  {
    auto current = slot->load();
    if (version <= current->version ||
        !check_packed_rows(packed, current->value.type(),
                           current->value.shape(), entry.name,
                           packed_rows::may_set))
      return;
  }
  entry.early_rows.emplace(version, std::pair{steps, std::move(packed)});
  if (entry.early_rows.size() > max_early_row_steps)
    entry.early_rows.erase(std::prev(entry.early_rows.end()));
  install_early_rows(entry, *slot);
  watch_rows_gap(self, id, entry, *slot);
}

// Recovering a lost row step. A row step's delta is useless without the
// version before it, so a replica that never receives one (its bulk
// connection broke with the install on it) would hold its copy back
// forever while training goes on with row steps only. When later row
// steps still wait after rows_gap_wait and the copy has not moved, the
// replica asks its variable actor for the latest version (latest_atom:
// version, steps, whole value), installs it, and adds the waiting steps
// past it; those it covers are dropped. A gap that closes meanwhile (the
// two channels only reordered the installs) costs nothing.
void check_rows_gap(replica_actor_type* self, variable_id id,
                    std::uint64_t held) {
  auto i = self->state.variables.find(id);
  auto slot = self->state.store->find(id);
  if (i == self->state.variables.end() || !slot)
    return;
  auto& entry = i->second;
  entry.rows_gap_pending = false;
  if (entry.early_rows.empty() || entry.unavailable || !entry.variable_actor)
    return;
  if (slot->load()->version > held || entry.rehosting) {
    // The copy moved on (or a re-created actor will send its version):
    // look again later.
    watch_rows_gap(self, id, entry, *slot);
    return;
  }
  entry.rows_gap_pending = true;
  auto forget_pending = [self, id] {
    auto i = self->state.variables.find(id);
    if (i != self->state.variables.end())
      i->second.rows_gap_pending = false;
  };
  self->request(caf::actor_cast<eager_broadcast_variable>(entry.variable_actor),
                std::chrono::seconds{10}, latest_atom::value)
      .then(
          [self, id, forget_pending](std::uint64_t version, std::uint64_t steps,
                                     tensor& value) {
            forget_pending();
            install(self, id, version, steps, std::move(value));
          },
          [self, id, forget_pending](caf::error&) {
            // The actor is gone (its DOWN decides) or slow: look again.
            forget_pending();
            auto i = self->state.variables.find(id);
            if (auto slot = self->state.store->find(id);
                slot && i != self->state.variables.end())
              watch_rows_gap(self, id, i->second, *slot);
          });
}

/// A re-created variable actor holds `steps` steps: the update in flight
/// succeeded if its step is among them, else it is sent again (same step,
/// same operand); then the waiting updates go on.
void resume_after_rehosting(replica_actor_type* self, variable_id id,
                            std::uint64_t steps) {
  auto i = self->state.variables.find(id);
  if (i == self->state.variables.end())
    return;
  auto& entry = i->second;
  entry.rehosting = false;
  if (entry.in_flight) {
    entry.in_flight = false;
    if (entry.next_step < steps) {
      ++entry.next_step;
      entry.in_flight_reply.succeed();
    } else {
      entry.queue.push_front(queued_update{
          entry.in_flight_op, std::move(entry.in_flight_operand),
          entry.in_flight_call_deadline, std::move(entry.in_flight_reply)});
    }
  }
  send_next_update(self, id);
}

/// Takes a replica-context update of `id` (the `call`-th call of this
/// replica, 0: unnumbered) and answers `reply` when it is done. Calls are
/// applied in number order; one rejected at once still uses up its number.
void receive_update(replica_actor_type* self, variable_id id,
                    std::uint64_t call, std::uint8_t op_byte, tensor& operand,
                    std::int64_t timeout_ms, update_reply reply) {
  std::optional<error> rejection;
  auto op = step_op_from_wire(op_byte);
  auto i = self->state.variables.find(id);
  if (!op)
    rejection = invalid_op(op_byte);
  else if (i == self->state.variables.end())
    rejection = not_attached(self->state.index, id);
  else if (i->second.unavailable)
    rejection = *i->second.unavailable;
  if (rejection)
    reply.fail(*rejection);
  numbered_update update{
      id,
      queued_update{op.value_or(update_op::assign), std::move(operand),
                    clock_type::now() + milliseconds{timeout_ms},
                    rejection ? update_reply{} : std::move(reply)},
      rejection.has_value()};
  if (call == 0) {
    if (!update.rejected)
      accept_update(self, std::move(update));
    return;
  }
  // Calls may arrive out of order (the host API used to send each through
  // its own helper actor; a CAF request from elsewhere can still race):
  // hold them back until every earlier call arrived.
  auto& state = self->state;
  state.out_of_order.emplace(call, std::move(update));
  for (auto next = state.out_of_order.find(state.next_call);
       next != state.out_of_order.end();
       next = state.out_of_order.find(state.next_call)) {
    auto ready = std::move(next->second);
    state.out_of_order.erase(next);
    ++state.next_call;
    if (!ready.rejected)
      accept_update(self, std::move(ready));
  }
}

} // namespace

void fail_pending_updates(attached_variable& entry) {
  if (entry.in_flight) {
    entry.in_flight_reply.fail(*entry.unavailable);
    entry.in_flight = false;
  }
  for (auto& update : entry.queue)
    update.reply.fail(*entry.unavailable);
  entry.queue.clear();
}

caf::message_handler eager_broadcast_replica_side(replica_actor_type* self) {
  // Typed: the compiler checks these handlers against the interface.
  eager_broadcast_replica::behavior_type behavior{
      [self](install_atom, variable_id id, std::uint64_t version,
             std::uint64_t steps, tensor& value) {
        install(self, id, version, steps, std::move(value));
      },
      [self](install_rows_atom, variable_id id, std::uint64_t version,
             std::uint64_t steps, tensor& delta) {
        install_rows(self, id, version, steps, std::move(delta));
      },
      [self](rows_gap_atom, variable_id id, std::uint64_t held) {
        check_rows_gap(self, id, held);
      },
      [self](bulk_ack_atom, variable_id id, std::uint64_t step,
             std::uint64_t tag, std::uint8_t code, std::string& text) {
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.next_step != step)
          return;
        std::optional<error> outcome;
        if (code != 0)
          outcome = code <= static_cast<std::uint8_t>(errc::address_in_use)
                        ? error{static_cast<errc>(code), std::move(text)}
                        : error{errc::invalid_argument,
                                "variable '" + i->second.name +
                                    "': its actor answered with unknown error "
                                    "code " +
                                    std::to_string(code) + ": " + text};
        finish_attempt(self, id, tag, std::move(outcome));
      },
      [self](update_alarm_atom, std::int64_t ticks) {
        expire_attempts(self, ticks);
      },
      // This replica rejoined the group: it holds the current version and
      // numbers its next update with the step the variable expects.
      [self](rejoin_atom, variable_id id, std::uint64_t version,
             std::uint64_t steps, std::uint64_t first_step,
             tensor& value) -> caf::result<ok_atom> {
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end())
          return to_caf_error(not_attached(self->state.index, id));
        i->second.next_step = first_step;
        install(self, id, version, steps, std::move(value));
        return ok_atom::value;
      },
      // The variable's actor was re-created from the replicas: it holds
      // this version and this many steps.
      [self](rehosted_atom, variable_id id, std::uint64_t version,
             std::uint64_t steps, tensor& value) {
        install(self, id, version, steps, std::move(value));
        resume_after_rehosting(self, id, steps);
      },
      [self](update_atom, variable_id id, std::uint64_t call,
             std::uint8_t op_byte, tensor& operand,
             std::int64_t timeout_ms) -> caf::result<ok_atom> {
        auto promise = self->make_response_promise();
        receive_update(self, id, call, op_byte, operand, timeout_ms,
                       update_reply{promise, nullptr});
        return promise;
      },
      [self](local_update_atom, variable_id id, std::uint64_t call,
             std::uint8_t op_byte, tensor& operand, std::int64_t timeout_ms,
             update_completion_ptr& completion) {
        receive_update(self, id, call, op_byte, operand, timeout_ms,
                       update_reply{{}, std::move(completion)});
      },
  };
  return caf::message_handler{behavior.unbox().as_behavior_impl()};
}

} // namespace varsync
