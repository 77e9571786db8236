// node_config: every key set from text, every bad value reported as
// invalid_argument naming the key and the value (and leaving the config
// unchanged), config files with comments and file:line errors, and
// command-line flags (both forms, bare booleans, --config before the other
// flags, unknown arguments passed through in order).

#include "varsync/node_config.hpp"

#include "tests/support/checks.hpp"

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

using namespace varsync;
using namespace std::chrono_literals;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::describe;
using varsync::test::message_of;

namespace fs = std::filesystem;

namespace {

/// A file with `text` under the system's temporary directory and a unique
/// name, removed on destruction.
class temp_file {
public:
  explicit temp_file(std::string_view text) {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("varsync-node-config-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++) + ".conf");
    std::ofstream out{path_, std::ios::trunc};
    REQUIRE(out);
    out << text;
    REQUIRE(out);
  }

  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  ~temp_file() {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }

  const fs::path& path() const noexcept { return path_; }

  std::string name() const { return path_.string(); }

private:
  fs::path path_;
};

/// Every field `set` can change, for "nothing changed" checks (`tasks`
/// holds functions and is not comparable).
bool same_settings(const node_config& x, const node_config& y) {
  return x.host == y.host && x.port == y.port && x.join == y.join &&
         x.name == y.name && x.heartbeat_interval == y.heartbeat_interval &&
         x.connection_timeout == y.connection_timeout &&
         x.join_deadline == y.join_deadline &&
         x.default_timeout == y.default_timeout &&
         x.serve_variables == y.serve_variables &&
         x.spread_variables == y.spread_variables &&
         x.worker_threads == y.worker_threads;
}

/// A config whose every field differs from the defaults.
node_config customized() {
  node_config config;
  config.host = "127.0.0.5";
  config.port = 4242;
  config.join = {endpoint{"127.0.0.9", 4000}};
  config.name = "worker-7";
  config.heartbeat_interval = 150ms;
  config.connection_timeout = 3s;
  config.join_deadline = 20s;
  config.default_timeout = 45s;
  config.serve_variables = false;
  config.spread_variables = true;
  config.worker_threads = 6;
  return config;
}

/// Sets `key` to `value` on `config`, expecting invalid_argument with a
/// message that names the key and the value, and no change to `config`.
void check_rejected(node_config config, std::string_view key,
                    std::string_view value) {
  CAPTURE(key);
  CAPTURE(value);
  auto before = config;
  auto result = config.set(key, value);
  CHECK_EQ(code_of(result), errc::invalid_argument);
  auto message = message_of(result);
  CHECK_MESSAGE(contains(message, key), message);
  CHECK_MESSAGE(contains(message, "'" + std::string{value} + "'"), message);
  CHECK(same_settings(config, before));
}

} // namespace

// -- endpoints ----------------------------------------------------------------

TEST_CASE("an endpoint prints as host:port and parses back") {
  CHECK_EQ(to_string(endpoint{"127.0.0.1", 4242}), "127.0.0.1:4242");
  auto parsed = parse_endpoint("127.0.0.1:4242");
  VARSYNC_REQUIRE_OK(parsed);
  CHECK_EQ(*parsed, (endpoint{"127.0.0.1", 4242}));
  auto named = parse_endpoint("seed.example.org:1");
  VARSYNC_REQUIRE_OK(named);
  CHECK_EQ(*named, (endpoint{"seed.example.org", 1}));
  auto highest = parse_endpoint("h:65535");
  VARSYNC_REQUIRE_OK(highest);
  CHECK_EQ(highest->port, 65535);
}

TEST_CASE("an endpoint is split at its last colon") {
  auto parsed = parse_endpoint("a:b:80");
  VARSYNC_REQUIRE_OK(parsed);
  CHECK_EQ(parsed->host, "a:b");
  CHECK_EQ(parsed->port, 80);
}

TEST_CASE("a malformed endpoint is an error naming the key and the text") {
  for (std::string_view text :
       {"localhost", "", ":4242", "host:0", "host:70000", "host:", "host:42a",
        "host:-1", "host:+80", "host: 80", "host:99999999999999999999999"}) {
    CAPTURE(text);
    auto parsed = parse_endpoint(text, "seed");
    CHECK_EQ(code_of(parsed), errc::invalid_argument);
    auto message = message_of(parsed);
    CHECK_MESSAGE(contains(message, "seed: "), message);
    CHECK_MESSAGE(contains(message, "'" + std::string{text} + "'"), message);
    CHECK_MESSAGE(contains(message, "HOST:PORT"), message);
  }
}

TEST_CASE("an endpoint error says what is wrong with the text") {
  CHECK(contains(message_of(parse_endpoint("localhost")), "no ':'"));
  CHECK(contains(message_of(parse_endpoint(":80")), "host is empty"));
  CHECK(contains(message_of(parse_endpoint("h:0")), "1-65535"));
  CHECK(contains(message_of(parse_endpoint("h:70000")), "1-65535"));
  CHECK(contains(message_of(parse_endpoint("h:8o")), "1-65535"));
  CHECK(contains(message_of(parse_endpoint("h")), "endpoint: "));
}

// -- node_config::set ---------------------------------------------------------

TEST_CASE("the defaults of a node config are valid") {
  node_config config;
  VARSYNC_CHECK_OK(config.validate());
  CHECK_EQ(config.host, "127.0.0.1");
  CHECK_EQ(config.port, 0);
  CHECK(config.join.empty());
  CHECK_LT(config.heartbeat_interval, config.connection_timeout);
}

TEST_CASE("host, port, join and name are set from text") {
  node_config config;
  VARSYNC_CHECK_OK(config.set("host", "0.0.0.0"));
  CHECK_EQ(config.host, "0.0.0.0");
  VARSYNC_CHECK_OK(config.set("port", "4242"));
  CHECK_EQ(config.port, 4242);
  VARSYNC_CHECK_OK(config.set("port", "0"));
  CHECK_EQ(config.port, 0);
  VARSYNC_CHECK_OK(config.set("port", "65535"));
  CHECK_EQ(config.port, 65535);
  VARSYNC_CHECK_OK(config.set("join", "127.1.2.3:5000"));
  REQUIRE(config.join.size() == 1);
  CHECK_EQ(config.join[0], (endpoint{"127.1.2.3", 5000}));
  VARSYNC_REQUIRE_OK(config.set("join", "127.0.0.1:4000,localhost:4001"));
  REQUIRE(config.join.size() == 2);
  CHECK_EQ(config.join[1], (endpoint{"localhost", 4001}));
  CHECK_FALSE(config.set("join", "127.0.0.1:4000,").has_value());
  VARSYNC_REQUIRE_OK(
      config.set("coordinator", "etcd://127.0.0.1:2379,127.0.0.1:2380/job"));
  CHECK_EQ(config.coordinator, "etcd://127.0.0.1:2379,127.0.0.1:2380/job");
  CHECK_FALSE(config.set("coordinator", "http://127.0.0.1:2379").has_value());
  CHECK_FALSE(config.set("coordinator", "etcd://nohost").has_value());
  VARSYNC_CHECK_OK(config.set("name", "trainer-0"));
  CHECK_EQ(config.name, "trainer-0");
  VARSYNC_CHECK_OK(config.validate());
}

TEST_CASE("durations are set with ms, s, min (or m) or h") {
  node_config config;
  VARSYNC_CHECK_OK(config.set("heartbeat-interval", "250ms"));
  CHECK_EQ(config.heartbeat_interval, 250ms);
  VARSYNC_CHECK_OK(config.set("connection-timeout", "5s"));
  CHECK_EQ(config.connection_timeout, 5s);
  VARSYNC_CHECK_OK(config.set("join-deadline", "1500ms"));
  CHECK_EQ(config.join_deadline, 1500ms);
  VARSYNC_CHECK_OK(config.set("join-deadline", "2min"));
  CHECK_EQ(config.join_deadline, 2min);
  VARSYNC_CHECK_OK(config.set("join-deadline", "3m"));
  CHECK_EQ(config.join_deadline, 3min);
  VARSYNC_CHECK_OK(config.set("default-timeout", "1h"));
  CHECK_EQ(config.default_timeout, 1h);
  VARSYNC_CHECK_OK(config.set("default-timeout", "60s"));
  CHECK_EQ(config.default_timeout, 60s);
  VARSYNC_CHECK_OK(config.set("default-timeout", "1ms"));
  CHECK_EQ(config.default_timeout, 1ms);
  VARSYNC_CHECK_OK(config.validate());
}

TEST_CASE("booleans accept true/false, yes/no, on/off and 1/0") {
  node_config config;
  for (std::string_view key : {"serve-variables", "spread-variables"}) {
    CAPTURE(key);
    auto& field = key == "serve-variables" ? config.serve_variables
                                           : config.spread_variables;
    for (std::string_view yes : {"true", "yes", "on", "1"}) {
      CAPTURE(yes);
      field = false;
      VARSYNC_CHECK_OK(config.set(key, yes));
      CHECK(field);
    }
    for (std::string_view no : {"false", "no", "off", "0"}) {
      CAPTURE(no);
      field = true;
      VARSYNC_CHECK_OK(config.set(key, no));
      CHECK_FALSE(field);
    }
  }
}

TEST_CASE("worker-threads accepts zero and positive counts") {
  node_config config;
  VARSYNC_CHECK_OK(config.set("worker-threads", "8"));
  CHECK_EQ(config.worker_threads, 8u);
  VARSYNC_CHECK_OK(config.set("worker-threads", "0"));
  CHECK_EQ(config.worker_threads, 0u);
}

TEST_CASE("an unknown key is an error naming the key") {
  node_config config;
  auto result = config.set("heartbeat", "200ms");
  CHECK_EQ(code_of(result), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(result), "heartbeat"), describe(result));
  CHECK_MESSAGE(contains(message_of(result), "unknown key"), describe(result));
  CHECK(same_settings(config, node_config{}));
  // Code-only fields and flags that are not keys are not settable either.
  CHECK_EQ(code_of(config.set("tasks", "x")), errc::invalid_argument);
  CHECK_EQ(code_of(config.set("config", "x.conf")), errc::invalid_argument);
  CHECK_EQ(code_of(config.set("", "1")), errc::invalid_argument);
}

TEST_CASE("a bad duration is an error naming the key, the value and the "
          "expected form") {
  node_config config;
  auto result = config.set("heartbeat-interval", "10x");
  CHECK_EQ(code_of(result), errc::invalid_argument);
  CHECK_EQ(message_of(result),
           "heartbeat-interval: '10x' is not a duration (expected a number "
           "and a unit ms, s, min or h, e.g. 200ms or 2s)");
  for (std::string_view key : {"heartbeat-interval", "connection-timeout",
                               "join-deadline", "default-timeout"})
    for (std::string_view value :
         {"", "ms", "s", "fast", "1.5s", "-5ms", "+5", "5 ms", "5us", "5d",
          "2sec", "5M", "99999999999999999999ms", "1099511628s"})
      check_rejected(customized(), key, value);
}

TEST_CASE("a duration without a unit is an error suggesting one") {
  // A bare "5" read as 5 ms surprised users who meant 5 s: it is refused.
  for (std::string_view key :
       {"heartbeat-interval", "connection-timeout", "join-deadline",
        "default-timeout", "handshake-deadline", "checkpoint-every"}) {
    CAPTURE(key);
    check_rejected(customized(), key, "5");
    node_config config;
    CHECK_EQ(message_of(config.set(key, "5")),
             std::string{key} + ": '5' needs a unit (e.g. 5s or 5ms)");
  }
}

TEST_CASE("a zero duration is an error saying it must be positive") {
  for (std::string_view key : {"heartbeat-interval", "connection-timeout",
                               "join-deadline", "default-timeout"}) {
    for (std::string_view zero : {"0", "0ms", "0s", "000"}) {
      check_rejected(customized(), key, zero);
      node_config config;
      CHECK(contains(message_of(config.set(key, zero)), "positive"));
    }
  }
}

TEST_CASE("a bad port is an error naming the key, the value and the range") {
  for (std::string_view value : {"", "seventy", "-1", "65536", "70000", "42a",
                                 " 42", "4.2", "99999999999999999999999"})
    check_rejected(customized(), "port", value);
  node_config config;
  CHECK(contains(message_of(config.set("port", "70000")), "0-65535"));
}

TEST_CASE("a bad boolean is an error listing the accepted words") {
  for (std::string_view key : {"serve-variables", "spread-variables"})
    for (std::string_view value : {"", "maybe", "TRUE ", "2", "y", "nope"})
      check_rejected(customized(), key, value);
  node_config config;
  auto message = message_of(config.set("serve-variables", "maybe"));
  CHECK_MESSAGE(contains(message, "true/false"), message);
  CHECK_MESSAGE(contains(message, "on/off"), message);
}

TEST_CASE("a bad join endpoint is an error naming join and the text") {
  for (std::string_view value :
       {"localhost", ":4242", "host:0", "host:70000", "host:80x", "host:", ""})
    check_rejected(customized(), "join", value);
  node_config config;
  CHECK_FALSE(config.set("join", "localhost").has_value());
  CHECK(config.join.empty());
}

TEST_CASE("a bad worker thread count, an empty host or an empty name is an "
          "error naming the key") {
  for (std::string_view value : {"", "-1", "many", "1.5", "100000"})
    check_rejected(customized(), "worker-threads", value);
  check_rejected(customized(), "host", "");
  check_rejected(customized(), "name", "");
}

TEST_CASE("a rejected value leaves every setting as it was") {
  auto config = customized();
  const auto before = config;
  CHECK_FALSE(config.set("port", "x").has_value());
  CHECK_FALSE(config.set("join", "x").has_value());
  CHECK_FALSE(config.set("heartbeat-interval", "0").has_value());
  CHECK_FALSE(config.set("serve-variables", "x").has_value());
  CHECK_FALSE(config.set("worker-threads", "x").has_value());
  CHECK_FALSE(config.set("nonsense", "x").has_value());
  CHECK(same_settings(config, before));
}

// -- node_config::validate and keys -------------------------------------------

TEST_CASE("a heartbeat interval not below the connection timeout is rejected "
          "naming both keys and values") {
  node_config config;
  config.heartbeat_interval = 2s;
  config.connection_timeout = 2s;
  auto equal = config.validate();
  CHECK_EQ(code_of(equal), errc::invalid_argument);
  auto message = message_of(equal);
  CHECK_MESSAGE(contains(message, "heartbeat-interval"), message);
  CHECK_MESSAGE(contains(message, "connection-timeout"), message);
  CHECK_MESSAGE(contains(message, "2000ms"), message);
  config.heartbeat_interval = 3s;
  message = message_of(config.validate());
  CHECK_MESSAGE(contains(message, "3000ms"), message);
  CHECK_MESSAGE(contains(message, "2000ms"), message);
  config.heartbeat_interval = 1999ms;
  VARSYNC_CHECK_OK(config.validate());
}

TEST_CASE("an empty host or a join endpoint with port 0 is rejected by "
          "validate") {
  node_config config;
  config.host.clear();
  CHECK_EQ(code_of(config.validate()), errc::invalid_argument);
  CHECK(contains(message_of(config.validate()), "host"));
  config.host = "127.0.0.1";
  config.join = {endpoint{"127.0.0.9", 0}};
  CHECK_EQ(code_of(config.validate()), errc::invalid_argument);
  CHECK(contains(message_of(config.validate()), "join"));
  CHECK(contains(message_of(config.validate()), "127.0.0.9:0"));
  config.join = {endpoint{"", 80}};
  CHECK_EQ(code_of(config.validate()), errc::invalid_argument);
  config.join = {endpoint{"127.0.0.9", 80}};
  VARSYNC_CHECK_OK(config.validate());
}

TEST_CASE("keys lists every settable key once with a help text") {
  auto keys = node_config::keys();
  std::vector<std::string> names;
  for (const auto& [key, help] : keys) {
    CAPTURE(key);
    CHECK_FALSE(help.empty());
    CHECK_EQ(help.find('\n'), std::string::npos);
    names.push_back(key);
  }
  const std::vector<std::string> expected_names{"host",
                                                "port",
                                                "join",
                                                "name",
                                                "coordinator",
                                                "heartbeat-interval",
                                                "connection-timeout",
                                                "join-deadline",
                                                "default-timeout",
                                                "serve-variables",
                                                "spread-variables",
                                                "reuse-buffers",
                                                "bulk-threshold",
                                                "bulk-part",
                                                "worker-threads",
                                                "spin",
                                                "cpus",
                                                "secret-file",
                                                "max-message",
                                                "tls-cert",
                                                "tls-key",
                                                "tls-ca",
                                                "insecure",
                                                "log-level",
                                                "log-format",
                                                "http-port",
                                                "forget-nodes-after",
                                                "max-connections",
                                                "handshake-deadline",
                                                "checkpoint-dir",
                                                "checkpoint-every",
                                                "checkpoint-keep"};
  CHECK_EQ(names, expected_names);
  // Every listed key is accepted by set (with some value of its kind).
  node_config config;
  for (const auto& name : names) {
    CAPTURE(name);
    std::string value =
        name == "join" ? "h:1"
        : name.ends_with("-variables") || name == "reuse-buffers" ||
                name == "insecure"
            ? "true"
        : name == "bulk-threshold" || name == "bulk-part"   ? "4096"
        : name == "host" || name == "name"                  ? "x"
        : name == "secret-file" || name.starts_with("tls-") ? "/s"
        : name == "max-message"                             ? "65536"
        : name == "log-level"                               ? "warn"
        : name == "log-format"                              ? "json"
        : name == "spin"                                    ? "50us"
        : name.ends_with("-interval") || name.ends_with("-timeout") ||
                name.ends_with("-deadline") || name == "checkpoint-every" ||
                name == "forget-nodes-after"
            ? "5s"
        : name == "coordinator" ? "etcd://127.0.0.1:2379"
                                : "5";
    VARSYNC_CHECK_OK(config.set(name, value));
  }
}

TEST_CASE("log-format, http-port and forget-nodes-after: accepted and "
          "refused values") {
  node_config config;
  VARSYNC_CHECK_OK(config.set("log-format", "json"));
  CHECK(config.log_format == "json");
  check_rejected(config, "log-format", "xml");
  CHECK(config.log_format == "json");
  CHECK_FALSE(config.http_port);
  VARSYNC_CHECK_OK(config.set("http-port", "0"));
  REQUIRE(config.http_port);
  CHECK(*config.http_port == 0);
  VARSYNC_CHECK_OK(config.set("http-port", "8080"));
  CHECK(*config.http_port == 8080);
  check_rejected(config, "http-port", "65536");
  CHECK(config.set("http-port", "-1").has_value() == false);
  CHECK(*config.http_port == 8080);
  VARSYNC_CHECK_OK(config.set("forget-nodes-after", "30s"));
  CHECK(config.forget_nodes_after == std::chrono::seconds{30});
  check_rejected(config, "forget-nodes-after", "soon");
  CHECK(config.forget_nodes_after == std::chrono::seconds{30});
}

// -- load_node_config ---------------------------------------------------------

TEST_CASE("a config file with comments, blank lines and spaces sets every "
          "key") {
  temp_file file{"# a node of the test cluster\n"
                 "\n"
                 "host = 127.0.0.5\n"
                 "   port=4242   \n"
                 "\tjoin = 127.0.0.9:4000  # the seed\n"
                 "  # indented comment = ignored\n"
                 "name = node#2\n"
                 "heartbeat-interval = 100ms\n"
                 "connection-timeout = 3s\n"
                 "join-deadline = 20s\n"
                 "default-timeout = 45s\n"
                 "serve-variables = no\n"
                 "spread-variables = on\n"
                 "worker-threads = 6\r\n"
                 "\n"};
  auto loaded = load_node_config(file.path());
  VARSYNC_REQUIRE_OK(loaded);
  CHECK_EQ(loaded->host, "127.0.0.5");
  CHECK_EQ(loaded->port, 4242);
  REQUIRE(loaded->join.size() == 1);
  CHECK_EQ(loaded->join[0], (endpoint{"127.0.0.9", 4000}));
  CHECK_EQ(loaded->name, "node#2");
  CHECK_EQ(loaded->heartbeat_interval, 100ms);
  CHECK_EQ(loaded->connection_timeout, 3s);
  CHECK_EQ(loaded->join_deadline, 20s);
  CHECK_EQ(loaded->default_timeout, 45s);
  CHECK_FALSE(loaded->serve_variables);
  CHECK(loaded->spread_variables);
  CHECK_EQ(loaded->worker_threads, 6u);
}

TEST_CASE("a config file applies on top of the base config") {
  temp_file file{"port = 5000\n"};
  auto base = customized();
  auto loaded = load_node_config(file.path(), base);
  VARSYNC_REQUIRE_OK(loaded);
  auto expected_config = base;
  expected_config.port = 5000;
  CHECK(same_settings(*loaded, expected_config));
}

TEST_CASE("an empty config file gives the base config") {
  temp_file file{"# nothing here\n\n"};
  auto loaded = load_node_config(file.path());
  VARSYNC_REQUIRE_OK(loaded);
  CHECK(same_settings(*loaded, node_config{}));
}

TEST_CASE("a config file with an unknown key is an error naming the file, "
          "line and key") {
  temp_file file{"port = 1\n# comment\nhartbeat-interval = 100ms\n"};
  auto loaded = load_node_config(file.path());
  CHECK_EQ(code_of(loaded), errc::invalid_argument);
  auto message = message_of(loaded);
  CHECK_MESSAGE(message.starts_with(file.name() + ":3: "), message);
  CHECK_MESSAGE(contains(message, "hartbeat-interval"), message);
}

TEST_CASE("a config file with a bad value is an error naming the file, line, "
          "key and value") {
  temp_file file{"\n\nheartbeat-interval = 10x # oops\n"};
  auto loaded = load_node_config(file.path());
  CHECK_EQ(code_of(loaded), errc::invalid_argument);
  CHECK_EQ(message_of(loaded),
           file.name() + ":3: heartbeat-interval: '10x' is not a duration "
                         "(expected a number and a unit ms, s, min or h, "
                         "e.g. 200ms or 2s)");
}

TEST_CASE("a duration without a unit in a config file is an error naming the "
          "file, line and key and suggesting a unit") {
  temp_file file{"port = 1\nconnection-timeout = 5\n"};
  auto loaded = load_node_config(file.path());
  CHECK_EQ(code_of(loaded), errc::invalid_argument);
  CHECK_EQ(message_of(loaded),
           file.name() + ":2: connection-timeout: '5' needs a unit (e.g. 5s "
                         "or 5ms)");
}

TEST_CASE("a config file line without '=' or without a key is an error "
          "naming the file and line") {
  for (std::string_view line : {"port 4242", "= 4242", "just-a-word"}) {
    CAPTURE(line);
    temp_file file{"host = 127.0.0.1\n" + std::string{line} + "\n"};
    auto loaded = load_node_config(file.path());
    CHECK_EQ(code_of(loaded), errc::invalid_argument);
    auto message = message_of(loaded);
    CHECK_MESSAGE(message.starts_with(file.name() + ":2: "), message);
    CHECK_MESSAGE(contains(message, "key = value"), message);
    CHECK_MESSAGE(contains(message, line), message);
  }
}

TEST_CASE("a config file whose settings do not fit together is rejected "
          "naming the file") {
  temp_file file{"heartbeat-interval = 2s\nconnection-timeout = 1s\n"};
  auto loaded = load_node_config(file.path());
  CHECK_EQ(code_of(loaded), errc::invalid_argument);
  auto message = message_of(loaded);
  CHECK_MESSAGE(message.starts_with(file.name() + ": "), message);
  CHECK_MESSAGE(contains(message, "heartbeat-interval"), message);
  CHECK_MESSAGE(contains(message, "connection-timeout"), message);
}

TEST_CASE("a missing config file or a directory is an error naming the "
          "file") {
  auto missing =
      fs::temp_directory_path() / ("varsync-node-config-test-missing-" +
                                   std::to_string(::getpid()) + ".conf");
  REQUIRE_FALSE(fs::exists(missing));
  auto loaded = load_node_config(missing);
  CHECK_EQ(code_of(loaded), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(loaded), missing.string()),
                describe(loaded));
  auto directory = load_node_config(fs::temp_directory_path());
  CHECK_EQ(code_of(directory), errc::invalid_argument);
  CHECK_MESSAGE(
      contains(message_of(directory), fs::temp_directory_path().string()),
      describe(directory));
}

// -- parse_node_flags ---------------------------------------------------------

TEST_CASE("flags are applied in the --key=value and the --key value forms") {
  auto parsed = parse_node_flags(
      {"--host=0.0.0.0", "--port", "4242", "--join=127.0.0.9:4000", "--name",
       "w1", "--heartbeat-interval=50ms", "--connection-timeout", "1s",
       "--join-deadline=3s", "--default-timeout", "9000ms",
       "--serve-variables=off", "--spread-variables", "yes",
       "--worker-threads=3"});
  VARSYNC_REQUIRE_OK(parsed);
  const auto& config = parsed->config;
  CHECK_EQ(config.host, "0.0.0.0");
  CHECK_EQ(config.port, 4242);
  REQUIRE(config.join.size() == 1);
  CHECK_EQ(config.join[0], (endpoint{"127.0.0.9", 4000}));
  CHECK_EQ(config.name, "w1");
  CHECK_EQ(config.heartbeat_interval, 50ms);
  CHECK_EQ(config.connection_timeout, 1s);
  CHECK_EQ(config.join_deadline, 3s);
  CHECK_EQ(config.default_timeout, 9s);
  CHECK_FALSE(config.serve_variables);
  CHECK(config.spread_variables);
  CHECK_EQ(config.worker_threads, 3u);
  CHECK(parsed->rest.empty());
}

TEST_CASE("no flags give the base config") {
  auto parsed = parse_node_flags({}, customized());
  VARSYNC_REQUIRE_OK(parsed);
  CHECK(same_settings(parsed->config, customized()));
  CHECK(parsed->rest.empty());
}

TEST_CASE("a bare boolean flag means true when no value follows") {
  node_config base;
  base.serve_variables = false;
  auto last = parse_node_flags({"--spread-variables"}, base);
  VARSYNC_REQUIRE_OK(last);
  CHECK(last->config.spread_variables);
  auto before_flag =
      parse_node_flags({"--serve-variables", "--port", "7"}, base);
  VARSYNC_REQUIRE_OK(before_flag);
  CHECK(before_flag->config.serve_variables);
  CHECK_EQ(before_flag->config.port, 7);
  auto with_value = parse_node_flags({"--spread-variables", "false"});
  VARSYNC_REQUIRE_OK(with_value);
  CHECK_FALSE(with_value->config.spread_variables);
  CHECK(with_value->rest.empty());
}

TEST_CASE("a known flag without a value is an error naming the flag") {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--port"},
                                             {"--join", "--port", "1"},
                                             {"--heartbeat-interval"},
                                             {"--name", "--serve-variables"}}) {
    CAPTURE(args.front());
    auto parsed = parse_node_flags(args);
    CHECK_EQ(code_of(parsed), errc::invalid_argument);
    auto message = message_of(parsed);
    CHECK_MESSAGE(message.starts_with(args.front() + ": "), message);
    CHECK_MESSAGE(contains(message, "missing value"), message);
  }
  auto config = parse_node_flags({"--config"});
  CHECK_EQ(code_of(config), errc::invalid_argument);
  CHECK(contains(message_of(config), "--config"));
}

TEST_CASE("a flag with a bad value is an error naming the flag and the "
          "value") {
  auto parsed = parse_node_flags({"--port", "seventy"});
  CHECK_EQ(code_of(parsed), errc::invalid_argument);
  CHECK_MESSAGE(message_of(parsed).starts_with("--port: 'seventy'"),
                describe(parsed));
  parsed = parse_node_flags({"--heartbeat-interval=0"});
  CHECK_MESSAGE(message_of(parsed).starts_with("--heartbeat-interval: '0'"),
                describe(parsed));
  parsed = parse_node_flags({"--connection-timeout", "5"});
  CHECK_EQ(message_of(parsed),
           "--connection-timeout: '5' needs a unit (e.g. 5s or 5ms)");
  parsed = parse_node_flags({"--serve-variables=maybe"});
  CHECK_MESSAGE(message_of(parsed).starts_with("--serve-variables: 'maybe'"),
                describe(parsed));
  parsed = parse_node_flags({"--join", "localhost"});
  CHECK_MESSAGE(message_of(parsed).starts_with("--join: 'localhost'"),
                describe(parsed));
  // An empty value after '=' is a missing one.
  parsed = parse_node_flags({"--port="});
  CHECK_EQ(message_of(parsed), "--port: missing value (expected --port PORT)");
}

TEST_CASE("flags whose combination is invalid are rejected by validation") {
  auto parsed = parse_node_flags(
      {"--heartbeat-interval", "5s", "--connection-timeout", "1s"});
  CHECK_EQ(code_of(parsed), errc::invalid_argument);
  auto message = message_of(parsed);
  CHECK_MESSAGE(contains(message, "heartbeat-interval"), message);
  CHECK_MESSAGE(contains(message, "connection-timeout"), message);
}

TEST_CASE("unknown flags, --help and positional arguments are passed through "
          "in order") {
  auto parsed =
      parse_node_flags({"input.txt", "--scenario", "steps", "--port", "9",
                        "--help", "-h", "--verbose=2", "--", "last"});
  VARSYNC_REQUIRE_OK(parsed);
  CHECK_EQ(parsed->config.port, 9);
  const std::vector<std::string> expected_rest{
      "input.txt", "--scenario",  "steps", "--help",
      "-h",        "--verbose=2", "--",    "last"};
  CHECK_EQ(parsed->rest, expected_rest);
}

TEST_CASE("a --config file is loaded before the other flags wherever it "
          "appears, so flags win") {
  temp_file file{"port = 1111\nname = from-file\nworker-threads = 2\n"};
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--port", "2222", "--config", file.name()},
           {"--config", file.name(), "--port", "2222"},
           {"--port=2222", "--config=" + file.name()}}) {
    CAPTURE(args.front());
    auto parsed = parse_node_flags(args);
    VARSYNC_REQUIRE_OK(parsed);
    CHECK_EQ(parsed->config.port, 2222);
    CHECK_EQ(parsed->config.name, "from-file");
    CHECK_EQ(parsed->config.worker_threads, 2u);
    CHECK(parsed->rest.empty());
  }
}

TEST_CASE("a --config file applies on top of the base config and is "
          "validated only together with the flags") {
  // On its own the file is invalid (heartbeat 3s >= the default connection
  // timeout 2s); the flag fixes the combination.
  temp_file file{"heartbeat-interval = 3s\n"};
  CHECK_EQ(code_of(load_node_config(file.path())), errc::invalid_argument);
  auto base = customized();
  auto parsed = parse_node_flags(
      {"--config", file.name(), "--connection-timeout", "10s"}, base);
  VARSYNC_REQUIRE_OK(parsed);
  CHECK_EQ(parsed->config.heartbeat_interval, 3s);
  CHECK_EQ(parsed->config.connection_timeout, 10s);
  CHECK_EQ(parsed->config.name, base.name);
  CHECK_EQ(parsed->config.join, base.join);
}

TEST_CASE("a bad or missing --config file is an error naming the file") {
  temp_file file{"port = 1\nport: 2\n"};
  auto parsed = parse_node_flags({"--port", "5", "--config", file.name()});
  CHECK_EQ(code_of(parsed), errc::invalid_argument);
  CHECK_MESSAGE(message_of(parsed).starts_with(file.name() + ":2: "),
                describe(parsed));
  auto missing =
      fs::temp_directory_path() / ("varsync-node-config-test-absent-" +
                                   std::to_string(::getpid()) + ".conf");
  parsed = parse_node_flags({"--config=" + missing.string()});
  CHECK_EQ(code_of(parsed), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(parsed), missing.string()),
                describe(parsed));
}

TEST_CASE("reuse-buffers is off by default (it keeps up to 1 GiB of "
          "freed buffers) and can be turned on") {
  node_config config;
  CHECK_FALSE(config.reuse_buffers);
  VARSYNC_CHECK_OK(config.set("reuse-buffers", "on"));
  CHECK(config.reuse_buffers);
  auto bad = config.set("reuse-buffers", "maybe");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message().find("reuse-buffers") != std::string::npos);
  CHECK(config.reuse_buffers);
}

TEST_CASE("bulk-part takes a byte count") {
  node_config config;
  CHECK_EQ(config.bulk_part, std::uint64_t{1} << 20);
  VARSYNC_CHECK_OK(config.set("bulk-part", "0"));
  CHECK_EQ(config.bulk_part, 0u);
  VARSYNC_CHECK_OK(config.set("bulk-part", "65536"));
  CHECK_EQ(config.bulk_part, 65536u);
  for (const auto* bad_value :
       {"-1", "1MiB", "off", "99999999999999", "1", "4095"}) {
    auto bad = config.set("bulk-part", bad_value);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message().find("bulk-part") != std::string::npos);
    CHECK_EQ(config.bulk_part, 65536u);
  }
}

TEST_CASE("bulk-threshold takes a byte count or off") {
  node_config config;
  REQUIRE(config.bulk_threshold.has_value());
  CHECK_EQ(*config.bulk_threshold, 0u);
  VARSYNC_CHECK_OK(config.set("bulk-threshold", "65536"));
  CHECK_EQ(config.bulk_threshold, std::optional<std::uint64_t>{65536});
  VARSYNC_CHECK_OK(config.set("bulk-threshold", "off"));
  CHECK_FALSE(config.bulk_threshold.has_value());
  for (const auto* bad_value : {"-1", "64k", "", "4294967297"}) {
    CAPTURE(bad_value);
    auto bad = config.set("bulk-threshold", bad_value);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message().find("bulk-threshold") != std::string::npos);
    CHECK_FALSE(config.bulk_threshold.has_value());
  }
}

TEST_CASE("spin takes a duration up to 1s with a unit, or off") {
  using std::chrono::microseconds;
  node_config config;
  CHECK_EQ(config.spin, microseconds{100});
  VARSYNC_CHECK_OK(config.set("spin", "250us"));
  CHECK_EQ(config.spin, microseconds{250});
  VARSYNC_CHECK_OK(config.set("spin", "1ms"));
  CHECK_EQ(config.spin, microseconds{1000});
  VARSYNC_CHECK_OK(config.set("spin", "off"));
  CHECK_EQ(config.spin, microseconds{0});
  VARSYNC_CHECK_OK(config.set("spin", "1000ms"));
  CHECK_EQ(config.spin, microseconds{1000000});
  // A bare number has no unit to guess; 2 s of polling is a typo.
  for (const auto* bad_value : {"100", "2000ms", "-5us", "us", "1s", ""}) {
    CAPTURE(bad_value);
    auto bad = config.set("spin", bad_value);
    REQUIRE_FALSE(bad);
    CHECK_MESSAGE(contains(message_of(bad), "spin"), message_of(bad));
    CHECK_MESSAGE(contains(message_of(bad), "like 100us or 1ms"),
                  message_of(bad));
    CHECK_EQ(config.spin, microseconds{1000000});
  }
}

TEST_CASE("cpus takes CPU numbers and ranges; a malformed list names the bad "
          "item") {
  node_config config;
  CHECK(config.cpus.empty());
  VARSYNC_CHECK_OK(config.set("cpus", "3"));
  CHECK_EQ(config.cpus, std::vector<unsigned>{3});
  VARSYNC_CHECK_OK(config.set("cpus", "4-5,0,5"));
  CHECK_EQ(config.cpus, (std::vector<unsigned>{0, 4, 5}));
  for (const auto* bad_value : {"", "1-0", "x", "0,,1", "-1", "1024", "0-"}) {
    CAPTURE(bad_value);
    auto bad = config.set("cpus", bad_value);
    REQUIRE_FALSE(bad);
    CHECK_MESSAGE(contains(message_of(bad), "cpus"), message_of(bad));
    CHECK_MESSAGE(contains(message_of(bad), "is not one"), message_of(bad));
    CHECK_EQ(config.cpus, (std::vector<unsigned>{0, 4, 5}));
  }
}

TEST_CASE("a config file that is a device, a FIFO or above 1 MiB is refused "
          "before it is read; a line above 4 KiB is refused") {
  // --config /dev/zero used to grow without limit.
  auto zero = load_node_config("/dev/zero");
  CHECK_EQ(code_of(zero), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(zero), "not a regular file"),
                message_of(zero));
  auto fifo = fs::temp_directory_path() /
              ("varsync-config-fifo-" + std::to_string(::getpid()));
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto piped = load_node_config(fifo); // must not wait for a writer
  fs::remove(fifo);
  CHECK_MESSAGE(contains(message_of(piped), "not a regular file"),
                message_of(piped));
  temp_file big{std::string((1 << 20) + 1, '#')};
  auto too_big = load_node_config(big.path());
  CHECK_EQ(code_of(too_big), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(too_big), "at most 1 MiB"),
                message_of(too_big));
  temp_file long_line{"port = 1\nname = " + std::string(5000, 'x') + "\n"};
  auto too_long = load_node_config(long_line.path());
  CHECK_EQ(code_of(too_long), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(too_long), ":2: the line has 5007 bytes"),
                message_of(too_long));
}

TEST_CASE("errors quote at most 80 bytes of the input, with non-printable "
          "bytes escaped") {
  temp_file garbage{std::string{"\x01\x1b[31m"} + std::string(300, 'z') + "\n"};
  auto loaded = load_node_config(garbage.path());
  CHECK_EQ(code_of(loaded), errc::invalid_argument);
  auto message = message_of(loaded);
  CHECK_MESSAGE(contains(message, "'\\x01\\x1b[31mzzz"), message);
  CHECK_MESSAGE(contains(message, "... (306 bytes)"), message);
  CHECK_MESSAGE(message.find('\x1b') == std::string::npos, message);
  CHECK_LT(message.size(), 400u);
  node_config config;
  auto bad = config.set("port", std::string(1000, '9'));
  CHECK_MESSAGE(contains(message_of(bad), "... (1000 bytes)"), message_of(bad));
}

TEST_CASE("max-message takes a byte count from 64 KiB to 4 GiB; log-level "
          "one of the level names; handshake-deadline a positive duration") {
  node_config config;
  CHECK_EQ(config.max_message, std::uint64_t{1} << 30);
  CHECK_EQ(config.log_level, "info");
  CHECK_EQ(config.handshake_deadline, 5000ms);
  CHECK(config.secret_file.empty());
  VARSYNC_CHECK_OK(config.set("max-message", "65536"));
  CHECK_EQ(config.max_message, 65536u);
  for (const auto* bad_value : {"65535", "-1", "1k", "", "4294967297"}) {
    CAPTURE(bad_value);
    auto bad = config.set("max-message", bad_value);
    REQUIRE_FALSE(bad);
    CHECK(contains(bad.error().message(), "max-message"));
    CHECK_EQ(config.max_message, 65536u);
  }
  VARSYNC_CHECK_OK(config.set("log-level", "warn"));
  CHECK_EQ(config.log_level, "warn");
  auto bad_level = config.set("log-level", "loud");
  REQUIRE_FALSE(bad_level);
  CHECK(contains(bad_level.error().message(), "one of trace"));
  CHECK_EQ(config.log_level, "warn");
  VARSYNC_CHECK_OK(config.set("handshake-deadline", "250ms"));
  CHECK_EQ(config.handshake_deadline, 250ms);
  CHECK_FALSE(config.set("handshake-deadline", "0"));
  VARSYNC_CHECK_OK(config.set("secret-file", "/etc/cluster.secret"));
  CHECK_EQ(config.secret_file, "/etc/cluster.secret");
  CHECK_FALSE(config.set("secret-file", ""));
}
