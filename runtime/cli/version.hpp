#pragma once

// `--version` of the programs built in this repository (the varsync tool,
// the bench programs, the test programs): each prints "<program>
// <project version>" and exits 0. CMake's varsync_program() defines
// VARSYNC_PROGRAM (the program's file name) and VARSYNC_VERSION (the
// project's version) for each program target, never for the library.

#include <cstdio>
#include <string_view>

#if !defined(VARSYNC_PROGRAM) || !defined(VARSYNC_VERSION)
#error                                                                         \
    "VARSYNC_PROGRAM and VARSYNC_VERSION come from varsync_program() in CMakeLists.txt"
#endif

namespace varsync::cli {

/// "<program> <version>", e.g. "varsync 0.1.0".
inline constexpr std::string_view version_line =
    VARSYNC_PROGRAM " " VARSYNC_VERSION;

/// Whether `--version` is among `argv`'s arguments (before a `--`); prints
/// `version_line` to stdout then. Call first in `main`.
inline bool print_version_if_asked(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg == "--")
      return false;
    if (arg == "--version") {
      std::printf("%s\n", version_line.data());
      return true;
    }
  }
  return false;
}

} // namespace varsync::cli
