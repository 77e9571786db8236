#pragma once

/// `node_config`: how a runtime takes part in a cluster (listen address,
/// seed to join, heartbeats, deadlines), loadable from code, command-line
/// flags and a `key = value` config file. Bad values are errors naming the
/// key.

#include "varsync/error.hpp"
#include "varsync/remote_task.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace varsync {

/// A TCP address of a node, e.g. "127.0.0.1:4242".
struct endpoint {
  std::string host;
  std::uint16_t port = 0;

  friend bool operator==(const endpoint&, const endpoint&) = default;
};

/// "host:port".
std::string to_string(const endpoint& x);

/// Whether `host` names this machine's loopback interface: "localhost",
/// "::1" or an IPv4 address in 127.0.0.0/8. Resolves no name.
bool is_loopback(std::string_view host);

/// Parses "host:port" (host non-empty, port 1-65535); `invalid_argument`
/// naming `key` and the text otherwise.
expected<endpoint> parse_endpoint(std::string_view text,
                                  std::string_view key = "endpoint");

/// Parses "host:port[,host:port...]" (at least one) as `parse_endpoint`
/// does each.
expected<std::vector<endpoint>> parse_endpoints(std::string_view text,
                                                std::string_view key);

/// Settings of a node: one process taking part in a cluster. Every field
/// has a default that works on one machine.
struct node_config {
  /// Address to listen on. Keep it on loopback or a private network: CAF
  /// 0.17's BASP port trusts the sizes its peers announce.
  std::string host = "127.0.0.1";

  /// Port to listen on; 0 picks a free port (see `runtime::port()`).
  std::uint16_t port = 0;

  /// Nodes of the cluster to join, tried in order (any live member will
  /// do: it names the directory's holder, which this node then connects
  /// to); empty makes this node the seed (it holds the cluster's directory
  /// until it is lost). Flag form: `--join h1:p1,h2:p2`.
  std::vector<endpoint> join;

  /// etcd elects the directory's holder ("etcd://h1:p1,h2:p2[/prefix]",
  /// runtime/etcd_coordinator.hpp) instead of a majority of the nodes;
  /// empty: built in. With it, a node without `join` joins the holder etcd
  /// names (or becomes the first holder).
  std::string coordinator;

  /// A name for this node in status output; default "host:port".
  std::string name;

  /// How often this node tells its peers it is alive. Must be well below
  /// `connection_timeout` (CAF 0.17 ships heartbeats off; varsync turns
  /// them on).
  std::chrono::milliseconds heartbeat_interval{200};

  /// A peer silent for this long is declared dead: its replicas are dropped
  /// and calls waiting on its actors fail.
  std::chrono::milliseconds connection_timeout{2000};

  /// How long joining keeps retrying (with backoff) to reach the seed.
  std::chrono::milliseconds join_deadline{std::chrono::seconds{10}};

  /// Deadline of calls that pass no timeout.
  std::chrono::milliseconds default_timeout{std::chrono::seconds{30}};

  /// Whether this node offers to host variable actors when the seed
  /// spreads them.
  bool serve_variables = true;

  /// Seed only: place each new variable actor on the next node (round
  /// robin) among those that serve variables, instead of on the seed.
  bool spread_variables = false;

  /// Keep freed tensor buffers (of at least 64 KiB) for reuse instead of
  /// returning them to the allocator, so that a node moving large tensors
  /// every step does not fault in and zero fresh pages each time. Opt-in;
  /// process-wide. The buffers are kept in varsync's own pool, up to 1 GiB
  /// in total (the process's malloc is not retuned), and handed out again
  /// for tensors of the same size.
  bool reuse_buffers = false;

  /// on_write tensors of at least this many bytes travel between processes
  /// on the bulk plane (direct TCP connections carrying raw tensor bytes,
  /// received straight into the tensor's buffer, beside CAF's BASP
  /// connection) instead of as CAF messages; unset turns the bulk plane off.
  /// The default 0 sends every remote on_write update on the bulk plane:
  /// measured faster at every size (8 B steps 1.7x, 16 MiB 2x).
  std::optional<std::uint64_t> bulk_threshold = std::uint64_t{0};

  /// An on_write assign_add / assign_sub contribution of more than twice
  /// this many bytes travels on the bulk plane in parts of this size: the
  /// variable's node reduces each part as it arrives and sends its result
  /// back at once (a pipelined reduce). 0: always whole; else at least
  /// 4096.
  std::uint64_t bulk_part = std::uint64_t{1} << 20;

  /// Worker threads of the actor scheduler; 0 = one per hardware thread
  /// (at least 2).
  std::size_t worker_threads = 0;

  /// How long an idle thread of the runtime keeps polling before it
  /// sleeps (runtime_options::spin). Flag form `--spin 100us` (or `off`).
  std::chrono::microseconds spin{100};

  /// CPUs to pin this process's runtime to (like MPI's `--bind-to core`):
  /// the thread that starts the runtime and every thread the runtime
  /// starts run only on these; threads started before are not touched.
  /// Empty: not pinned. A step's threads then share a core's caches and
  /// wake each other without crossing cores. Flag form `--cpus 0` or
  /// `--cpus 0-1,4`.
  std::vector<unsigned> cpus;

  /// The file holding the cluster secret every member proves it holds
  /// before any of its bytes reach the node's protocols (HMAC-SHA256
  /// challenge-response on both ports; the secret never crosses the wire).
  /// Readable by its owner only (mode 0600). Empty: the path in
  /// `VARSYNC_SECRET_FILE`; a seed with neither generates a secret into a
  /// new file and prints its path (`runtime::secret_file()`; the file is
  /// removed when that seed stops); a joining node with neither fails with
  /// `unauthenticated`.
  std::string secret_file;

  /// The largest message (payload bytes) a peer may send this node, checked
  /// before anything is allocated for it; a peer announcing more is
  /// disconnected. Tensors larger than this cannot travel between nodes.
  std::uint64_t max_message = std::uint64_t{1} << 30;

  /// Members' CAF connections this node keeps at most (one per peer node,
  /// plus short-lived ones such as `varsync status`); more are closed after
  /// their handshake and logged.
  std::size_t max_connections = 1024;

  /// How long a connecting peer has to complete the cluster handshake
  /// before its connection is closed.
  std::chrono::milliseconds handshake_deadline{std::chrono::seconds{5}};

  /// While this node holds the directory (the seed, or its successor after
  /// a failover): save a whole-job checkpoint (`runtime::save`) under this
  /// directory every `checkpoint_every`, keeping the newest
  /// `checkpoint_keep` complete ones; empty: no automatic checkpoints.
  /// Give every node that may hold the directory the same (shared) path.
  std::string checkpoint_dir;
  std::chrono::milliseconds checkpoint_every{std::chrono::minutes{10}};
  /// Set (flag form `--checkpoint-every 500steps`): save instead once some
  /// variable's version (its on_write/periodic steps, its SSP snapshots)
  /// grew by this much since the last save.
  std::optional<std::uint64_t> checkpoint_every_steps;
  std::size_t checkpoint_keep = 3;

  /// Mutual TLS on the CAF port (for networks where others can read or
  /// inject packets): this node's certificate and key and the cluster CA's
  /// certificate, PEM files (`varsync certs init DIR`, `varsync certs issue
  /// DIR NAME`). All three or none. Peers must present a certificate the
  /// same CA signed; others are refused during the TLS handshake. The
  /// cluster secret is still proven first. The bulk plane runs the same
  /// mutual TLS.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;

  /// Allows listening on a non-loopback address without TLS (the shared
  /// secret then protects only against processes that cannot see the
  /// traffic). Without it such a node refuses to start.
  bool insecure = false;

  /// Whether TLS is configured (`tls_cert`, `tls_key`, `tls_ca` all set).
  bool uses_tls() const noexcept {
    return !tls_cert.empty() && !tls_key.empty() && !tls_ca.empty();
  }

  /// What the node logs (to stderr): "trace", "debug", "info" (peers
  /// joining and lost), "warn" (refused connections and frames, rate
  /// limited per peer and reason), "error" or "off".
  std::string log_level = "info";

  /// How log lines look: "text" (time, level and a sentence) or "json"
  /// (one object per line: "time", "level", "logger", "message").
  /// Process-wide, like the level.
  std::string log_format = "text";

  /// Serve HTTP on this port of `host` (0 picks a free one, see
  /// `runtime::http_port()`): Prometheus metrics at `/metrics`, the live
  /// dashboard at `/`, the cluster's status as JSON at `/status.json`.
  /// Unset: no HTTP server. The same exposure rules as the node's port
  /// apply (loopback, or TLS, or `insecure`); with TLS it serves HTTPS with
  /// the node's certificate and requires clients to present one of the
  /// cluster's CA.
  std::optional<std::uint16_t> http_port;

  /// While this node holds the directory: status (and the dashboard) stop
  /// listing nodes that left or were lost this long ago. A node coming
  /// back under its name is listed again.
  std::chrono::milliseconds forget_nodes_after{std::chrono::minutes{10}};

  /// Tasks other nodes may start here by name (`runtime::spawn_task`).
  /// Register the same names on every node of an application; code only,
  /// not settable by flags or files.
  std::map<std::string, task_function> tasks;

  /// Applies one setting by its key (the flag name without "--", e.g.
  /// "heartbeat-interval", "join"). Durations need a unit: "ms", "s",
  /// "min" (or "m") or "h", e.g. "250ms"; a bare number is an error that
  /// suggests one. `invalid_argument` naming the key for an unknown key or
  /// a bad value; nothing changes then.
  expected<void> set(std::string_view key, std::string_view value);

  /// Checks the combination (e.g. heartbeat below the timeout);
  /// `invalid_argument` naming the offending key.
  expected<void> validate() const;

  /// Checks that the node may listen on `host`: a loopback address, or TLS
  /// configured, or `insecure` set; `invalid_argument` saying so
  /// otherwise. Resolves no name. (Separate from `validate`, which checks
  /// a config's own consistency wherever it will run.)
  expected<void> check_exposure() const;

  /// Every key `set` accepts, with a one-line help text, for `--help`.
  static std::vector<std::pair<std::string, std::string>> keys();
};

/// Reads a config file of `key = value` lines (`#` starts a comment; keys
/// as in `node_config::set`) on top of `base`. Errors name the file, the
/// line and the key.
expected<node_config> load_node_config(const std::filesystem::path& file,
                                       node_config base = {});

/// The result of `parse_node_flags`: the config and the arguments that were
/// not node flags, in order, for the caller.
struct parsed_flags {
  node_config config;
  std::vector<std::string> rest;
};

/// Applies command-line flags `--key=value` or `--key value` from `args`
/// (without the program name) to `base`; `--config FILE` is loaded first,
/// wherever it appears; the last of a repeated flag wins. Boolean keys
/// also accept a bare `--key`. Errors name the flag and the value (or
/// "missing value"). Parsed with CLI11 inside the library: callers need
/// no CLI11. Programs that parse their own flags with CLI11 add the node
/// flags to their app instead (runtime/node_flags.hpp in this repository).
expected<parsed_flags> parse_node_flags(const std::vector<std::string>& args,
                                        node_config base = {});

} // namespace varsync
