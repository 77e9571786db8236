// The SSP server state machine, driven directly.

#include "actors/policies/bounded_staleness/state_machine.hpp"

#include "runtime/core/row_delta.hpp"

#include <cstring>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace varsync;
using varsync::policies::bounded_staleness;

namespace {

bounded_staleness make_policy(std::size_t replicas,
                              aggregation how = aggregation::sum) {
  return bounded_staleness{{"w", dtype::i64, {}, how, replicas},
                           tensor(std::int64_t{0})};
}

tensor i64(std::int64_t x) {
  return tensor(x);
}

} // namespace

TEST_CASE("the minimum clock advances when the slowest replica clocks") {
  auto policy = make_policy(3);
  auto first = policy.push(0, 0, i64(1));
  REQUIRE(first);
  CHECK_FALSE(*first);
  REQUIRE(policy.push(1, 0, i64(2)));
  CHECK(policy.min_clock() == 0);
  CHECK(policy.total() == i64(3));
  auto refresh = policy.push(2, 0, std::nullopt);
  REQUIRE(refresh);
  REQUIRE(*refresh);
  CHECK((*refresh)->min_clock == 1);
  CHECK((*refresh)->snapshot == i64(3));
  CHECK(policy.clocks() == std::vector<std::uint64_t>{1, 1, 1});
}

TEST_CASE("the snapshot holds exactly the updates tagged below the minimum") {
  auto policy = make_policy(2);
  // Replica 0 runs three clocks ahead.
  REQUIRE(policy.push(0, 0, i64(1)));
  REQUIRE(policy.push(0, 1, i64(10)));
  REQUIRE(policy.push(0, 2, i64(100)));
  CHECK(policy.current().snapshot == i64(0));
  auto refresh = policy.push(1, 0, i64(1000));
  REQUIRE(refresh);
  REQUIRE(*refresh);
  CHECK((*refresh)->min_clock == 1);
  CHECK((*refresh)->snapshot == i64(1001));
  CHECK(policy.total() == i64(1111));
  refresh = policy.push(1, 1, std::nullopt);
  REQUIRE(*refresh);
  CHECK((*refresh)->snapshot == i64(1011));
  CHECK((*refresh)->version > 1);
}

TEST_CASE("pushes out of clock order or with bad operands are refused") {
  auto policy = make_policy(2);
  CHECK(policy.push(0, 1, i64(1)).error().code() == errc::invalid_argument);
  CHECK(policy.push(2, 0, i64(1)).error().code() == errc::invalid_argument);
  CHECK(policy.push(0, 0, tensor(1.0)).error().code() == errc::dtype_mismatch);
  CHECK(policy.clocks() == std::vector<std::uint64_t>{0, 0});
  CHECK(policy.total() == i64(0));
}

TEST_CASE("mean divides each clock's summed deltas by R") {
  bounded_staleness policy{{"w", dtype::f64, {}, aggregation::mean, 4},
                           tensor(0.0)};
  for (std::size_t r = 0; r < 4; ++r)
    REQUIRE(policy.push(r, 0, tensor(static_cast<double>(r + 1))));
  CHECK(policy.current().snapshot == tensor(2.5));
}

TEST_CASE("a cross-replica assign sets the server value and later deltas add") {
  auto policy = make_policy(2);
  REQUIRE(policy.push(0, 0, i64(5)));
  auto assigned = policy.cross_assign(i64(100));
  REQUIRE(assigned);
  CHECK(policy.total() == i64(100));
  REQUIRE(policy.push(1, 0, i64(1)));
  CHECK(policy.total() == i64(101));
  CHECK(policy.current().snapshot == i64(101));
}

TEST_CASE("dropping the slowest replica advances the minimum clock") {
  auto policy = make_policy(3);
  REQUIRE(policy.push(0, 0, i64(1)));
  REQUIRE(policy.push(1, 0, i64(1)));
  auto refresh = policy.drop_replica(2);
  REQUIRE(refresh);
  CHECK(refresh->min_clock == 1);
  CHECK(refresh->snapshot == i64(2));
}

TEST_CASE("a rejoined replica is held at the minimum clock until it pushes; "
          "its pushes may skip clocks, never go below") {
  auto policy = make_policy(3);
  for (std::uint64_t c = 0; c < 2; ++c)
    for (std::size_t r = 0; r < 3; ++r)
      REQUIRE(policy.push(r, c, i64(1)));
  CHECK(policy.min_clock() == 2);
  REQUIRE_FALSE(policy.drop_replica(2)); // at clock 2 like the others
  REQUIRE(policy.push(0, 2, i64(1)));
  auto moved = policy.push(1, 2, i64(1));
  REQUIRE(moved);
  REQUIRE(*moved);
  CHECK(policy.min_clock() == 3);
  auto refresh = policy.add_replica(2);
  CHECK(refresh.min_clock == 3);
  CHECK(refresh.snapshot == i64(8));
  // The others go on; the minimum clock waits for the rejoined replica.
  REQUIRE(policy.push(0, 3, i64(1)));
  REQUIRE(policy.push(1, 3, i64(1)));
  CHECK(policy.min_clock() == 3);
  // Below its clock: refused. Skipping a clock (its clock is shared with
  // other variables): allowed, the skipped clock holds nothing of it.
  CHECK_FALSE(policy.push(2, 2, i64(1)));
  REQUIRE(policy.push(2, 4, i64(100)));
  CHECK(policy.min_clock() == 4);
  CHECK(policy.total() == i64(110));
}

TEST_CASE("a re-created actor starts from the newest snapshot a survivor "
          "holds plus the survivors' pushed deltas it lacks") {
  using varsync::policies::cached_state;
  // Three replicas; replica 2 died with the old actor. Replica 0 holds the
  // snapshot at min clock 3 (version 7, value 30); replica 1 still the one
  // at min clock 2 (version 6, 20). Replica 0 pushed tags 2..4 (5 each),
  // replica 1 tags 2..3 (1 each); tag 2 is in the newer snapshot already.
  cached_state zero{
      0, 5, {3, 7, i64(30)}, {{2, i64(5)}, {3, i64(5)}, {4, i64(5)}}};
  cached_state one{1, 4, {2, 6, i64(20)}, {{2, i64(1)}, {3, i64(1)}}};
  auto policy = bounded_staleness::recovered(
      {"w", dtype::i64, {}, aggregation::sum, 3}, {zero, one});
  CHECK(policy.min_clock() == 3);
  CHECK(policy.clocks()[0] == 5);
  CHECK(policy.clocks()[1] == 4);
  // Everything received: 30 + tags 3 and 4 of replica 0 + tag 3 of
  // replica 1 (tag 2 of both is in the snapshot; replica 2's are lost).
  CHECK(policy.total() == i64(41));
  // The first refresh folds tag 3 (both survivors are past it) and is
  // newer than any snapshot a survivor holds.
  auto first = policy.start();
  CHECK(first.min_clock == 4);
  CHECK(first.version > 7);
  CHECK(first.snapshot == i64(36));
  // The survivors go on from their clocks; the lost replica holds nothing.
  auto pushed = policy.push(1, 4, i64(1));
  REQUIRE(pushed);
  REQUIRE(*pushed);
  CHECK((*pushed)->min_clock == 5);
  CHECK((*pushed)->snapshot == i64(42));
  CHECK_FALSE(policy.push(2, 0, i64(1)));
}

namespace {

/// A [4, 2] f64 variable aggregated by `how`, starting at zero.
bounded_staleness make_table_policy(std::size_t replicas, aggregation how) {
  return bounded_staleness{{"t", dtype::f64, {4, 2}, how, replicas},
                           *tensor::filled(dtype::f64, {4, 2}, 0)};
}

/// Row `row` += `add` (both columns) as a packed row delta.
tensor row_delta(std::vector<std::int64_t> rows, double add) {
  auto values = *tensor::filled(
      dtype::f64, {static_cast<std::int64_t>(rows.size()), 2}, add);
  return pack_rows(rows, values);
}

std::vector<double> values_of(const tensor& x) {
  auto values = x.values<double>();
  return {values.begin(), values.end()};
}

} // namespace

TEST_CASE("packed row deltas fold row by row; a clock mixing them with a "
          "dense delta folds densely; both as the dense arithmetic") {
  SUBCASE("rows only, sum: repeats and replicas summed") {
    auto policy = make_table_policy(2, aggregation::sum);
    REQUIRE(policy.push(0, 0, row_delta({1, 1}, 2)));
    auto refresh = policy.push(1, 0, row_delta({1, 3}, 5));
    REQUIRE(refresh);
    REQUIRE(*refresh);
    CHECK(values_of((*refresh)->snapshot) ==
          std::vector<double>{0, 0, 9, 9, 0, 0, 5, 5});
  }
  SUBCASE("rows only, mean: divided by the group's size") {
    auto policy = make_table_policy(2, aggregation::mean);
    REQUIRE(policy.push(0, 0, row_delta({2}, 3)));
    auto refresh = policy.push(1, 0, std::nullopt);
    REQUIRE(refresh);
    REQUIRE(*refresh);
    CHECK(values_of((*refresh)->snapshot) ==
          std::vector<double>{0, 0, 0, 0, 1.5, 1.5, 0, 0});
  }
  SUBCASE("rows and a dense delta in one clock") {
    auto policy = make_table_policy(2, aggregation::sum);
    REQUIRE(policy.push(0, 0, row_delta({0}, 1)));
    REQUIRE(policy.push(1, 0, *tensor::filled(dtype::f64, {4, 2}, 10)));
    CHECK(values_of(policy.current().snapshot) ==
          std::vector<double>{11, 11, 10, 10, 10, 10, 10, 10});
  }
  SUBCASE("pending rows count in total() and in a cross-replica assign") {
    auto policy = make_table_policy(2, aggregation::sum);
    REQUIRE(policy.push(0, 0, row_delta({3}, 4)));
    CHECK(values_of(policy.total()) ==
          std::vector<double>{0, 0, 0, 0, 0, 0, 4, 4});
    REQUIRE(policy.cross_assign(*tensor::filled(dtype::f64, {4, 2}, 1)));
    auto refresh = policy.push(1, 0, std::nullopt);
    REQUIRE(refresh);
    REQUIRE(*refresh);
    // The assign covered the pending rows: they land on exactly 1.
    CHECK(values_of((*refresh)->snapshot) ==
          std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1});
  }
  SUBCASE("a row out of range or a bad width is refused, nothing kept") {
    auto policy = make_table_policy(2, aggregation::sum);
    auto out_of_range = policy.push(0, 0, row_delta({4}, 1));
    REQUIRE_FALSE(out_of_range);
    CHECK(out_of_range.error().to_string().find("row index 4") !=
          std::string::npos);
    CHECK_FALSE(policy.push(0, 0, *tensor::filled(dtype::f64, {1, 5}, 1)));
    CHECK(policy.clocks() == std::vector<std::uint64_t>{0, 0});
    CHECK(values_of(policy.total()) == std::vector<double>(8, 0.0));
  }
}

TEST_CASE("a re-created actor takes survivors' packed row deltas and drops "
          "one that is not a delta of the variable") {
  using varsync::policies::cached_state;
  auto zeros = *tensor::filled(dtype::f64, {4, 2}, 0);
  // Replica 0 pushed tag 0 (rows) and a forged tag 1 (row 9 of 4 rows);
  // replica 1 pushed tag 0 (dense) and a tag 1 of the wrong shape.
  cached_state zero{
      0, 2, {0, 1, zeros}, {{0, row_delta({2}, 1)}, {1, row_delta({9}, 1)}}};
  cached_state one{1,
                   2,
                   {0, 1, zeros},
                   {{0, *tensor::filled(dtype::f64, {4, 2}, 10)},
                    {1, *tensor::filled(dtype::f64, {2, 2}, 1)}}};
  auto policy = bounded_staleness::recovered(
      {"t", dtype::f64, {4, 2}, aggregation::sum, 2}, {zero, one});
  CHECK(values_of(policy.total()) ==
        std::vector<double>{10, 10, 10, 10, 11, 11, 10, 10});
  auto first = policy.start();
  CHECK(values_of(first.snapshot) ==
        std::vector<double>{10, 10, 10, 10, 11, 11, 10, 10});
}

TEST_CASE("a refresh that only adds rows carries the rows, and adding them "
          "to the previous snapshot gives the new one bit for bit") {
  // f32 values whose sums round: the replica must repeat the server's
  // additions in the server's order to get the same bits.
  auto table = [](float x) {
    return *tensor::filled(dtype::f32, {1000, 4}, x);
  };
  auto rows = [](std::vector<std::int64_t> indices, float add) {
    auto values = *tensor::filled(
        dtype::f32, {static_cast<std::int64_t>(indices.size()), 4}, add);
    return pack_rows(indices, values);
  };
  bounded_staleness policy{{"t", dtype::f32, {1000, 4}, aggregation::mean, 3},
                           table(0.1f)};
  auto previous = policy.current();
  auto check_rows_refresh =
      [&](const std::optional<policies::staleness_refresh>& refresh,
          std::size_t expected_rows) {
        REQUIRE(refresh);
        REQUIRE(refresh->rows);
        CHECK(refresh->version == previous.version + 1);
        CHECK(packed_row_count(*refresh->rows) == expected_rows);
        // Bytes in proportion to the rows, not the table.
        CHECK(refresh->rows->bytes().size() <=
              expected_rows * (4 + 2) * sizeof(float));
        auto replica = previous.snapshot;
        add_packed_rows_into(replica, *refresh->rows);
        CHECK(replica.bytes().size() == refresh->snapshot.bytes().size());
        CHECK(std::memcmp(replica.bytes().data(),
                          refresh->snapshot.bytes().data(),
                          replica.bytes().size()) == 0);
        previous = *refresh;
      };
  SUBCASE("one clock, repeats and replicas") {
    REQUIRE(policy.push(0, 0, rows({7, 7, 900}, 0.3f)));
    REQUIRE(policy.push(1, 0, rows({7, 5}, 0.7f)));
    auto refresh = policy.push(2, 0, std::nullopt);
    REQUIRE(refresh);
    check_rows_refresh(*refresh, 3); // rows 5, 7, 900
  }
  SUBCASE("three clocks folded at once (the slowest replica lost), one "
          "without any delta") {
    REQUIRE(policy.push(0, 0, rows({1}, 0.3f)));
    REQUIRE(policy.push(0, 1, std::nullopt));
    REQUIRE(policy.push(0, 2, rows({1, 2}, 0.7f)));
    REQUIRE(policy.push(1, 0, rows({1}, 0.9f)));
    REQUIRE(policy.push(1, 1, std::nullopt));
    REQUIRE(policy.push(1, 2, rows({1}, 0.2f)));
    auto refresh = policy.drop_replica(2);
    REQUIRE(refresh);
    CHECK(refresh->min_clock == 3);
    check_rows_refresh(refresh, 1 + 2);
  }
  SUBCASE("a clock in which nobody added anything: no rows") {
    REQUIRE(policy.push(0, 0, std::nullopt));
    REQUIRE(policy.push(1, 0, std::nullopt));
    auto refresh = policy.push(2, 0, std::nullopt);
    REQUIRE(refresh);
    check_rows_refresh(*refresh, 0);
  }
  SUBCASE("a dense delta, a cross-replica update or a start: the snapshot") {
    REQUIRE(policy.push(0, 0, rows({1}, 0.3f)));
    REQUIRE(policy.push(1, 0, table(1.0f)));
    auto refresh = policy.push(2, 0, std::nullopt);
    REQUIRE(refresh);
    REQUIRE(*refresh);
    CHECK_FALSE((*refresh)->rows);
    auto crossed = policy.cross_add(update_op::add, table(1.0f));
    REQUIRE(crossed);
    CHECK_FALSE(crossed->rows);
    auto started = policy.start();
    CHECK_FALSE(started.rows);
  }
  SUBCASE("a cross-replica assign_add_rows: rows, repeats summed first as "
          "the dense delta sums them; assign_rows and bad rows refused") {
    auto packed = rows({7, 7, 900}, 0.3f);
    // The dense reference: row 7's repeats summed from zero, then added.
    auto dense = table(0.0f);
    for (std::size_t j = 0; j < 4; ++j) {
      dense.mutable_values<float>()[7 * 4 + j] = 0.3f + 0.3f;
      dense.mutable_values<float>()[900 * 4 + j] = 0.3f;
    }
    auto reference = apply(update_op::add, previous.snapshot, dense);
    auto crossed = policy.cross_add(update_op::add_rows, packed);
    REQUIRE(crossed);
    check_rows_refresh(*crossed, 2);
    CHECK(crossed->snapshot == reference);
    auto version = policy.current().version;
    auto setting = policy.cross_add(update_op::assign_rows, packed);
    REQUIRE_FALSE(setting);
    CHECK(setting.error().code() == errc::wrong_context);
    auto bad = policy.cross_add(update_op::add_rows, rows({1000}, 1.0f));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code() == errc::invalid_argument);
    CHECK(policy.current().version == version);
    CHECK(policy.current().snapshot == reference);
  }
}

TEST_CASE("a scalar variable's refreshes carry the snapshot") {
  auto policy = make_policy(1);
  auto refresh = policy.push(0, 0, i64(1));
  REQUIRE(refresh);
  REQUIRE(*refresh);
  CHECK_FALSE((*refresh)->rows);
}
