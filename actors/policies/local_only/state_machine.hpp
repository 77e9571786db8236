#pragma once

// none: independent local copies.
//
//   replica context: read / update the local copy (no message, no actor)
//   cross-replica context: every call --> wrong_context
//
// How it works. Each replica's copy lives in its replica slot and only its
// own worker touches it; the variable actor exists to name the variable and
// to refuse cross-replica calls, as TF refuses synchronization NONE inside
// a distribution strategy.
//
// Guarantee: no replica ever observes another replica's update.

#include "varsync/error.hpp"

#include <string>

namespace varsync::policies {

/// The rules of synchronization none.
class local_only {
public:
  explicit local_only(std::string variable_name)
      : variable_name_(std::move(variable_name)) {
    // nop
  }

  /// The error for any cross-replica call `what` ("read", "assign", ...).
  error reject_cross_replica(const char* what) const {
    return error{errc::wrong_context,
                 "variable '" + variable_name_ +
                     "' has synchronization none: cross-replica " + what +
                     " is not allowed (each replica has an independent "
                     "copy; use a replica handle)"};
  }

private:
  std::string variable_name_;
};

} // namespace varsync::policies
