#pragma once

// Conversion between varsync errors and caf::error. Actors reply with
// caf::error values of category "varsync" whose code is the errc and whose
// context is the message; the host API converts them back. CAF's own
// errors (timeouts, dead receivers) are mapped to the nearest errc.

#include "varsync/error.hpp"

#include <caf/all.hpp>
#include <string>

namespace varsync {

/// The caf::error carrying `x` (category atom "varsync").
caf::error to_caf_error(const error& x);

/// The varsync error for `x`; `what` names the call and the variable for
/// CAF's own errors ("read of variable 'w'").
error from_caf_error(const caf::error& x, const std::string& what);

} // namespace varsync
