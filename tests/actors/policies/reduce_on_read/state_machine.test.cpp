// The on_read rules, driven directly.

#include "actors/policies/reduce_on_read/state_machine.hpp"

#include "runtime/core/row_delta.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace varsync;
using varsync::policies::reduce_on_read;

namespace {

reduce_on_read make_policy(std::size_t replicas, aggregation how,
                           dtype type = dtype::f64) {
  return reduce_on_read{{"counter", type, {}, how, replicas}};
}

} // namespace

TEST_CASE("a cross-replica read needs an aggregation") {
  auto allowed = make_policy(2, aggregation::none).check_read();
  REQUIRE(!allowed);
  CHECK(allowed.error().code() == errc::aggregation_required);
  CHECK(allowed.error().message().find("counter") != std::string::npos);
  CHECK(make_policy(2, aggregation::sum).check_read());
}

TEST_CASE("finish_read aggregates the copies in replica order") {
  std::vector<tensor> copies{tensor(3.0), tensor(4.0)};
  CHECK(make_policy(2, aggregation::sum).finish_read(copies) == tensor(7.0));
  CHECK(make_policy(2, aggregation::mean).finish_read(copies) == tensor(3.5));
  CHECK(make_policy(2, aggregation::only_first_replica).finish_read(copies) ==
        tensor(3.0));
}

TEST_CASE("a cross-replica assign with sum writes value / R into every copy") {
  for (std::size_t replicas : {1, 2, 4, 8}) {
    CAPTURE(replicas);
    auto plan = make_policy(replicas, aggregation::sum)
                    .plan_update(update_op::assign, tensor(8.0));
    REQUIRE(plan);
    CHECK(plan->op == update_op::assign);
    CHECK(plan->operand == tensor(8.0 / static_cast<double>(replicas)));
  }
  auto plan = make_policy(4, aggregation::mean)
                  .plan_update(update_op::assign, tensor(8.0));
  REQUIRE(plan);
  CHECK(plan->operand == tensor(8.0));
}

TEST_CASE(
    "a cross-replica delta is an error with sum, else it hits each copy") {
  auto rejected =
      make_policy(2, aggregation::sum).plan_update(update_op::add, tensor(1.0));
  REQUIRE(!rejected);
  CHECK(rejected.error().code() == errc::wrong_context);
  for (auto how : {aggregation::mean, aggregation::only_first_replica}) {
    auto plan =
        make_policy(2, how).plan_update(update_op::subtract, tensor(1.0));
    REQUIRE(plan);
    CHECK(plan->op == update_op::subtract);
    CHECK(plan->operand == tensor(1.0));
  }
}

TEST_CASE("a cross-replica update with the wrong dtype or shape is refused") {
  auto policy = make_policy(2, aggregation::mean);
  CHECK(policy.plan_update(update_op::assign, tensor(1.0f)).error().code() ==
        errc::dtype_mismatch);
  CHECK(
      policy.plan_update(update_op::assign, tensor{1.0, 2.0}).error().code() ==
      errc::shape_mismatch);
}

TEST_CASE("a cross-replica assign_add_rows plans the distinct rows, each "
          "the sum of its repeats, under assign_add's rule") {
  policies::policy_settings settings{
      "t", dtype::f32, {100, 2}, aggregation::mean, 3, true};
  std::vector<std::int64_t> rows{5, 9, 5};
  auto values = *tensor::uninitialized(dtype::f32, {3, 2});
  for (std::size_t i = 0; i < 6; ++i)
    values.mutable_values<float>()[i] = 0.1f + 0.3f * static_cast<float>(i);
  auto packed = pack_rows(rows, values);
  reduce_on_read policy{settings};
  auto plan = policy.plan_update(update_op::add_rows, packed);
  REQUIRE(plan);
  CHECK(plan->op == update_op::add_rows);
  REQUIRE(packed_row_count(plan->operand) == 2);
  // Applied to a copy: the same bits as the dense delta (repeats summed
  // from zero, then added).
  auto copy = *tensor::filled(dtype::f32, {100, 2}, 0.7f);
  auto dense = *tensor::filled(dtype::f32, {100, 2}, 0.0f);
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < 2; ++j)
      dense
          .mutable_values<float>()[static_cast<std::size_t>(rows[i]) * 2 + j] +=
          values.values<float>()[i * 2 + j];
  auto in_place = copy;
  add_packed_rows_into(in_place, plan->operand);
  CHECK(in_place == apply(update_op::add, copy, dense));

  auto summing = settings;
  summing.how = aggregation::sum;
  auto refused =
      reduce_on_read{summing}.plan_update(update_op::add_rows, packed);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == errc::wrong_context);
  auto setting = policy.plan_update(update_op::assign_rows, packed);
  REQUIRE_FALSE(setting);
  CHECK(setting.error().code() == errc::wrong_context);
  auto out_of_range =
      policy.plan_update(update_op::add_rows,
                         pack_rows(std::vector<std::int64_t>{100},
                                   *tensor::filled(dtype::f32, {1, 2}, 1.0f)));
  REQUIRE_FALSE(out_of_range);
  CHECK(out_of_range.error().code() == errc::invalid_argument);
  CHECK(out_of_range.error().message().find("100") != std::string::npos);
}
