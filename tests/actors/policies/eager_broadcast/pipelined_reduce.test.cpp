// on_write's pipelined reduce, driven directly: contributions that arrive
// in parts are reduced range by range into the version's buffer, each
// range published as a part, bit for bit the whole reduce; anything that
// changes the step's inputs midway starts its reduce over.

#include "actors/policies/eager_broadcast/state_machine.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <vector>

using namespace varsync;
using varsync::policies::eager_broadcast;
using varsync::policies::published_part;

namespace {

constexpr std::size_t elements = 1000;

eager_broadcast make_policy(std::size_t replicas, aggregation how,
                            dtype type = dtype::f32) {
  auto initial =
      tensor::filled(type, {static_cast<std::int64_t>(elements)}, 0.1);
  return eager_broadcast{
      {"w", type, {static_cast<std::int64_t>(elements)}, how, replicas},
      *initial};
}

/// Replica `replica`'s operand: f32 values whose sums and means round.
tensor operand_of(std::size_t replica, dtype type = dtype::f32) {
  auto result = *tensor::filled(type, {static_cast<std::int64_t>(elements)}, 0);
  if (type == dtype::f32) {
    auto values = result.mutable_values<float>();
    for (std::size_t i = 0; i < elements; ++i)
      values[i] = 1.0f / static_cast<float>(i + 3 * replica + 7) +
                  static_cast<float>(replica) * 1e-3f;
  } else {
    auto values = result.mutable_values<std::int64_t>();
    for (std::size_t i = 0; i < elements; ++i)
      values[i] =
          static_cast<std::int64_t>((i * 7919 + replica * 104729) % 2001) -
          1000;
  }
  return result;
}

/// The value after one step of whole contributions from `replicas`.
tensor reference(std::size_t replicas, aggregation how, update_op op,
                 const std::vector<std::size_t>& contributors,
                 dtype type = dtype::f32) {
  auto policy = make_policy(replicas, how, type);
  for (auto replica : contributors)
    REQUIRE(policy.contribute(replica, 0, op, operand_of(replica, type)));
  for (std::size_t replica = 0; replica < replicas; ++replica)
    if (std::find(contributors.begin(), contributors.end(), replica) ==
        contributors.end())
      policy.drop_replica(replica);
  REQUIRE(policy.next_step() == 1);
  return policy.value();
}

/// The bytes of elements [offset, offset + count) of `x`.
std::vector<std::byte> range_of(const tensor& x, std::uint64_t offset,
                                std::uint64_t count) {
  auto element = size_of(x.type());
  auto bytes = x.bytes().subspan(offset * element, count * element);
  return {bytes.begin(), bytes.end()};
}

} // namespace

TEST_CASE("a contribution in parts is reduced as its parts arrive, each "
          "range published at once, bit for bit the whole reduce") {
  for (auto how : {aggregation::sum, aggregation::mean, aggregation::min,
                   aggregation::max}) {
    for (auto op : {update_op::add, update_op::subtract}) {
      CAPTURE(to_string(how));
      CAPTURE(to_string(op));
      auto expected = reference(3, how, op, {0, 1, 2});
      auto policy = make_policy(3, how);
      // Replica 1's operand arrives in parts of 300, 300, 400 elements;
      // the others' whole.
      auto parted = operand_of(1);
      REQUIRE(policy.contribute(0, 0, op, operand_of(0)));
      auto first = policy.contribute(1, 0, op, parted, 300);
      REQUIRE(first);
      CHECK(first->empty());
      CHECK(policy.take_parts().empty()); // replica 2 has not contributed
      auto third = policy.contribute(2, 0, op, operand_of(2));
      REQUIRE(third);
      CHECK(third->empty());
      std::vector<published_part> parts = policy.take_parts();
      REQUIRE(parts.size() == 1);
      CHECK(parts[0].offset == 0);
      CHECK(parts[0].count == 300);
      CHECK_FALSE(parts[0].last);
      CHECK(parts[0].version == 1);
      CHECK(parts[0].steps == 1);
      // A part's range holds its final values when it is published.
      CHECK(range_of(parts[0].value, 0, 300) == range_of(expected, 0, 300));
      CHECK(policy.version() == 0); // nothing installed yet
      CHECK(policy.receive_more(1, 0, parted, 600).empty());
      auto second = policy.take_parts();
      REQUIRE(second.size() == 1);
      CHECK(second[0].offset == 300);
      CHECK(second[0].count == 300);
      CHECK(second[0].value.shares_buffer_with(parts[0].value));
      CHECK(range_of(second[0].value, 300, 300) ==
            range_of(expected, 300, 300));
      auto done = policy.receive_more(1, 0, parted, elements);
      auto last = policy.take_parts();
      REQUIRE(last.size() == 1);
      CHECK(last[0].offset == 600);
      CHECK(last[0].count == 400);
      CHECK(last[0].last);
      REQUIRE(done.size() == 1);
      CHECK(done[0].in_parts);
      CHECK(done[0].version == 1);
      CHECK(done[0].value.shares_buffer_with(last[0].value));
      CHECK(done[0].value == expected);
      CHECK(policy.value() == expected);
      CHECK(policy.next_step() == 1);
    }
  }
}

TEST_CASE("integers in parts: the same results as whole") {
  for (auto how : {aggregation::sum, aggregation::mean, aggregation::min,
                   aggregation::max}) {
    CAPTURE(to_string(how));
    auto expected = reference(2, how, update_op::add, {0, 1}, dtype::i64);
    auto policy = make_policy(2, how, dtype::i64);
    auto a = operand_of(0, dtype::i64);
    auto b = operand_of(1, dtype::i64);
    REQUIRE(policy.contribute(0, 0, update_op::add, a, 1));
    REQUIRE(policy.contribute(1, 0, update_op::add, b, 500));
    CHECK(policy.take_parts().size() == 1); // element 0
    CHECK(policy.receive_more(0, 0, a, elements).empty());
    CHECK(policy.take_parts().size() == 1); // up to 500
    auto done = policy.receive_more(1, 0, b, elements);
    REQUIRE(done.size() == 1);
    CHECK(done[0].value == expected);
  }
}

TEST_CASE("whole contributions are published whole, not in parts") {
  auto policy = make_policy(2, aggregation::mean);
  REQUIRE(policy.contribute(0, 0, update_op::add, operand_of(0)));
  auto done = policy.contribute(1, 0, update_op::add, operand_of(1));
  REQUIRE(done);
  REQUIRE(done->size() == 1);
  CHECK_FALSE(done->front().in_parts);
  CHECK(policy.take_parts().empty());
  CHECK(done->front().value ==
        reference(2, aggregation::mean, update_op::add, {0, 1}));
}

TEST_CASE("a replica dropped midway: the reduce starts over with the "
          "survivors (a mean divides by them)") {
  auto expected = reference(3, aggregation::mean, update_op::add, {0, 1});
  auto policy = make_policy(3, aggregation::mean);
  auto parted = operand_of(1);
  REQUIRE(policy.contribute(0, 0, update_op::add, operand_of(0)));
  REQUIRE(policy.contribute(2, 0, update_op::add, operand_of(2)));
  REQUIRE(policy.contribute(1, 0, update_op::add, parted, 400));
  auto before = policy.take_parts();
  REQUIRE(before.size() == 1);
  // Replica 2 dies: the first 400 elements included its operand.
  CHECK(policy.drop_replica(2).empty());
  auto again = policy.take_parts();
  REQUIRE(again.size() == 1);
  CHECK(again[0].offset == 0); // from the start, in a fresh buffer
  CHECK(again[0].count == 400);
  CHECK_FALSE(again[0].value.shares_buffer_with(before[0].value));
  CHECK(range_of(again[0].value, 0, 400) == range_of(expected, 0, 400));
  auto done = policy.receive_more(1, 0, parted, elements);
  REQUIRE(done.size() == 1);
  CHECK(done[0].value == expected);
}

TEST_CASE("a contribution in parts that expired stays withdrawn; later "
          "parts of it change nothing") {
  auto policy = make_policy(2, aggregation::sum);
  auto parted = operand_of(1);
  REQUIRE(policy.contribute(0, 0, update_op::add, operand_of(0)));
  REQUIRE(policy.contribute(1, 0, update_op::add, parted, 100));
  CHECK(policy.take_parts().size() == 1);
  auto err = policy.expire(1, 0);
  REQUIRE(err);
  CHECK(err->code() == errc::timeout);
  CHECK(policy.receive_more(1, 0, parted, elements).empty());
  CHECK(policy.take_parts().empty());
  CHECK(policy.next_step() == 0);
  CHECK(policy.version() == 0);
  // A fresh contribution completes the step, whole, from scratch.
  auto done = policy.contribute(1, 0, update_op::add, operand_of(1));
  REQUIRE(done);
  REQUIRE(done->size() == 1);
  CHECK_FALSE(done->front().in_parts);
  CHECK(done->front().value ==
        reference(2, aggregation::sum, update_op::add, {0, 1}));
}

TEST_CASE("a cross-replica update midway restarts the reduce from the new "
          "value, under the next version number") {
  auto policy = make_policy(2, aggregation::sum);
  auto parted = operand_of(1);
  REQUIRE(policy.contribute(0, 0, update_op::add, operand_of(0)));
  REQUIRE(policy.contribute(1, 0, update_op::add, parted, 500));
  CHECK(policy.take_parts().size() == 1);
  auto bump = *tensor::filled(dtype::f32, {elements}, 2.5);
  auto cross = policy.cross_update(update_op::add, bump);
  REQUIRE(cross);
  CHECK(cross->version == 1);
  // 900 of replica 1's elements: the reduce starts over from offset 0.
  CHECK(policy.receive_more(1, 0, parted, 900).empty());
  auto parts = policy.take_parts();
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].offset == 0);
  CHECK(parts[0].count == 900);
  CHECK(parts[0].version == 2);
  auto done = policy.receive_more(1, 0, parted, elements);
  REQUIRE(done.size() == 1);
  CHECK(done[0].version == 2);
  CHECK(done[0].in_parts);
  // The reference: the cross-replica update first, then the step.
  auto other = make_policy(2, aggregation::sum);
  REQUIRE(other.cross_update(update_op::add, bump));
  REQUIRE(other.contribute(0, 0, update_op::add, operand_of(0)));
  REQUIRE(other.contribute(1, 0, update_op::add, operand_of(1)));
  CHECK(done[0].value == other.value());
}

TEST_CASE("only assign_add and assign_sub arrive in parts; a part in another "
          "buffer or going backwards changes nothing") {
  auto policy = make_policy(2, aggregation::only_first_replica);
  auto refused = policy.contribute(0, 0, update_op::assign, operand_of(0), 10);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == errc::invalid_argument);
  CHECK(refused.error().message().find("in parts") != std::string::npos);
  CHECK(policy.missing(0) == std::vector<std::size_t>{0, 1});
  // only_first_replica is not reduced in ranges: the step waits for the
  // whole operands, then completes whole.
  auto parted = operand_of(0);
  REQUIRE(policy.contribute(0, 0, update_op::add, parted, 10));
  REQUIRE(policy.contribute(1, 0, update_op::add, operand_of(1)));
  CHECK(policy.take_parts().empty());
  CHECK(policy.receive_more(0, 0, operand_of(0), elements).empty());
  CHECK(policy.receive_more(0, 0, parted, 5).empty());
  CHECK(policy.next_step() == 0);
  auto done = policy.receive_more(0, 0, parted, elements);
  REQUIRE(done.size() == 1);
  CHECK_FALSE(done[0].in_parts);
  CHECK(done[0].value ==
        reference(2, aggregation::only_first_replica, update_op::add, {0, 1}));
}
