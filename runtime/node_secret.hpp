#pragma once

// Which cluster secret a node or a client uses (see
// runtime/transport/cluster_secret.hpp for the file and
// runtime/transport/auth_handshake.hpp for how it is proven).

#include "runtime/transport/cluster_secret.hpp"
#include "varsync/error.hpp"

#include <memory>
#include <string>

namespace varsync::detail {

/// The secret in use and where it came from.
struct node_secret {
  std::shared_ptr<const auth::cluster_secret> secret;
  /// The file it was read from or generated into.
  std::string path;
  /// Whether this process generated it (a seed started without one).
  bool generated = false;
};

/// The environment variable naming a secret file when none is configured.
inline constexpr const char* secret_file_variable = "VARSYNC_SECRET_FILE";

/// Loads the secret from `configured`, else from $VARSYNC_SECRET_FILE; with
/// neither, generates one into a new 0600 file when `may_generate` (a
/// seed), else fails with `unauthenticated` saying how to pass one. Errors
/// of the file itself (missing, readable by others, too short) are
/// `invalid_argument` naming the path. Blocking (file I/O).
expected<node_secret> resolve_secret(const std::string& configured,
                                     bool may_generate);

} // namespace varsync::detail
