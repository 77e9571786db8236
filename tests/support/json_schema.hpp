#pragma once

// Checks JSON documents against the status schema
// (runtime/cli/status.schema.json) with Debian's python3-jsonschema,
// through tests/support/validate_json.py. Only for test targets.

#include "tests/support/child_process.hpp"
#include "tests/support/temp_root.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <string>

namespace varsync::test {

/// Checks every line of `lines` (JSON Lines) against the status schema;
/// a failure shows the validator's words and the documents.
inline void check_status_schema(const std::string& lines) {
  temp_root dir{"varsync-status-schema"};
  std::filesystem::create_directories(dir.path);
  auto file = dir.path / "status.jsonl";
  std::ofstream{file} << lines;
  auto checker = child_process::start(
      "/usr/bin/python3",
      {std::string{VARSYNC_SOURCE_DIR} + "/tests/support/validate_json.py",
       std::string{VARSYNC_SOURCE_DIR} + "/runtime/cli/status.schema.json",
       file.string()});
  REQUIRE(checker);
  auto status = checker->wait(std::chrono::seconds{60});
  REQUIRE(status);
  CHECK_MESSAGE(*status == exit_status::exited_with(0),
                checker->output() << checker->errors() << "\n"
                                  << lines);
}

} // namespace varsync::test
