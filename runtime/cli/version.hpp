#pragma once

// The version line of the programs built in this repository (the varsync
// tool, the examples, the bench programs, the test programs): `--version`
// prints "<program> <project version>" and exits 0 (program_flags.hpp). CMake's
// varsync_program() defines VARSYNC_PROGRAM (the program's file name) and
// VARSYNC_VERSION (the project's version) for each program target, never for
// the library.

#include <string_view>

#if !defined(VARSYNC_PROGRAM) || !defined(VARSYNC_VERSION)
#error                                                                         \
    "VARSYNC_PROGRAM and VARSYNC_VERSION come from varsync_program() in CMakeLists.txt"
#endif

namespace varsync::cli {

/// "<program> <version>", e.g. "varsync 0.1.0".
inline constexpr std::string_view version_line =
    VARSYNC_PROGRAM " " VARSYNC_VERSION;

} // namespace varsync::cli
