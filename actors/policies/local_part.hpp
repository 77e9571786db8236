#pragma once

// A policy's local part of one variable at one replica: what the host
// thread does with a replica-context update, and where a published version
// goes. Each policy's host_side.hpp defines its part; the replica actor
// creates it when the variable attaches (through the policy table,
// actors/policies/table.hpp) and keeps it in the replica's local_store,
// where the replica handle finds it. The host path
// (runtime/replica.cpp) asks the part and never switches on the policy.
//
//   host thread:   part->update(op, x) --> done here (a local copy, a cache)
//                                      \-> collective_update{op', x', settle}
//                                            through the replica actor
//   replica actor: install(version, value) --> the slot (or what feeds it)

#include "actors/protocol.hpp"
#include "actors/replica_slot.hpp"
#include "runtime/core/tensor_math.hpp"
#include "varsync/error.hpp"
#include "varsync/replica.hpp"
#include "varsync/variable_options.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>

namespace varsync {

class local_store;

/// What a variable's local part is made from, at attach.
struct local_part_spec {
  variable_id id = 0;
  std::string name;
  variable_options options;
  /// The size of the variable's replica group.
  std::size_t replicas = 1;
  /// The copy readers load (already created in the replica's store).
  std::shared_ptr<replica_slot> slot;
  tensor initial;
};

/// The collective part of an update: contribute `op` with `operand` as one
/// step through the replica actor; `settle` (may be empty) learns whether
/// the step succeeded before the caller does.
struct collective_update {
  update_op op = update_op::add;
  tensor operand;
  std::function<void(bool succeeded)> settle;
};

/// The host thread's plan for one update: its result (completed here), or
/// the collective step to run.
using host_update_plan = std::variant<expected<void>, collective_update>;

/// One variable at one replica, as its policy handles it locally.
/// Thread-safe: the host thread calls `update`, the replica actor
/// `install`.
class local_part {
public:
  explicit local_part(const local_part_spec& spec)
      : name_(spec.name), options_(spec.options), replicas_(spec.replicas),
        slot_(spec.slot) {
    // nop
  }

  virtual ~local_part() = default;

  local_part(const local_part&) = delete;
  local_part& operator=(const local_part&) = delete;

  /// Host thread: a replica-context update whose operand was checked
  /// (dtype, shape). Completes it here or returns the collective step.
  /// Never blocks.
  virtual host_update_plan update(update_op op, const tensor& operand) = 0;

  /// Host thread: the plan for a row update (rows and values checked
  /// against the variable) whose cost goes with the rows: done on the local
  /// copy, or a row-delta step; nullopt when the policy takes row updates
  /// as a dense delta through `update` instead. Default: nullopt. Never
  /// blocks beyond the slot's writer lock.
  virtual std::optional<host_update_plan>
  add_rows(std::span<const std::int64_t> rows, const tensor& values) {
    (void)rows;
    (void)values;
    return std::nullopt;
  }

  /// Host thread: the plan for an assign_rows (rows and values checked,
  /// the policy's rule passed) that costs the rows: a row step; nullopt
  /// when the policy assigns the whole value instead. Default: nullopt.
  /// Never blocks.
  virtual std::optional<host_update_plan>
  assign_rows(std::span<const std::int64_t> rows, const tensor& values) {
    (void)rows;
    (void)values;
    return std::nullopt;
  }

  /// Whether updates are collective steps (they may travel on the bulk
  /// plane).
  virtual bool takes_steps() const noexcept { return false; }

  /// Host thread: whether a replica at SSP clock `clock` may read its copy
  /// now; if not, the caller waits for a refresh through the replica actor
  /// and then reads. Default: always.
  virtual bool fresh_at(std::uint64_t clock) const {
    (void)clock;
    return true;
  }

  /// Host thread: the copy as a replica at `clock` reads it, stamped.
  /// Default: the installed value, staleness 0.
  virtual stamped_read read_at(std::uint64_t clock) {
    return stamped_read{slot_->load_value(), clock, 0};
  }

  /// Replica actor: published version `version` arrived. Default: the
  /// slot installs it unless it holds a newer one.
  virtual void install(std::uint64_t version, tensor value) {
    slot_->install(version, std::move(value));
  }

protected:
  /// TF's rule for collective updates: in a group of more than one
  /// replica they need an aggregation. The error, or nullopt.
  std::optional<error> aggregation_missing(update_op op) const;

  const std::string name_;
  const variable_options options_;
  const std::size_t replicas_;
  const std::shared_ptr<replica_slot> slot_;
};

/// Makes a policy's part at attach (a row of the policy table); may
/// register more of the policy's local state in the replica's store.
using local_part_factory =
    std::shared_ptr<local_part> (*)(const local_part_spec&, local_store&);

} // namespace varsync
