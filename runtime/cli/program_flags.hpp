#pragma once

// Flags of the programs built in this repository (the varsync tool, the
// bench programs, the test programs), all parsed by CLI11 (Debian's
// libcli11-dev, header-only): `--help` and `--version` on every program,
// and one way to report a usage error. Node flags come from
// runtime/node_flags.hpp.

#include "runtime/cli/version.hpp"
#include "runtime/core/wording.hpp"
#include "varsync/node_config.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace varsync::cli {

/// Adds `--version` to `app`: it prints `version_line` and exits 0.
inline void add_version_flag(CLI::App& app) {
  app.set_version_flag("--version", std::string{version_line});
}

/// A CLI11 check that a value is a number above 0 (CLI11's
/// PositiveNumber prints the largest double in its message), e.g.
/// "--epochs: '0' is not a number above 0".
inline CLI::Validator positive_number() {
  return CLI::Validator{
      [](std::string& text) {
        double value = 0;
        if (CLI::detail::lexical_cast(text, value) && value > 0)
          return std::string{};
        return "'" + wording::excerpt(text) + "' is not a number above 0";
      },
      "POSITIVE"};
}

/// "varsync status" when `app` (the varsync tool) was parsing its
/// subcommand `status`: the program's name and the subcommands selected so
/// far, for messages.
inline std::string command_name(const CLI::App& app) {
  std::string name = VARSYNC_PROGRAM;
  for (const CLI::App* at = &app;;) {
    auto selected = at->get_subcommands();
    if (selected.empty())
      return name;
    at = selected.front();
    name += " " + at->get_name();
  }
}

/// A command of a program with subcommands: its CLI11 app (a subcommand)
/// and what runs it once the command line parsed, returning the exit
/// status.
struct command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

/// Parses `argc`/`argv` with `app`, then checks `config` (when given) with
/// `node_config::validate`. Returns the exit status when the program is
/// done: 0 after printing `--help` or `--version` (to stdout), 2 after a
/// usage error, printed to stderr as "<command>: <what>" (the program's
/// name and its subcommand, if any; CLI11's words, or node_config's naming
/// the flag and the value; escaped and cut like all echoed input) with a
/// hint to run `--help`. Returns nothing when the program should go on.
inline std::optional<int> parse_flags(CLI::App& app, int argc,
                                      const char* const* argv,
                                      const node_config* config = nullptr) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& version) {
    std::cout << version.what() << std::endl;
    return 0;
  } catch (const CLI::ExtrasError&) {
    // CLI11's message repeats every extra word whole: name them escaped
    // and cut, as node_config's messages quote values. A `--` is kept
    // among them but is no extra (CLI11 does not count it).
    auto extras = app.remaining(true);
    std::erase(extras, "--");
    std::string named;
    for (std::size_t i = 0; i < extras.size() && i < 5; ++i)
      named += (i == 0 ? "'" : ", '") + wording::excerpt(extras[i]) + "'";
    if (extras.size() > 5)
      named += " and " + std::to_string(extras.size() - 5) + " more";
    std::cerr << command_name(app) << ": unexpected argument"
              << (extras.size() > 1 ? "s " : " ") << named << " (see "
              << command_name(app) << " --help)\n";
    return 2;
  } catch (const CLI::ParseError& failure) {
    // Quoted and cut: CLI11's messages repeat what the user typed.
    std::cerr << command_name(app) << ": "
              << wording::excerpt(failure.what(), 400) << " (see "
              << command_name(app) << " --help)\n";
    return 2;
  }
  if (config != nullptr)
    if (auto valid = config->validate(); !valid) {
      std::cerr << command_name(app) << ": " << valid.error().to_string()
                << '\n';
      return 2;
    }
  return std::nullopt;
}

} // namespace varsync::cli
