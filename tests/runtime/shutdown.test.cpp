// A clean shutdown is silent: a program that creates, uses and destroys 20
// runtimes with variables of every policy writes nothing to stderr and
// nothing but its own lines to stdout, and exits 0. (CAF 0.17 reports a
// message an actor did not expect, e.g. a DOWN message, with `aout`, i.e.
// on stdout: "*** unhandled down message [..., name: varsync.variable]".)

#include "tests/support/child_process.hpp"

#include <doctest/doctest.h>

using namespace varsync::test;
using namespace std::chrono_literals;

TEST_CASE("20 create/use/destroy cycles of a runtime write nothing to "
          "stderr") {
  auto program =
      binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_runtime_cycles");
  auto cycles = child_process::start(program, {"20"});
  REQUIRE_MESSAGE(cycles, cycles.error().to_string());
  auto status = cycles->wait(120s);
  REQUIRE_MESSAGE(status, "still running after 120 s:\n" << cycles->output());
  CHECK_MESSAGE(*status == exit_status::exited_with(0), cycles->output());
  std::string expected_output;
  for (int k = 0; k < 20; ++k)
    expected_output += "cycle " + std::to_string(k) + "\n";
  expected_output += "done 20\n";
  CHECK(cycles->output() == expected_output);
  CHECK_MESSAGE(cycles->errors().empty(), "stderr:\n" << cycles->errors());
}
