#include "varsync/node_config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>

namespace varsync {

namespace {

std::string_view trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

error bad_value(std::string_view key, std::string_view value,
                std::string_view expected) {
  return error{errc::invalid_argument, std::string{key} + ": '" +
                                           std::string{value} + "' is not " +
                                           std::string{expected}};
}

/// A non-negative integer of at most `max`.
std::optional<std::uint64_t> parse_unsigned(std::string_view text,
                                            std::uint64_t max) {
  std::uint64_t value = 0;
  auto [end, status] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (status != std::errc{} || end != text.data() + text.size() ||
      text.empty() || value > max)
    return std::nullopt;
  return value;
}

/// "250ms", "2s" or a bare number of milliseconds; must be positive.
expected<std::chrono::milliseconds> parse_duration(std::string_view key,
                                                   std::string_view text) {
  auto digits = text;
  std::uint64_t scale = 1;
  if (digits.ends_with("ms")) {
    digits.remove_suffix(2);
  } else if (digits.ends_with("s")) {
    digits.remove_suffix(1);
    scale = 1000;
  }
  auto value = parse_unsigned(digits, std::uint64_t{1} << 40);
  if (!value || *value == 0)
    return bad_value(key, text,
                     "a positive duration (expected e.g. 200ms or "
                     "2s)");
  return std::chrono::milliseconds{*value * scale};
}

expected<bool> parse_bool(std::string_view key, std::string_view text) {
  static const std::set<std::string_view> yes{"true", "yes", "on", "1"};
  static const std::set<std::string_view> no{"false", "no", "off", "0"};
  if (yes.count(text) != 0)
    return true;
  if (no.count(text) != 0)
    return false;
  return bad_value(key, text, "a boolean (true/false, yes/no, on/off, 1/0)");
}

bool is_bool_key(std::string_view key) {
  return key == "serve-variables" || key == "spread-variables";
}

bool is_key(std::string_view key) {
  for (const auto& [name, help] : node_config::keys())
    if (name == key)
      return true;
  return false;
}

} // namespace

std::string to_string(const endpoint& x) {
  return x.host + ":" + std::to_string(x.port);
}

expected<endpoint> parse_endpoint(std::string_view text, std::string_view key) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return bad_value(key, text, "an address HOST:PORT");
  auto port = parse_unsigned(text.substr(colon + 1), 65535);
  if (!port || *port == 0)
    return bad_value(key, text, "an address HOST:PORT with a port 1-65535");
  return endpoint{std::string{text.substr(0, colon)},
                  static_cast<std::uint16_t>(*port)};
}

std::vector<std::pair<std::string, std::string>> node_config::keys() {
  return {
      {"host", "address to listen on (default 127.0.0.1)"},
      {"port", "port to listen on; 0 picks a free one (default 0)"},
      {"join", "HOST:PORT of the seed to join; unset: this node is the seed"},
      {"name", "name of this node in status output (default HOST:PORT)"},
      {"heartbeat-interval", "how often to tell peers we are alive (200ms)"},
      {"connection-timeout", "silence after which a peer is dead (2s)"},
      {"join-deadline", "how long joining retries to reach the seed (10s)"},
      {"default-timeout", "deadline of calls that pass none (30s)"},
      {"serve-variables", "offer to host variable actors (true)"},
      {"spread-variables", "seed: spread variables over serving nodes (false)"},
      {"worker-threads", "actor scheduler threads; 0: one per core (0)"},
  };
}

expected<void> node_config::set(std::string_view key, std::string_view value) {
  if (key == "host") {
    if (value.empty())
      return bad_value(key, value, "a host name or address");
    host = value;
  } else if (key == "port") {
    auto parsed = parse_unsigned(value, 65535);
    if (!parsed)
      return bad_value(key, value, "a port number 0-65535");
    port = static_cast<std::uint16_t>(*parsed);
  } else if (key == "join") {
    auto parsed = parse_endpoint(value, key);
    if (!parsed)
      return parsed.error();
    join = *parsed;
  } else if (key == "name") {
    if (value.empty())
      return bad_value(key, value, "a non-empty name");
    name = value;
  } else if (key == "heartbeat-interval" || key == "connection-timeout" ||
             key == "join-deadline" || key == "default-timeout") {
    auto parsed = parse_duration(key, value);
    if (!parsed)
      return parsed.error();
    auto& field = key == "heartbeat-interval"   ? heartbeat_interval
                  : key == "connection-timeout" ? connection_timeout
                  : key == "join-deadline"      ? join_deadline
                                                : default_timeout;
    field = *parsed;
  } else if (is_bool_key(key)) {
    auto parsed = parse_bool(key, value);
    if (!parsed)
      return parsed.error();
    (key == "serve-variables" ? serve_variables : spread_variables) = *parsed;
  } else if (key == "worker-threads") {
    auto parsed = parse_unsigned(value, 1024);
    if (!parsed)
      return bad_value(key, value, "a thread count 0-1024");
    worker_threads = static_cast<std::size_t>(*parsed);
  } else {
    return error{errc::invalid_argument,
                 "unknown setting '" + std::string{key} +
                     "' (see --help for the known ones)"};
  }
  return {};
}

expected<void> node_config::validate() const {
  if (host.empty())
    return error{errc::invalid_argument, "host: must not be empty"};
  if (join && (join->host.empty() || join->port == 0))
    return error{errc::invalid_argument,
                 "join: '" + to_string(*join) + "' is not HOST:PORT"};
  if (heartbeat_interval >= connection_timeout)
    return error{errc::invalid_argument,
                 "heartbeat-interval (" +
                     std::to_string(heartbeat_interval.count()) +
                     " ms) must be below connection-timeout (" +
                     std::to_string(connection_timeout.count()) +
                     " ms), or healthy peers are declared dead"};
  return {};
}

expected<node_config> load_node_config(const std::filesystem::path& file,
                                       node_config base) {
  std::ifstream in{file};
  if (!in)
    return error{errc::invalid_argument,
                 "config file '" + file.string() + "' cannot be read"};
  auto result = base;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string_view text = line;
    if (auto hash = text.find('#'); hash != std::string_view::npos)
      text = text.substr(0, hash);
    text = trim(text);
    if (text.empty())
      continue;
    auto where = file.string() + ":" + std::to_string(number) + ": ";
    auto equals = text.find('=');
    if (equals == std::string_view::npos)
      return error{errc::invalid_argument, where +
                                               "expected 'key = value', got '" +
                                               std::string{text} + "'"};
    auto applied =
        result.set(trim(text.substr(0, equals)), trim(text.substr(equals + 1)));
    if (!applied)
      return error{errc::invalid_argument, where + applied.error().message()};
  }
  if (auto valid = result.validate(); !valid)
    return error{errc::invalid_argument,
                 file.string() + ": " + valid.error().message()};
  return result;
}

expected<parsed_flags> parse_node_flags(const std::vector<std::string>& args,
                                        node_config base) {
  parsed_flags result{std::move(base), {}};
  // --config first, wherever it appears: flags override the file.
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string file;
    if (args[i] == "--config") {
      if (i + 1 >= args.size())
        return error{errc::invalid_argument, "--config: missing FILE"};
      file = args[i + 1];
    } else if (args[i].rfind("--config=", 0) == 0) {
      file = args[i].substr(9);
    } else {
      continue;
    }
    auto loaded = load_node_config(file, result.config);
    if (!loaded)
      return loaded.error();
    result.config = *loaded;
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--config") {
      ++i;
      continue;
    }
    if (arg.rfind("--config=", 0) == 0)
      continue;
    if (arg.rfind("--", 0) != 0) {
      result.rest.push_back(arg);
      continue;
    }
    auto body = std::string_view{arg}.substr(2);
    auto equals = body.find('=');
    auto key = body.substr(0, equals);
    if (!is_key(key)) {
      result.rest.push_back(arg);
      continue;
    }
    std::string value;
    if (equals != std::string_view::npos) {
      value = body.substr(equals + 1);
    } else if (is_bool_key(key) &&
               (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return error{errc::invalid_argument,
                   "--" + std::string{key} + ": missing value"};
    }
    if (auto applied = result.config.set(key, value); !applied)
      return error{errc::invalid_argument, "--" + applied.error().message()};
  }
  if (auto valid = result.config.validate(); !valid)
    return valid.error();
  return result;
}

} // namespace varsync
