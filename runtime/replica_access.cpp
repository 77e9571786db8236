#include "runtime/replica_access.hpp"

#include "runtime/call_checks.hpp"

#include <string>

namespace varsync::detail {

expected<void> check_same_group(const replica_core& core, const variable& var,
                                const char* call) {
  if (auto valid = check_handle(var, &core.runtime(), call); !valid)
    return valid;
  if (var.record()->group.get() != &core.group() &&
      var.record()->group->name != core.group().name)
    return error{errc::invalid_argument,
                 std::string{call} + ": variable '" + var.name() +
                     "' belongs to replica group '" + var.group_name() +
                     "', this replica is of group '" + core.group().name + "'"};
  return {};
}

const replica_slot* plain_slot(const replica_core* core,
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

local_part* local_part_of(const replica_core& core, const variable& var,
                          std::shared_ptr<local_part>& keep) {
  const auto& record = *var.record();
  if (auto index = core.index();
      index < record.parts.size() && record.parts[index])
    return record.parts[index].get();
  keep = core.store().find_part(record.id);
  return keep.get();
}

error not_attached(const replica_core& core, const variable& var) {
  return error{errc::unknown_variable, "variable '" + var.name() +
                                           "' is not attached to replica " +
                                           std::to_string(core.index())};
}

} // namespace varsync::detail
