// A bounded_staleness variable created after its group has clocked joins
// the group's clocks: as if it had existed from clock 0 with no updates.
// Groups of 1, 2 and 4 replicas clock 0, 1 or 5 times, then create the
// variable and run clocks with integer deltas; with s = 0 every read right
// after clock() is the exact sum of every update made before that clock,
// and with s = 0 and s = 2 the SSP history checker accepts the run. A
// variant creates the variable while the replicas are still clocking.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"
#include "tests/support/ssp_history.hpp"
#include "tests/support/ssp_tensors.hpp"

#include <atomic>
#include <doctest/doctest.h>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t clocks_with_variable = 6;

variable_options ssp_options(std::uint64_t bound) {
  variable_options options;
  options.sync = synchronization::bounded_staleness;
  options.aggregation = aggregation::sum;
  options.staleness_bound = bound;
  return options;
}

/// Replica q's delta at clock c: distinct positive integers.
std::int64_t delta_of(std::size_t replica, std::uint64_t clock) {
  return static_cast<std::int64_t>(10 * clock + replica + 1);
}

constexpr std::uint64_t not_started = ~std::uint64_t{0};

/// The clock at which each replica made its first update of the variable;
/// written by the replica before that update's clock() (so a reader who
/// saw the update's clock through the variable sees the write too).
struct first_clocks {
  explicit first_clocks(std::size_t replicas) : by_replica(replicas) {
    for (auto& first : by_replica)
      first.store(not_started);
  }

  /// Element p of every read at `clock` with s = 0: all of p's updates
  /// tagged below `clock` (one per clock from its first clock on).
  std::vector<std::int64_t> exact_before(std::uint64_t clock) const {
    std::vector<std::int64_t> result(by_replica.size(), 0);
    for (std::size_t p = 0; p < by_replica.size(); ++p) {
      auto first = by_replica[p].load(std::memory_order_acquire);
      for (auto c = first; first != not_started && c < clock; ++c)
        result[p] += delta_of(p, c);
    }
    return result;
  }

  std::vector<std::atomic<std::uint64_t>> by_replica;
};

/// Clocks every replica `clocks_before` times, creates variable "late" with
/// bound `bound`, then each replica updates its element once per clock
/// until clock `clocks_before + clocks_with_variable`, reading right after
/// each clock(). With `concurrent`, the variable is created once replica 0
/// has clocked `clocks_before` times while the others keep clocking until
/// they see it (up to `clocks_before + 3`): they attach, and start
/// updating, at different clocks.
ssp_history run_late_variable(std::size_t replicas, std::uint64_t clocks_before,
                              std::uint64_t bound, bool concurrent = false) {
  runtime rt;
  auto group = rt.create_group("workers", replicas);
  VARSYNC_REQUIRE_OK(group);
  std::vector<std::int64_t> initial(replicas, 0);
  ssp_history history{replicas, initial};
  first_clocks firsts{replicas};
  const auto last_clock = clocks_before + clocks_with_variable;
  std::optional<expected<variable>> late;
  std::atomic<bool> created{false};
  std::atomic<bool> replica_0_ready{false};
  auto create = [&] {
    late.emplace(rt.create_variable(*group, "late", tensor{initial},
                                    ssp_options(bound)));
    created.store(true, std::memory_order_release);
    created.notify_all();
  };
  std::thread creator;
  if (!concurrent) {
    run_on_replicas(*group, [&](replica& r) {
      for (std::uint64_t c = 0; c < clocks_before; ++c)
        VARSYNC_REQUIRE_OK(r.clock());
    });
    create();
  } else {
    creator = std::thread{[&] {
      replica_0_ready.wait(false);
      create();
    }};
  }
  run_on_replicas(*group, [&](replica& r) {
    auto q = r.index();
    if (concurrent) {
      for (std::uint64_t c = 0; c < clocks_before; ++c)
        VARSYNC_REQUIRE_OK(r.clock());
      if (q == 0) {
        replica_0_ready.store(true);
        replica_0_ready.notify_all();
      } else {
        while (!created.load(std::memory_order_acquire) &&
               r.stats().clock < clocks_before + 3)
          VARSYNC_REQUIRE_OK(r.clock());
      }
      created.wait(false, std::memory_order_acquire);
    }
    REQUIRE(late.has_value());
    VARSYNC_REQUIRE_OK(*late);
    const auto& var = **late;
    firsts.by_replica[q].store(r.stats().clock, std::memory_order_release);
    for (auto c = r.stats().clock; c < last_clock; ++c) {
      VARSYNC_REQUIRE_OK(
          r.assign_add(var, one_hot(replicas, q, delta_of(q, c))));
      history.record_update(q, c, delta_of(q, c));
      VARSYNC_REQUIRE_OK(r.clock());
      auto read = r.read_stamped(var);
      VARSYNC_REQUIRE_OK(read);
      REQUIRE(read->clock == c + 1);
      history.record_read(q, read->clock, elements_of(read->value),
                          read->staleness);
      // s = 0: exactly every update tagged below c + 1, own included.
      if (bound == 0)
        CHECK(elements_of(read->value) == firsts.exact_before(c + 1));
    }
  });
  if (creator.joinable())
    creator.join();
  const auto& var = **late;
  auto total = firsts.exact_before(last_clock);
  auto cross = rt.read(var);
  VARSYNC_REQUIRE_OK(cross);
  CHECK(elements_of(*cross) == total);
  auto min_clock = rt.min_clock(var);
  VARSYNC_REQUIRE_OK(min_clock);
  CHECK(*min_clock == last_clock);
  for (std::size_t p = 0; p < replicas; ++p) {
    auto r = group->at(p);
    VARSYNC_REQUIRE_OK(r);
    VARSYNC_REQUIRE_OK(r->catch_up());
    auto final_value = r->read(var);
    VARSYNC_REQUIRE_OK(final_value);
    CHECK(elements_of(*final_value) == total);
  }
  return history;
}

void check_history(const ssp_history& history, std::uint64_t bound) {
  auto violations = check_ssp_history(history, bound);
  for (const auto& violation : violations)
    FAIL_CHECK(violation);
  CHECK(violations.empty());
}

} // namespace

TEST_CASE("a bounded_staleness variable created after 0, 1 or 5 clocks "
          "starts at the group's clocks (R = 1, 2, 4; s = 0 and 2)") {
  for (std::size_t replicas : {1, 2, 4}) {
    for (std::uint64_t clocks_before : {0, 1, 5}) {
      for (std::uint64_t bound : {0, 2}) {
        CAPTURE(replicas);
        CAPTURE(clocks_before);
        CAPTURE(bound);
        auto history = run_late_variable(replicas, clocks_before, bound);
        CHECK(history.read_count() == replicas * clocks_with_variable);
        check_history(history, bound);
      }
    }
  }
}

TEST_CASE("a variable created while its replicas are still clocking joins "
          "each replica at its own clock") {
  for (std::size_t replicas : {2, 4}) {
    for (std::uint64_t bound : {0, 2}) {
      CAPTURE(replicas);
      CAPTURE(bound);
      auto history = run_late_variable(replicas, 5, bound, true);
      check_history(history, bound);
    }
  }
}
