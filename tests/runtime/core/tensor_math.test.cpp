// Element-wise arithmetic of the policies: operand checks, updates, scaling
// and aggregation over groups of 1, 2, 4 and 8 replicas, for every dtype.
// Every value used here is a small integer or a half, exactly representable
// in f32, f64 and i64, so results are compared bit for bit.

#include "runtime/core/tensor_math.hpp"

#include "tests/support/checks.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <doctest/doctest.h>
#include <span>
#include <string>
#include <vector>

using namespace varsync;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::message_of;

namespace {

constexpr std::array<dtype, 3> all_dtypes{dtype::f32, dtype::f64, dtype::i64};

constexpr std::array<std::size_t, 4> replica_counts{1, 2, 4, 8};

/// A one-dimensional tensor of `type` holding `values` converted to `type`.
tensor make(dtype type, const std::vector<double>& values) {
  switch (type) {
  case dtype::f32:
    return tensor{std::vector<float>(values.begin(), values.end())};
  case dtype::f64:
    return tensor{values};
  case dtype::i64:
    break;
  }
  std::vector<std::int64_t> integers;
  for (auto value : values)
    integers.push_back(static_cast<std::int64_t>(value));
  return tensor{integers};
}

/// An independent copy of `x` (no shared buffer), to compare inputs with
/// after an operation.
tensor deep_copy(const tensor& x) {
  auto result = tensor::from_bytes(x.type(), x.shape(), x.bytes());
  REQUIRE(result.has_value());
  return *result;
}

} // namespace

TEST_CASE("check_operand accepts a tensor of the variable's dtype and "
          "shape") {
  auto value = tensor::filled(dtype::f64, {2, 3}, 1.0);
  VARSYNC_REQUIRE_OK(value);
  VARSYNC_CHECK_OK(check_operand(*value, dtype::f64, {2, 3}, "weights"));
  VARSYNC_CHECK_OK(check_operand(tensor(1), dtype::i64, {}, "step"));
}

TEST_CASE("check_operand reports a dtype mismatch naming the variable, the "
          "expected and the received dtype") {
  auto result = check_operand(tensor{1.0, 2.0}, dtype::f32, {2}, "weights");
  CHECK_EQ(code_of(result), errc::dtype_mismatch);
  auto message = message_of(result);
  CHECK_MESSAGE(contains(message, "weights"), message);
  CHECK_MESSAGE(contains(message, "f32"), message);
  CHECK_MESSAGE(contains(message, "f64"), message);
}

TEST_CASE("check_operand reports a shape mismatch naming the variable, the "
          "expected and the received shape") {
  auto result =
      check_operand(tensor{1.0f, 2.0f, 3.0f}, dtype::f32, {2, 5}, "bias");
  CHECK_EQ(code_of(result), errc::shape_mismatch);
  auto message = message_of(result);
  CHECK_MESSAGE(contains(message, "bias"), message);
  CHECK_MESSAGE(contains(message, "[2, 5]"), message);
  CHECK_MESSAGE(contains(message, "[3]"), message);
  auto scalar_for_vector = check_operand(tensor(1.0f), dtype::f32, {1}, "b");
  CHECK_EQ(code_of(scalar_for_vector), errc::shape_mismatch);
  CHECK_MESSAGE(contains(message_of(scalar_for_vector), "[]"),
                message_of(scalar_for_vector));
}

TEST_CASE("check_operand reports the dtype first when both differ") {
  auto result = check_operand(tensor(1), dtype::f64, {4}, "counter");
  CHECK_EQ(code_of(result), errc::dtype_mismatch);
  CHECK_MESSAGE(contains(message_of(result), "counter"), message_of(result));
}

TEST_CASE("update operations have their TensorFlow names") {
  CHECK_EQ(std::string{to_string(update_op::assign)}, "assign");
  CHECK_EQ(std::string{to_string(update_op::add)}, "assign_add");
  CHECK_EQ(std::string{to_string(update_op::subtract)}, "assign_sub");
}

TEST_CASE("apply assign returns the operand and leaves both inputs alone") {
  for (auto type : all_dtypes) {
    CAPTURE(type);
    auto current = make(type, {1, 2, 3});
    auto operand = make(type, {-4, 5, 6});
    auto current_before = deep_copy(current);
    auto operand_before = deep_copy(operand);
    auto result = apply(update_op::assign, current, operand);
    CHECK_EQ(result, operand_before);
    CHECK_EQ(current, current_before);
    CHECK_EQ(operand, operand_before);
  }
}

TEST_CASE("apply add adds element-wise and leaves both inputs alone") {
  for (auto type : all_dtypes) {
    CAPTURE(type);
    auto current = make(type, {1, 2, -3});
    auto operand = make(type, {10, -20, 30});
    auto current_before = deep_copy(current);
    auto operand_before = deep_copy(operand);
    auto result = apply(update_op::add, current, operand);
    CHECK_EQ(result, make(type, {11, -18, 27}));
    CHECK_EQ(current, current_before);
    CHECK_EQ(operand, operand_before);
    CHECK_FALSE(result.shares_buffer_with(current));
    CHECK_FALSE(result.shares_buffer_with(operand));
  }
}

TEST_CASE("apply subtract subtracts element-wise and leaves both inputs "
          "alone") {
  for (auto type : all_dtypes) {
    CAPTURE(type);
    auto current = make(type, {1, 2, -3});
    auto operand = make(type, {10, -20, 30});
    auto current_before = deep_copy(current);
    auto operand_before = deep_copy(operand);
    auto result = apply(update_op::subtract, current, operand);
    CHECK_EQ(result, make(type, {-9, 22, -33}));
    CHECK_EQ(current, current_before);
    CHECK_EQ(operand, operand_before);
    CHECK_FALSE(result.shares_buffer_with(current));
  }
}

TEST_CASE("apply works on scalars and keeps the shape") {
  for (auto type : all_dtypes) {
    CAPTURE(type);
    auto current = tensor::filled(type, {}, 5);
    auto operand = tensor::filled(type, {}, 2);
    VARSYNC_REQUIRE_OK(current);
    VARSYNC_REQUIRE_OK(operand);
    auto sum = apply(update_op::add, *current, *operand);
    CHECK(sum.shape().empty());
    CHECK_EQ(sum.type(), type);
    CHECK_EQ(sum.to_double(), 7.0);
    auto difference = apply(update_op::subtract, *current, *operand);
    CHECK_EQ(difference.to_double(), 3.0);
  }
}

TEST_CASE("aggregate sum adds the values of every replica") {
  for (auto type : all_dtypes) {
    for (auto count : replica_counts) {
      CAPTURE(type);
      CAPTURE(count);
      std::vector<tensor> values;
      std::vector<tensor> before;
      for (std::size_t i = 0; i < count; ++i) {
        auto k = static_cast<double>(i + 1);
        values.push_back(make(type, {k, -2 * k}));
        before.push_back(deep_copy(values.back()));
      }
      auto total = static_cast<double>(count * (count + 1) / 2);
      auto result = aggregate(values, aggregation::sum);
      CHECK_EQ(result, make(type, {total, -2 * total}));
      for (std::size_t i = 0; i < count; ++i)
        CHECK_EQ(values[i], before[i]);
    }
  }
}

TEST_CASE("aggregate sum adds in replica index order") {
  // In f32, (1e8 + 1) rounds back to 1e8, so index order gives 0 while any
  // order that adds 1e8 and -1e8 first gives 1.
  std::vector<tensor> values{tensor{1e8f}, tensor{1.0f}, tensor{-1e8f}};
  CHECK_EQ(aggregate(values, aggregation::sum), tensor{0.0f});
}

TEST_CASE("aggregate mean divides the sum by the replica count") {
  for (auto type : {dtype::f32, dtype::f64}) {
    for (auto count : replica_counts) {
      CAPTURE(type);
      CAPTURE(count);
      std::vector<tensor> values;
      std::vector<tensor> before;
      for (std::size_t i = 0; i < count; ++i) {
        auto k = static_cast<double>(i + 1);
        values.push_back(make(type, {k, -2 * k}));
        before.push_back(deep_copy(values.back()));
      }
      // The mean of 1..count is (count + 1) / 2: 1, 1.5, 2.5 and 4.5.
      auto mean = static_cast<double>(count + 1) / 2;
      auto result = aggregate(values, aggregation::mean);
      CHECK_EQ(result, make(type, {mean, -2 * mean}));
      for (std::size_t i = 0; i < count; ++i)
        CHECK_EQ(values[i], before[i]);
    }
  }
}

TEST_CASE("aggregate mean of i64 truncates the quotient toward zero") {
  for (auto count : replica_counts) {
    CAPTURE(count);
    std::vector<tensor> values;
    for (std::size_t i = 0; i < count; ++i) {
      auto k = static_cast<std::int64_t>(i + 1);
      values.push_back(tensor{k, -k});
    }
    // Sums 1, 3, 10, 36 divided by 1, 2, 4, 8: 1, 1, 2, 4 (and negated).
    auto total = static_cast<std::int64_t>(count * (count + 1) / 2);
    auto quotient = total / static_cast<std::int64_t>(count);
    auto result = aggregate(values, aggregation::mean);
    CHECK_EQ(result, (tensor{quotient, -quotient}));
  }
  std::vector<tensor> odd{tensor{std::int64_t{-3}}, tensor{std::int64_t{0}}};
  CHECK_EQ(aggregate(odd, aggregation::mean), tensor{std::int64_t{-1}});
}

TEST_CASE("aggregate mean of one value is the value bit for bit") {
  for (auto type : all_dtypes) {
    CAPTURE(type);
    std::vector<tensor> one{make(type, {0.5, 3, -7})};
    CHECK_EQ(aggregate(one, aggregation::mean), one.front());
  }
  std::vector<tensor> negative_zero{tensor{-0.0}};
  CHECK_EQ(aggregate(negative_zero, aggregation::mean), tensor{-0.0});
}

TEST_CASE("aggregate only_first_replica returns replica 0's value") {
  for (auto type : all_dtypes) {
    for (auto count : replica_counts) {
      CAPTURE(type);
      CAPTURE(count);
      std::vector<tensor> values;
      for (std::size_t i = 0; i < count; ++i) {
        auto k = static_cast<double>(i + 1);
        values.push_back(make(type, {10 * k, k}));
      }
      auto first_before = deep_copy(values.front());
      auto result = aggregate(values, aggregation::only_first_replica);
      CHECK_EQ(result, make(type, {10, 1}));
      CHECK_EQ(values.front(), first_before);
    }
  }
}

TEST_CASE("aggregate min and max take the elementwise minimum and maximum, "
          "negative values and integers included") {
  for (auto type : all_dtypes) {
    for (auto count : replica_counts) {
      CAPTURE(type);
      CAPTURE(count);
      // Replica i holds {i, -i, 3 - i, 0.5 * i}: the extremes come from
      // different replicas in each element.
      std::vector<tensor> values;
      for (std::size_t i = 0; i < count; ++i) {
        auto k = static_cast<double>(i);
        values.push_back(
            make(type, {k, 0.0 - k, 3 - k, is_integer(type) ? k : k / 2}));
      }
      auto last = static_cast<double>(count - 1);
      CHECK_EQ(aggregate(values, aggregation::min),
               make(type, {0, 0.0 - last, 3 - last, 0}));
      CHECK_EQ(aggregate(values, aggregation::max),
               make(type, {last, 0, 3, is_integer(type) ? last : last / 2}));
      // An update adds the extreme of the deltas.
      auto current = make(type, {100, 100, 100, 100});
      CHECK_EQ(
          apply_aggregate(update_op::add, current, values, aggregation::min),
          make(type, {100, 100 - last, 103 - last, 100}));
      CHECK_EQ(apply_aggregate(update_op::subtract, current, values,
                               aggregation::max),
               make(type, {100 - last, 100, 97,
                           100 - (is_integer(type) ? last : last / 2)}));
    }
  }
}

TEST_CASE("divide divides each element, truncating integers toward zero") {
  auto floats = tensor{3.0f, -3.0f, 8.0f};
  auto floats_before = deep_copy(floats);
  CHECK_EQ(divide(floats, 2), (tensor{1.5f, -1.5f, 4.0f}));
  CHECK_EQ(floats, floats_before);
  auto doubles = tensor{3.0, -3.0, 8.0};
  auto doubles_before = deep_copy(doubles);
  CHECK_EQ(divide(doubles, 2), (tensor{1.5, -1.5, 4.0}));
  CHECK_EQ(doubles, doubles_before);
  auto integers = tensor{std::int64_t{7}, std::int64_t{-7}, std::int64_t{8}};
  auto integers_before = deep_copy(integers);
  CHECK_EQ(divide(integers, 2),
           (tensor{std::int64_t{3}, std::int64_t{-3}, std::int64_t{4}}));
  CHECK_EQ(integers, integers_before);
  CHECK_EQ(divide(tensor(9), 4), tensor(2));
}

TEST_CASE("scale multiplies each element, truncating integers toward zero") {
  auto floats = tensor{3.0f, -1.0f};
  auto floats_before = deep_copy(floats);
  CHECK_EQ(scale(floats, 0.5), (tensor{1.5f, -0.5f}));
  CHECK_EQ(floats, floats_before);
  auto doubles = tensor{3.0, -1.0};
  auto doubles_before = deep_copy(doubles);
  CHECK_EQ(scale(doubles, -2.0), (tensor{-6.0, 2.0}));
  CHECK_EQ(doubles, doubles_before);
  auto integers = tensor{std::int64_t{3}, std::int64_t{-3}};
  auto integers_before = deep_copy(integers);
  CHECK_EQ(scale(integers, 0.5), (tensor{std::int64_t{1}, std::int64_t{-1}}));
  CHECK_EQ(integers, integers_before);
  CHECK_EQ(scale(tensor(5), 3.0), tensor(15));
}

TEST_CASE("apply_aggregate equals apply after aggregate bit for bit, with "
          "rounding") {
  // Random f32/f64 values round differently in every order of operations:
  // the fused pass must make exactly the operations of the two-step form.
  std::uint64_t seed = 0x9e3779b97f4a7c15u;
  auto next = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return static_cast<double>(seed % 2000003) / 997.0 - 1000.0;
  };
  for (auto type : all_dtypes) {
    for (std::size_t replicas : {1u, 2u, 3u, 4u, 7u}) {
      std::vector<double> raw(257);
      for (auto& x : raw)
        x = next();
      auto current = make(type, raw);
      std::vector<tensor> operands;
      for (std::size_t r = 0; r < replicas; ++r) {
        for (auto& x : raw)
          x = next();
        operands.push_back(make(type, raw));
      }
      for (auto op : {update_op::assign, update_op::add, update_op::subtract}) {
        for (auto how : {aggregation::sum, aggregation::mean,
                         aggregation::only_first_replica, aggregation::min,
                         aggregation::max}) {
          if (how == aggregation::mean && is_integer(type))
            continue;
          CAPTURE(to_string(type));
          CAPTURE(replicas);
          CAPTURE(to_string(op));
          auto two_steps = apply(op, current, aggregate(operands, how));
          auto fused = apply_aggregate(op, current, operands, how);
          CHECK(fused == two_steps);
        }
      }
    }
  }
}

TEST_CASE("an operand of another dtype or shape is never read past its "
          "buffer: the current value stays") {
  // Callers check operands first (check_operand, the state machines);
  // this guards against a bug or a forged value reaching the math.
  auto current =
      *tensor::from_values<double>(std::vector<double>{1, 2, 3}, shape_type{3});
  CHECK(apply(update_op::add, current, tensor(1.0f)) == current);
  CHECK(apply(update_op::subtract, current, tensor{1.0, 2.0}) == current);
  std::vector<tensor> mixed{current, tensor(1.0f)};
  CHECK(aggregate(mixed, aggregation::sum) == current);
  CHECK(apply_aggregate(update_op::add, current, mixed, aggregation::mean) ==
        current);
  std::vector<tensor> none;
  CHECK(apply_aggregate(update_op::add, current, none, aggregation::sum) ==
        current);
}
