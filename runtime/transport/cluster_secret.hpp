#pragma once

// The cluster secret: what every member holds and proves it holds
// (auth_handshake.hpp). It lives in a file only its owner may read, like an
// ssh key: `varsync node --secret-file F`, `node_config::secret_file` or
// `VARSYNC_SECRET_FILE`. A seed started without one generates it.

#include "varsync/error.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace varsync::auth {

/// Fewest bytes a secret file must hold (after trailing whitespace is cut):
/// 128 bits of a random hex string.
inline constexpr std::size_t min_secret_size = 32;

/// Most bytes a secret file may hold.
inline constexpr std::size_t max_secret_size = 4096;

/// The bytes of a cluster secret. Copyable value; the bytes are wiped when
/// it is destroyed.
class cluster_secret {
public:
  cluster_secret() = default;
  explicit cluster_secret(std::vector<std::byte> bytes)
      : bytes_(std::move(bytes)) {}
  cluster_secret(const cluster_secret&) = default;
  cluster_secret& operator=(const cluster_secret&) = default;
  ~cluster_secret();

  /// The key for HMAC.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

  /// Whether a secret was loaded (an empty one authenticates nobody).
  bool empty() const noexcept { return bytes_.empty(); }

private:
  std::vector<std::byte> bytes_;
};

/// Reads the secret in `path`: a regular file, readable by its owner only
/// (no group or other permission bits, as ssh demands of keys), of
/// `min_secret_size` to `max_secret_size` bytes; trailing whitespace is not
/// part of the secret. `invalid_argument` naming the path and what is
/// wrong otherwise (missing, a directory, mode 0644, too short). Blocking.
expected<cluster_secret> load_secret(const std::string& path);

/// Creates a new private directory under `parent` (or $TMPDIR, or /tmp,
/// when empty) holding `cluster.secret`: 32 random bytes as 64 hex
/// characters, mode 0600. Returns the file's path. Blocking.
expected<std::string> generate_secret_file(const std::string& parent = {});

} // namespace varsync::auth
