#pragma once

// Pins the runtime's threads to chosen CPUs (node_config::cpus), like MPI's
// `--bind-to core`: the thread that starts the runtime is pinned, and every
// thread the runtime starts afterwards (the actor scheduler's, the bulk
// plane's) inherits its mask from it.

#include "varsync/error.hpp"

#include <string>
#include <vector>

namespace varsync::detail {

/// Pins the calling thread to `cpus` (empty: does nothing). Every CPU must
/// be one this process may run on; otherwise `invalid_argument` naming it
/// and the ones allowed, and nothing changes.
expected<void> pin_calling_thread(const std::vector<unsigned>& cpus);

/// "0-1,4" for {0, 1, 4}.
std::string describe_cpus(const std::vector<unsigned>& cpus);

} // namespace varsync::detail
