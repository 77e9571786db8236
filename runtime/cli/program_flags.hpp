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
#include <iostream>
#include <optional>
#include <string>

namespace varsync::cli {

/// Adds `--version` to `app`: it prints `version_line` and exits 0.
inline void add_version_flag(CLI::App& app) {
  app.set_version_flag("--version", std::string{version_line});
}

/// Parses `argc`/`argv` with `app`, then checks `config` (when given) with
/// `node_config::validate`. Returns the exit status when the program is
/// done: 0 after printing `--help` or `--version` (to stdout), 2 after a
/// usage error, printed to stderr as "<program>: <what>" (CLI11's words,
/// or node_config's naming the flag and the value; escaped and cut like
/// all echoed input) with a hint to run `--help`. Returns nothing when the
/// program should go on.
inline std::optional<int> parse_flags(CLI::App& app, int argc, char** argv,
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
  } catch (const CLI::ParseError& failure) {
    // Quoted and cut: CLI11's messages repeat what the user typed.
    std::cerr << VARSYNC_PROGRAM << ": "
              << wording::excerpt(failure.what(), 400) << " (see "
              << VARSYNC_PROGRAM << " --help)\n";
    return 2;
  }
  if (config != nullptr)
    if (auto valid = config->validate(); !valid) {
      std::cerr << VARSYNC_PROGRAM << ": " << valid.error().to_string() << '\n';
      return 2;
    }
  return std::nullopt;
}

} // namespace varsync::cli
