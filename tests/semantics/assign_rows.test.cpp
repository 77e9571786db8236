// assign_rows (TF's scatter_update) against a reference built here: the
// named rows take the given values (a row named twice its last one), every
// other row keeps its bits, under each policy where TF's rule allows it;
// elsewhere it is refused with wrong_context and nothing is applied. Only
// the public API is used.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <string>
#include <varsync/varsync.hpp>
#include <vector>

using namespace varsync;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::message_of;
using varsync::test::options_of;
using varsync::test::replicas_of;
using varsync::test::run_on_replicas;

namespace {

constexpr std::int64_t row_count = 6;
constexpr std::int64_t columns = 2;

/// Row r holds (r, -r); -0.0 in row 0 checks that untouched rows keep
/// their bits.
tensor initial_table() {
  std::vector<double> values;
  for (std::int64_t r = 0; r < row_count; ++r) {
    values.push_back(static_cast<double>(r));
    values.push_back(-static_cast<double>(r));
  }
  return *tensor::from_values<double>(values, {row_count, columns});
}

/// [rows.size(), columns] values: row i holds (base + i, base + i).
tensor values_for(std::size_t count, double base) {
  std::vector<double> values;
  for (std::size_t i = 0; i < count; ++i)
    for (std::int64_t j = 0; j < columns; ++j)
      values.push_back(base + static_cast<double>(i));
  return *tensor::from_values<double>(
      values, {static_cast<std::int64_t>(count), columns});
}

/// The reference: `table` with rows[i] set to values[i] in order.
tensor expected_after(const tensor& table,
                      const std::vector<std::int64_t>& rows,
                      const tensor& values) {
  auto result = table;
  auto into = result.mutable_values<double>();
  auto from = values.values<double>();
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::int64_t j = 0; j < columns; ++j)
      into[static_cast<std::size_t>(rows[i] * columns + j)] =
          from[i * columns + static_cast<std::size_t>(j)];
  return result;
}

const std::vector<std::int64_t> rows_named{4, 1, 4}; // row 4 twice

} // namespace

TEST_CASE("on_write with only_first_replica: replica 0's rows win, the "
          "last value of a repeated row, other rows keep their bits") {
  for (std::uint32_t shards : {1u, 2u}) {
    CAPTURE(shards);
    runtime rt;
    auto group = rt.create_group("workers", 2);
    VARSYNC_REQUIRE_OK(group);
    auto options =
        options_of(synchronization::on_write, aggregation::only_first_replica);
    options.shards = shards;
    auto var = rt.create_variable(*group, "t", initial_table(), options);
    VARSYNC_REQUIRE_OK(var);
    run_on_replicas(*group, [&](replica& r) {
      auto values = values_for(rows_named.size(), 10.0 * (r.index() + 1));
      VARSYNC_REQUIRE_OK(r.assign_rows(*var, rows_named, values));
    });
    auto want = expected_after(initial_table(), rows_named,
                               values_for(rows_named.size(), 10.0));
    for (auto& r : replicas_of(*group)) {
      auto got = r.read(*var);
      VARSYNC_REQUIRE_OK(got);
      CHECK(*got == want);
    }
    // Cross-replica: every replica sees the rows.
    std::vector<std::int64_t> row{5};
    VARSYNC_REQUIRE_OK(rt.assign_rows(*var, row, values_for(1, 99.0)));
    want = expected_after(want, row, values_for(1, 99.0));
    for (auto& r : replicas_of(*group)) {
      auto got = r.read(*var);
      VARSYNC_REQUIRE_OK(got);
      CHECK(*got == want);
    }
  }
}

TEST_CASE("on_read and none: assign_rows writes this replica's copy only") {
  for (auto sync : {synchronization::on_read, synchronization::none}) {
    CAPTURE(to_string(sync));
    runtime rt;
    auto group = rt.create_group("workers", 2);
    VARSYNC_REQUIRE_OK(group);
    auto how =
        sync == synchronization::on_read ? aggregation::sum : aggregation::none;
    auto var =
        rt.create_variable(*group, "t", initial_table(), options_of(sync, how));
    VARSYNC_REQUIRE_OK(var);
    auto replicas = replicas_of(*group);
    auto values = values_for(rows_named.size(), 7.0);
    VARSYNC_REQUIRE_OK(replicas[1].assign_rows(*var, rows_named, values));
    auto first = replicas[0].read(*var);
    auto second = replicas[1].read(*var);
    VARSYNC_REQUIRE_OK(first);
    VARSYNC_REQUIRE_OK(second);
    CHECK(*first == initial_table());
    CHECK(*second == expected_after(initial_table(), rows_named, values));
    // Not in cross-replica context.
    CHECK_EQ(code_of(rt.assign_rows(*var, rows_named, values)),
             errc::wrong_context);
  }
}

TEST_CASE("assign_rows is refused where TF's scatter_update is, and on bad "
          "rows, with nothing applied") {
  runtime rt;
  auto group = rt.create_group("workers", 2);
  VARSYNC_REQUIRE_OK(group);
  auto sum = rt.create_variable(
      *group, "sum", initial_table(),
      options_of(synchronization::on_write, aggregation::sum));
  auto ssp_options =
      options_of(synchronization::bounded_staleness, aggregation::sum);
  ssp_options.staleness_bound = 1;
  auto ssp = rt.create_variable(*group, "ssp", initial_table(), ssp_options);
  auto first = rt.create_variable(
      *group, "first", initial_table(),
      options_of(synchronization::on_write, aggregation::only_first_replica));
  VARSYNC_REQUIRE_OK(sum);
  VARSYNC_REQUIRE_OK(ssp);
  VARSYNC_REQUIRE_OK(first);
  auto values = values_for(rows_named.size(), 3.0);
  auto r = replicas_of(*group)[0];
  auto refused = r.assign_rows(*sum, rows_named, values);
  CHECK_EQ(code_of(refused), errc::wrong_context);
  CHECK(contains(message_of(refused), "only_first_replica"));
  CHECK_EQ(code_of(rt.assign_rows(*sum, rows_named, values)),
           errc::wrong_context);
  CHECK_EQ(code_of(r.assign_rows(*ssp, rows_named, values)),
           errc::wrong_context);
  std::vector<std::int64_t> out_of_range{1, row_count};
  auto bad = r.assign_rows(*first, out_of_range, values_for(2, 3.0));
  CHECK_EQ(code_of(bad), errc::invalid_argument);
  CHECK(contains(message_of(bad), std::to_string(row_count) + " rows"));
  CHECK_EQ(code_of(r.assign_rows(*first, rows_named, values_for(1, 3.0))),
           errc::shape_mismatch);
  // The async form reports a refusal at once, on this thread.
  bool reported = false;
  r.assign_rows_async(*sum, rows_named, values, [&](expected<void> result) {
    reported = code_of(result) == errc::wrong_context;
  });
  CHECK(reported);
  for (const auto* var : {&*sum, &*ssp, &*first}) {
    auto value = rt.read(*var);
    VARSYNC_REQUIRE_OK(value);
    CHECK(*value == initial_table());
  }
}
