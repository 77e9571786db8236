// Sharded variables (variable_options::shards) in one process: a sharded
// variable gives the same results as an unsharded one, bit for bit, for
// every policy and aggregation (the same calls on both, integer-valued
// data, R = 2, 3, 4); reads return one version while writers step; bad
// rows are refused with nothing applied; handles, lookups and checkpoints
// treat it as one variable. Only the public API is used. The same
// equivalence across processes is in tests/cluster/sharded.test.cpp.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <atomic>
#include <cstdint>
#include <doctest/doctest.h>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <thread>
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

constexpr std::int64_t row_count = 10;
constexpr std::int64_t columns = 3;
constexpr int steps = 8;

/// A [row_count, columns] tensor of `type` holding small random integers
/// (exact in every dtype, whatever the order of the arithmetic).
tensor random_tensor(dtype type, std::mt19937_64& random,
                     std::int64_t rows = row_count) {
  std::vector<double> values(static_cast<std::size_t>(rows * columns));
  for (auto& value : values)
    value = static_cast<double>(random() % 9) - 4;
  auto result = tensor::filled(type, {rows, columns}, 0);
  REQUIRE(result);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (type == dtype::i64)
      result->mutable_values<std::int64_t>()[i] =
          static_cast<std::int64_t>(values[i]);
    else
      result->mutable_values<double>()[i] = values[i];
  }
  return *result;
}

/// Calls that succeeded on both variables (so that a run whose every
/// update failed alike cannot pass unnoticed).
std::atomic<int> both_succeeded{0};

/// Both results fail with the same code, or both hold equal values.
template <class T>
void check_same(const expected<T>& sharded, const expected<T>& plain) {
  CHECK_EQ(sharded.has_value(), plain.has_value());
  if (sharded && plain)
    both_succeeded.fetch_add(1);
  if (!sharded || !plain) {
    CHECK_EQ(code_of(sharded), code_of(plain));
    return;
  }
  if constexpr (std::is_same_v<T, tensor>)
    CHECK_MESSAGE(*sharded == *plain, "sharded " << to_string(*sharded)
                                                 << " plain "
                                                 << to_string(*plain));
}

/// Runs the same calls on an unsharded and a 3-shard variable of
/// `options` in a group of `replicas`, and compares every outcome.
void check_equivalent(variable_options options, std::size_t replicas,
                      dtype type) {
  std::string policy = to_string(options.sync);
  CAPTURE(policy);
  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{20})};
  auto group = rt.create_group("workers", replicas);
  VARSYNC_REQUIRE_OK(group);
  std::mt19937_64 seed{7};
  auto initial = random_tensor(type, seed);
  auto plain = rt.create_variable(*group, "plain", initial, options);
  auto sharded_options = options;
  sharded_options.shards = 3;
  auto sharded =
      rt.create_variable(*group, "sharded", initial, sharded_options);
  check_same(sharded, plain);
  if (!plain || !sharded)
    return; // an invalid combination, refused alike
  REQUIRE_EQ(sharded->options().shards, 3u);
  REQUIRE(contains(sharded->description(), "3 shards"));
  bool stale = options.sync == synchronization::bounded_staleness;
  both_succeeded.store(0);
  run_on_replicas(*group, [&](replica& r) {
    std::mt19937_64 random{11 + r.index()};
    for (int k = 0; k < steps; ++k) {
      // Every replica makes the same kind of call at each step, so the
      // collective steps line up; the operands differ by replica.
      auto delta = random_tensor(type, random);
      check_same(r.assign_add(*sharded, delta), r.assign_add(*plain, delta));
      check_same(r.assign_sub(*sharded, delta), r.assign_sub(*plain, delta));
      if (k % 3 == 0) {
        auto value = random_tensor(type, random);
        check_same(r.assign(*sharded, value), r.assign(*plain, value));
      }
      // Rows in several shards, one repeated, one shard left out.
      std::vector<std::int64_t> rows{0, 9, 3, 0};
      auto values = random_tensor(type, random, 4);
      check_same(r.assign_add_rows(*sharded, rows, values),
                 r.assign_add_rows(*plain, rows, values));
      if (stale)
        VARSYNC_REQUIRE_OK(r.clock());
    }
  });
  // TF's rule: on_write (and periodic) updates in replica context need an
  // aggregation; every other combination takes them.
  bool refused = options.aggregation == aggregation::none &&
                 (options.sync == synchronization::on_write ||
                  options.sync == synchronization::periodic);
  if (refused)
    CHECK_EQ(both_succeeded.load(), 0);
  else
    CHECK_GE(both_succeeded.load(), steps * static_cast<int>(replicas));
  for (auto& r : replicas_of(*group)) {
    CAPTURE(r.index());
    if (stale)
      VARSYNC_REQUIRE_OK(r.catch_up());
    auto got = r.read(*sharded);
    VARSYNC_REQUIRE_OK(got);
    check_same(got, r.read(*plain));
    std::promise<expected<tensor>> read_later;
    r.read_async(*sharded, [&](expected<tensor> value) {
      read_later.set_value(std::move(value));
    });
    check_same(read_later.get_future().get(), r.read(*plain));
    std::vector<std::int64_t> rows{9, 0, 4, 4};
    check_same(r.read_rows(*sharded, rows), r.read_rows(*plain, rows));
  }
  // Cross-replica context: reads, then an update of every kind.
  check_same(rt.read(*sharded), rt.read(*plain));
  auto delta = random_tensor(type, seed);
  check_same(rt.assign_add(*sharded, delta), rt.assign_add(*plain, delta));
  check_same(rt.assign(*sharded, delta), rt.assign(*plain, delta));
  check_same(rt.read(*sharded), rt.read(*plain));
  for (auto& r : replicas_of(*group)) {
    if (stale)
      VARSYNC_REQUIRE_OK(r.catch_up());
    check_same(r.read(*sharded), r.read(*plain));
  }
}

} // namespace

TEST_CASE("a sharded variable equals an unsharded one, bit for bit, for "
          "every policy and aggregation") {
  const aggregation all[] = {aggregation::none, aggregation::sum,
                             aggregation::mean, aggregation::only_first_replica,
                             aggregation::min,  aggregation::max};
  for (std::size_t replicas : {2u, 3u, 4u}) {
    CAPTURE(replicas);
    for (auto how : all) {
      std::string aggregation_name = to_string(how);
      CAPTURE(aggregation_name);
      // Integer dtype where the aggregation allows it; mean needs floats.
      auto type = how == aggregation::mean ? dtype::f64 : dtype::i64;
      check_equivalent(options_of(synchronization::on_write, how), replicas,
                       type);
      check_equivalent(options_of(synchronization::on_read, how), replicas,
                       type);
      auto ssp = options_of(synchronization::bounded_staleness, how);
      ssp.staleness_bound = 1;
      check_equivalent(ssp, replicas, type);
      auto periodic = options_of(synchronization::periodic, how);
      periodic.period = 2;
      check_equivalent(periodic, replicas, type);
    }
    check_equivalent(options_of(synchronization::none), replicas, dtype::i64);
  }
}

TEST_CASE("reads of a sharded variable return one version while the "
          "replicas step") {
  // Every step adds 1 to every element at both replicas, so each version
  // is uniform: a read mixing shards of two versions would not be.
  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{30})};
  auto group = rt.create_group("workers", 2);
  VARSYNC_REQUIRE_OK(group);
  constexpr std::int64_t elements = 1 << 20;
  auto options = options_of(synchronization::on_write, aggregation::sum);
  options.shards = 4;
  auto var = rt.create_variable(
      *group, "big", *tensor::filled(dtype::f32, {elements}, 0), options);
  VARSYNC_REQUIRE_OK(var);
  constexpr int step_count = 40;
  auto ones = *tensor::filled(dtype::f32, {elements}, 1);
  std::atomic<bool> writing{true};
  std::atomic<int> reads{0};
  std::atomic<int> mixed{0};
  auto uniform = [](const tensor& value) {
    auto values = value.values<float>();
    for (auto x : values)
      if (x != values.front())
        return false;
    return true;
  };
  auto observer = replicas_of(*group)[1];
  std::thread reader{[&] {
    while (writing.load()) {
      auto here = observer.read(*var);
      auto cross = rt.read(*var);
      if (!here || !cross || !uniform(*here) || !uniform(*cross))
        mixed.fetch_add(1);
      reads.fetch_add(2);
    }
  }};
  run_on_replicas(*group, [&](replica& r) {
    for (int k = 0; k < step_count; ++k)
      VARSYNC_REQUIRE_OK(r.assign_add(*var, ones));
  });
  writing.store(false);
  reader.join();
  CHECK_EQ(mixed.load(), 0);
  CHECK_GT(reads.load(), 0);
  auto final_value = rt.read(*var);
  VARSYNC_REQUIRE_OK(final_value);
  CHECK(uniform(*final_value));
  CHECK_EQ(final_value->values<float>().front(), 2.0f * step_count);
}

TEST_CASE("bad rows of a sharded variable are refused with nothing "
          "applied") {
  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{20})};
  auto group = rt.create_group("workers", 2);
  VARSYNC_REQUIRE_OK(group);
  auto options = options_of(synchronization::on_write, aggregation::sum);
  options.shards = 3;
  auto zeros = *tensor::filled(dtype::f64, {row_count, columns}, 0);
  auto var = rt.create_variable(*group, "emb", zeros, options);
  VARSYNC_REQUIRE_OK(var);
  auto ones = *tensor::filled(dtype::f64, {2, columns}, 1);
  run_on_replicas(*group, [&](replica& r) {
    // Index 1 is in the first shard: the out-of-range one must stop it.
    std::vector<std::int64_t> out_of_range{1, row_count};
    auto refused = r.assign_add_rows(*var, out_of_range, ones);
    CHECK_EQ(code_of(refused), errc::invalid_argument);
    CHECK(contains(message_of(refused),
                   "row index " + std::to_string(row_count) + " (position 1"));
    CHECK(contains(message_of(refused), std::to_string(row_count) + " rows"));
    CHECK_EQ(code_of(r.read_rows(*var, out_of_range)), errc::invalid_argument);
    CHECK_EQ(code_of(r.assign_add(*var, ones)), errc::shape_mismatch);
    auto value = r.read(*var);
    VARSYNC_REQUIRE_OK(value);
    CHECK(*value == zeros);
  });
}

TEST_CASE("a sharded variable is one variable to handles, lookups and "
          "checkpoints") {
  auto root = std::filesystem::temp_directory_path() /
              ("varsync-sharded-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  auto options = options_of(synchronization::on_write, aggregation::sum);
  options.shards = 2;
  std::mt19937_64 random{3};
  auto initial = random_tensor(dtype::i64, random);
  {
    runtime rt;
    auto group = rt.create_group("workers", 2);
    VARSYNC_REQUIRE_OK(group);
    auto var = rt.create_variable(*group, "w", initial, options);
    VARSYNC_REQUIRE_OK(var);
    auto found = rt.find_variable("w");
    VARSYNC_REQUIRE_OK(found);
    CHECK(*found == *var);
    CHECK_EQ(found->shape(), initial.shape());
    CHECK_EQ(found->requested_options().shards, 2u);
    // Created again alike: the same variable; otherwise refused.
    auto again = rt.create_variable(*group, "w", initial, options);
    VARSYNC_REQUIRE_OK(again);
    CHECK(*again == *var);
    auto other = options;
    other.shards = 5;
    CHECK_EQ(code_of(rt.create_variable(*group, "w", initial, other)),
             errc::already_exists);
    CHECK_EQ(code_of(rt.create_variable(
                 *group, "w", initial,
                 options_of(synchronization::on_write, aggregation::sum))),
             errc::already_exists);
    VARSYNC_REQUIRE_OK(rt.save(root));
  }
  runtime rt;
  auto group = rt.create_group("workers", 2);
  VARSYNC_REQUIRE_OK(group);
  VARSYNC_REQUIRE_OK(rt.restore(root, *group));
  auto restored = rt.find_variable("w");
  VARSYNC_REQUIRE_OK(restored);
  CHECK_EQ(restored->options().shards, 2u);
  auto value = rt.read(*restored);
  VARSYNC_REQUIRE_OK(value);
  CHECK(*value == initial);
  for (auto& r : replicas_of(*group)) {
    auto here = r.read(*restored);
    VARSYNC_REQUIRE_OK(here);
    CHECK(*here == initial);
  }
  std::filesystem::remove_all(root);
}
