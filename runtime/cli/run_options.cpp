#include "runtime/cli/run_options.hpp"

#include "runtime/core/wording.hpp"

#include <charconv>
#include <string_view>
#include <unistd.h>
#include <varsync/node_config.hpp>

namespace varsync::cli {

namespace {

/// Digits only, 1 .. max; nullopt otherwise.
std::optional<std::size_t> parse_positive(std::string_view text,
                                          std::size_t max) {
  std::size_t value = 0;
  auto [end, failure] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || failure != std::errc{} ||
      end != text.data() + text.size() || value == 0 || value > max)
    return std::nullopt;
  return value;
}

error usage(std::string message) {
  return error{errc::invalid_argument, std::move(message)};
}

/// "h1:2,h2:2" (a host without ":S" has one slot).
expected<std::vector<host_slots>> parse_hosts(std::string_view text) {
  std::vector<host_slots> result;
  std::size_t begin = 0;
  for (;;) {
    auto end = text.find(',', begin);
    auto entry = text.substr(begin, end - begin);
    host_slots host;
    auto colon = entry.rfind(':');
    host.host = std::string{entry.substr(0, colon)};
    if (colon != std::string_view::npos) {
      auto slots = parse_positive(entry.substr(colon + 1), 1'000'000);
      if (!slots)
        return usage("--hosts: '" + wording::excerpt(entry) +
                     "' is not HOST:SLOTS (SLOTS a positive number)");
      host.slots = *slots;
    }
    if (host.host.empty())
      return usage("--hosts: '" + wording::excerpt(entry) +
                   "' has no host (expected e.g. h1:2,h2:2)");
    result.push_back(std::move(host));
    if (end == std::string_view::npos)
      return result;
    begin = end + 1;
  }
}

} // namespace

expected<run_options> parse_run_options(const std::vector<std::string>& args) {
  run_options options;
  bool separator = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string flag = args[i];
    if (flag == "--") {
      separator = true;
      ++i;
      break;
    }
    if (flag == "--help" || flag == "-h") {
      options.help = true;
      return options;
    }
    if (flag == "--ssh") {
      options.ssh = true;
      continue;
    }
    if (!flag.starts_with("-"))
      return usage("'" + wording::excerpt(flag) +
                   "': expected `--` before the program (varsync run -np N "
                   "-- PROGRAM ARGS...)");
    std::string value;
    if (auto equals = flag.find('='); equals != std::string::npos) {
      value = flag.substr(equals + 1);
      flag.resize(equals);
    } else if (i + 1 < args.size() && args[i + 1] != "--") {
      value = args[++i];
    } else {
      return usage(flag + ": expects a value");
    }
    if (flag == "-np" || flag == "--np") {
      auto count = parse_positive(value, 100'000);
      if (!count)
        return usage("-np: '" + wording::excerpt(value) +
                     "' is not a number of processes (1 or more)");
      options.processes = *count;
    } else if (flag == "--hosts" || flag == "-H") {
      auto hosts = parse_hosts(value);
      if (!hosts)
        return hosts.error();
      options.hosts = std::move(*hosts);
    } else if (flag == "--secret-file") {
      options.secret_file = value;
    } else if (flag == "--port") {
      auto port = value == "0" ? std::optional<std::size_t>{0}
                               : parse_positive(value, 65535);
      if (!port)
        return usage("--port: '" + wording::excerpt(value) +
                     "' is not a port (0-65535)");
      options.port = static_cast<std::uint16_t>(*port);
    } else if (flag == "--seed-host") {
      if (value.empty())
        return usage("--seed-host: expects an address");
      options.seed_host = value;
    } else {
      return usage("unknown option '" + wording::excerpt(flag) + "'");
    }
  }
  if (options.processes == 0)
    return usage("-np N is missing: how many worker processes to start");
  if (!separator)
    return usage("`-- PROGRAM ARGS...` is missing: the program every worker "
                 "runs");
  if (i >= args.size() || args[i].empty())
    return usage("no program after `--` (varsync run -np N -- PROGRAM "
                 "ARGS...)");
  options.program = args[i];
  options.program_args.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                              args.end());
  if (!options.hosts.empty()) {
    std::size_t slots = 0;
    for (const auto& host : options.hosts)
      slots += host.slots;
    if (slots < options.processes)
      return usage("--hosts: " + std::to_string(slots) + " slots for -np " +
                   std::to_string(options.processes) +
                   " processes (give each host HOST:SLOTS)");
  }
  return options;
}

bool is_this_machine(const std::string& host) {
  if (is_loopback(host))
    return true;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0)
    return false;
  std::string_view own{name};
  auto short_name = own.substr(0, own.find('.'));
  return host == own || host == short_name;
}

} // namespace varsync::cli
