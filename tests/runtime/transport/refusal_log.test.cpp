// The refusal log: one line per (address, reason) per interval however
// often a peer is refused, the count of the ones not logged on the next
// line, and a bounded memory of pairs however many addresses there are.

#include "runtime/transport/refusal_log.hpp"

#include "runtime/transport/log.hpp"

#include <doctest/doctest.h>
#include <thread>

using namespace varsync;
using namespace std::chrono_literals;

TEST_CASE("a peer refused 1000 times for one reason is logged once per "
          "interval; another reason or address gets its own line") {
  set_log_level("off"); // the lines are counted, not read
  refusal_log log{"test port", 200ms};
  for (int i = 0; i < 1000; ++i)
    log("127.0.0.1", "wrong cluster secret");
  CHECK_EQ(log.total(), 1000u);
  CHECK_EQ(log.lines(), 1u);
  log("127.0.0.1", "no handshake before the deadline");
  log("127.0.0.2", "wrong cluster secret");
  CHECK_EQ(log.lines(), 3u);
  // Once the interval passed, the pair is logged again (with the count of
  // the 999 not logged). The wait lets time pass; nothing is synchronized.
  std::this_thread::sleep_for(250ms);
  log("127.0.0.1", "wrong cluster secret");
  CHECK_EQ(log.lines(), 4u);
  CHECK_EQ(log.total(), 1003u);
}

TEST_CASE("the log remembers at most max_entries pairs") {
  set_log_level("off");
  refusal_log log{"test port", 10s};
  for (int i = 0; i < 5000; ++i)
    log("127.0." + std::to_string(i / 256) + "." + std::to_string(i % 256),
        "garbage");
  CHECK(log.remembered() <= refusal_log::max_entries);
  CHECK_EQ(log.lines(), 5000u); // every new pair is logged once
}
