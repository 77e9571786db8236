#pragma once

// A small blocking client of etcd's v3 JSON gateway (etcd 3.4, Debian's
// etcd-server): the handful of calls the coordinator needs — leases, gets,
// puts and the two compare-and-swap transactions of an election.
//
// How it works. Each call is one HTTP/1.1 POST of a JSON body to
// `/v3/...` on a member of the etcd cluster (Boost.Beast over a fresh TCP
// connection, with a deadline for connect, write and read), keys and
// values base64-encoded as the gateway wants them (OpenSSL's EVP base64).
// A member that cannot be reached is skipped for the next one in the list
// (and the one that answered is tried first next time), so the client
// survives the loss of a minority of etcd members. An etcd error comes
// back as `variable_unavailable` naming the member and etcd's message.
// Why our own instead of a library: Debian packages no etcd v3 C++ client
// (etcd-cpp-apiv3 is not in Debian), and the gateway needs only HTTP and
// JSON, which Boost.Beast and nlohmann-json (both from Debian) provide.

#include "varsync/error.hpp"
#include "varsync/node_config.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace varsync {

/// A key and what etcd records about it.
struct etcd_entry {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t lease = 0;
};

/// A condition of a transaction: `key` holds `value`, or (with `absent`)
/// does not exist.
struct etcd_compare {
  std::string key;
  std::string value;
  bool absent = false;
};

/// A put of a transaction.
struct etcd_put {
  std::string key;
  std::string value;
  std::int64_t lease = 0;
};

/// A client of the etcd cluster at `members`. Thread-safe; every call
/// blocks at most about `timeout` per member tried.
class etcd_client {
public:
  etcd_client(std::vector<endpoint> members, std::chrono::milliseconds timeout);

  /// A new lease of `ttl_seconds` (etcd may round it up); its id.
  expected<std::int64_t> grant_lease(std::int64_t ttl_seconds);

  /// Renews `lease` once; the seconds it has left, 0 when it had expired
  /// (its keys are gone).
  expected<std::int64_t> keep_alive(std::int64_t lease);

  /// Ends `lease` now (its keys are deleted).
  expected<void> revoke(std::int64_t lease);

  /// The entry of `key`, or nullopt when there is none.
  expected<std::optional<etcd_entry>> get(const std::string& key);

  /// Every entry whose key starts with `prefix`, in key order.
  expected<std::vector<etcd_entry>> get_prefix(const std::string& prefix);

  /// Sets `key` to `value`, attached to `lease` (0: none).
  expected<void> put(const std::string& key, const std::string& value,
                     std::int64_t lease = 0);

  /// Applies every put of `puts` at once if every condition of `compares`
  /// holds (one etcd transaction); whether it did.
  expected<bool> transaction(const std::vector<etcd_compare>& compares,
                             const std::vector<etcd_put>& puts);

  /// Deletes `key` (no error when it does not exist).
  expected<void> erase(const std::string& key);

  /// The members, as given.
  const std::vector<endpoint>& members() const noexcept { return members_; }

private:
  /// POSTs `body` to `path` on a member; the response body.
  expected<std::string> call(const std::string& path, const std::string& body);

  std::vector<endpoint> members_;
  std::chrono::milliseconds timeout_;
  /// The member that answered last: tried first.
  std::atomic<std::size_t> preferred_{0};
};

/// Parses "etcd://host:port[,host:port...][/prefix]" into the members and
/// the key prefix (default "/varsync"); `invalid_argument` naming what is
/// wrong otherwise.
expected<std::pair<std::vector<endpoint>, std::string>>
parse_etcd_url(const std::string& url);

} // namespace varsync
