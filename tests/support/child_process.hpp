#pragma once

// Child processes for multi-process tests: the project's one launcher
// (runtime/launch/child_process.hpp) under the names the tests use, plus
// what only tests need: "no process left behind" checks and the paths of
// the programs this project builds.

#include "runtime/launch/child_process.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace varsync::test {

using launch::child_process;
using launch::exit_status;
using launch::launch_options;

/// Process ids of live processes whose command line (/proc/<pid>/cmdline,
/// arguments joined by spaces) contains `needle`, excluding the calling
/// process and zombies; for "no process left behind" checks. Never blocks.
std::vector<pid_t> processes_matching(std::string_view needle);

/// Blocks until `processes_matching(needle)` is empty or `timeout` passes
/// (checking every few milliseconds); returns the processes still matching,
/// so an empty result means success. For processes that were just sent
/// SIGKILL and need a moment to die.
std::vector<pid_t>
wait_for_no_process_matching(std::string_view needle,
                             std::chrono::milliseconds timeout);

/// `binary_dir` + "/" + `relative`: the path of an executable built by this
/// project.
std::string binary_path(std::string_view binary_dir, std::string_view relative);

#ifdef VARSYNC_BINARY_DIR
/// The path of an executable built by this project, `relative` to the
/// build directory (e.g. "varsync_example_counter"). Only in test targets,
/// which define VARSYNC_BINARY_DIR.
inline std::string binary_path(std::string_view relative) {
  return binary_path(VARSYNC_BINARY_DIR, relative);
}
#endif

} // namespace varsync::test
