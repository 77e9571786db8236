#pragma once

// How replica-context calls (runtime/replica.cpp, replica_rows.cpp) reach a
// variable's copy and policy part at their replica, with the checks every
// such call makes first, and carry out the part's plan for an update.

#include "actors/policies/local_part.hpp"
#include "actors/replica_slot.hpp"
#include "runtime/runtime_core.hpp"
#include "varsync/error.hpp"
#include "varsync/replica.hpp"
#include "varsync/variable.hpp"

#include <memory>
#include <optional>

namespace varsync::detail {

/// `check_handle` plus: the variable belongs to this replica's group; the
/// error names `call`.
expected<void> check_same_group(const replica_core& core, const variable& var,
                                const char* call);

/// The slot of `var` at `core`'s replica when a read may take it without
/// further checks: the handles are valid and of this runtime and group (by
/// identity), the record holds the slot, and the variable has no SSP cache
/// (so the read is the installed value as is). nullptr otherwise: the full
/// path then checks, reports errors, and handles bounded_staleness.
/// Touches no reference count.
const replica_slot* plain_slot(const replica_core* core,
                               const variable& var) noexcept;

/// The policy part of `var` (checked by check_same_group) at `core`'s
/// replica, or nullptr when it is not attached there. The record holds this
/// process's parts (no lock, no reference count); a part attached after the
/// record was made comes from the store, and `keep` then holds it.
local_part* local_part_of(const replica_core& core, const variable& var,
                          std::shared_ptr<local_part>& keep);

/// `plan(part)` for the policy part of `var` at `core`'s replica (a
/// replica-context call named `call`), or nullopt when there is no core,
/// `var` fails check_same_group, or it is not attached here: the caller's
/// general path then checks and reports. Never blocks.
template <class Plan>
std::optional<host_update_plan> plan_at_part(const replica_core* core,
                                             const variable& var,
                                             const char* call, Plan plan) {
  if (core == nullptr || !check_same_group(*core, var, call))
    return std::nullopt;
  std::shared_ptr<local_part> keep;
  auto* part = local_part_of(*core, var, keep);
  if (part == nullptr)
    return std::nullopt;
  return plan(*part);
}

/// `unknown_variable`: `var` is not attached to `core`'s replica.
error not_attached(const replica_core& core, const variable& var);

/// Carries out `plan` (from a local part, checked) for `var` at `core`'s
/// replica: returns its result, or runs its collective step through the
/// replica actor and blocks until that step completed or `timeout`.
expected<void> finish_update(const std::shared_ptr<replica_core>& core,
                             const variable& var, host_update_plan plan,
                             timeout_type timeout);

/// `finish_update` reporting to `done`: on the calling thread for a plan
/// completed here, else once the step completed. Never blocks.
void finish_update_async(const std::shared_ptr<replica_core>& core,
                         const variable& var, host_update_plan plan,
                         update_callback done, timeout_type timeout);

} // namespace varsync::detail
