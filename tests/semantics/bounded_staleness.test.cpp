// bounded_staleness end to end in one process: randomized workloads checked
// by the SSP history checker, the checker catching injected violations,
// s = 0 against on_write, the bound enforced by clock() and reads.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"
#include "tests/support/ssp_history.hpp"
#include "tests/support/ssp_tensors.hpp"

#include <chrono>
#include <cstring>
#include <doctest/doctest.h>
#include <random>
#include <thread>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

variable_options ssp_options(std::uint64_t bound,
                             aggregation how = aggregation::sum) {
  variable_options options;
  options.sync = synchronization::bounded_staleness;
  options.aggregation = how;
  options.staleness_bound = bound;
  return options;
}

/// Runs the randomized SSP workload and returns its history. Replica q adds
/// 0..3 (at least `min_updates`) positive deltas to element q per clock,
/// reads once or twice, "computes" for a random few microseconds (replica
/// `slow_replica` five times longer) and clocks.
ssp_history run_workload(std::size_t replicas, std::uint64_t bound,
                         std::uint64_t clocks, unsigned seed,
                         int min_updates = 0) {
  runtime rt;
  auto group = rt.create_group("workers", replicas);
  REQUIRE(group);
  std::vector<std::int64_t> initial(replicas);
  for (std::size_t q = 0; q < replicas; ++q)
    initial[q] = static_cast<std::int64_t>(100 * q);
  auto var =
      rt.create_variable(*group, "w", tensor{initial}, ssp_options(bound));
  VARSYNC_REQUIRE_OK(var);
  ssp_history history{replicas, initial};
  const std::size_t slow_replica = replicas - 1;
  run_on_replicas(*group, [&](replica& r) {
    auto index = r.index();
    std::mt19937 rng{seed * 131 + static_cast<unsigned>(index)};
    std::uniform_int_distribution<int> updates{min_updates, 3};
    std::uniform_int_distribution<std::int64_t> amounts{1, 9};
    std::uniform_int_distribution<int> reads{1, 2};
    std::uniform_int_distribution<int> work_us{0, 40};
    for (std::uint64_t clock = 0; clock < clocks; ++clock) {
      for (int u = updates(rng); u > 0; --u) {
        auto amount = amounts(rng);
        VARSYNC_REQUIRE_OK(
            r.assign_add(*var, one_hot(replicas, index, amount)));
        history.record_update(index, clock, amount);
      }
      for (int n = reads(rng); n > 0; --n) {
        auto read = r.read_stamped(*var);
        VARSYNC_REQUIRE_OK(read);
        REQUIRE(read->clock == clock);
        history.record_read(index, read->clock, elements_of(read->value),
                            read->staleness);
      }
      auto work = std::chrono::microseconds{work_us(rng)};
      std::this_thread::sleep_for(index == slow_replica ? 5 * work : work);
      VARSYNC_REQUIRE_OK(r.clock());
    }
  });
  // After every replica's last clock, a catch-up makes every replica read
  // the exact global sum.
  std::vector<std::int64_t> expected_total = initial;
  for (std::size_t q = 0; q < replicas; ++q)
    for (const auto& update : history.updates()[q])
      expected_total[q] += update.delta;
  for (std::size_t q = 0; q < replicas; ++q) {
    auto r = group->at(q);
    REQUIRE(r);
    VARSYNC_REQUIRE_OK(r->catch_up());
    auto final_value = r->read(*var);
    VARSYNC_REQUIRE_OK(final_value);
    CHECK(elements_of(*final_value) == expected_total);
    CHECK(r->stats().clock == clocks);
    if (bound != unbounded_staleness)
      CHECK(r->stats().max_staleness <= bound);
  }
  auto cross = rt.read(*var);
  VARSYNC_REQUIRE_OK(cross);
  CHECK(elements_of(*cross) == expected_total);
  auto min_clock = rt.min_clock(*var);
  VARSYNC_REQUIRE_OK(min_clock);
  CHECK(*min_clock == clocks);
  return history;
}

std::string bound_name(std::uint64_t bound) {
  return bound == unbounded_staleness ? "unbounded" : std::to_string(bound);
}

} // namespace

TEST_CASE("every read of a randomized SSP run satisfies the staleness "
          "guarantee") {
  const std::pair<std::size_t, std::uint64_t> sizes[] = {
      {2, 1000}, {3, 600}, {4, 500}, {8, 250}};
  for (auto [replicas, clocks] : sizes) {
    for (std::uint64_t bound : {std::uint64_t{0}, std::uint64_t{1},
                                std::uint64_t{3}, unbounded_staleness}) {
      CAPTURE(replicas);
      INFO("bound " << bound_name(bound));
      auto history = run_workload(replicas, bound, clocks,
                                  static_cast<unsigned>(replicas * 7 + bound));
      CHECK(history.read_count() >= replicas * clocks);
      auto violations = check_ssp_history(history, bound);
      for (const auto& violation : violations)
        FAIL_CHECK(violation);
      CHECK(violations.empty());
    }
  }
}

TEST_CASE("the history checker reports injected violations") {
  // One real run, every replica updating at every clock, then tampered
  // copies of its history.
  const std::size_t replicas = 3;
  const std::uint64_t bound = 1;
  auto history = run_workload(replicas, bound, 60, 99, 1);
  REQUIRE(check_ssp_history(history, bound).empty());
  auto pick_late_read = [&](ssp_history& h) -> read_record& {
    for (auto& read : h.reads()[0])
      if (read.clock > bound + 2)
        return read;
    FAIL("no late read recorded");
    return h.reads()[0].front();
  };
  SUBCASE("a read missing an update older than the bound") {
    auto& read = pick_late_read(history);
    // Replica 1 updated at clock 0, which any read at clock > s must see.
    read.value[1] = history.initial()[1];
    CHECK_FALSE(check_ssp_history(history, bound).empty());
  }
  SUBCASE("a read holding a value that was never written") {
    auto& read = pick_late_read(history);
    read.value[2] += 1000000;
    CHECK_FALSE(check_ssp_history(history, bound).empty());
  }
  SUBCASE("a read missing the reader's own update") {
    auto& read = pick_late_read(history);
    read.value[0] -= history.updates()[0].front().delta;
    CHECK_FALSE(check_ssp_history(history, bound).empty());
  }
  SUBCASE("a read reporting more staleness than the bound") {
    pick_late_read(history).reported_staleness = bound + 1;
    CHECK_FALSE(check_ssp_history(history, bound).empty());
  }
  SUBCASE("a policy that lets replicas run further ahead than checked") {
    // A real run with s = 3 is a broken s = 0 policy: the checker, told
    // s = 0, must find reads that missed required updates.
    auto loose = run_workload(3, 3, 200, 7, 1);
    std::uint64_t max_staleness = 0;
    for (const auto& reads : loose.reads())
      for (const auto& read : reads)
        max_staleness = std::max(max_staleness, read.reported_staleness);
    REQUIRE(max_staleness > 0);
    CHECK_FALSE(check_ssp_history(loose, 0).empty());
  }
}

TEST_CASE("with s = 0 the final value equals on_write's bit for bit") {
  for (auto how : {aggregation::sum, aggregation::mean}) {
    for (std::size_t replicas : {2, 4}) {
      CAPTURE(replicas);
      INFO("aggregation " << to_string(how));
      runtime rt;
      auto group = rt.create_group("workers", replicas);
      REQUIRE(group);
      tensor initial{0.5, -1.25, 3.0};
      variable_options eager;
      eager.sync = synchronization::on_write;
      eager.aggregation = how;
      auto mirrored = rt.create_variable(*group, "mirrored", initial, eager);
      auto stale =
          rt.create_variable(*group, "stale", initial, ssp_options(0, how));
      VARSYNC_REQUIRE_OK(mirrored);
      VARSYNC_REQUIRE_OK(stale);
      run_on_replicas(*group, [&](replica& r) {
        std::mt19937 rng{static_cast<unsigned>(r.index()) + 5};
        std::uniform_real_distribution<double> delta{-1.0, 1.0};
        for (int step = 0; step < 300; ++step) {
          tensor update{delta(rng), delta(rng), delta(rng)};
          VARSYNC_REQUIRE_OK(r.assign_add(*mirrored, update));
          VARSYNC_REQUIRE_OK(r.assign_add(*stale, update));
          VARSYNC_REQUIRE_OK(r.clock());
        }
      });
      auto reference = rt.read(*mirrored);
      VARSYNC_REQUIRE_OK(reference);
      for (std::size_t q = 0; q < replicas; ++q) {
        auto r = group->at(q);
        VARSYNC_REQUIRE_OK(r->catch_up());
        auto value = r->read(*stale);
        VARSYNC_REQUIRE_OK(value);
        CHECK(*value == *reference); // bit-identical, see operator==
      }
    }
  }
}

TEST_CASE("a replica cannot run more than s clocks ahead of the slowest") {
  runtime rt;
  auto group = rt.create_group("workers", 2);
  REQUIRE(group);
  auto var = rt.create_variable(
      *group, "w", tensor{std::int64_t{0}, std::int64_t{0}}, ssp_options(2));
  VARSYNC_REQUIRE_OK(var);
  auto fast = *group->at(0);
  auto slow = *group->at(1);
  // The slow replica stays at clock 0: two clocks are within the bound.
  VARSYNC_REQUIRE_OK(fast.clock(2s));
  VARSYNC_REQUIRE_OK(fast.clock(2s));
  auto third = fast.clock(200ms);
  CHECK_EQ(code_of(third), errc::timeout);
  CHECK(contains(message_of(third), "'w'"));
  // At clock 3 a read needs min clock >= 1: it waits and times out too.
  auto read = fast.read(*var, 200ms);
  CHECK_EQ(code_of(read), errc::timeout);
  // Once the slow replica adds and clocks, the read proceeds and sees it.
  VARSYNC_REQUIRE_OK(
      slow.assign_add(*var, tensor{std::int64_t{0}, std::int64_t{7}}));
  VARSYNC_REQUIRE_OK(slow.clock(2s));
  auto fresh = fast.read_stamped(*var, 2s);
  VARSYNC_REQUIRE_OK(fresh);
  CHECK(fresh->value == tensor{std::int64_t{0}, std::int64_t{7}});
  CHECK(fresh->staleness == 2);
  auto stats = fast.stats();
  CHECK(stats.clock == 3);
  CHECK(stats.waiting_reads >= 1);
  CHECK(stats.read_wait > 0ns);
  CHECK(stats.max_staleness == 2);
}

TEST_CASE("bounded_staleness updates are additive and local until clock") {
  runtime rt;
  auto group = rt.create_group("workers", 2);
  REQUIRE(group);
  auto var = rt.create_variable(*group, "w", tensor(std::int64_t{10}),
                                ssp_options(unbounded_staleness));
  VARSYNC_REQUIRE_OK(var);
  auto r0 = *group->at(0);
  auto r1 = *group->at(1);
  auto assigned = r0.assign(*var, tensor(std::int64_t{1}));
  CHECK_EQ(code_of(assigned), errc::wrong_context);
  auto before = rt.stats().actor_messages;
  VARSYNC_REQUIRE_OK(r0.assign_add(*var, tensor(std::int64_t{5})));
  VARSYNC_REQUIRE_OK(r0.assign_sub(*var, tensor(std::int64_t{2})));
  auto own = r0.read(*var);
  VARSYNC_REQUIRE_OK(own);
  CHECK(*own == tensor(std::int64_t{13})); // read-your-writes, no message
  CHECK(rt.stats().actor_messages == before);
  CHECK(*r1.read(*var) == tensor(std::int64_t{10}));
  VARSYNC_REQUIRE_OK(r0.clock());
  VARSYNC_REQUIRE_OK(r1.clock());
  VARSYNC_REQUIRE_OK(r1.catch_up(2s));
  CHECK(*r1.read(*var) == tensor(std::int64_t{13}));
  // A cross-replica assign sets the server value; every replica's next
  // refresh shows it.
  VARSYNC_REQUIRE_OK(rt.assign(*var, tensor(std::int64_t{100})));
  VARSYNC_REQUIRE_OK(r0.clock());
  VARSYNC_REQUIRE_OK(r1.clock());
  for (auto* r : {&r0, &r1}) {
    VARSYNC_REQUIRE_OK(r->catch_up(2s));
    CHECK(*r->read(*var) == tensor(std::int64_t{100}));
  }
  CHECK(*rt.read(*var) == tensor(std::int64_t{100}));
}

TEST_CASE("bounded_staleness needs sum or mean") {
  runtime rt;
  auto group = rt.create_group("workers", 2);
  REQUIRE(group);
  for (auto how : {aggregation::none, aggregation::only_first_replica}) {
    auto var =
        rt.create_variable(*group, "w", tensor(1.0), ssp_options(1, how));
    CHECK_EQ(code_of(var), errc::invalid_policy);
    CHECK(contains(message_of(var), to_string(how)));
  }
  variable_options misplaced;
  misplaced.sync = synchronization::on_write;
  misplaced.aggregation = aggregation::sum;
  misplaced.staleness_bound = 2;
  CHECK_EQ(code_of(rt.create_variable(*group, "v", tensor(1.0), misplaced)),
           errc::invalid_policy);
}
