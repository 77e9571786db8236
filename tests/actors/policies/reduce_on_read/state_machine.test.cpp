// The on_read rules, driven directly.

#include "actors/policies/reduce_on_read/state_machine.hpp"

#include <doctest/doctest.h>

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
