#include "actors/policies/eager_broadcast/state_machine.hpp"

#include "runtime/core/row_delta.hpp"
#include "runtime/core/wording.hpp"

#include <algorithm>
#include <utility>

namespace varsync::policies {

eager_broadcast::eager_broadcast(settings config, tensor initial)
    : config_(std::move(config)), value_(std::move(initial)),
      live_(config_.replicas, true), joined_at_(config_.replicas, 0) {
  // nop
}

eager_broadcast
eager_broadcast::recovered(settings config,
                           const std::vector<committed_state>& held) {
  const committed_state* latest = nullptr;
  for (const auto& state : held)
    if (latest == nullptr || state.version > latest->version ||
        (state.version == latest->version && state.steps > latest->steps))
      latest = &state;
  auto result = latest == nullptr ? eager_broadcast{config, tensor{}}
                                  : eager_broadcast{config, latest->value};
  if (latest != nullptr) {
    result.version_ = latest->version;
    result.next_step_ = latest->steps;
  }
  result.live_.assign(result.live_.size(), false);
  for (const auto& state : held) {
    if (state.replica >= result.live_.size())
      continue;
    result.live_[state.replica] = true;
    // A replica that rejoined was told its first step; it keeps it.
    if (state.next_step > result.next_step_)
      result.joined_at_[state.replica] = state.next_step;
  }
  return result;
}

std::size_t eager_broadcast::live_replicas() const noexcept {
  return static_cast<std::size_t>(std::count(live_.begin(), live_.end(), true));
}

expected<void> eager_broadcast::check(std::size_t replica, std::uint64_t step,
                                      update_op op,
                                      const tensor& operand) const {
  const auto& name = config_.variable_name;
  if (auto outsider = not_a_live_member(config_, live_, replica))
    return *outsider;
  if (op == update_op::assign_rows &&
      config_.how != aggregation::only_first_replica &&
      config_.how != aggregation::none)
    return error{errc::wrong_context,
                 "variable '" + name +
                     "': assign_rows steps need aggregation " +
                     "only_first_replica or none (as TF's scatter_update), " +
                     "not " + to_string(config_.how)};
  if (op == update_op::add_rows || op == update_op::assign_rows) {
    if (!config_.row_steps)
      return error{errc::invalid_argument,
                   "variable '" + name +
                       "': row-delta steps are for on_write variables"};
    if (config_.how == aggregation::min || config_.how == aggregation::max)
      return error{errc::invalid_argument,
                   "variable '" + name + "': row-delta steps aggregate by " +
                       "sum, mean or only_first_replica, not " +
                       to_string(config_.how)};
    if (auto checked =
            check_packed_rows(operand, config_.type, config_.shape, name);
        !checked)
      return checked;
  } else if (auto checked =
                 check_operand(operand, config_.type, config_.shape, name);
             !checked) {
    return checked;
  }
  if (config_.how == aggregation::none && config_.replicas > 1)
    return error{errc::aggregation_required,
                 "variable '" + name + "': " + to_string(op) +
                     " in replica context with " +
                     std::to_string(config_.replicas) +
                     " replicas needs an aggregation (sum, mean, "
                     "only_first_replica, min or max), the variable has "
                     "aggregation none"};
  if (step < joined_at_[replica])
    return error{errc::invalid_argument,
                 "variable '" + name + "': replica " + std::to_string(replica) +
                     " sent step " + std::to_string(step) +
                     ", but it rejoined the group at step " +
                     std::to_string(joined_at_[replica])};
  if (step < next_step_)
    return error{errc::invalid_argument,
                 "variable '" + name + "': replica " + std::to_string(replica) +
                     " sent step " + std::to_string(step) +
                     ", but steps before " + std::to_string(next_step_) +
                     " are complete"};
  if (auto i = pending_.find(step); i != pending_.end()) {
    const auto& by_replica = i->second.by_replica;
    if (by_replica[replica])
      return error{errc::invalid_argument, "variable '" + name + "': replica " +
                                               std::to_string(replica) +
                                               " contributed twice to step " +
                                               std::to_string(step)};
    for (std::size_t other = 0; other < by_replica.size(); ++other)
      if (by_replica[other] && by_replica[other]->op != op)
        return error{errc::collective_mismatch,
                     "variable '" + name + "': step " + std::to_string(step) +
                         " is an " + to_string(by_replica[other]->op) +
                         " (replica " + std::to_string(other) + "), replica " +
                         std::to_string(replica) + " made an " + to_string(op) +
                         "; all replicas must make the same update in a "
                         "step"};
  }
  return {};
}

expected<std::vector<published_version>>
eager_broadcast::contribute(std::size_t replica, std::uint64_t step,
                            update_op op, tensor operand,
                            std::optional<std::uint64_t> received) {
  if (auto checked = check(replica, step, op, operand); !checked)
    return checked.error();
  auto filled = std::min<std::uint64_t>(received.value_or(operand.size()),
                                        operand.size());
  if (filled < operand.size() && op != update_op::add &&
      op != update_op::subtract)
    return error{errc::invalid_argument,
                 "variable '" + config_.variable_name + "': replica " +
                     std::to_string(replica) + " sent an " + to_string(op) +
                     " in parts; only assign_add and assign_sub travel in "
                     "parts"};
  auto& entry = pending_[step];
  if (entry.by_replica.empty()) {
    entry.by_replica.resize(config_.replicas);
    entry.seen.resize(config_.replicas, false);
  }
  entry.by_replica[replica] = contribution{op, std::move(operand), filled};
  entry.seen[replica] = true;
  return complete_ready_steps();
}

std::vector<published_version>
eager_broadcast::receive_more(std::size_t replica, std::uint64_t step,
                              const tensor& operand, std::uint64_t received) {
  auto i = pending_.find(step);
  if (i == pending_.end() || replica >= config_.replicas)
    return {};
  auto& slot = i->second.by_replica[replica];
  if (!slot || !slot->operand.shares_buffer_with(operand) ||
      received <= slot->received || received > slot->operand.size())
    return {};
  slot->received = received;
  return complete_ready_steps();
}

std::vector<published_part> eager_broadcast::take_parts() {
  return std::exchange(parts_, {});
}

bool eager_broadcast::takes_part(std::size_t replica,
                                 std::uint64_t step) const {
  return live_[replica] && joined_at_[replica] <= step;
}

bool eager_broadcast::all_present(std::uint64_t step,
                                  const pending_step& entry) const {
  for (std::size_t replica = 0; replica < config_.replicas; ++replica)
    if (takes_part(replica, step) && !entry.by_replica[replica])
      return false;
  return live_replicas() > 0;
}

bool eager_broadcast::is_complete(std::uint64_t step,
                                  const pending_step& entry) const {
  if (!all_present(step, entry))
    return false;
  for (std::size_t replica = 0; replica < config_.replicas; ++replica) {
    const auto& slot = entry.by_replica[replica];
    if (takes_part(replica, step) && slot->received < slot->operand.size())
      return false;
  }
  return true;
}

bool eager_broadcast::reduce_received(pending_step& entry) {
  std::vector<tensor> operands;
  std::optional<update_op> op;
  auto ready = static_cast<std::uint64_t>(value_.size());
  for (std::size_t replica = 0; replica < config_.replicas; ++replica) {
    const auto& slot = entry.by_replica[replica];
    if (live_[replica] && slot) {
      op = slot->op;
      operands.push_back(slot->operand);
      ready = std::min(ready, slot->received);
    }
  }
  if (!op || !reduces_in_ranges(*op, config_.how))
    return false; // waits for whole contributions
  if (ready > entry.reduced) {
    if (entry.output_bytes.data() == nullptr) {
      auto fresh = tensor::uninitialized(value_.type(), value_.shape());
      if (!fresh)
        return false;
      entry.output = std::move(*fresh);
      // Taken before any part shares the buffer: later ranges are written
      // while earlier ones travel.
      entry.output_bytes = entry.output.mutable_bytes();
    }
    apply_aggregate_range(entry.output_bytes, *op, value_, operands,
                          config_.how, entry.reduced, ready);
    parts_.push_back({version_ + 1, next_step_, next_step_ + 1, entry.output,
                      entry.reduced, ready - entry.reduced,
                      ready == value_.size()});
    entry.reduced = ready;
  }
  return entry.reduced == value_.size();
}

void eager_broadcast::restart_reduce() {
  auto i = pending_.find(next_step_);
  if (i == pending_.end() || i->second.output_bytes.data() == nullptr)
    return;
  i->second.output = tensor{};
  i->second.output_bytes = {};
  i->second.reduced = 0;
  std::erase_if(parts_, [this](const published_part& part) {
    return part.step == next_step_;
  });
}

std::vector<published_version> eager_broadcast::complete_ready_steps() {
  std::vector<published_version> result;
  for (auto i = pending_.find(next_step_);
       i != pending_.end() && all_present(next_step_, i->second);
       i = pending_.find(next_step_)) {
    // A step whose contributions are still arriving, or whose reduce
    // started so, is reduced range by range.
    bool in_parts = false;
    if (!is_complete(next_step_, i->second) ||
        i->second.output_bytes.data() != nullptr) {
      if (!reduce_received(i->second))
        break;
      in_parts = true;
    }
    std::vector<tensor> operands;
    std::optional<update_op> op;
    for (std::size_t replica = 0; replica < config_.replicas; ++replica) {
      auto& slot = i->second.by_replica[replica];
      if (live_[replica] && slot) {
        op = slot->op;
        operands.push_back(std::move(slot->operand));
      }
    }
    auto how = config_.how == aggregation::none
                   ? aggregation::only_first_replica
                   : config_.how;
    published_version published;
    if (in_parts) {
      value_ = std::move(i->second.output);
      published.value = value_;
      published.in_parts = true;
    } else if (*op == update_op::assign_rows) {
      // only_first_replica (or none, a group of one): the first live
      // replica's rows, set in their order.
      published.value = setting_rows(operands.front());
      published.rows = true;
      add_packed_rows_into(value_, published.value);
    } else if (*op == update_op::add_rows) {
      published.value = aggregate_packed_rows(operands, how);
      published.rows = true;
      // In place unless a published version still shares the buffer.
      add_packed_rows_into(value_, published.value);
    } else {
      value_ = apply_aggregate(*op, value_, operands, how);
      published.value = value_;
    }
    ++version_;
    ++next_step_;
    published.version = version_;
    published.step = next_step_ - 1;
    published.steps = next_step_;
    result.push_back(std::move(published));
    pending_.erase(i);
  }
  return result;
}

std::optional<error> eager_broadcast::expire(std::size_t replica,
                                             std::uint64_t step) {
  auto i = pending_.find(step);
  if (i == pending_.end() || replica >= config_.replicas ||
      !i->second.by_replica[replica])
    return std::nullopt;
  if (step == next_step_)
    restart_reduce(); // reduced ranges included the withdrawn operand
  i->second.by_replica[replica].reset();
  std::vector<std::size_t> absent;
  for (std::size_t other = 0; other < config_.replicas; ++other)
    if (takes_part(other, step) && !i->second.seen[other])
      absent.push_back(other);
  auto all_empty =
      std::none_of(i->second.by_replica.begin(), i->second.by_replica.end(),
                   [](const auto& slot) { return slot.has_value(); });
  if (all_empty)
    pending_.erase(i);
  return error{errc::timeout, "variable '" + config_.variable_name +
                                  "': " + wording::nth_update(step) +
                                  " did not complete before replica " +
                                  std::to_string(replica) + "'s deadline; " +
                                  wording::replicas(absent) +
                                  " had not contributed; nothing was applied"};
}

std::vector<std::size_t> eager_broadcast::missing(std::uint64_t step) const {
  std::vector<std::size_t> result;
  auto i = pending_.find(step);
  for (std::size_t replica = 0; replica < config_.replicas; ++replica)
    if (takes_part(replica, step) &&
        (i == pending_.end() || !i->second.by_replica[replica]))
      result.push_back(replica);
  return result;
}

expected<published_version>
eager_broadcast::cross_update(update_op op, const tensor& operand) {
  if (op == update_op::add_rows || op == update_op::assign_rows) {
    // Rows: applied in place, published as the rows (what turns the
    // version before into this one), like a row step's.
    if (auto checked = check_packed_rows(operand, config_.type, config_.shape,
                                         config_.variable_name);
        !checked)
      return checked.error();
    auto rows = op == update_op::add_rows
                    ? aggregate_packed_rows({&operand, 1}, aggregation::sum)
                    : setting_rows(operand);
    restart_reduce(); // reduced ranges started from the value before
    add_packed_rows_into(value_, rows);
    ++version_;
    published_version published{version_, std::move(rows), std::nullopt,
                                next_step_};
    published.rows = true;
    return published;
  }
  if (auto checked = check_operand(operand, config_.type, config_.shape,
                                   config_.variable_name);
      !checked)
    return checked.error();
  restart_reduce(); // reduced ranges started from the value before
  value_ = apply(op, value_, operand);
  ++version_;
  return published_version{version_, value_, std::nullopt, next_step_};
}

std::vector<published_version>
eager_broadcast::drop_replica(std::size_t replica) {
  return drop_replicas({replica});
}

std::vector<published_version>
eager_broadcast::drop_replicas(const std::vector<std::size_t>& replicas) {
  bool dropped = false;
  for (auto replica : replicas) {
    if (replica >= config_.replicas || !live_[replica])
      continue;
    live_[replica] = false;
    for (auto& [step, entry] : pending_)
      entry.by_replica[replica].reset();
    dropped = true;
  }
  if (!dropped)
    return {};
  restart_reduce(); // a mean's divisor changed; the ranges held its operand
  return complete_ready_steps();
}

std::uint64_t eager_broadcast::add_replica(std::size_t replica) {
  if (replica >= config_.replicas)
    return next_step_;
  auto first = next_step_;
  if (!pending_.empty())
    first = std::max(first, pending_.rbegin()->first + 1);
  live_[replica] = true;
  joined_at_[replica] = first;
  return first;
}

} // namespace varsync::policies
