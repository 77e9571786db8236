#pragma once

/// `cluster_status`: what the directory knows about a cluster's nodes,
/// replica groups and variables, as `runtime::status()` and
/// `varsync status` report it.

#include "varsync/error.hpp"
#include "varsync/node_config.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace varsync {

/// One node (process) of the cluster.
struct node_status {
  /// The node's name (default "host:port").
  std::string name;
  /// The address it listens on, "host:port"; empty for an embedded runtime.
  std::string address;
  /// Whether it holds the directory (the seed until it is lost).
  bool holder = false;
  /// Whether it offers to host variable actors.
  bool serves_variables = false;
  /// False once it left or was lost.
  bool alive = true;
  /// Set when it is not alive because it shut down in order (SIGTERM,
  /// `runtime` destroyed): it left. Unset and not alive: it was lost
  /// (killed, frozen, or cut off).
  bool left = false;
  /// When it left or was lost, in milliseconds since the Unix epoch by the
  /// directory holder's clock; 0 while alive. Nodes that ended longer ago
  /// than the holder's `forget_nodes_after` are no longer reported.
  std::int64_t ended_unix_ms = 0;
};

/// "alive", "left" or "lost".
std::string state_of(const node_status& node);

/// One replica of a group.
struct replica_status {
  std::size_t index = 0;
  /// The node its replica actor lives on; empty until it joined.
  std::string node;
  /// False once its node was lost; the group's variables continue without
  /// it.
  bool alive = false;
  /// How often it joined again after it was lost.
  std::uint64_t rejoins = 0;
};

/// A replica group and its membership.
struct group_status {
  std::string name;
  std::size_t size = 0;
  /// By index; every index of the group appears.
  std::vector<replica_status> replicas;
  /// Whether every replica joined at some point.
  bool complete = false;

  /// Indices of replicas that joined and are alive.
  std::vector<std::size_t> alive() const;

  /// Indices of replicas that joined and were lost since.
  std::vector<std::size_t> lost() const;
};

/// A variable and where its actor lives.
struct variable_status {
  std::string name;
  std::string group;
  /// dtype, shape and options, e.g. "f32[4], on_write/mean".
  std::string description;
  /// The node hosting the variable actor.
  std::string node;
  /// False once the variable actor's node was lost.
  bool available = true;
  /// on_write and bounded_staleness: the latest published version.
  std::uint64_t version = 0;
  /// bounded_staleness: the minimum clock of the group.
  std::uint64_t clock = 0;
};

/// The cluster as the directory sees it.
struct cluster_status {
  /// The node holding the directory that answered.
  std::string holder;
  /// The holder's term: 1 for the seed, one more for each holder after it.
  std::uint64_t epoch = 0;
  /// Empty, or why the holder changes nothing now (no majority, a newer
  /// holder exists).
  std::string directory_note;
  std::vector<node_status> nodes;
  std::vector<group_status> groups;
  std::vector<variable_status> variables;
};

/// A human-readable table of `status`, one section per kind.
std::string to_string(const cluster_status& status);

/// The version of the JSON form `to_json` writes. It grows only when a
/// field changes meaning or is removed; new fields may appear in any
/// version. The schema is installed as
/// `share/varsync/cluster_status.schema.json`.
inline constexpr int status_schema_version = 1;

/// `status` as one line of JSON (documented by the schema above):
/// `{"schema": "varsync.status/1", "holder": ..., "epoch": ...,
/// "nodes": [...], "groups": [...], "variables": [...]}`. Never fails;
/// names are escaped as JSON requires (invalid UTF-8 is replaced).
std::string to_json(const cluster_status& status);

/// Asks the node listening at `address` (any node of a cluster) for the
/// cluster's status without joining the cluster, proving membership with
/// the secret in `secret_file` (empty: $VARSYNC_SECRET_FILE). Blocks at most
/// `timeout`; `unreachable` when nothing listens there ("connection
/// refused"), `not_varsync` as soon as what answers is not a varsync node,
/// `unauthenticated` without the cluster's secret, `timeout` (naming the
/// deadline) when it accepts and never answers.
expected<cluster_status> fetch_status(const endpoint& address,
                                      std::chrono::milliseconds timeout,
                                      const std::string& secret_file = {});

/// As above, with the credentials of `client`: its `secret_file` and,
/// when set, its TLS files (`tls_cert`, `tls_key`, `tls_ca`); also its
/// `max_message`. Other fields are ignored.
expected<cluster_status> fetch_status(const endpoint& address,
                                      std::chrono::milliseconds timeout,
                                      node_config client);

} // namespace varsync
