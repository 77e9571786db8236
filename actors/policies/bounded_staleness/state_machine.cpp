#include "actors/policies/bounded_staleness/state_machine.hpp"

#include "runtime/core/row_delta.hpp"

#include <algorithm>
#include <limits>

namespace varsync::policies {

namespace {

/// Whether `delta` is a delta of the variable `config` describes: dense of
/// its dtype and shape, or a packed row delta within its rows.
expected<void> check_delta(const policy_settings& config, const tensor& delta) {
  if (is_packed_rows(delta, config.shape))
    return check_packed_rows(delta, config.type, config.shape,
                             config.variable_name);
  return check_operand(delta, config.type, config.shape, config.variable_name);
}

} // namespace

bounded_staleness::bounded_staleness(settings config, tensor initial)
    : config_(std::move(config)), snapshot_(std::move(initial)),
      clocks_(config_.replicas, 0), live_(config_.replicas, true),
      attached_(config_.replicas, true), rejoined_(config_.replicas, false) {
  // nop
}

bounded_staleness
bounded_staleness::recovered(settings config,
                             const std::vector<cached_state>& held) {
  const staleness_refresh* newest = nullptr;
  for (const auto& state : held)
    if (newest == nullptr || state.refresh.version > newest->version)
      newest = &state.refresh;
  bounded_staleness result{config,
                           newest != nullptr ? newest->snapshot : tensor{}};
  result.live_.assign(config.replicas, false);
  if (newest == nullptr)
    return result;
  result.min_clock_ = newest->min_clock;
  result.version_ = newest->version;
  for (const auto& state : held) {
    if (state.replica >= config.replicas)
      continue;
    result.live_[state.replica] = true;
    result.clocks_[state.replica] = std::max(state.clock, result.min_clock_);
    for (const auto& [tag, delta] : state.own) {
      if (tag < result.min_clock_ || tag >= state.clock)
        continue; // in the snapshot already, or never pushed
      if (!check_delta(config, delta))
        continue; // not a delta of this variable: never applied
      auto& slots = result.pending_[tag];
      slots.resize(config.replicas);
      slots[state.replica] = delta;
    }
  }
  return result;
}

void bounded_staleness::await_attachments() {
  attached_.assign(config_.replicas, false);
  started_ = false;
}

void bounded_staleness::replica_attached(std::size_t replica,
                                         std::uint64_t clock) {
  if (started_ || replica >= config_.replicas || attached_[replica])
    return;
  attached_[replica] = true;
  clocks_[replica] = clock;
}

staleness_refresh bounded_staleness::start() {
  if (!started_) {
    started_ = true;
    // Each replica's first push is tagged with its attach clock, so no
    // update is tagged below the lowest of them.
    auto lowest = std::numeric_limits<std::uint64_t>::max();
    for (std::size_t replica = 0; replica < config_.replicas; ++replica)
      if (live_[replica] && attached_[replica])
        lowest = std::min(lowest, clocks_[replica]);
    if (lowest != std::numeric_limits<std::uint64_t>::max())
      min_clock_ = lowest;
  }
  // Whole: a replica may hold any older snapshot (a re-created actor
  // starts from the newest one any survivor held).
  if (auto advanced = advance()) {
    advanced->rows.reset();
    return *advanced;
  }
  ++version_;
  return current();
}

expected<std::optional<staleness_refresh>>
bounded_staleness::push(std::size_t replica, std::uint64_t clock,
                        std::optional<tensor> delta) {
  const auto& name = config_.variable_name;
  if (auto outsider = not_a_live_member(config_, live_, replica))
    return *outsider;
  if (!attached_[replica])
    return error{errc::invalid_argument,
                 "variable '" + name + "': replica " + std::to_string(replica) +
                     " pushed clock " + std::to_string(clock) +
                     " before it attached"};
  if (clock != clocks_[replica] &&
      !(rejoined_[replica] && clock > clocks_[replica]))
    return error{errc::invalid_argument,
                 "variable '" + name + "': replica " + std::to_string(replica) +
                     " pushed clock " + std::to_string(clock) +
                     " but is at clock " + std::to_string(clocks_[replica])};
  if (delta) {
    if (auto checked = check_delta(config_, *delta); !checked)
      return checked.error();
    auto& slots = pending_[clock];
    slots.resize(config_.replicas);
    slots[replica] = std::move(*delta);
  }
  clocks_[replica] = clock + 1;
  return advance();
}

std::uint64_t bounded_staleness::lowest_live_clock() const {
  auto lowest = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t replica = 0; replica < config_.replicas; ++replica)
    if (live_[replica])
      lowest = std::min(lowest, clocks_[replica]);
  return lowest == std::numeric_limits<std::uint64_t>::max() ? min_clock_
                                                             : lowest;
}

tensor bounded_staleness::combine(
    const std::vector<std::optional<tensor>>& deltas) const {
  std::vector<tensor> present;
  bool all_rows = true;
  for (const auto& delta : deltas)
    if (delta) {
      present.push_back(*delta);
      all_rows = all_rows && is_packed_rows(*delta, config_.shape);
    }
  auto replicas = static_cast<std::int64_t>(config_.replicas);
  if (all_rows && !present.empty()) {
    // Rows stay rows: the same sums, row by row (runtime/core/row_delta).
    auto combined = aggregate_packed_rows(present, aggregation::sum);
    if (config_.how == aggregation::mean)
      return divide_packed_rows(combined, replicas);
    return combined;
  }
  for (auto& delta : present)
    delta = dense(delta);
  auto combined = aggregate(present, aggregation::sum);
  if (config_.how == aggregation::mean)
    return divide(combined, replicas);
  return combined;
}

tensor bounded_staleness::dense(const tensor& delta) const {
  if (!is_packed_rows(delta, config_.shape))
    return delta;
  return dense_from_packed_rows(delta, config_.type, config_.shape);
}

void bounded_staleness::add_into(tensor& value, const tensor& combined) const {
  if (is_packed_rows(combined, config_.shape))
    add_packed_rows_into(value, combined);
  else
    value = apply(update_op::add, value, combined);
}

std::optional<staleness_refresh> bounded_staleness::advance() {
  if (!started_)
    return std::nullopt;
  auto next = lowest_live_clock();
  if (next <= min_clock_)
    return std::nullopt;
  auto rows = no_rows();
  for (auto i = pending_.begin(); i != pending_.end() && i->first < next;
       i = pending_.erase(i)) {
    auto combined = combine(i->second);
    if (rows && is_packed_rows(combined, config_.shape))
      rows = packed_row_count(*rows) == 0 ? combined
                                          : concat_packed_rows(*rows, combined);
    else
      rows.reset(); // a dense clock: the refresh carries the snapshot
    add_into(snapshot_, combined);
  }
  min_clock_ = next;
  ++version_;
  auto refresh = current();
  refresh.rows = std::move(rows);
  return refresh;
}

std::optional<tensor> bounded_staleness::no_rows() const {
  if (config_.shape.empty() || config_.shape[0] == 0)
    return std::nullopt;
  auto row_shape = config_.shape;
  row_shape[0] = 0;
  auto values = tensor::uninitialized(config_.type, std::move(row_shape));
  if (!values)
    return std::nullopt;
  return pack_rows({}, *values);
}

expected<staleness_refresh>
bounded_staleness::cross_assign(const tensor& value) {
  if (auto checked = check_operand(value, config_.type, config_.shape,
                                   config_.variable_name);
      !checked)
    return checked.error();
  // snapshot + pending = value, so that folding the pending deltas later
  // lands exactly on `value` plus whatever is pushed after this call.
  tensor received = value;
  for (const auto& [tag, deltas] : pending_)
    received = apply(update_op::subtract, received, dense(combine(deltas)));
  snapshot_ = std::move(received);
  ++version_;
  return current();
}

expected<staleness_refresh> bounded_staleness::cross_add(update_op op,
                                                         const tensor& delta) {
  if (op == update_op::assign_rows)
    return error{errc::wrong_context,
                 "variable '" + config_.variable_name +
                     "': bounded_staleness updates must commute, "
                     "assign_rows does not (use assign_add_rows)"};
  if (op == update_op::add_rows) {
    // The distinct rows (the dense delta's rows), added in place; the
    // refresh carries them.
    auto rows = combine_repeated_rows(delta, config_.type, config_.shape,
                                      config_.variable_name);
    if (!rows)
      return rows.error();
    add_packed_rows_into(snapshot_, *rows);
    ++version_;
    auto refresh = current();
    refresh.rows = std::move(*rows);
    return refresh;
  }
  if (auto checked = check_operand(delta, config_.type, config_.shape,
                                   config_.variable_name);
      !checked)
    return checked.error();
  snapshot_ = apply(op, snapshot_, delta);
  ++version_;
  return current();
}

std::optional<staleness_refresh>
bounded_staleness::drop_replica(std::size_t replica) {
  if (replica >= config_.replicas || !live_[replica])
    return std::nullopt;
  live_[replica] = false;
  return advance();
}

staleness_refresh bounded_staleness::add_replica(std::size_t replica) {
  if (replica < config_.replicas && !live_[replica]) {
    live_[replica] = true;
    attached_[replica] = true;
    rejoined_[replica] = true;
    clocks_[replica] = min_clock_;
  }
  return current();
}

tensor bounded_staleness::total() const {
  auto result = snapshot_;
  for (const auto& [tag, deltas] : pending_)
    add_into(result, combine(deltas));
  return result;
}

} // namespace varsync::policies
