#include "varsync/node_config.hpp"

#include "runtime/core/wording.hpp"
#include "runtime/node_flags.hpp"
#include "runtime/transport/etcd_client.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sched.h>
#include <set>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace varsync {

namespace {

constexpr std::string_view duration_example =
    "expected a number and a unit ms, s, min or h, e.g. 200ms or 2s";

/// The largest duration accepted, in milliseconds (about 34 years): keeps
/// the deadlines computed from it far from overflowing.
constexpr std::uint64_t max_duration = std::uint64_t{1} << 40;

/// A thread count above this is a typo, not a setting: CAF would try to
/// start that many threads.
constexpr std::uint64_t max_worker_threads = 1024;
/// The largest bulk-threshold accepted: the largest tensor a node accepts.
constexpr std::uint64_t max_tensor_bytes_setting = std::uint64_t{1} << 32;
/// The smallest bulk-part but 0: a part's tensor lives on the heap (small
/// tensors are stored inline, and parts fill one shared buffer).
constexpr std::uint64_t min_bulk_part = 4096;
/// The smallest max-message: CAF's own handshakes and control messages
/// must fit.
constexpr std::uint64_t min_max_message = 64 * 1024;

std::string_view trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

/// "key: 'value' is not <what>".
error bad_value(std::string_view key, std::string_view value,
                std::string_view what) {
  return error{errc::invalid_argument, wording::excerpt(key) + ": '" +
                                           wording::excerpt(value) +
                                           "' is not " + std::string{what}};
}

/// Digits only (no sign, no spaces), at most `max`.
std::optional<std::uint64_t> parse_unsigned(std::string_view text,
                                            std::uint64_t max) {
  if (text.empty())
    return std::nullopt;
  std::uint64_t value = 0;
  const auto* last = text.data() + text.size();
  auto [end, status] = std::from_chars(text.data(), last, value);
  if (status != std::errc{} || end != last || value > max)
    return std::nullopt;
  return value;
}

/// The units a duration takes, longest suffix first ("ms" before "s",
/// "min" before "m"), with their length in milliseconds.
constexpr std::pair<std::string_view, std::uint64_t> duration_units[] = {
    {"ms", 1}, {"min", 60'000}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

/// "250ms", "2s", "10min" (or "10m"), "1h"; must be positive. A bare number
/// is refused: "5" meant 5 ms to the parser and 5 s to most readers.
expected<std::chrono::milliseconds> parse_duration(std::string_view key,
                                                   std::string_view text) {
  auto digits = text;
  std::uint64_t scale = 0;
  for (const auto& [unit, milliseconds] : duration_units)
    if (digits.ends_with(unit)) {
      digits.remove_suffix(unit.size());
      scale = milliseconds;
      break;
    }
  auto value = parse_unsigned(digits, max_duration);
  if (scale == 0 && value && *value > 0)
    return error{errc::invalid_argument,
                 wording::excerpt(key) + ": '" + wording::excerpt(text) +
                     "' needs a unit (e.g. " + std::string{text} + "s or " +
                     std::string{text} + "ms)"};
  if (!value || (scale > 0 && *value > max_duration / scale))
    return bad_value(key, text,
                     "a duration (" + std::string{duration_example} + ")");
  if (*value == 0)
    return bad_value(key, text,
                     "a positive duration (must be above 0; " +
                         std::string{duration_example} + ")");
  return std::chrono::milliseconds{
      static_cast<std::chrono::milliseconds::rep>(*value * scale)};
}

/// "100us", "1ms", "0" or "off" (0), at most one second.
expected<std::chrono::microseconds> parse_spin(std::string_view key,
                                               std::string_view text) {
  if (text == "off" || text == "0")
    return std::chrono::microseconds{0};
  auto digits = text;
  std::uint64_t scale = 0;
  if (digits.ends_with("us"))
    scale = 1;
  else if (digits.ends_with("ms"))
    scale = 1000;
  digits.remove_suffix(scale == 0 ? 0 : 2);
  auto value = scale == 0 ? std::nullopt : parse_unsigned(digits, 1000000);
  if (!value || *value * scale > 1000000)
    return bad_value(key, text,
                     "a duration up to 1s with a unit, like 100us or 1ms, or "
                     "off");
  return std::chrono::microseconds{
      static_cast<std::chrono::microseconds::rep>(*value * scale)};
}

/// "0", "0-3", "0,2,4-5": CPU numbers below CPU_SETSIZE, sorted, unique.
expected<std::vector<unsigned>> parse_cpu_list(std::string_view key,
                                               std::string_view text) {
  constexpr std::uint64_t largest = CPU_SETSIZE - 1;
  std::set<unsigned> cpus;
  auto rest = text;
  while (true) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    auto dash = item.find('-');
    auto first = parse_unsigned(item.substr(0, dash), largest);
    auto last = dash == std::string_view::npos
                    ? first
                    : parse_unsigned(item.substr(dash + 1), largest);
    if (!first || !last || *last < *first)
      return bad_value(key, text,
                       "CPU numbers 0-" + std::to_string(largest) +
                           " or ranges, like 0 or 0-1,4 ('" +
                           std::string{item} + "' is not one)");
    for (auto cpu = *first; cpu <= *last; ++cpu)
      cpus.insert(static_cast<unsigned>(cpu));
    if (comma == std::string_view::npos)
      break;
    rest.remove_prefix(comma + 1);
  }
  return std::vector<unsigned>(cpus.begin(), cpus.end());
}

expected<bool> parse_bool(std::string_view key, std::string_view text) {
  if (text == "true" || text == "yes" || text == "on" || text == "1")
    return true;
  if (text == "false" || text == "no" || text == "off" || text == "0")
    return false;
  return bad_value(key, text,
                   "a boolean (expected true/false, yes/no, on/off or 1/0)");
}

bool is_bool_key(std::string_view key) {
  return key == "serve-variables" || key == "spread-variables" ||
         key == "reuse-buffers" || key == "insecure";
}

/// The line without a comment: `#` starts one at the beginning of the line
/// or after whitespace, so a value such as "node#2" keeps its `#`.
std::string_view strip_comment(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i)
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t'))
      return line.substr(0, i);
  return line;
}

/// The longest config file and line read (a config holds a few short
/// lines; anything bigger is a mistake, such as --config /dev/zero).
constexpr std::uint64_t max_config_bytes = 1 << 20;
constexpr std::size_t max_config_line = 4096;

/// The contents of config file `file`: a regular file of at most
/// max_config_bytes, read with POSIX calls (no exceptions, no waiting on a
/// FIFO).
expected<std::string> read_config_file(const std::filesystem::path& file) {
  auto refuse = [&](const std::string& why) -> error {
    return error{errc::invalid_argument,
                 "config file '" + wording::excerpt(file.string(), 200) +
                     "' cannot be read (" + why + ")"};
  };
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return refuse(errno == ENOENT ? "missing" : std::strerror(errno));
  struct stat status {};
  auto stat_ok = ::fstat(fd, &status) == 0;
  std::string contents;
  std::optional<error> failure;
  if (!stat_ok)
    failure = refuse(std::strerror(errno));
  else if (S_ISDIR(status.st_mode))
    failure = refuse("it is a directory");
  else if (!S_ISREG(status.st_mode))
    failure = refuse("it is not a regular file");
  else if (static_cast<std::uint64_t>(status.st_size) > max_config_bytes)
    failure = refuse("it has " + std::to_string(status.st_size) +
                     " bytes; a config file has at most 1 MiB");
  if (!failure) {
    char buffer[64 * 1024];
    for (;;) {
      auto got = ::read(fd, buffer, sizeof(buffer));
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0) {
        failure = refuse(std::strerror(errno));
        break;
      }
      if (got == 0)
        break;
      contents.append(buffer, static_cast<std::size_t>(got));
      if (contents.size() > max_config_bytes) { // it grew while we read
        failure = refuse("it has more than 1 MiB");
        break;
      }
    }
  }
  ::close(fd);
  if (failure)
    return *failure;
  return contents;
}

} // namespace

expected<void> detail::apply_config_file(const std::filesystem::path& file,
                                         node_config& config) {
  auto contents = read_config_file(file);
  if (!contents)
    return contents.error();
  // Settings go to a copy: on error the caller's config stays unchanged.
  auto result = config;
  std::string_view rest{*contents};
  for (int number = 1; !rest.empty(); ++number) {
    auto end = rest.find('\n');
    auto line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{}
                                         : rest.substr(end + 1);
    auto where = wording::excerpt(file.string(), 200) + ":" +
                 std::to_string(number) + ": ";
    if (line.size() > max_config_line)
      return error{errc::invalid_argument, where + "the line has " +
                                               std::to_string(line.size()) +
                                               " bytes; lines have at most " +
                                               std::to_string(max_config_line)};
    auto text = trim(strip_comment(line));
    if (text.empty())
      continue;
    auto equals = text.find('=');
    auto key = trim(text.substr(0, equals));
    if (equals == std::string_view::npos || key.empty())
      return error{errc::invalid_argument, where +
                                               "expected 'key = value', got '" +
                                               wording::excerpt(text) + "'"};
    auto applied = result.set(key, trim(text.substr(equals + 1)));
    if (!applied)
      return error{errc::invalid_argument, where + applied.error().message()};
  }
  config = std::move(result);
  return {};
}

bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "ip6-localhost")
    return true;
  in_addr address{};
  std::string text{host};
  return ::inet_pton(AF_INET, text.c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

std::string to_string(const endpoint& x) {
  return x.host + ":" + std::to_string(x.port);
}

expected<std::vector<endpoint>> parse_endpoints(std::string_view text,
                                                std::string_view key) {
  std::vector<endpoint> result;
  std::size_t begin = 0;
  for (;;) {
    auto end = text.find(',', begin);
    auto parsed = parse_endpoint(text.substr(begin, end - begin), key);
    if (!parsed)
      return parsed.error();
    result.push_back(std::move(*parsed));
    if (end == std::string_view::npos)
      return result;
    begin = end + 1;
  }
}

expected<endpoint> parse_endpoint(std::string_view text, std::string_view key) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return bad_value(key, text, "an address HOST:PORT (no ':' found)");
  if (colon == 0)
    return bad_value(key, text, "an address HOST:PORT (the host is empty)");
  auto port = parse_unsigned(text.substr(colon + 1), 65535);
  if (!port || *port == 0)
    return bad_value(key, text,
                     "an address HOST:PORT (expected a port 1-65535 after "
                     "the last ':')");
  return endpoint{std::string{text.substr(0, colon)},
                  static_cast<std::uint16_t>(*port)};
}

std::vector<std::pair<std::string, std::string>> node_config::keys() {
  return {
      {"host", "address to listen on (default 127.0.0.1)"},
      {"port", "port to listen on, 0-65535; 0 picks a free one (default 0)"},
      {"join", "HOST:PORT[,HOST:PORT...] of cluster members to join, tried "
               "in order; unset: this node is the seed"},
      {"name", "name of this node in status output (default HOST:PORT)"},
      {"coordinator",
       "etcd://HOST:PORT[,HOST:PORT...][/prefix]: etcd elects the "
       "directory's holder (unset: the nodes do, by majority)"},
      {"heartbeat-interval",
       "how often to tell peers we are alive, below connection-timeout "
       "(200ms)"},
      {"connection-timeout", "silence after which a peer is dead (2s)"},
      {"join-deadline", "how long joining retries to reach the seed (10s)"},
      {"default-timeout", "deadline of calls that pass none (30s)"},
      {"serve-variables", "offer to host variable actors (true)"},
      {"spread-variables", "seed: spread variables over serving nodes (false)"},
      {"reuse-buffers", "keep up to 1 GiB of freed tensor buffers for "
                        "reuse, process-wide (default false)"},
      {"bulk-threshold",
       "on_write tensors of at least this many bytes use the bulk plane; "
       "off: never (0)"},
      {"bulk-part", "bulk-plane contributions above twice this many bytes "
                    "travel in parts of this size, reduced as they arrive; "
                    "0: whole (1048576)"},
      {"worker-threads", "actor scheduler threads; 0: one per core (0)"},
      {"spin", "how long an idle runtime thread polls before sleeping, "
               "like 100us or 1ms; off: sleep at once (100us)"},
      {"cpus", "pin the runtime's threads to these CPUs, like 0 or 0-1,4 "
               "(unset: not pinned)"},
      {"secret-file", "file holding the cluster secret (mode 0600); default "
                      "$VARSYNC_SECRET_FILE; a seed without one generates one"},
      {"max-message",
       "largest message a peer may send, in bytes (1073741824 = 1 GiB)"},
      {"tls-cert",
       "this node's TLS certificate (PEM); with tls-key and tls-ca"},
      {"tls-key", "this node's TLS private key (PEM)"},
      {"tls-ca",
       "the cluster CA's certificate (PEM): peers must be signed by it"},
      {"insecure", "allow a non-loopback host without TLS (default false)"},
      {"log-level",
       "trace, debug, info, warn, error or off; refusals log at warn (info)"},
      {"log-format", "text (one readable line per event) or json (one JSON "
                     "object per line) (text)"},
      {"http-port",
       "serve Prometheus /metrics and the live dashboard / on this port of "
       "host, 0 picks one (unset: no HTTP server)"},
      {"forget-nodes-after", "status stops listing nodes that left or were "
                             "lost this long ago (600s)"},
      {"max-connections",
       "members' CAF connections kept at most, 1-65536 (1024)"},
      {"handshake-deadline",
       "how long a connecting peer has to prove it holds the secret (5s)"},
      {"checkpoint-dir", "the directory's holder (the seed, then its "
                         "successor) saves whole-job checkpoints here (unset: "
                         "no automatic checkpoints)"},
      {"checkpoint-every",
       "time between automatic checkpoints (10min), or a step count like "
       "'500steps': save once a variable made that many steps since the "
       "last save"},
      {"checkpoint-keep", "complete automatic checkpoints kept, 1-1000 (3)"},
  };
}

expected<void> node_config::set(std::string_view key, std::string_view value) {
  // Each branch parses first and assigns last: on error nothing changes.
  if (key == "host") {
    if (value.empty())
      return bad_value(key, value, "a host name or address (it is empty)");
    host = value;
  } else if (key == "port") {
    auto parsed = parse_unsigned(value, 65535);
    if (!parsed)
      return bad_value(key, value, "a port (expected an integer 0-65535)");
    port = static_cast<std::uint16_t>(*parsed);
  } else if (key == "join") {
    auto members = parse_endpoints(value, key);
    if (!members)
      return members.error();
    join = std::move(*members);
  } else if (key == "coordinator") {
    if (auto parsed = parse_etcd_url(std::string{value}); !parsed)
      return parsed.error();
    coordinator = value;
  } else if (key == "name") {
    if (value.empty())
      return bad_value(key, value, "a name (it is empty)");
    name = value;
  } else if (key == "tls-cert" || key == "tls-key" || key == "tls-ca") {
    if (value.empty())
      return bad_value(key, value, "a file path (it is empty)");
    (key == "tls-cert"  ? tls_cert
     : key == "tls-key" ? tls_key
                        : tls_ca) = value;
  } else if (key == "secret-file") {
    if (value.empty())
      return bad_value(key, value, "a file path (it is empty)");
    secret_file = value;
  } else if (key == "log-level") {
    static constexpr std::string_view levels[] = {"trace", "debug", "info",
                                                  "warn",  "error", "off"};
    if (std::find(std::begin(levels), std::end(levels), value) ==
        std::end(levels))
      return bad_value(key, value,
                       "one of trace, debug, info, warn, error, off");
    log_level = value;
  } else if (key == "log-format") {
    if (value != "text" && value != "json")
      return bad_value(key, value, "a log format (text or json)");
    log_format = value;
  } else if (key == "http-port") {
    auto parsed = parse_unsigned(value, 65535);
    if (!parsed)
      return bad_value(key, value, "a port (expected an integer 0-65535)");
    http_port = static_cast<std::uint16_t>(*parsed);
  } else if (key == "checkpoint-dir") {
    if (value.empty())
      return bad_value(key, value, "a directory (it is empty)");
    checkpoint_dir = value;
  } else if (key == "checkpoint-keep") {
    auto parsed = parse_unsigned(value, 1000);
    if (!parsed || *parsed == 0)
      return bad_value(key, value,
                       "a checkpoint count (expected an integer 1-1000)");
    checkpoint_keep = static_cast<std::size_t>(*parsed);
  } else if (key == "max-connections") {
    auto parsed = parse_unsigned(value, 65536);
    if (!parsed || *parsed == 0)
      return bad_value(key, value,
                       "a connection count (expected an integer "
                       "1-65536)");
    max_connections = static_cast<std::size_t>(*parsed);
  } else if (key == "max-message") {
    auto parsed = parse_unsigned(value, max_tensor_bytes_setting);
    if (!parsed || *parsed < min_max_message)
      return bad_value(key, value,
                       "a byte count (expected an integer " +
                           std::to_string(min_max_message) + "-" +
                           std::to_string(max_tensor_bytes_setting) + ")");
    max_message = *parsed;
  } else if (key == "checkpoint-every" && value.ends_with("steps")) {
    auto count = parse_unsigned(value.substr(0, value.size() - 5),
                                std::uint64_t{1} << 40);
    if (!count || *count == 0)
      return bad_value(
          key, value, "a duration or a step count like '500steps' (1 or more)");
    checkpoint_every_steps = *count;
  } else if (key == "heartbeat-interval" || key == "connection-timeout" ||
             key == "join-deadline" || key == "default-timeout" ||
             key == "handshake-deadline" || key == "checkpoint-every" ||
             key == "forget-nodes-after") {
    auto parsed = parse_duration(key, value);
    if (!parsed)
      return parsed.error();
    auto& field = key == "heartbeat-interval"   ? heartbeat_interval
                  : key == "connection-timeout" ? connection_timeout
                  : key == "join-deadline"      ? join_deadline
                  : key == "handshake-deadline" ? handshake_deadline
                  : key == "checkpoint-every"   ? checkpoint_every
                  : key == "forget-nodes-after" ? forget_nodes_after
                                                : default_timeout;
    field = *parsed;
    if (key == "checkpoint-every")
      checkpoint_every_steps.reset();
  } else if (is_bool_key(key)) {
    auto parsed = parse_bool(key, value);
    if (!parsed)
      return parsed.error();
    (key == "serve-variables"    ? serve_variables
     : key == "spread-variables" ? spread_variables
     : key == "insecure"         ? insecure
                                 : reuse_buffers) = *parsed;
  } else if (key == "bulk-threshold") {
    if (value == "off") {
      bulk_threshold = std::nullopt;
      return {};
    }
    auto parsed = parse_unsigned(value, max_tensor_bytes_setting);
    if (!parsed)
      return bad_value(key, value,
                       "a byte count (expected an integer 0-" +
                           std::to_string(max_tensor_bytes_setting) +
                           ") or off");
    bulk_threshold = *parsed;
  } else if (key == "bulk-part") {
    auto parsed = parse_unsigned(value, max_tensor_bytes_setting);
    if (!parsed || (*parsed > 0 && *parsed < min_bulk_part))
      return bad_value(key, value,
                       "a byte count (expected 0 or an integer " +
                           std::to_string(min_bulk_part) + "-" +
                           std::to_string(max_tensor_bytes_setting) + ")");
    bulk_part = *parsed;
  } else if (key == "spin") {
    auto parsed = parse_spin(key, value);
    if (!parsed)
      return parsed.error();
    spin = *parsed;
  } else if (key == "cpus") {
    auto parsed = parse_cpu_list(key, value);
    if (!parsed)
      return parsed.error();
    cpus = std::move(*parsed);
  } else if (key == "worker-threads") {
    auto parsed = parse_unsigned(value, max_worker_threads);
    if (!parsed)
      return bad_value(key, value,
                       "a thread count (expected an integer 0-" +
                           std::to_string(max_worker_threads) + ")");
    worker_threads = static_cast<std::size_t>(*parsed);
  } else {
    return error{errc::invalid_argument,
                 wording::excerpt(key) + ": unknown key (with value '" +
                     wording::excerpt(value) +
                     "'; see --help for the known keys)"};
  }
  return {};
}

expected<void> node_config::validate() const {
  if (host.empty())
    return error{errc::invalid_argument,
                 "host: must not be empty (expected a host name or address)"};
  for (const auto& member : join) {
    if (member.host.empty())
      return error{errc::invalid_argument,
                   "join: '" + to_string(member) + "' has an empty host"};
    if (member.port == 0)
      return error{errc::invalid_argument,
                   "join: '" + to_string(member) +
                       "' has port 0 (expected a member's port 1-65535)"};
  }
  if (heartbeat_interval >= connection_timeout)
    return error{errc::invalid_argument,
                 "heartbeat-interval " +
                     std::to_string(heartbeat_interval.count()) +
                     "ms must be below connection-timeout " +
                     std::to_string(connection_timeout.count()) +
                     "ms, or healthy peers are declared dead"};
  auto tls_files = !tls_cert.empty() + !tls_key.empty() + !tls_ca.empty();
  if (tls_files != 0 && tls_files != 3)
    return error{errc::invalid_argument,
                 "tls-cert, tls-key and tls-ca go together: set all three or "
                 "none"};
  if (checkpoint_every.count() <= 0)
    return error{errc::invalid_argument,
                 "checkpoint-every must be positive (got " +
                     std::to_string(checkpoint_every.count()) + "ms)"};
  if (handshake_deadline.count() <= 0)
    return error{errc::invalid_argument,
                 "handshake-deadline must be positive (got " +
                     std::to_string(handshake_deadline.count()) + "ms)"};
  if (max_message < min_max_message)
    return error{errc::invalid_argument,
                 "max-message " + std::to_string(max_message) + " is below " +
                     std::to_string(min_max_message) +
                     " (CAF's own handshakes must fit)"};
  return {};
}

expected<void> node_config::check_exposure() const {
  if (uses_tls() || insecure || is_loopback(host))
    return {};
  return error{errc::invalid_argument,
               "host " + wording::excerpt(host) +
                   " is not a loopback address: without TLS (tls-cert, "
                   "tls-key, tls-ca) anyone who can see the traffic can read "
                   "and forge it; give TLS files, or --insecure to accept "
                   "that"};
}

expected<node_config> load_node_config(const std::filesystem::path& file,
                                       node_config base) {
  if (auto applied = detail::apply_config_file(file, base); !applied)
    return applied.error();
  if (auto valid = base.validate(); !valid)
    return error{errc::invalid_argument,
                 file.string() + ": " + valid.error().message()};
  return base;
}

expected<parsed_flags> parse_node_flags(const std::vector<std::string>& args,
                                        node_config base) {
  parsed_flags result{std::move(base), {}};
  // CLI11 finds the node flags (runtime/node_flags.hpp); everything else
  // (positional arguments, other flags, --help, "--") passes through in
  // order, for the caller. The combination is validated once, after the
  // flags.
  CLI::App app;
  app.set_help_flag();
  app.allow_extras();
  detail::add_node_options(app, result.config);
  std::vector<std::string> reversed(args.rbegin(),
                                    args.rend()); // CLI11's order
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& failure) {
    return error{errc::invalid_argument, failure.what()};
  }
  result.rest = app.remaining();
  if (auto valid = result.config.validate(); !valid)
    return valid.error();
  return result;
}

std::string detail::value_placeholder(std::string_view key) {
  static const std::map<std::string_view, std::string_view> placeholders{
      {"host", "HOST"},
      {"port", "PORT"},
      {"join", "HOST:PORT[,HOST:PORT...]"},
      {"name", "NAME"},
      {"coordinator", "etcd://HOST:PORT[,...][/PREFIX]"},
      {"heartbeat-interval", "DURATION"},
      {"connection-timeout", "DURATION"},
      {"join-deadline", "DURATION"},
      {"default-timeout", "DURATION"},
      {"handshake-deadline", "DURATION"},
      {"checkpoint-every", "DURATION|Nsteps"},
      {"bulk-threshold", "BYTES|off"},
      {"bulk-part", "BYTES"},
      {"max-message", "BYTES"},
      {"worker-threads", "COUNT"},
      {"max-connections", "COUNT"},
      {"checkpoint-keep", "COUNT"},
      {"spin", "DURATION|off"},
      {"cpus", "CPUS"},
      {"secret-file", "FILE"},
      {"tls-cert", "FILE"},
      {"tls-key", "FILE"},
      {"tls-ca", "FILE"},
      {"log-level", "LEVEL"},
      {"checkpoint-dir", "DIR"},
  };
  if (is_boolean_key(key))
    return "BOOL";
  auto found = placeholders.find(key);
  return std::string{found == placeholders.end() ? "VALUE" : found->second};
}

bool detail::is_boolean_key(std::string_view key) {
  return is_bool_key(key);
}

} // namespace varsync
