#pragma once

/// `variable`: a handle to a distributed variable created by a `runtime`.

#include "varsync/tensor.hpp"
#include "varsync/variable_options.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace varsync {

namespace detail {
struct variable_record;
} // namespace detail

/// A cheap, copyable handle naming one distributed variable. Thread-safe:
/// handles are immutable. A default-constructed handle is invalid; calls
/// with it fail with `unknown_variable`.
class variable {
public:
  variable() = default;

  /// Used by the runtime; applications get handles from
  /// `runtime::create_variable`.
  explicit variable(std::shared_ptr<const detail::variable_record> record)
      : record_(std::move(record)) {
    // nop
  }

  /// False for a default-constructed handle.
  bool valid() const noexcept { return record_ != nullptr; }

  /// The variable's unique name.
  const std::string& name() const;

  /// The element type every value of the variable has.
  dtype type() const;

  /// The shape every value of the variable has.
  const shape_type& shape() const;

  /// The options in effect (automatic resolved, trainable resolved).
  const variable_options& options() const;

  /// The options as the creator passed them.
  const variable_options& requested_options() const;

  /// The name of the replica group the variable belongs to.
  const std::string& group_name() const;

  /// The number of replicas of that group.
  std::size_t group_size() const;

  /// A one-line description, e.g. "w: f32[2], on_write (resolved from
  /// automatic), aggregation mean, trainable, 4 replicas of group workers".
  std::string description() const;

  /// Internal record; used by the runtime.
  const std::shared_ptr<const detail::variable_record>& record() const {
    return record_;
  }

  friend bool operator==(const variable& x, const variable& y) noexcept {
    return x.record_ == y.record_;
  }

private:
  std::shared_ptr<const detail::variable_record> record_;
};

} // namespace varsync
