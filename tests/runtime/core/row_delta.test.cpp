// Packed row deltas (how on_write's row updates travel): packing keeps the
// indices whatever the dtype, received deltas are checked (dtype, width,
// every index), and aggregating the replicas' deltas then adding them
// matches the dense path (scatter, apply_aggregate) bit for bit.

#include "runtime/core/row_delta.hpp"

#include "runtime/core/row_math.hpp"
#include "runtime/core/tensor_math.hpp"
#include "tests/support/checks.hpp"

#include <cstdint>
#include <cstring>
#include <doctest/doctest.h>
#include <random>
#include <vector>

using namespace varsync;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::message_of;

namespace {

template <class T>
tensor random_tensor(std::mt19937& random, shape_type shape) {
  std::size_t count = 1;
  for (auto d : shape)
    count *= static_cast<std::size_t>(d);
  std::vector<T> values(count);
  std::uniform_int_distribution<int> pick{-1000, 1000};
  for (auto& x : values)
    x = static_cast<T>(pick(random)) / static_cast<T>(8);
  return *tensor::from_values<T>(values, std::move(shape));
}

} // namespace

TEST_CASE("aggregated row deltas added in place equal the dense "
          "apply_aggregate of the scattered deltas, bit for bit") {
  std::mt19937 random{5};
  const shape_type shape{40, 3, 2};
  for (auto how :
       {aggregation::sum, aggregation::mean, aggregation::only_first_replica}) {
    CAPTURE(to_string(how));
    auto current = random_tensor<float>(random, shape);
    std::vector<tensor> dense;
    std::vector<tensor> packed;
    // Three replicas; rows repeat within a replica and across replicas.
    std::vector<std::vector<std::int64_t>> rows{
        {3, 39, 3, 0}, {5, 3, 5}, {39, 12, 12, 12, 7}};
    for (const auto& mine : rows) {
      auto values = random_tensor<float>(
          random, {static_cast<std::int64_t>(mine.size()), 3, 2});
      dense.push_back(scatter_rows(dtype::f32, shape, mine, values));
      packed.push_back(pack_rows(mine, values));
      VARSYNC_CHECK_OK(
          check_packed_rows(packed.back(), dtype::f32, shape, "t"));
    }
    auto want = apply_aggregate(update_op::add, current, dense, how);
    auto combined = aggregate_packed_rows(packed, how);
    VARSYNC_CHECK_OK(check_packed_rows(combined, dtype::f32, shape, "t"));
    auto got = current;
    add_packed_rows_into(got, combined);
    REQUIRE_EQ(got.bytes().size(), want.bytes().size());
    CHECK(std::memcmp(got.bytes().data(), want.bytes().data(),
                      got.bytes().size()) == 0);
  }
}

TEST_CASE("a row delta keeps every index intact in every dtype") {
  std::vector<std::int64_t> rows{0, (std::int64_t{1} << 40) + 3, 7};
  for (auto type : {dtype::f32, dtype::f64, dtype::i64}) {
    auto values = *tensor::filled(type, {3, 4}, 1);
    auto packed = pack_rows(rows, values);
    CHECK_EQ(packed_row_count(packed), 3u);
    // Within a variable of 2^41 rows the big index is valid...
    VARSYNC_CHECK_OK(
        check_packed_rows(packed, type, {std::int64_t{1} << 41, 4}, "big"));
    // ...and out of range for 8 rows, named with its position.
    auto refused = check_packed_rows(packed, type, {8, 4}, "small");
    REQUIRE_FALSE(refused);
    CHECK_EQ(code_of(refused), errc::invalid_argument);
    CHECK(contains(message_of(refused), "row index 1099511627779"));
    CHECK(contains(message_of(refused), "position 1"));
    CHECK(contains(message_of(refused), "8 rows"));
  }
}

TEST_CASE("a received row delta of another dtype or width is refused, "
          "naming what was expected") {
  std::vector<std::int64_t> rows{1};
  auto packed = pack_rows(rows, *tensor::filled(dtype::f64, {1, 4}, 1));
  auto wrong_type = check_packed_rows(packed, dtype::f32, {8, 4}, "emb");
  CHECK_EQ(code_of(wrong_type), errc::dtype_mismatch);
  auto wrong_width = check_packed_rows(packed, dtype::f64, {8, 5}, "emb");
  CHECK_EQ(code_of(wrong_width), errc::shape_mismatch);
  CHECK(contains(message_of(wrong_width), "[n, 6]"));
  auto flat = check_packed_rows(*tensor::filled(dtype::f64, {5}, 0), dtype::f64,
                                {8, 4}, "emb");
  CHECK_EQ(code_of(flat), errc::shape_mismatch);
  auto scalar = check_packed_rows(packed, dtype::f64, {}, "emb");
  CHECK_EQ(code_of(scalar), errc::invalid_argument);
}
