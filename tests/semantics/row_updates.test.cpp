// Row updates and reads in replica context (assign_add_rows, read_rows)
// against a dense reference: for every policy, two replicas on their own
// threads make the same random row updates (repeated indices included) on
// one variable and, as dense deltas built here, on another; both variables
// end bit for bit equal at every replica. Bad rows are refused with
// nothing applied. Only the public API is used.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <future>
#include <random>
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

constexpr std::int64_t row_count = 40;
constexpr std::int64_t columns = 3;
constexpr int steps = 30;

/// One replica's update of one step: rows (some repeated) and their values
/// (small integers: exact in every dtype and order).
struct row_update {
  std::vector<std::int64_t> rows;
  std::vector<double> values;
};

row_update draw(std::mt19937_64& random) {
  row_update result;
  auto count = 1 + random() % 6;
  for (std::size_t i = 0; i < count; ++i)
    result.rows.push_back(static_cast<std::int64_t>(random() % row_count));
  result.rows.push_back(result.rows.front()); // a repeated index
  for (std::size_t i = 0; i < result.rows.size() * columns; ++i)
    result.values.push_back(static_cast<double>(random() % 9) - 4);
  return result;
}

/// The dense delta of `update`, built independently of the library.
tensor dense_delta(const row_update& update) {
  std::vector<double> dense(row_count * columns, 0.0);
  for (std::size_t i = 0; i < update.rows.size(); ++i)
    for (std::int64_t j = 0; j < columns; ++j)
      dense[static_cast<std::size_t>(update.rows[i] * columns + j)] +=
          update.values[i * columns + static_cast<std::size_t>(j)];
  return *tensor::from_values<double>(dense, shape_type{row_count, columns});
}

tensor values_of(const row_update& update) {
  return *tensor::from_values<double>(
      update.values,
      shape_type{static_cast<std::int64_t>(update.rows.size()), columns});
}

/// Runs the same random row updates on a variable through assign_add_rows
/// and on another through assign_add of their dense deltas, and compares
/// every replica's copy; with `mix_dense`, every other step also adds the
/// same dense delta to both (an SSP clock then holds rows and a dense
/// delta).
void check_policy(const variable_options& options, bool mix_dense = false) {
  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{20})};
  auto group = rt.create_group("workers", 2);
  VARSYNC_REQUIRE_OK(group);
  auto zeros = *tensor::filled(dtype::f64, {row_count, columns}, 0);
  auto sparse = rt.create_variable(*group, "sparse", zeros, options);
  VARSYNC_REQUIRE_OK(sparse);
  auto dense = rt.create_variable(*group, "dense", zeros, options);
  VARSYNC_REQUIRE_OK(dense);
  bool stale = options.sync == synchronization::bounded_staleness;
  run_on_replicas(*group, [&](replica& r) {
    std::mt19937_64 random{17 + r.index()};
    for (int k = 0; k < steps; ++k) {
      auto update = draw(random);
      VARSYNC_REQUIRE_OK(
          r.assign_add_rows(*sparse, update.rows, values_of(update)));
      VARSYNC_REQUIRE_OK(r.assign_add(*dense, dense_delta(update)));
      if (mix_dense && k % 2 == 1) {
        auto extra = dense_delta(draw(random));
        VARSYNC_REQUIRE_OK(r.assign_add(*sparse, extra));
        VARSYNC_REQUIRE_OK(r.assign_add(*dense, extra));
        // Rows again after the dense delta, in the same clock.
        VARSYNC_REQUIRE_OK(
            r.assign_add_rows(*sparse, update.rows, values_of(update)));
        VARSYNC_REQUIRE_OK(r.assign_add(*dense, dense_delta(update)));
      }
      if (stale)
        VARSYNC_REQUIRE_OK(r.clock());
    }
  });
  for (auto& r : replicas_of(*group)) {
    if (stale)
      VARSYNC_REQUIRE_OK(r.catch_up());
    auto got = r.read(*sparse);
    auto want = r.read(*dense);
    VARSYNC_REQUIRE_OK(got);
    VARSYNC_REQUIRE_OK(want);
    CAPTURE(r.index());
    CHECK(*got == *want);
    // read_rows is the rows of read, in the order asked.
    std::vector<std::int64_t> rows{row_count - 1, 0, 7, 0};
    auto picked = r.read_rows(*sparse, rows);
    VARSYNC_REQUIRE_OK(picked);
    REQUIRE_EQ(picked->shape(), (shape_type{4, columns}));
    for (std::size_t i = 0; i < rows.size(); ++i)
      for (std::int64_t j = 0; j < columns; ++j)
        CHECK_EQ(picked->values<double>()[i * columns + j],
                 want->values<double>()[static_cast<std::size_t>(
                     rows[i] * columns + j)]);
  }
}

/// A runtime, a group of two replicas and an on_write table "emb" of
/// zeros, aggregated by `how`.
struct table_fixture {
  explicit table_fixture(aggregation how, std::uint32_t shards = 1) {
    auto made_group = rt.create_group("workers", 2);
    VARSYNC_REQUIRE_OK(made_group);
    group = *made_group;
    auto options = options_of(synchronization::on_write, how);
    options.shards = shards;
    auto made = rt.create_variable(group, "emb", zeros, options);
    VARSYNC_REQUIRE_OK(made);
    var = *made;
  }

  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{20})};
  tensor zeros = *tensor::filled(dtype::f64, {row_count, columns}, 0);
  replica_group group;
  variable var;
};

} // namespace

TEST_CASE("assign_add_rows equals assign_add of the dense delta, bit for "
          "bit, for every policy") {
  for (auto how : {aggregation::sum, aggregation::mean}) {
    CAPTURE(to_string(how));
    check_policy(options_of(synchronization::on_write, how));
  }
  check_policy(options_of(synchronization::on_read, aggregation::sum));
  check_policy(options_of(synchronization::none));
  for (auto how : {aggregation::sum, aggregation::mean}) {
    CAPTURE(to_string(how));
    auto ssp = options_of(synchronization::bounded_staleness, how);
    ssp.staleness_bound = 1;
    // Clocks of rows only (pushed as rows), and clocks mixing rows with a
    // dense delta (pushed dense).
    check_policy(ssp);
    check_policy(ssp, true);
  }
}

TEST_CASE("bad rows are refused with nothing applied, and the next step "
          "works") {
  table_fixture table{aggregation::sum};
  auto ones = *tensor::filled(dtype::f64, {2, columns}, 1);
  run_on_replicas(table.group, [&](replica& r) {
    std::vector<std::int64_t> out_of_range{3, row_count};
    auto refused = r.assign_add_rows(table.var, out_of_range, ones);
    REQUIRE_FALSE(refused);
    CHECK_EQ(code_of(refused), errc::invalid_argument);
    CHECK(contains(message_of(refused),
                   "row index " + std::to_string(row_count) + " (position 1"));
    CHECK(contains(message_of(refused), std::to_string(row_count) + " rows"));
    std::vector<std::int64_t> one_row{3};
    CHECK_EQ(code_of(r.assign_add_rows(table.var, one_row, ones)),
             errc::shape_mismatch);
    CHECK_EQ(code_of(r.read_rows(table.var, out_of_range)),
             errc::invalid_argument);
    // Nothing was applied: the variable is still all zeros here.
    auto value = r.read(table.var);
    VARSYNC_REQUIRE_OK(value);
    CHECK(*value == table.zeros);
    // Both replicas' next step is the first collective step.
    std::vector<std::int64_t> rows{3, 5};
    VARSYNC_REQUIRE_OK(r.assign_add_rows(table.var, rows, ones));
  });
  auto value = replicas_of(table.group)[0].read_rows(
      table.var, std::vector<std::int64_t>{3, 5, 4});
  VARSYNC_REQUIRE_OK(value);
  auto elements = value->values<double>();
  CHECK_EQ(elements[0], 2.0);
  CHECK_EQ(elements[columns], 2.0);
  CHECK_EQ(elements[2 * columns], 0.0);
}

namespace {

/// The cross-replica and asynchronous row updates of an on_write mean
/// table cut into `shards` shard variables.
void check_cross_and_async_rows(std::uint32_t shards) {
  table_fixture table{aggregation::mean, shards};
  auto& rt = table.rt;
  std::mt19937_64 random{5};
  auto update = draw(random);
  VARSYNC_REQUIRE_OK(
      rt.assign_add_rows(table.var, update.rows, values_of(update)));
  auto value = rt.read(table.var);
  VARSYNC_REQUIRE_OK(value);
  CHECK(*value == dense_delta(update));
  auto picked = rt.read_rows(table.var, update.rows);
  VARSYNC_REQUIRE_OK(picked);
  CHECK(*picked ==
        *replicas_of(table.group)[1].read_rows(table.var, update.rows));
  std::vector<std::int64_t> bad{-1};
  CHECK_EQ(code_of(rt.read_rows(table.var, bad)), errc::invalid_argument);
  CHECK_EQ(code_of(rt.assign_add_rows(table.var, bad, values_of(update))),
           errc::invalid_argument);
  // Asynchronous, both replicas: a mean of two equal updates is the update.
  run_on_replicas(table.group, [&](replica& r) {
    std::promise<expected<void>> finished;
    r.assign_add_rows_async(table.var, update.rows, values_of(update),
                            [&finished](expected<void> result) {
                              finished.set_value(std::move(result));
                            });
    VARSYNC_REQUIRE_OK(finished.get_future().get());
    std::promise<expected<void>> refused;
    r.assign_add_rows_async(table.var, bad, values_of(update),
                            [&refused](expected<void> result) {
                              refused.set_value(std::move(result));
                            });
    CHECK_EQ(code_of(refused.get_future().get()), errc::invalid_argument);
  });
  auto twice = rt.read(table.var);
  VARSYNC_REQUIRE_OK(twice);
  auto expected_twice = dense_delta(update);
  for (auto& element : expected_twice.mutable_values<double>())
    element *= 2;
  CHECK(*twice == expected_twice);
}

} // namespace

TEST_CASE("cross-replica and asynchronous row updates: the same rows as the "
          "dense forms, unsharded and in three shards") {
  for (std::uint32_t shards : {1u, 3u}) {
    CAPTURE(shards);
    check_cross_and_async_rows(shards);
  }
}

TEST_CASE("on_read in cross-replica context: rows added to every copy, rows "
          "read as the aggregate of the copies' rows, unsharded and in two "
          "shards; sum refuses the add as assign_add does") {
  for (std::uint32_t shards : {1u, 2u}) {
    CAPTURE(shards);
    runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{20})};
    auto group = rt.create_group("workers", 2);
    VARSYNC_REQUIRE_OK(group);
    auto zeros = *tensor::filled(dtype::f64, {row_count, columns}, 0);
    auto options = options_of(synchronization::on_read, aggregation::mean);
    options.shards = shards;
    auto var = rt.create_variable(*group, "emb", zeros, options);
    VARSYNC_REQUIRE_OK(var);
    // The copies differ: each replica adds its own rows locally.
    std::vector<row_update> local;
    for (auto& r : replicas_of(*group)) {
      std::mt19937_64 random{31 + r.index()};
      local.push_back(draw(random));
      VARSYNC_REQUIRE_OK(
          r.assign_add_rows(*var, local.back().rows, values_of(local.back())));
    }
    std::mt19937_64 random{7};
    auto update = draw(random);
    VARSYNC_REQUIRE_OK(
        rt.assign_add_rows(*var, update.rows, values_of(update)));
    auto cross = dense_delta(update);
    for (auto& r : replicas_of(*group)) {
      auto want = dense_delta(local[r.index()]);
      for (std::size_t i = 0; i < want.values<double>().size(); ++i)
        want.mutable_values<double>()[i] += cross.values<double>()[i];
      auto got = r.read(*var);
      VARSYNC_REQUIRE_OK(got);
      CAPTURE(r.index());
      CHECK(*got == want);
    }
    auto whole = rt.read(*var);
    VARSYNC_REQUIRE_OK(whole);
    std::vector<std::int64_t> some{row_count - 1, 0, update.rows.front(), 0};
    auto picked = rt.read_rows(*var, some);
    VARSYNC_REQUIRE_OK(picked);
    REQUIRE_EQ(picked->shape(), (shape_type{4, columns}));
    for (std::size_t i = 0; i < some.size(); ++i)
      for (std::int64_t j = 0; j < columns; ++j)
        CHECK_EQ(picked->values<double>()[i * columns + j],
                 whole->values<double>()[static_cast<std::size_t>(
                     some[i] * columns + j)]);
    std::vector<std::int64_t> bad{row_count};
    CHECK_EQ(code_of(rt.read_rows(*var, bad)), errc::invalid_argument);
  }
  runtime rt;
  auto group = rt.create_group("workers", 2);
  VARSYNC_REQUIRE_OK(group);
  auto sum = rt.create_variable(
      *group, "summed", *tensor::filled(dtype::f64, {row_count, columns}, 0),
      options_of(synchronization::on_read, aggregation::sum));
  VARSYNC_REQUIRE_OK(sum);
  std::mt19937_64 random{3};
  auto update = draw(random);
  CHECK_EQ(code_of(rt.assign_add_rows(*sum, update.rows, values_of(update))),
           errc::wrong_context);
  auto unchanged = rt.read(*sum);
  VARSYNC_REQUIRE_OK(unchanged);
  CHECK(*unchanged == *tensor::filled(dtype::f64, {row_count, columns}, 0));
}

TEST_CASE("bounded_staleness in cross-replica context: the rows reach every "
          "replica's snapshot as rows, read_rows is those rows of the server "
          "value, unsharded and in two shards") {
  for (std::uint32_t shards : {1u, 2u}) {
    CAPTURE(shards);
    runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{20})};
    auto group = rt.create_group("workers", 2);
    VARSYNC_REQUIRE_OK(group);
    auto zeros = *tensor::filled(dtype::f64, {row_count, columns}, 0);
    auto options =
        options_of(synchronization::bounded_staleness, aggregation::sum);
    options.staleness_bound = 1;
    options.shards = shards;
    auto var = rt.create_variable(*group, "emb", zeros, options);
    VARSYNC_REQUIRE_OK(var);
    std::mt19937_64 random{11};
    auto update = draw(random);
    VARSYNC_REQUIRE_OK(
        rt.assign_add_rows(*var, update.rows, values_of(update)));
    auto want = dense_delta(update);
    auto whole = rt.read(*var);
    VARSYNC_REQUIRE_OK(whole);
    CHECK(*whole == want);
    std::vector<std::int64_t> some{update.rows.front(), 0, row_count - 1};
    auto picked = rt.read_rows(*var, some);
    VARSYNC_REQUIRE_OK(picked);
    REQUIRE_EQ(picked->shape(), (shape_type{3, columns}));
    for (std::size_t i = 0; i < some.size(); ++i)
      for (std::int64_t j = 0; j < columns; ++j)
        CHECK_EQ(picked->values<double>()[i * columns + j],
                 want.values<double>()[static_cast<std::size_t>(
                     some[i] * columns + j)]);
    // Every replica's snapshot gets it (a clock and catch_up make the
    // refresh that includes it visible).
    run_on_replicas(*group, [&](replica& r) {
      VARSYNC_REQUIRE_OK(r.clock());
      VARSYNC_REQUIRE_OK(r.catch_up());
    });
    for (auto& r : replicas_of(*group)) {
      auto got = r.read(*var);
      VARSYNC_REQUIRE_OK(got);
      CAPTURE(r.index());
      CHECK(*got == want);
    }
    std::vector<std::int64_t> bad{row_count};
    CHECK_EQ(code_of(rt.assign_add_rows(*var, bad, values_of(update))),
             errc::invalid_argument);
  }
}
