// The variable actor with real replica actors: the on_write collective,
// its deadline, and the on_read gather, through messages only.

#include "actors/variable_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/cluster_protocol.hpp"
#include "actors/policies/eager_broadcast/interface.hpp"
#include "actors/replica_actor.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/core/row_delta.hpp"
#include "runtime/transport/bulk_plane.hpp"
#include "tests/support/test_secret.hpp"

#include <doctest/doctest.h>
#include <thread>

using namespace varsync;
using namespace std::chrono_literals;

namespace {

struct cluster {
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::shared_ptr<actor_counters> counters = std::make_shared<actor_counters>();
  std::vector<std::shared_ptr<local_store>> stores;
  std::vector<caf::actor> replicas;
  caf::actor variable;

  cluster(std::size_t size, synchronization sync, aggregation how,
          tensor initial, std::shared_ptr<bulk_plane> bulk = nullptr) {
    configure_caf(config, runtime_options{});
    system = std::make_unique<caf::actor_system>(config);
    for (std::size_t i = 0; i < size; ++i) {
      stores.push_back(std::make_shared<local_store>());
      replicas.push_back(
          spawn_replica_actor(*system, i, stores.back(), counters));
    }
    variable_options options;
    options.sync = sync;
    options.aggregation = how;
    variable = spawn_variable_actor(*system, variable_spec{5,
                                                           "v",
                                                           initial.type(),
                                                           initial.shape(),
                                                           options,
                                                           replicas,
                                                           initial,
                                                           counters,
                                                           bulk,
                                                           false,
                                                           {}});
    REQUIRE(ask<ok_atom>(variable, attach_atom::value));
  }

  ~cluster() {
    for (auto& actor : replicas)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(variable, caf::exit_reason::user_shutdown);
  }

  template <class Reply, class... Ts>
  expected<Reply> ask(const caf::actor& target, Ts... xs) {
    caf::scoped_actor self{*system};
    std::optional<expected<Reply>> result;
    self->request(target, 10s, xs...)
        .receive([&](Reply& reply) { result.emplace(std::move(reply)); },
                 [&](caf::error& err) {
                   result.emplace(from_caf_error(err, "test"));
                 });
    return std::move(*result);
  }

  /// Sends a replica-context update from every replica concurrently (one
  /// thread each, as worker loops do) and returns the results by index.
  std::vector<expected<ok_atom>> update_all(update_op op,
                                            const std::vector<tensor>& operands,
                                            std::int64_t timeout_ms = 5000) {
    std::vector<std::optional<expected<ok_atom>>> results(replicas.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < replicas.size(); ++i)
      threads.emplace_back([&, i] {
        results[i].emplace(ask<ok_atom>(replicas[i], update_atom::value,
                                        variable_id{5}, std::uint64_t{0},
                                        to_wire(op), operands[i], timeout_ms));
      });
    for (auto& thread : threads)
      thread.join();
    std::vector<expected<ok_atom>> flat;
    for (auto& result : results)
      flat.push_back(std::move(*result));
    return flat;
  }
};

} // namespace

TEST_CASE("attach installs the initial value at every replica") {
  cluster c{3, synchronization::on_write, aggregation::sum, tensor(1.0)};
  for (auto& store : c.stores)
    CHECK(store->find(5)->load()->value == tensor(1.0));
}

TEST_CASE("an on_write step installs the aggregate at every replica first") {
  for (std::size_t size : {1, 2, 4, 8}) {
    CAPTURE(size);
    cluster c{size, synchronization::on_write, aggregation::mean, tensor(0.0)};
    std::vector<tensor> operands;
    for (std::size_t i = 0; i < size; ++i)
      operands.emplace_back(static_cast<double>(i));
    for (auto& result : c.update_all(update_op::assign, operands))
      CHECK(result);
    // Each reply came after the install at that replica: every copy holds
    // version 1 with the mean of 0 .. size-1.
    auto expected_mean = static_cast<double>(size - 1) / 2.0;
    for (auto& store : c.stores) {
      auto installed = store->find(5)->load();
      CHECK(installed->version == 1);
      CHECK(installed->value == tensor(expected_mean));
    }
  }
}

TEST_CASE("a step missing a replica times out, names it and applies nothing") {
  cluster c{3, synchronization::on_write, aggregation::sum, tensor(1.0)};
  std::vector<std::optional<expected<ok_atom>>> results(2);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < 2; ++i)
    threads.emplace_back([&, i] {
      results[i].emplace(c.ask<ok_atom>(
          c.replicas[i], update_atom::value, variable_id{5}, std::uint64_t{0},
          to_wire(update_op::add), tensor(1.0), std::int64_t{150}));
    });
  for (auto& thread : threads)
    thread.join();
  for (auto& result : results) {
    REQUIRE(!*result);
    CHECK(result->error().code() == errc::timeout);
    CHECK(result->error().message().find("replica 2 had not contributed") !=
          std::string::npos);
  }
  for (auto& store : c.stores)
    CHECK(store->find(5)->load()->value == tensor(1.0));
  // The group is not wedged: the next full step succeeds and counts once.
  for (auto& result :
       c.update_all(update_op::add, {tensor(1.0), tensor(1.0), tensor(1.0)}))
    CHECK(result);
  for (auto& store : c.stores)
    CHECK(store->find(5)->load()->value == tensor(4.0));
}

TEST_CASE("mixed ops in one step are refused for the late replica") {
  cluster c{2, synchronization::on_write, aggregation::sum, tensor(1.0)};
  // Replica 0 assigns, replica 1 adds, racing: whichever arrives second is
  // refused at once with collective_mismatch; it then retries with the
  // first one's op, which completes the step.
  const update_op ops[] = {update_op::assign, update_op::add};
  std::vector<std::optional<expected<ok_atom>>> results(2);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < 2; ++i)
    threads.emplace_back([&, i] {
      results[i].emplace(c.ask<ok_atom>(
          c.replicas[i], update_atom::value, variable_id{5}, std::uint64_t{0},
          to_wire(ops[i]), tensor(2.0), std::int64_t{5000}));
      if (!*results[i]) {
        CHECK(results[i]->error().code() == errc::collective_mismatch);
        results[i].emplace(c.ask<ok_atom>(
            c.replicas[i], update_atom::value, variable_id{5}, std::uint64_t{0},
            to_wire(ops[1 - i]), tensor(2.0), std::int64_t{5000}));
      }
    });
  for (auto& thread : threads)
    thread.join();
  CHECK(*results[0]);
  CHECK(*results[1]);
  auto value = c.stores[0]->find(5)->load()->value;
  // Both assigned (sum 4) or both added (1 + 2 + 2).
  CHECK((value == tensor(4.0) || value == tensor(5.0)));
  CHECK(c.stores[1]->find(5)->load()->value == value);
  CHECK(c.stores[0]->find(5)->load()->version == 1);
}

TEST_CASE("an on_read cross-replica read gathers and aggregates every copy") {
  cluster c{4, synchronization::on_read, aggregation::sum, tensor(0.0)};
  for (std::size_t i = 0; i < 4; ++i)
    c.stores[i]->find(5)->update(update_op::assign,
                                 tensor(static_cast<double>(i)));
  auto sum = c.ask<tensor>(c.variable, read_atom::value, std::int64_t{1000});
  REQUIRE(sum);
  CHECK(*sum == tensor(6.0));
  REQUIRE(c.ask<ok_atom>(c.variable, cross_update_atom::value,
                         to_wire(update_op::assign), tensor(8.0),
                         std::int64_t{1000}));
  for (auto& store : c.stores)
    CHECK(store->find(5)->load()->value == tensor(2.0));
}

TEST_CASE("a none variable refuses cross-replica calls") {
  cluster c{2, synchronization::none, aggregation::none, tensor(0.0)};
  auto read = c.ask<tensor>(c.variable, read_atom::value, std::int64_t{1000});
  REQUIRE(!read);
  CHECK(read.error().code() == errc::wrong_context);
}

TEST_CASE(
    "a malformed cross-replica request is refused and the actor serves on") {
  cluster c{2, synchronization::on_write, aggregation::sum, tensor(0.0)};
  auto bad = c.ask<ok_atom>(c.variable, cross_update_atom::value,
                            std::uint8_t{200}, tensor(1.0), std::int64_t{1000});
  REQUIRE(!bad);
  CHECK(bad.error().code() == errc::invalid_argument);
  auto wrong =
      c.ask<ok_atom>(c.variable, cross_update_atom::value,
                     to_wire(update_op::add), tensor(1.0f), std::int64_t{1000});
  REQUIRE(!wrong);
  CHECK(wrong.error().code() == errc::dtype_mismatch);
  REQUIRE(c.ask<ok_atom>(c.variable, cross_update_atom::value,
                         to_wire(update_op::add), tensor(1.0),
                         std::int64_t{1000}));
  for (auto& store : c.stores)
    CHECK(store->find(5)->load()->value == tensor(1.0));
}

TEST_CASE("a variable actor whose policy has no row refuses every request "
          "with invalid_policy instead of acting as on_write") {
  caf::actor_system_config config;
  configure_caf(config, runtime_options{});
  caf::actor_system system{config};
  auto counters = std::make_shared<actor_counters>();
  variable_options options;
  options.sync = synchronization::automatic; // never resolved
  tensor initial(0.0);
  auto variable = spawn_variable_actor(system, variable_spec{9,
                                                             "unresolved",
                                                             initial.type(),
                                                             initial.shape(),
                                                             options,
                                                             {},
                                                             initial,
                                                             counters,
                                                             nullptr,
                                                             false,
                                                             {}});
  caf::scoped_actor self{system};
  auto code_of = [&](auto... xs) {
    std::optional<errc> code;
    self->request(variable, 5s, xs...)
        .receive([&](caf::message&) { code = errc{}; },
                 [&](caf::error& err) {
                   code = from_caf_error(err, "test").code();
                 });
    return code;
  };
  CHECK(code_of(attach_atom::value) == errc::invalid_policy);
  CHECK(code_of(read_atom::value, std::int64_t{100}) == errc::invalid_policy);
  CHECK(code_of(cross_update_atom::value, to_wire(update_op::add), tensor(1.0),
                std::int64_t{100}) == errc::invalid_policy);
  CHECK(code_of(status_atom::value) == errc::invalid_policy);
  caf::anon_send_exit(variable, caf::exit_reason::user_shutdown);
}

TEST_CASE("a contributor's short deadline holds while a longer one of the "
          "same step is pending") {
  // One alarm guards every contributor: the second, earlier deadline must
  // arm it again, not wait for the first.
  cluster c{3, synchronization::on_write, aggregation::sum, tensor(1.0)};
  auto update = [&](std::size_t replica, std::int64_t timeout_ms) {
    return c.ask<ok_atom>(c.replicas[replica], update_atom::value,
                          variable_id{5}, std::uint64_t{0},
                          to_wire(update_op::add), tensor(1.0), timeout_ms);
  };
  auto handled_before = c.counters->messages.load();
  std::atomic<bool> patient_done{false};
  std::optional<expected<ok_atom>> patient;
  std::thread first{[&] {
    patient.emplace(update(0, 8000));
    patient_done = true;
  }};
  // Let the variable actor record the patient contribution first: two
  // messages counted (the replica's update, the variable's contribution;
  // the counters are shared).
  auto give_up = std::chrono::steady_clock::now() + 5s;
  while (c.counters->messages.load() < handled_before + 2 &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::yield();
  REQUIRE(c.counters->messages.load() >= handled_before + 2);
  auto hasty = update(1, 100);
  REQUIRE(!hasty);
  CHECK(hasty.error().code() == errc::timeout);
  CHECK_FALSE(patient_done.load());
  // The patient one completes once the others contribute.
  std::thread second{[&] { CHECK(update(1, 8000)); }};
  std::thread third{[&] { CHECK(update(2, 8000)); }};
  second.join();
  third.join();
  first.join();
  REQUIRE(patient);
  CHECK(*patient);
  for (auto& store : c.stores)
    CHECK(store->find(5)->load()->value == tensor(4.0));
}

TEST_CASE("a bulk contribution is refused unless the named replica sent it "
          "from its own node; a refused one takes no replica's place in the "
          "step") {
  auto plane = bulk_plane::listen("127.0.0.1", test::test_secret());
  REQUIRE(plane);
  cluster c{2, synchronization::on_write, aggregation::sum, tensor(1.0),
            *plane};
  caf::scoped_actor attacker{*c.system};
  auto this_node = caf::to_string(c.system->node());
  SUBCASE("from an actor that is not the named replica") {
    // Step 0 for replica 0, from an actor that is not replica 0 (as a
    // forged frame on the bulk plane would arrive), on a connection that
    // does not exist: refused before it counts.
    attacker->send(c.variable, bulk_contribute_atom::value, std::uint64_t{999},
                   this_node, std::uint64_t{attacker->id()}, std::uint64_t{0},
                   std::uint64_t{0}, to_wire(update_op::add), tensor(-1e6),
                   std::int64_t{5000}, std::uint64_t{1}, std::uint64_t{0},
                   std::uint64_t{1});
  }
  SUBCASE("naming the replica's actor, from a connection of another node") {
    attacker->send(c.variable, bulk_contribute_atom::value, std::uint64_t{999},
                   std::string{"another-node"},
                   std::uint64_t{c.replicas[0].id()}, std::uint64_t{0},
                   std::uint64_t{0}, to_wire(update_op::add), tensor(-1e6),
                   std::int64_t{5000}, std::uint64_t{1}, std::uint64_t{0},
                   std::uint64_t{1});
  }
  SUBCASE("a later part of a contribution nobody started") {
    // A part beyond the first counts only for an accepted contribution
    // from the same connection and actor: this one changes nothing.
    attacker->send(c.variable, bulk_contribute_atom::value, std::uint64_t{999},
                   this_node, std::uint64_t{c.replicas[0].id()},
                   std::uint64_t{0}, std::uint64_t{0}, to_wire(update_op::add),
                   tensor(-1e6), std::int64_t{5000}, std::uint64_t{1},
                   std::uint64_t{1}, std::uint64_t{1});
  }
  // The real step 0 completes with both real contributions.
  for (auto& result : c.update_all(update_op::add, {tensor(2.0), tensor(3.0)}))
    CHECK(result);
  for (auto& store : c.stores)
    CHECK(store->find(5)->load()->value == tensor(6.0));
  (*plane)->stop();
}

namespace {

/// Kills replica `index` of `c` and has the variable actor take a fresh
/// replica actor (with a store of its own) back in its place; returns the
/// rejoin's outcome and the new replica's store. Retries while the variable
/// has not seen the loss yet (bounded: 5 s).
std::pair<expected<ok_atom>, std::shared_ptr<local_store>>
kill_and_rejoin(cluster& c, std::size_t index) {
  caf::anon_send_exit(c.replicas[index], caf::exit_reason::kill);
  auto store = std::make_shared<local_store>();
  auto fresh = spawn_replica_actor(*c.system, index, store, c.counters);
  c.replicas[index] = fresh;
  auto give_up = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto joined = c.ask<ok_atom>(c.variable, rejoin_atom::value,
                                 std::uint64_t{index}, fresh);
    if (joined || joined.error().code() != errc::already_exists ||
        std::chrono::steady_clock::now() > give_up)
      return {joined, store};
    std::this_thread::yield(); // the DOWN message is on its way
  }
}

} // namespace

TEST_CASE("on_read: a rejoined replica's copy leaves the cross-replica read "
          "unchanged (sum: 0, mean and only_first_replica: the survivors' "
          "aggregate)") {
  struct expectation {
    aggregation how;
    double read_after;
    double fresh_copy;
  };
  // Copies 2, 4, 6; replica 0 is lost: survivors 4 and 6.
  for (auto [how, read_after, fresh_copy] :
       {expectation{aggregation::sum, 10.0, 0.0},
        expectation{aggregation::mean, 5.0, 5.0},
        expectation{aggregation::only_first_replica, 4.0, 4.0}}) {
    CAPTURE(to_string(how));
    cluster c{3, synchronization::on_read, how, tensor(0.0)};
    for (std::size_t i = 0; i < 3; ++i)
      REQUIRE(c.ask<ok_atom>(c.replicas[i], copy_set_atom::value,
                             variable_id{5}, to_wire(update_op::assign),
                             tensor(2.0 * static_cast<double>(i + 1))));
    auto [joined, store] = kill_and_rejoin(c, 0);
    REQUIRE_MESSAGE(joined, (joined ? "" : joined.error().to_string()));
    auto copy =
        c.ask<tensor>(c.replicas[0], copy_get_atom::value, variable_id{5});
    REQUIRE(copy);
    CHECK(*copy == tensor(fresh_copy));
    auto read = c.ask<tensor>(c.variable, read_atom::value, std::int64_t{5000});
    REQUIRE(read);
    CHECK(*read == tensor(read_after));
  }
}

TEST_CASE("on_write: a rejoined replica holds the current version and takes "
          "part in the next step, also before this actor saw the loss") {
  cluster c{3, synchronization::on_write, aggregation::sum, tensor(1.0)};
  for (auto& result :
       c.update_all(update_op::add, {tensor(1.0), tensor(2.0), tensor(3.0)}))
    REQUIRE(result);
  auto [joined, store] = kill_and_rejoin(c, 2);
  REQUIRE_MESSAGE(joined, (joined ? "" : joined.error().to_string()));
  auto installed = store->find(5)->load();
  CHECK(installed->version == 1);
  CHECK(installed->value == tensor(7.0));
  // The next step needs all three, the rejoined one included.
  for (auto& result :
       c.update_all(update_op::add, {tensor(1.0), tensor(1.0), tensor(1.0)}))
    CHECK(result);
  CHECK(store->find(5)->load()->value == tensor(10.0));
  CHECK(c.stores[0]->find(5)->load()->value == tensor(10.0));
  // The directory sends a rejoin only for an index it saw lost; when this
  // actor has not seen that loss yet, the old replica is dropped first and
  // the new one takes its place: the next step needs the new one.
  auto other_store = std::make_shared<local_store>();
  auto other = spawn_replica_actor(*c.system, 1, other_store, c.counters);
  auto replaced =
      c.ask<ok_atom>(c.variable, rejoin_atom::value, std::uint64_t{1}, other);
  REQUIRE_MESSAGE(replaced, (replaced ? "" : replaced.error().to_string()));
  c.replicas[1] = other;
  for (auto& result :
       c.update_all(update_op::add, {tensor(1.0), tensor(1.0), tensor(1.0)}))
    CHECK(result);
  CHECK(other_store->find(5)->load()->value == tensor(13.0));
}

TEST_CASE("none: a rejoined replica's copy starts at the initial value") {
  cluster c{2, synchronization::none, aggregation::none, tensor(3.0)};
  auto [joined, store] = kill_and_rejoin(c, 1);
  REQUIRE_MESSAGE(joined, (joined ? "" : joined.error().to_string()));
  CHECK(store->find(5)->load()->value == tensor(3.0));
}

TEST_CASE("a cross-replica row update of an on_write variable reaches every "
          "replica as rows; other policies refuse the row ops") {
  auto table = *tensor::filled(dtype::f64, {50, 3}, 1.0);
  cluster c{3, synchronization::on_write, aggregation::sum, table};
  std::vector<std::int64_t> rows{4, 49, 4};
  auto values = *tensor::filled(dtype::f64, {3, 3}, 2.0);
  REQUIRE(c.ask<ok_atom>(c.variable, cross_update_atom::value,
                         to_wire(update_op::add_rows), pack_rows(rows, values),
                         std::int64_t{1000}));
  auto want = table;
  for (auto row : rows)
    for (std::size_t j = 0; j < 3; ++j)
      want.mutable_values<double>()[static_cast<std::size_t>(row) * 3 + j] +=
          2.0;
  // Acknowledged: every replica holds the version (no earlier version was
  // in flight, so each installed the rows on receipt).
  for (auto& store : c.stores) {
    auto held = store->find(5)->load();
    CHECK(held->version == 1);
    CHECK(held->value == want);
  }
  auto bad = c.ask<ok_atom>(c.variable, cross_update_atom::value,
                            to_wire(update_op::add_rows),
                            pack_rows(std::vector<std::int64_t>{50},
                                      *tensor::filled(dtype::f64, {1, 3}, 1.0)),
                            std::int64_t{1000});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == errc::invalid_argument);
  REQUIRE(c.ask<ok_atom>(
      c.variable, cross_update_atom::value, to_wire(update_op::assign_rows),
      pack_rows(std::vector<std::int64_t>{49}, values.row_slice(0, 1)),
      std::int64_t{1000}));
  want.mutable_values<double>()[49 * 3] = 2.0;
  want.mutable_values<double>()[49 * 3 + 1] = 2.0;
  want.mutable_values<double>()[49 * 3 + 2] = 2.0;
  for (auto& store : c.stores) {
    auto held = store->find(5)->load();
    CHECK(held->version == 2);
    CHECK(held->value == want);
  }

  // Rows read: the version and only the rows asked for.
  caf::scoped_actor self{*c.system};
  auto indices_of = [](std::vector<std::int64_t> rows, shape_type shape) {
    return *tensor::from_values<std::int64_t>(rows, std::move(shape));
  };
  auto read_rows = [&](tensor indices) {
    std::optional<expected<std::pair<std::uint64_t, tensor>>> result;
    self->request(c.variable, 10s, read_rows_atom::value, std::move(indices),
                  std::int64_t{1000})
        .receive(
            [&](std::uint64_t version, tensor& rows) {
              result.emplace(std::pair{version, std::move(rows)});
            },
            [&](caf::error& err) {
              result.emplace(from_caf_error(err, "test"));
            });
    return std::move(*result);
  };
  auto got = read_rows(indices_of({49, 4, 49}, {3}));
  REQUIRE(got);
  CHECK(got->first == 2);
  REQUIRE(got->second.shape() == shape_type{3, 3});
  CHECK(got->second.template values<double>()[0] == 2.0);
  CHECK(got->second.template values<double>()[3] == 5.0);
  CHECK(got->second.template values<double>()[6] == 2.0);
  // Malformed row lists from the network: refused, naming what was wrong.
  auto out_of_range = read_rows(indices_of({50}, {1}));
  REQUIRE_FALSE(out_of_range);
  CHECK(out_of_range.error().code() == errc::invalid_argument);
  CHECK(out_of_range.error().message().find("50") != std::string::npos);
  CHECK_FALSE(read_rows(tensor(1.0)));
  CHECK_FALSE(read_rows(indices_of({1, 2}, {1, 2})));

  // on_read with sum refuses a cross-replica add (of rows too), as TF.
  cluster on_read{2, synchronization::on_read, aggregation::sum, table};
  auto refused = on_read.ask<ok_atom>(
      on_read.variable, cross_update_atom::value, to_wire(update_op::add_rows),
      pack_rows(rows, values), std::int64_t{1000});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code() == errc::wrong_context);
}

TEST_CASE("on_read: a cross-replica row update adds the rows to every copy, "
          "a read of rows aggregates just those rows, and a replica refuses "
          "forged rows with nothing applied") {
  auto table = *tensor::filled(dtype::f64, {20, 2}, 0.0);
  cluster c{2, synchronization::on_read, aggregation::mean, table};
  // Copies that differ: replica 1's copy holds 4 in row 3.
  auto second = table;
  second.mutable_values<double>()[3 * 2] = 4.0;
  c.stores[1]->find(5)->update(update_op::assign, second);
  std::vector<std::int64_t> rows{3, 3, 11};
  auto values = *tensor::filled(dtype::f64, {3, 2}, 1.5);
  REQUIRE(c.ask<ok_atom>(c.variable, cross_update_atom::value,
                         to_wire(update_op::add_rows), pack_rows(rows, values),
                         std::int64_t{1000}));
  CHECK(c.stores[0]->find(5)->load()->value.values<double>()[3 * 2] == 3.0);
  CHECK(c.stores[1]->find(5)->load()->value.values<double>()[3 * 2] == 7.0);
  CHECK(c.stores[1]->find(5)->load()->value.values<double>()[11 * 2 + 1] ==
        1.5);
  caf::scoped_actor self{*c.system};
  std::optional<tensor> picked;
  self->request(c.variable, 10s, read_rows_atom::value,
                *tensor::from_values<std::int64_t>(
                    std::vector<std::int64_t>{3, 0}, shape_type{2}),
                std::int64_t{1000})
      .receive([&](std::uint64_t, tensor& got) { picked = std::move(got); },
               [&](caf::error& err) {
                 FAIL(from_caf_error(err, "test").to_string());
               });
  REQUIRE(picked);
  REQUIRE(picked->shape() == shape_type{2, 2});
  CHECK(picked->values<double>()[0] == 5.0); // mean of 3 and 7
  CHECK(picked->values<double>()[2] == 0.0);
  // A forged copy_set of rows out of range: refused, the copy unchanged.
  auto before = c.stores[0]->find(5)->load();
  auto forged =
      c.ask<ok_atom>(c.replicas[0], copy_set_atom::value, variable_id{5},
                     to_wire(update_op::add_rows),
                     pack_rows(std::vector<std::int64_t>{20},
                               *tensor::filled(dtype::f64, {1, 2}, 1.0)));
  REQUIRE_FALSE(forged);
  CHECK(forged.error().code() == errc::invalid_argument);
  CHECK(c.stores[0]->find(5)->load() == before);
  auto rows_forged = c.ask<tensor>(c.replicas[0], copy_rows_atom::value,
                                   variable_id{5}, tensor(1.0));
  REQUIRE_FALSE(rows_forged);
  CHECK(rows_forged.error().code() == errc::invalid_argument);
}
