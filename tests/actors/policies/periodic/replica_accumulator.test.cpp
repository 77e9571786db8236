// The periodic replica accumulator without actors: local changes and the
// view, which update synchronizes, a failed synchronization putting the
// change back (the next update retries), installs under the own change.

#include "actors/policies/periodic/replica_accumulator.hpp"

#include <doctest/doctest.h>

using namespace varsync;

namespace {

double view_of(const replica_slot& slot) {
  return slot.load()->value.values<double>()[0];
}

double scalar(const tensor& x) {
  return x.values<double>()[0];
}

} // namespace

TEST_CASE("every k-th update synchronizes; the view is synchronized plus "
          "the own change") {
  auto slot = std::make_shared<replica_slot>(tensor(1.0));
  periodic_accumulator accumulator{slot, tensor(1.0), 3};
  CHECK_FALSE(accumulator.update(update_op::add, tensor(2.0)));
  CHECK_FALSE(accumulator.update(update_op::subtract, tensor(0.5)));
  CHECK(view_of(*slot) == 2.5);
  CHECK(accumulator.update(update_op::add, tensor(4.0)));
  auto change = accumulator.begin_sync();
  CHECK(scalar(change) == 5.5);
  CHECK(view_of(*slot) == 6.5); // unchanged until the install
  accumulator.install(1, tensor(9.0));
  accumulator.end_sync(true);
  CHECK(view_of(*slot) == 9.0);
  CHECK_FALSE(accumulator.update(update_op::add, tensor(1.0)));
  CHECK(view_of(*slot) == 10.0);
}

TEST_CASE("the first change after a synchronization is the operand itself "
          "(k = 1 contributes exactly what on_write would)") {
  auto slot = std::make_shared<replica_slot>(tensor(0.1));
  periodic_accumulator accumulator{slot, tensor(0.1), 1};
  CHECK(accumulator.update(update_op::add, tensor(0.7)));
  CHECK(scalar(accumulator.begin_sync()) == 0.7);
  accumulator.end_sync(true);
  CHECK(accumulator.update(update_op::subtract, tensor(0.3)));
  CHECK(scalar(accumulator.begin_sync()) == -0.3);
}

TEST_CASE("a failed synchronization puts the change back and the next "
          "update retries") {
  auto slot = std::make_shared<replica_slot>(tensor(0.0));
  periodic_accumulator accumulator{slot, tensor(0.0), 2};
  CHECK_FALSE(accumulator.update(update_op::add, tensor(1.0)));
  CHECK(accumulator.update(update_op::add, tensor(2.0)));
  CHECK(scalar(accumulator.begin_sync()) == 3.0);
  accumulator.end_sync(false);
  CHECK(view_of(*slot) == 3.0);
  // Update 3 is not a multiple of k, but the failed synchronization is due.
  CHECK(accumulator.update(update_op::add, tensor(4.0)));
  CHECK(scalar(accumulator.begin_sync()) == 7.0);
}

TEST_CASE("an install while accumulating keeps the own change on top; an "
          "assign changes by value - synchronized") {
  auto slot = std::make_shared<replica_slot>(tensor(2.0));
  periodic_accumulator accumulator{slot, tensor(2.0), 5};
  CHECK_FALSE(accumulator.update(update_op::add, tensor(1.0)));
  accumulator.install(1, tensor(10.0)); // a cross-replica assign
  CHECK(view_of(*slot) == 11.0);
  accumulator.install(1, tensor(99.0)); // an old version: ignored
  CHECK(view_of(*slot) == 11.0);
  CHECK_FALSE(accumulator.update(update_op::assign, tensor(4.0)));
  CHECK(view_of(*slot) == 4.0);
  CHECK(scalar(accumulator.begin_sync()) == -6.0);
}
