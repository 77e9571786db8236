// Row operations: indices and row values checked against the variable
// (errors name the index, its position and the row count), rows gathered in
// the order asked, and rows scattered into a dense delta with repeated
// indices summed, or added in place.

#include "runtime/core/row_math.hpp"

#include "runtime/core/tensor_math.hpp"
#include "tests/support/checks.hpp"

#include <algorithm>
#include <cmath>
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

/// A [rows, columns] f64 table whose element (i, j) is 10 i + j.
tensor table(std::int64_t rows, std::int64_t columns) {
  std::vector<double> values;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < columns; ++j)
      values.push_back(static_cast<double>(10 * i + j));
  return *tensor::from_values<double>(values, shape_type{rows, columns});
}

} // namespace

TEST_CASE("row indices must lie within the variable's rows; the error names "
          "the index, its position and the row count") {
  std::vector<std::int64_t> fine{0, 4, 4, 2};
  VARSYNC_CHECK_OK(check_rows(dtype::f64, {5, 3}, fine, nullptr, "emb"));
  for (std::int64_t bad : {std::int64_t{5}, std::int64_t{-1}}) {
    std::vector<std::int64_t> rows{1, bad, 2};
    auto checked = check_rows(dtype::f64, {5, 3}, rows, nullptr, "emb");
    REQUIRE_FALSE(checked);
    CHECK_EQ(code_of(checked), errc::invalid_argument);
    CHECK(contains(message_of(checked), "'emb'"));
    CHECK(contains(message_of(checked),
                   "row index " + std::to_string(bad) + " (position 1"));
    CHECK(contains(message_of(checked), "5 rows"));
  }
  auto scalar = check_rows(dtype::f64, {}, fine, nullptr, "step");
  REQUIRE_FALSE(scalar);
  CHECK(contains(message_of(scalar), "scalar"));
}

TEST_CASE("row values must have the variable's dtype and one row per index") {
  std::vector<std::int64_t> rows{0, 3};
  auto right = *tensor::filled(dtype::f32, {2, 3}, 1);
  VARSYNC_CHECK_OK(check_rows(dtype::f32, {5, 3}, rows, &right, "emb"));
  auto wrong_type = *tensor::filled(dtype::f64, {2, 3}, 1);
  CHECK_EQ(code_of(check_rows(dtype::f32, {5, 3}, rows, &wrong_type, "emb")),
           errc::dtype_mismatch);
  auto too_few = *tensor::filled(dtype::f32, {1, 3}, 1);
  auto shape = check_rows(dtype::f32, {5, 3}, rows, &too_few, "emb");
  CHECK_EQ(code_of(shape), errc::shape_mismatch);
  CHECK(contains(message_of(shape), "[2, 3]"));
  auto wide = *tensor::filled(dtype::f32, {2, 4}, 1);
  CHECK_EQ(code_of(check_rows(dtype::f32, {5, 3}, rows, &wide, "emb")),
           errc::shape_mismatch);
}

TEST_CASE("gather_rows returns the rows in the order asked, repeats "
          "included") {
  std::vector<std::int64_t> rows{3, 0, 3};
  auto gathered = gather_rows(table(4, 2), rows);
  CHECK_EQ(gathered.shape(), (shape_type{3, 2}));
  auto values = gathered.values<double>();
  CHECK_EQ(std::vector<double>(values.begin(), values.end()),
           (std::vector<double>{30, 31, 0, 1, 30, 31}));
  CHECK_EQ(gather_rows(table(4, 2), {}).shape(), (shape_type{0, 2}));
}

TEST_CASE("scatter_rows is zero outside the rows and sums repeated rows") {
  std::vector<std::int64_t> rows{2, 0, 2};
  auto values = *tensor::from_values<std::int64_t>(
      std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}, shape_type{3, 2});
  auto dense = scatter_rows(dtype::i64, {4, 2}, rows, values);
  auto elements = dense.values<std::int64_t>();
  CHECK_EQ(std::vector<std::int64_t>(elements.begin(), elements.end()),
           (std::vector<std::int64_t>{3, 4, 0, 0, 6, 8, 0, 0}));
}

TEST_CASE("add_rows_into matches the dense delta bit for bit on every "
          "touched row, sums repeated rows first and leaves other rows "
          "exactly as they were") {
  std::mt19937 random{11};
  std::uniform_real_distribution<float> uniform{-1.0f, 1.0f};
  auto random_tensor = [&](shape_type shape) {
    std::size_t count = 1;
    for (auto d : shape)
      count *= static_cast<std::size_t>(d);
    std::vector<float> values(count);
    for (auto& x : values)
      x = uniform(random);
    return *tensor::from_values<float>(values, std::move(shape));
  };
  auto value = random_tensor({50, 7});
  // Row 3 holds -0.0: the dense sum would make it +0.0, in place keeps it.
  {
    auto row = value.mutable_values<float>().subspan(3 * 7, 7);
    for (auto& x : row)
      x = -0.0f;
  }
  std::vector<std::int64_t> rows{4, 9, 4, 0, 49, 9, 4};
  auto values = random_tensor({7, 7});
  auto dense = apply(update_op::add, value,
                     scatter_rows(dtype::f32, value.shape(), rows, values));
  auto in_place = value;
  add_rows_into(in_place, rows, values);
  auto got = in_place.values<float>();
  auto want = dense.values<float>();
  auto before = value.values<float>();
  for (std::size_t row = 0; row < 50; ++row) {
    bool touched = std::find(rows.begin(), rows.end(),
                             static_cast<std::int64_t>(row)) != rows.end();
    for (std::size_t j = 0; j < 7; ++j) {
      auto i = row * 7 + j;
      const auto& reference = touched ? want[i] : before[i];
      CHECK_MESSAGE(std::memcmp(&got[i], &reference, sizeof(float)) == 0,
                    "row " << row << " column " << j);
    }
  }
  CHECK(std::signbit(got[3 * 7]));
}

TEST_CASE("add_rows_into writes in place when the buffer is not shared and "
          "copies once when it is") {
  auto owned = *tensor::filled(dtype::i64, {1000, 4}, 1);
  const auto* before = owned.bytes().data();
  std::vector<std::int64_t> rows{7};
  auto one_row = *tensor::filled(dtype::i64, {1, 4}, 5);
  add_rows_into(owned, rows, one_row);
  CHECK_EQ(owned.bytes().data(), before);
  CHECK_EQ(owned.values<std::int64_t>()[7 * 4], 6);
  auto reader = owned; // shares the buffer: the next write must not show
  add_rows_into(owned, rows, one_row);
  CHECK_NE(owned.bytes().data(), reader.bytes().data());
  CHECK_EQ(reader.values<std::int64_t>()[7 * 4], 6);
  CHECK_EQ(owned.values<std::int64_t>()[7 * 4], 11);
}
