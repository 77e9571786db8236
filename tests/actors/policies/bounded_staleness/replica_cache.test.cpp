// A replica's SSP cache: read-your-writes, freshness, refresh ordering.

#include "actors/policies/bounded_staleness/replica_cache.hpp"

#include "runtime/core/row_delta.hpp"

#include <doctest/doctest.h>
#include <vector>

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

namespace {

/// A [3, 2] f64 table's cache, aggregated by mean over 2 replicas.
struct table_fixture {
  tensor zeros = *tensor::filled(dtype::f64, {3, 2}, 0);
  std::shared_ptr<replica_slot> slot = std::make_shared<replica_slot>(zeros);
  staleness_cache cache{slot, zeros, 1, aggregation::mean, 2};

  std::vector<double> view() const {
    auto values = slot->load()->value.values<double>();
    return {values.begin(), values.end()};
  }

  static tensor rows(std::vector<std::int64_t> indices, double add) {
    auto values = *tensor::filled(
        dtype::f64, {static_cast<std::int64_t>(indices.size()), 2}, add);
    return pack_rows(indices, values);
  }
};

} // namespace

TEST_CASE_FIXTURE(table_fixture,
                  "rows stay rows in the pending delta until a dense delta "
                  "joins them; the view shows them as the server will") {
  cache.add_local_rows(rows({1}, 4));
  cache.add_local_rows(rows({1, 2}, 2));
  // mean over 2 replicas: the view holds half of each row's sum.
  CHECK(view() == std::vector<double>{0, 0, 3, 3, 1, 1});
  auto pushed = cache.take_pending(0);
  REQUIRE(pushed);
  CHECK(is_packed_rows(*pushed, {3, 2}));
  CHECK(packed_row_count(*pushed) == 3); // as added: 1, 1, 2
  // The next clock mixes rows and a dense delta: pushed dense.
  cache.add_local_rows(rows({0}, 2));
  cache.add_local(update_op::add, *tensor::filled(dtype::f64, {3, 2}, 2));
  cache.add_local_rows(rows({0}, 2));
  CHECK(view() == std::vector<double>{3, 3, 4, 4, 2, 2});
  pushed = cache.take_pending(1);
  REQUIRE(pushed);
  REQUIRE_FALSE(is_packed_rows(*pushed, {3, 2}));
  auto dense = pushed->values<double>();
  CHECK(std::vector<double>(dense.begin(), dense.end()) ==
        std::vector<double>{6, 6, 2, 2, 2, 2});
  // A refresh holding clock 0's rows keeps clock 1's own delta in view.
  auto snapshot = *tensor::filled(dtype::f64, {3, 2}, 0);
  cache.refresh({1, 1, snapshot});
  CHECK(view() == std::vector<double>{3, 3, 1, 1, 1, 1});
}

TEST_CASE_FIXTURE(table_fixture,
                  "a row refresh adds to the snapshot it follows; after a "
                  "missed one the cache asks once for the whole refresh") {
  using outcome = staleness_cache::rows_outcome;
  cache.add_local_rows(rows({0}, 4));
  REQUIRE(cache.take_pending(0));
  // Version 1 adds row 2 (others' clock 0) and this replica's row 0 (the
  // server's view: 4 / 2 = 2).
  auto clock_zero = concat_packed_rows(rows({2}, 3), rows({0}, 2));
  CHECK(cache.refresh_rows(1, 1, clock_zero) == outcome::installed);
  CHECK(view() == std::vector<double>{2, 2, 0, 0, 3, 3});
  CHECK(slot->load()->min_clock == 1);
  // Again, or older: nothing changes.
  CHECK(cache.refresh_rows(1, 1, clock_zero) == outcome::outdated);
  CHECK(view() == std::vector<double>{2, 2, 0, 0, 3, 3});
  // Rows of another variable (row 3 of 3) never land.
  CHECK(cache.refresh_rows(2, 2, rows({3}, 1)) == outcome::invalid);
  // Version 2 never came: version 3 is not added onto version 1.
  CHECK(cache.refresh_rows(3, 3, rows({1}, 1)) == outcome::ask_whole);
  CHECK(cache.refresh_rows(4, 4, rows({1}, 1)) == outcome::awaiting_whole);
  CHECK(view() == std::vector<double>{2, 2, 0, 0, 3, 3});
  // The whole refresh, then rows on top of it again.
  cache.refresh({4, 4, *tensor::filled(dtype::f64, {3, 2}, 1)});
  CHECK(cache.refresh_rows(5, 5, rows({1}, 1)) == outcome::installed);
  CHECK(view() == std::vector<double>{1, 1, 2, 2, 1, 1});
  // A whole refresh that never came: the next gap asks again.
  CHECK(cache.refresh_rows(7, 7, rows({1}, 1)) == outcome::ask_whole);
  cache.whole_refresh_failed();
  CHECK(cache.refresh_rows(8, 8, rows({1}, 1)) == outcome::ask_whole);
}
