#include "actors/policies/periodic/host_side.hpp"

namespace varsync {

periodic_local_part::periodic_local_part(const local_part_spec& spec)
    : local_part(spec), accumulator_(std::make_shared<periodic_accumulator>(
                            spec.slot, spec.initial, spec.options.period)) {
  // nop
}

host_update_plan periodic_local_part::update(update_op op,
                                             const tensor& operand) {
  if (auto missing = aggregation_missing(op))
    return expected<void>{*missing};
  if (!accumulator_->update(op, operand))
    return expected<void>{}; // a local step
  auto accumulator = accumulator_;
  return collective_update{
      update_op::add, accumulator->begin_sync(),
      [accumulator](bool succeeded) { accumulator->end_sync(succeeded); }};
}

void periodic_local_part::install(std::uint64_t version, tensor value) {
  accumulator_->install(version, std::move(value));
}

std::shared_ptr<local_part>
make_periodic_local_part(const local_part_spec& spec, local_store&) {
  return std::make_shared<periodic_local_part>(spec);
}

} // namespace varsync
