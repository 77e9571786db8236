// A replica's SSP cache: read-your-writes, freshness, refresh ordering.

#include "actors/policies/bounded_staleness/replica_cache.hpp"

#include <doctest/doctest.h>

using namespace varsync;

namespace {

tensor i64(std::int64_t x) {
  return tensor(x);
}

struct fixture {
  std::shared_ptr<replica_slot> slot = std::make_shared<replica_slot>(i64(0));
  staleness_cache cache{slot, i64(0), 2, aggregation::sum, 2};

  tensor view() const { return slot->load()->value; }
};

} // namespace

TEST_CASE_FIXTURE(fixture, "local deltas show at once and are pushed once") {
  cache.add_local(update_op::add, i64(5));
  cache.add_local(update_op::subtract, i64(2));
  CHECK(view() == i64(3));
  auto pushed = cache.take_pending(0);
  REQUIRE(pushed);
  CHECK(*pushed == i64(3));
  CHECK_FALSE(cache.take_pending(1));
  CHECK(view() == i64(3));
}

TEST_CASE_FIXTURE(
    fixture, "a refresh replaces the snapshot and keeps newer own deltas") {
  cache.add_local(update_op::add, i64(1));
  REQUIRE(cache.take_pending(0));
  cache.add_local(update_op::add, i64(10));
  REQUIRE(cache.take_pending(1));
  // The snapshot for min clock 1 holds our clock-0 delta plus 100 of others.
  cache.refresh({1, 1, i64(101)});
  CHECK(view() == i64(111));
  CHECK(slot->load()->min_clock == 1);
  // An older refresh arriving late is ignored.
  cache.refresh({0, 0, i64(0)});
  CHECK(view() == i64(111));
}

TEST_CASE_FIXTURE(fixture, "freshness follows min clock >= clock - s") {
  CHECK(cache.fresh_for(2));
  CHECK_FALSE(cache.fresh_for(3));
  cache.refresh({1, 1, i64(0)});
  CHECK(cache.fresh_for(3));
  CHECK_FALSE(cache.fresh_for(4));
  CHECK(staleness_cache::is_fresh(unbounded_staleness, 0, 1000000));
  CHECK(staleness_cache::is_fresh(0, 5, 5));
  CHECK_FALSE(staleness_cache::is_fresh(0, 4, 5));
}
