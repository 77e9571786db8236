// Soak (label soak; VARSYNC_SOAK=ON): 20 runs, each killing (kill -9) a
// process that saves whole-job checkpoints in a loop
// (tests/programs/checkpoint_writer.cpp) at a seeded random point, then
// restoring the checkpoint root in a fresh runtime: the restore always
// succeeds, comes from one save only (every variable holds the same save
// number), and from the last save reported complete or a later one.

#include "tests/support/checks.hpp"
#include "tests/support/child_process.hpp"

#include <atomic>
#include <csignal>
#include <doctest/doctest.h>
#include <filesystem>
#include <random>
#include <thread>
#include <unistd.h>
#include <varsync/varsync.hpp>

using namespace varsync;
namespace fs = std::filesystem;

TEST_CASE("20 seeded kills in the middle of saving a whole-job checkpoint "
          "never leave one that restores partially") {
  std::mt19937 random{20261130};
  for (int run = 0; run < 20; ++run) {
    auto root = fs::temp_directory_path() /
                ("varsync-checkpoint-soak-" + std::to_string(::getpid()) + "-" +
                 std::to_string(run));
    fs::remove_all(root);
    auto saves = std::uniform_int_distribution<int>{1, 6}(random);
    auto delay_us = std::uniform_int_distribution<int>{0, 20000}(random);
    CAPTURE(run);
    CAPTURE(saves);
    CAPTURE(delay_us);
    auto writer = test::child_process::start(
        test::binary_path(VARSYNC_TEST_BINARY_DIR,
                          "varsync_test_checkpoint_writer"),
        {root.string()});
    REQUIRE(writer);
    REQUIRE_MESSAGE(writer->wait_for_line("saved " + std::to_string(saves),
                                          std::chrono::seconds{60}),
                    writer->output() << writer->errors());
    // A random point of the next saves (fault injection, not a
    // synchronization).
    std::this_thread::sleep_for(std::chrono::microseconds{delay_us});
    REQUIRE(writer->signal(SIGKILL));
    REQUIRE(writer->wait(std::chrono::seconds{20}));
    runtime rt;
    auto group = rt.create_group("g", 2);
    VARSYNC_REQUIRE_OK(group);
    auto restored = rt.restore(root, *group);
    VARSYNC_REQUIRE_OK(restored);
    std::optional<double> from;
    for (int i = 0; i < 4; ++i) {
      auto var = rt.find_variable("v" + std::to_string(i));
      VARSYNC_REQUIRE_OK(var);
      auto value = rt.read(*var);
      VARSYNC_REQUIRE_OK(value);
      auto values = value->values<double>();
      CHECK(std::all_of(values.begin(), values.end(),
                        [&](double x) { return x == values[0]; }));
      if (!from)
        from = values[0];
      CHECK(values[0] == *from);
    }
    CHECK(*from >= saves);
    MESSAGE("run " << run << ": killed after save " << saves << " + "
                   << delay_us << " us; restored save " << *from);
    fs::remove_all(root);
  }
}
