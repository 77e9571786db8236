#include "runtime/cli/run_options.hpp"

#include "runtime/core/wording.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
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

void add_run_options(CLI::App& run, run_options& options) {
  // Each value is checked where it is parsed, so that the error names the
  // flag and the value.
  run.add_option(
         "--np",
         [&options](const CLI::results_t& values) {
           auto count = parse_positive(values.back(), 100'000);
           if (!count)
             throw CLI::ValidationError{
                 "-np: '" + wording::excerpt(values.back()) +
                 "' is not a number of processes (1 or more)"};
           options.processes = *count;
           return true;
         },
         "number of worker processes (also -np N)")
      ->option_text("N");
  run.add_option(
         "-H,--hosts",
         [&options](const CLI::results_t& values) {
           auto hosts = parse_hosts(values.back());
           if (!hosts)
             throw CLI::ValidationError{hosts.error().message()};
           options.hosts = std::move(*hosts);
           return true;
         },
         "ranks fill each host's SLOTS in order; ranks on this machine are "
         "started, for the others the command lines to run there are "
         "printed")
      ->option_text("HOST:SLOTS[,...]");
  run.add_option("--secret-file", options.secret_file,
                 "the cluster secret (default: $VARSYNC_SECRET_FILE, else a "
                 "fresh one, removed when the job ends)")
      ->option_text("FILE");
  run.add_option(
         "--port",
         [&options](const CLI::results_t& values) {
           const auto& value = values.back();
           auto port = value == "0" ? std::optional<std::size_t>{0}
                                    : parse_positive(value, 65535);
           if (!port)
             throw CLI::ValidationError{"--port: '" + wording::excerpt(value) +
                                        "' is not a port (0-65535)"};
           options.port = static_cast<std::uint16_t>(*port);
           return true;
         },
         "the seed's port (default 0: a free one)")
      ->option_text("PORT");
  run.add_option(
         "--seed-host",
         [&options](const CLI::results_t& values) {
           if (values.back().empty())
             throw CLI::ValidationError{"--seed-host: expects an address"};
           options.seed_host = values.back();
           return true;
         },
         "the address the seed listens on (default 127.0.0.1)")
      ->option_text("ADDRESS");
  run.add_flag("--ssh", options.ssh,
               "start the ranks on other hosts with ssh (BatchMode; the "
               "program and --secret-file at the same paths there; "
               "$VARSYNC_SSH replaces ssh; SIGINT/SIGTERM reach the local "
               "ssh clients, not the programs they started)");
  run.add_option(
         "command",
         [&options](const CLI::results_t& words) {
           options.program = words.front();
           options.program_args.assign(words.begin() + 1, words.end());
           return true;
         },
         "the program every worker runs and its arguments, after `--`")
      ->option_text("-- PROGRAM ARGS...")
      ->expected(1, CLI::detail::expected_max_vector_size)
      ->allow_extra_args();
}

std::vector<std::string> mpirun_style_words(std::vector<std::string> words) {
  for (auto& word : words) {
    if (word == "--")
      break;
    if (word == "-np")
      word = "--np";
  }
  return words;
}

expected<void> check_run_options(const run_options& options,
                                 const std::vector<std::string>& words) {
  if (options.processes == 0)
    return usage("-np N is missing: how many worker processes to start");
  auto separator = std::find(words.begin(), words.end(), "--");
  // The words CLI11 took for the program must be those after `--`.
  std::vector<std::string> command_line;
  if (!options.program.empty()) {
    command_line.push_back(options.program);
    command_line.insert(command_line.end(), options.program_args.begin(),
                        options.program_args.end());
  }
  auto after = separator == words.end() ? 0 : words.end() - separator - 1;
  if (static_cast<std::ptrdiff_t>(command_line.size()) > after)
    return usage("'" + wording::excerpt(command_line.front()) +
                 "': expected `--` before the program (varsync run -np N "
                 "-- PROGRAM ARGS...)");
  if (separator == words.end())
    return usage("`-- PROGRAM ARGS...` is missing: the program every worker "
                 "runs");
  if (command_line.empty() || command_line.front().empty())
    return usage("no program after `--` (varsync run -np N -- PROGRAM "
                 "ARGS...)");
  if (!options.hosts.empty()) {
    std::size_t slots = 0;
    for (const auto& host : options.hosts)
      slots += host.slots;
    if (slots < options.processes)
      return usage("--hosts: " + std::to_string(slots) + " slots for -np " +
                   std::to_string(options.processes) +
                   " processes (give each host HOST:SLOTS)");
  }
  return {};
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
