#pragma once

// The environment `varsync run` gives each worker process and
// `runtime::start_from_env` reads: one list of names for both sides.

namespace varsync::detail {

/// HOST:PORT[,HOST:PORT...] of the job's seed.
inline constexpr const char* join_variable = "VARSYNC_JOIN";

/// The worker's rank, 0 .. size - 1.
inline constexpr const char* rank_variable = "VARSYNC_RANK";

/// The job's number of worker processes.
inline constexpr const char* size_variable = "VARSYNC_SIZE";

// The secret file's variable, VARSYNC_SECRET_FILE, is
// `secret_file_variable` of runtime/node_secret.hpp: a node started without
// --secret-file reads it too.

} // namespace varsync::detail
