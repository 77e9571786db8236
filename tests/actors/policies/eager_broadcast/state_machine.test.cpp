// The on_write state machine, driven directly: no actors, no threads.

#include "actors/policies/eager_broadcast/state_machine.hpp"

#include "runtime/core/row_delta.hpp"

#include <doctest/doctest.h>

using namespace varsync;
using varsync::policies::eager_broadcast;

namespace {

eager_broadcast make_policy(std::size_t replicas, aggregation how,
                            double initial = 0.0) {
  return eager_broadcast{{"w", dtype::f64, {}, how, replicas}, tensor(initial)};
}

double scalar_of(const tensor& x) {
  return x.values<double>()[0];
}

} // namespace

TEST_CASE("a step completes only when every replica contributed") {
  for (std::size_t replicas : {1, 2, 4, 8}) {
    CAPTURE(replicas);
    auto policy = make_policy(replicas, aggregation::sum);
    for (std::size_t r = 0; r + 1 < replicas; ++r) {
      auto published = policy.contribute(r, 0, update_op::assign, tensor(2.0));
      REQUIRE(published);
      CHECK(published->empty());
    }
    auto published =
        policy.contribute(replicas - 1, 0, update_op::assign, tensor(2.0));
    REQUIRE(published);
    REQUIRE(published->size() == 1);
    CHECK(published->front().version == 1);
    CHECK(published->front().step == std::optional<std::uint64_t>{0});
    CHECK(scalar_of(published->front().value) == 2.0 * replicas);
    CHECK(policy.next_step() == 1);
  }
}

TEST_CASE("sum, mean and only_first_replica aggregate in replica order") {
  auto run = [](aggregation how) {
    auto policy = make_policy(4, how, 10.0);
    for (std::size_t r = 0; r < 4; ++r)
      REQUIRE(policy.contribute(r, 0, update_op::add,
                                tensor(static_cast<double>(r + 1))));
    return scalar_of(policy.value());
  };
  CHECK(run(aggregation::sum) == 20.0);
  CHECK(run(aggregation::mean) == 12.5);
  CHECK(run(aggregation::only_first_replica) == 11.0);
}

TEST_CASE("later steps are buffered and complete in order") {
  auto policy = make_policy(2, aggregation::sum);
  REQUIRE(policy.contribute(0, 0, update_op::assign, tensor(1.0)));
  REQUIRE(policy.contribute(0, 1, update_op::add, tensor(5.0)));
  REQUIRE(policy.contribute(1, 1, update_op::add, tensor(5.0)));
  CHECK(policy.version() == 0);
  auto published = policy.contribute(1, 0, update_op::assign, tensor(1.0));
  REQUIRE(published);
  REQUIRE(published->size() == 2);
  CHECK((*published)[0].step == std::optional<std::uint64_t>{0});
  CHECK(scalar_of((*published)[0].value) == 2.0);
  CHECK((*published)[1].step == std::optional<std::uint64_t>{1});
  CHECK(scalar_of((*published)[1].value) == 12.0);
  CHECK(policy.version() == 2);
}

TEST_CASE("a contribution with another op than the step's is rejected") {
  auto policy = make_policy(2, aggregation::sum, 3.0);
  REQUIRE(policy.contribute(0, 0, update_op::assign, tensor(1.0)));
  auto rejected = policy.contribute(1, 0, update_op::add, tensor(1.0));
  REQUIRE(!rejected);
  CHECK(rejected.error().code() == errc::collective_mismatch);
  CHECK(rejected.error().message().find("assign_add") != std::string::npos);
  CHECK(policy.missing(0) == std::vector<std::size_t>{1});
  CHECK(scalar_of(policy.value()) == 3.0);
}

TEST_CASE("invalid contributions change nothing") {
  auto policy = make_policy(2, aggregation::sum, 3.0);
  REQUIRE(policy.contribute(0, 0, update_op::assign, tensor(1.0)));
  CHECK(
      policy.contribute(0, 0, update_op::assign, tensor(1.0)).error().code() ==
      errc::invalid_argument);
  CHECK(
      policy.contribute(1, 0, update_op::assign, tensor(1.0f)).error().code() ==
      errc::dtype_mismatch);
  CHECK(policy.contribute(1, 0, update_op::assign, tensor{1.0, 2.0})
            .error()
            .code() == errc::shape_mismatch);
  CHECK(
      policy.contribute(7, 0, update_op::assign, tensor(1.0)).error().code() ==
      errc::invalid_argument);
  CHECK(policy.version() == 0);
  CHECK(scalar_of(policy.value()) == 3.0);
  REQUIRE(policy.contribute(1, 0, update_op::assign, tensor(1.0)));
  CHECK(
      policy.contribute(0, 0, update_op::assign, tensor(1.0)).error().code() ==
      errc::invalid_argument);
}

TEST_CASE("aggregation none is required to be set for more than one replica") {
  auto single = make_policy(1, aggregation::none);
  CHECK(single.contribute(0, 0, update_op::assign, tensor(4.0)));
  CHECK(scalar_of(single.value()) == 4.0);
  auto pair = make_policy(2, aggregation::none);
  auto rejected = pair.contribute(0, 0, update_op::assign, tensor(4.0));
  REQUIRE(!rejected);
  CHECK(rejected.error().code() == errc::aggregation_required);
}

TEST_CASE("a timeout counts the update the way a user counts calls and names "
          "the missing replicas in agreement") {
  auto policy = make_policy(3, aggregation::sum, 1.0);
  for (std::uint64_t step = 0; step < 5; ++step)
    for (std::size_t replica = 0; replica < 3; ++replica)
      REQUIRE(policy.contribute(replica, step, update_op::add, tensor(1.0)));
  REQUIRE(policy.contribute(0, 5, update_op::add, tensor(1.0)));
  auto expired = policy.expire(0, 5);
  REQUIRE(expired);
  CHECK(expired->message() ==
        "variable 'w': the 6th update (step 5) did not complete before "
        "replica 0's deadline; replicas 1, 2 had not contributed; nothing "
        "was applied");
}

TEST_CASE("an expired contribution is withdrawn and names who was missing") {
  auto policy = make_policy(3, aggregation::sum, 1.0);
  REQUIRE(policy.contribute(0, 0, update_op::add, tensor(1.0)));
  REQUIRE(policy.contribute(1, 0, update_op::add, tensor(1.0)));
  auto expired = policy.expire(0, 0);
  REQUIRE(expired);
  CHECK(expired->code() == errc::timeout);
  CHECK(expired->message().find("the 1st update (step 0) did not complete") !=
        std::string::npos);
  CHECK(expired->message().find("; replica 2 had not contributed") !=
        std::string::npos);
  CHECK(policy.missing(0) == std::vector<std::size_t>{0, 2});
  // A second expiry of the same contribution is a no-op.
  CHECK(!policy.expire(0, 0));
  // Replica 0 retries step 0; once replica 2 arrives the step completes
  // with exactly three contributions.
  REQUIRE(policy.contribute(0, 0, update_op::add, tensor(1.0)));
  auto published = policy.contribute(2, 0, update_op::add, tensor(1.0));
  REQUIRE(published);
  REQUIRE(published->size() == 1);
  CHECK(scalar_of(policy.value()) == 4.0);
}

TEST_CASE("expiring a completed step does nothing") {
  auto policy = make_policy(1, aggregation::sum);
  REQUIRE(policy.contribute(0, 0, update_op::add, tensor(1.0)));
  CHECK(!policy.expire(0, 0));
  CHECK(scalar_of(policy.value()) == 1.0);
}

TEST_CASE("dropping a replica finishes its pending step with the survivors") {
  auto policy = make_policy(3, aggregation::mean);
  REQUIRE(policy.contribute(0, 0, update_op::assign, tensor(3.0)));
  REQUIRE(policy.contribute(2, 0, update_op::assign, tensor(5.0)));
  auto published = policy.drop_replica(1);
  REQUIRE(published.size() == 1);
  CHECK(scalar_of(policy.value()) == 4.0);
  CHECK(policy.live_replicas() == 2);
  CHECK(
      policy.contribute(1, 1, update_op::assign, tensor(1.0)).error().code() ==
      errc::invalid_argument);
}

TEST_CASE("the replicas of a lost node are dropped together: the pending "
          "step completes with the survivors only, not with the contribution "
          "one of the lost sent before") {
  // Replicas 2 and 3 share a node; 3 contributed before the node died.
  auto policy = make_policy(4, aggregation::mean);
  REQUIRE(policy.contribute(0, 0, update_op::assign, tensor(2.0)));
  REQUIRE(policy.contribute(1, 0, update_op::assign, tensor(4.0)));
  REQUIRE(policy.contribute(3, 0, update_op::assign, tensor(9.0)));
  auto published = policy.drop_replicas({2, 3});
  REQUIRE(published.size() == 1);
  CHECK(scalar_of(policy.value()) == 3.0); // (2 + 4) / 2; 9 is withdrawn
  CHECK(policy.live_replicas() == 2);
  CHECK(policy.drop_replicas({2, 3}).empty()); // already gone
}

TEST_CASE("a cross-replica update applies once and is not a step") {
  auto policy = make_policy(4, aggregation::sum, 1.0);
  auto published = policy.cross_update(update_op::add, tensor(2.0));
  REQUIRE(published);
  CHECK(!published->step);
  CHECK(published->version == 1);
  CHECK(scalar_of(published->value) == 3.0);
  CHECK(policy.next_step() == 0);
  CHECK(policy.cross_update(update_op::add, tensor(std::int64_t{2}))
            .error()
            .code() == errc::dtype_mismatch);
  CHECK(policy.version() == 1);
}

TEST_CASE("a rejoined replica takes part from the first step nobody "
          "contributed to; earlier steps complete without it") {
  auto policy = make_policy(3, aggregation::sum);
  REQUIRE(policy.contribute(0, 0, update_op::add, tensor(1.0)));
  REQUIRE(policy.contribute(1, 0, update_op::add, tensor(1.0)));
  REQUIRE(policy.contribute(2, 0, update_op::add, tensor(1.0)));
  CHECK(policy.drop_replica(2).empty());
  // Step 1 is under way (replica 0 contributed), step 2 not yet.
  REQUIRE(policy.contribute(0, 1, update_op::add, tensor(1.0)));
  CHECK(policy.add_replica(2) == 2);
  CHECK(policy.live_replicas() == 3);
  // Step 1 completes with the two that were there.
  auto first = policy.contribute(1, 1, update_op::add, tensor(1.0));
  REQUIRE(first);
  REQUIRE(first->size() == 1);
  CHECK(scalar_of(policy.value()) == 5.0);
  // A contribution of the rejoined replica to an earlier step is refused.
  CHECK(policy.contribute(2, 1, update_op::add, tensor(1.0)).error().code() ==
        errc::invalid_argument);
  // Step 2 waits for all three.
  REQUIRE(policy.contribute(0, 2, update_op::add, tensor(1.0)));
  REQUIRE(policy.contribute(1, 2, update_op::add, tensor(1.0)));
  CHECK(policy.missing(2) == std::vector<std::size_t>{2});
  auto second = policy.contribute(2, 2, update_op::add, tensor(1.0));
  REQUIRE(second);
  REQUIRE(second->size() == 1);
  CHECK(scalar_of(policy.value()) == 8.0);
}

TEST_CASE("published versions carry the steps they hold: a step's version "
          "holds it and every earlier one, a cross update the steps so far") {
  auto policy = make_policy(2, aggregation::sum);
  REQUIRE(policy.contribute(0, 0, update_op::add, tensor(1.0)));
  auto step = policy.contribute(1, 0, update_op::add, tensor(1.0));
  REQUIRE(step);
  REQUIRE(step->size() == 1);
  CHECK(step->front().steps == 1);
  auto cross = policy.cross_update(update_op::add, tensor(5.0));
  REQUIRE(cross);
  CHECK(cross->steps == 1);
  CHECK(cross->version == 2);
}

TEST_CASE("a re-created actor continues from the newest version a survivor "
          "holds: the step in flight is committed if that version holds it, "
          "else it is taken again") {
  using varsync::policies::committed_state;
  // Four replicas; replica 3 died with the old actor. Step 4 (version 5)
  // reached replica 0 only: replicas 1 and 2 are still at version 4.
  std::vector<committed_state> held{{0, 5, 5, 5, tensor(50.0)},
                                    {1, 4, 4, 4, tensor(40.0)},
                                    {2, 4, 4, 4, tensor(40.0)}};
  auto policy = eager_broadcast::recovered(
      {"w", dtype::f64, {}, aggregation::sum, 4}, held);
  CHECK(policy.version() == 5);
  CHECK(policy.next_step() == 5);
  CHECK(scalar_of(policy.value()) == 50.0);
  CHECK(policy.live_replicas() == 3);
  // Replicas 1 and 2 had step 4 in flight: it is committed (5 steps), so
  // they go on with step 5, which completes with the three survivors.
  REQUIRE(policy.contribute(0, 5, update_op::add, tensor(1.0)));
  REQUIRE(policy.contribute(1, 5, update_op::add, tensor(1.0)));
  auto published = policy.contribute(2, 5, update_op::add, tensor(1.0));
  REQUIRE(published);
  REQUIRE(published->size() == 1);
  CHECK(published->front().version == 6);
  CHECK(scalar_of(policy.value()) == 53.0);
  // A step nobody's version holds is taken anew (retried): contributions
  // to step 4 now are rejected as already completed.
  CHECK_FALSE(policy.contribute(0, 4, update_op::add, tensor(1.0)));
}

TEST_CASE("a re-created actor keeps a rejoined replica's first step") {
  using varsync::policies::committed_state;
  // Replica 1 rejoined and was told to start at step 7; the others are at
  // step 5 (5 steps committed).
  std::vector<committed_state> held{{0, 5, 5, 5, tensor(5.0)},
                                    {1, 7, 5, 5, tensor(5.0)}};
  auto policy = eager_broadcast::recovered(
      {"w", dtype::f64, {}, aggregation::sum, 2}, held);
  // Steps 5 and 6 complete without replica 1.
  auto five = policy.contribute(0, 5, update_op::add, tensor(1.0));
  REQUIRE(five);
  CHECK(five->size() == 1);
  auto six = policy.contribute(0, 6, update_op::add, tensor(1.0));
  REQUIRE(six);
  CHECK(six->size() == 1);
  // Step 7 waits for it.
  auto seven = policy.contribute(0, 7, update_op::add, tensor(1.0));
  REQUIRE(seven);
  CHECK(seven->empty());
  CHECK(policy.missing(7) == std::vector<std::size_t>{1});
}

TEST_CASE("an assign_rows step publishes the first replica's rows as rows "
          "that set: the same bits as assigning the dense result, a repeated "
          "row ending with its last value, bytes in proportion to the rows") {
  auto table = *tensor::filled(dtype::f32, {1000, 4}, 0.5);
  auto rows = [](std::vector<std::int64_t> indices, float first) {
    auto values = *tensor::uninitialized(
        dtype::f32, {static_cast<std::int64_t>(indices.size()), 4});
    auto out = values.mutable_values<float>();
    for (std::size_t i = 0; i < out.size(); ++i)
      out[i] = first + 0.1f * static_cast<float>(i);
    return pack_rows(indices, values);
  };
  policies::policy_settings settings{
      "t", dtype::f32, {1000, 4}, aggregation::only_first_replica, 3, true};
  eager_broadcast policy{settings, table};
  // Replica 0 sets rows 9, 3 and 9 again; the others' rows do not count.
  auto mine = rows({9, 3, 9}, 1.0f);
  REQUIRE(policy.contribute(1, 0, update_op::assign_rows, rows({5}, 7.0f)));
  REQUIRE(policy.contribute(2, 0, update_op::assign_rows, rows({6}, 8.0f)));
  auto done = policy.contribute(0, 0, update_op::assign_rows, mine);
  REQUIRE(done);
  REQUIRE(done->size() == 1);
  const auto& published = done->front();
  CHECK(published.rows);
  CHECK(packed_row_count(published.value) == 3);
  CHECK(published.value.bytes().size() == 3 * (2 + 4) * sizeof(float));
  // The dense reference: the rows written one after the other.
  auto reference = apply(update_op::assign_rows, table, mine);
  auto installed = table;
  add_packed_rows_into(installed, published.value);
  CHECK(installed == reference);
  auto row9 = reference.values<float>().subspan(9 * 4, 4);
  CHECK(row9[0] == 1.0f + 0.1f * 8); // the last of row 9's two values
  CHECK(reference.values<float>()[5 * 4] == 0.5f); // replica 1's row: kept
  SUBCASE("a replica's install check takes rows that set, a contribution's "
          "does not") {
    CHECK(check_packed_rows(published.value, dtype::f32, {1000, 4}, "t",
                            packed_rows::may_set));
    CHECK_FALSE(check_packed_rows(published.value, dtype::f32, {1000, 4}, "t"));
  }
  SUBCASE("sum or mean refuse it, naming the rule") {
    for (auto how : {aggregation::sum, aggregation::mean}) {
      auto summing = settings;
      summing.how = how;
      eager_broadcast refusing{summing, table};
      auto refused = refusing.contribute(0, 0, update_op::assign_rows, mine);
      REQUIRE_FALSE(refused);
      CHECK(refused.error().code() == errc::wrong_context);
    }
  }
}

TEST_CASE("a cross-replica row update publishes rows: repeats summed as the "
          "dense delta sums them, the same bits as the dense update, bytes "
          "in proportion to the rows, and bad rows change nothing") {
  // Values that round: the order of the additions shows in the bits.
  auto table = *tensor::filled(dtype::f32, {1000, 4}, 0.1f);
  std::vector<std::int64_t> indices{7, 2, 7, 7};
  auto values = *tensor::uninitialized(dtype::f32, {4, 4});
  for (std::size_t i = 0; i < 16; ++i)
    values.mutable_values<float>()[i] = 0.3f + 0.7f * static_cast<float>(i);
  auto packed = pack_rows(indices, values);
  policies::policy_settings settings{
      "t", dtype::f32, {1000, 4}, aggregation::mean, 2, true};
  eager_broadcast policy{settings, table};

  SUBCASE("assign_add_rows") {
    // The dense reference, built here: the delta's row 7 sums its three
    // repeats from zero, then the table adds the delta.
    auto delta = *tensor::filled(dtype::f32, {1000, 4}, 0.0f);
    for (std::size_t i = 0; i < indices.size(); ++i)
      for (std::size_t j = 0; j < 4; ++j)
        delta.mutable_values<float>()[static_cast<std::size_t>(indices[i]) * 4 +
                                      j] += values.values<float>()[i * 4 + j];
    auto reference = apply(update_op::add, table, delta);
    auto published = policy.cross_update(update_op::add_rows, packed);
    REQUIRE(published);
    CHECK(published->rows);
    CHECK(published->version == 1);
    CHECK_FALSE(published->step);
    CHECK(packed_row_count(published->value) == 2); // rows 7 and 2
    CHECK(published->value.bytes().size() == 2 * (2 + 4) * sizeof(float));
    CHECK(policy.value() == reference);
    auto installed = table;
    add_packed_rows_into(installed, published->value);
    CHECK(installed == reference);
    // Adding the repeats one by one would round differently: the test
    // tells the two apart.
    auto one_by_one = table;
    add_packed_rows_into(one_by_one, packed);
    CHECK_FALSE(one_by_one == reference);
  }
  SUBCASE("assign_rows: a repeated row ends with its last value") {
    auto reference = apply(update_op::assign_rows, table, packed);
    auto published = policy.cross_update(update_op::assign_rows, packed);
    REQUIRE(published);
    CHECK(published->rows);
    CHECK(packed_row_count(published->value) == 4);
    CHECK(policy.value() == reference);
    auto installed = table;
    add_packed_rows_into(installed, published->value);
    CHECK(installed == reference);
    CHECK(reference.values<float>()[7 * 4] == values.values<float>()[3 * 4]);
  }
  SUBCASE("an index out of range is refused, naming it; nothing changes") {
    auto bad = pack_rows(std::vector<std::int64_t>{3, 1000},
                         *tensor::filled(dtype::f32, {2, 4}, 1.0f));
    auto refused = policy.cross_update(update_op::add_rows, bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code() == errc::invalid_argument);
    CHECK(refused.error().message().find("1000") != std::string::npos);
    CHECK(policy.version() == 0);
    CHECK(policy.value() == table);
    CHECK_FALSE(policy.cross_update(update_op::add_rows, values));
    CHECK(policy.version() == 0);
  }
}
