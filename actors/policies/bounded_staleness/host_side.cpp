#include "actors/policies/bounded_staleness/host_side.hpp"

#include "runtime/core/row_delta.hpp"

namespace varsync {

bounded_staleness_local_part::bounded_staleness_local_part(
    const local_part_spec& spec, std::shared_ptr<staleness_cache> cache,
    staleness_counters& counters)
    : local_part(spec), cache_(std::move(cache)), counters_(counters) {
  // nop
}

host_update_plan bounded_staleness_local_part::update(update_op op,
                                                      const tensor& operand) {
  if (op == update_op::assign)
    return expected<void>{
        error{errc::wrong_context,
              "variable '" + name_ +
                  "' has synchronization bounded_staleness: replica-context "
                  "assign is not allowed (updates must commute); use "
                  "assign_add/assign_sub, or assign from the cross-replica "
                  "context"}};
  cache_->add_local(op, operand);
  return expected<void>{};
}

std::optional<host_update_plan>
bounded_staleness_local_part::add_rows(std::span<const std::int64_t> rows,
                                       const tensor& values) {
  cache_->add_local_rows(pack_rows(rows, values));
  // Built in place: moving a host_update_plan in here trips GCC 12's
  // -Wmaybe-uninitialized (a false positive) in the sanitizer build.
  return std::optional<host_update_plan>{std::in_place, std::in_place_index<0>};
}

bool bounded_staleness_local_part::fresh_at(std::uint64_t clock) const {
  return staleness_cache::is_fresh(cache_->bound(), slot_->load()->min_clock,
                                   clock);
}

stamped_read bounded_staleness_local_part::read_at(std::uint64_t clock) {
  auto installed = slot_->load();
  auto lag = clock > installed->min_clock ? clock - installed->min_clock : 0;
  counters_.record_read(lag);
  return stamped_read{installed->value, clock, lag};
}

std::shared_ptr<local_part>
make_bounded_staleness_local_part(const local_part_spec& spec,
                                  local_store& store) {
  auto cache = store.find_cache(spec.id);
  if (!cache) {
    cache = std::make_shared<staleness_cache>(
        spec.slot, spec.initial, spec.options.staleness_bound,
        spec.options.aggregation, spec.replicas);
    store.attach_cache(spec.id, cache);
  }
  return std::make_shared<bounded_staleness_local_part>(spec, std::move(cache),
                                                        store.counters);
}

} // namespace varsync
