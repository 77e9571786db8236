// The replica actor in a real actor system, talked to by a scoped actor.

#include "actors/replica_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/bounded_staleness/interface.hpp"
#include "actors/policies/eager_broadcast/interface.hpp"
#include "actors/protocol.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/core/row_delta.hpp"

#include <atomic>
#include <doctest/doctest.h>
#include <memory>
#include <thread>
#include <vector>

using namespace varsync;
using namespace std::chrono_literals;

namespace {

struct fixture {
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::shared_ptr<local_store> store = std::make_shared<local_store>();
  std::shared_ptr<actor_counters> counters = std::make_shared<actor_counters>();
  caf::actor replica;

  fixture() {
    configure_caf(config, runtime_options{});
    system = std::make_unique<caf::actor_system>(config);
    replica = spawn_replica_actor(*system, 3, store, counters);
  }

  ~fixture() { caf::anon_send_exit(replica, caf::exit_reason::user_shutdown); }

  /// Attaches an on_write variable `id` holding `initial` whose actor is
  /// `variable` (none by default); the replica answers with its clock.
  expected<std::uint64_t> attach(variable_id id, tensor initial,
                                 caf::actor variable = {}) {
    variable_options options;
    options.sync = synchronization::on_write;
    return ask<std::uint64_t>(attach_atom::value, id, std::string{"v"},
                              variable, initial, options, std::uint64_t{1},
                              std::string{}, std::uint16_t{0});
  }

  /// Attaches bounded_staleness variable `id` (bound 0) of a group of
  /// `replicas` whose variable actor never answers (a null actor: pushes
  /// go nowhere, no refresh ever comes).
  expected<std::uint64_t> attach_silent_ssp(variable_id id,
                                            std::uint64_t replicas) {
    variable_options options;
    options.sync = synchronization::bounded_staleness;
    options.aggregation = aggregation::sum;
    options.staleness_bound = 0;
    return ask<std::uint64_t>(attach_atom::value, id, std::string{"later"},
                              caf::actor{}, tensor(0.0), options, replicas,
                              std::string{}, std::uint16_t{0});
  }

  /// Row `row` += `add` of a [n, 2] f64 table, as an on_write row step's
  /// packed delta.
  static tensor row_step(std::int64_t row, double add) {
    std::vector<std::int64_t> rows{row};
    return pack_rows(rows, *tensor::filled(dtype::f64, {1, 2}, add));
  }

  /// Sends a request and returns the reply or the error.
  template <class Reply, class... Ts> expected<Reply> ask(Ts... xs) {
    caf::scoped_actor self{*system};
    std::optional<expected<Reply>> result;
    self->request(replica, 5s, xs...)
        .receive([&](Reply& reply) { result.emplace(std::move(reply)); },
                 [&](caf::error& err) {
                   result.emplace(from_caf_error(err, "test"));
                 });
    return std::move(*result);
  }
};

} // namespace

TEST_CASE_FIXTURE(fixture,
                  "attach creates the local copy with the initial value") {
  CHECK(store->find(7) == nullptr);
  REQUIRE(attach(7, tensor(1.5)));
  auto slot = store->find(7);
  REQUIRE(slot != nullptr);
  CHECK(slot->load()->value == tensor(1.5));
  CHECK(slot->load()->version == 0);
}

TEST_CASE_FIXTURE(fixture,
                  "install keeps the newest version and ignores older ones") {
  REQUIRE(attach(1, tensor(0.0)));
  caf::scoped_actor self{*system};
  self->send(replica, install_atom::value, variable_id{1}, std::uint64_t{2},
             std::uint64_t{2}, tensor(2.0));
  self->send(replica, install_atom::value, variable_id{1}, std::uint64_t{1},
             std::uint64_t{1}, tensor(1.0));
  // copy_get is handled after both installs (same sender, FIFO).
  auto copy = ask<tensor>(copy_get_atom::value, variable_id{1});
  REQUIRE(copy);
  CHECK(*copy == tensor(2.0));
  CHECK(store->find(1)->load()->version == 2);
}

TEST_CASE_FIXTURE(fixture,
                  "row steps that arrive before the version they follow wait "
                  "for it; a row step that does not fit is dropped") {
  REQUIRE(attach(1, *tensor::filled(dtype::f64, {4, 2}, 0)));
  caf::scoped_actor self{*system};
  // Versions 2 and 3 as row deltas before version 1 (a whole install on
  // another channel), then an out-of-range row and a wrong-width delta.
  self->send(replica, install_rows_atom::value, variable_id{1},
             std::uint64_t{2}, std::uint64_t{2}, row_step(1, 5));
  self->send(replica, install_rows_atom::value, variable_id{1},
             std::uint64_t{3}, std::uint64_t{3}, row_step(2, 1));
  self->send(replica, install_rows_atom::value, variable_id{1},
             std::uint64_t{5}, std::uint64_t{5}, row_step(9, 1));
  self->send(replica, install_rows_atom::value, variable_id{1},
             std::uint64_t{4}, std::uint64_t{4},
             *tensor::filled(dtype::f64, {1, 7}, 1));
  auto early = ask<tensor>(copy_get_atom::value, variable_id{1});
  REQUIRE(early);
  CHECK(store->find(1)->load()->version == 0); // nothing to add them to
  self->send(replica, install_atom::value, variable_id{1}, std::uint64_t{1},
             std::uint64_t{1}, *tensor::filled(dtype::f64, {4, 2}, 1));
  auto copy = ask<tensor>(copy_get_atom::value, variable_id{1});
  REQUIRE(copy);
  CHECK(store->find(1)->load()->version == 3);
  std::vector<double> want{1, 1, 6, 6, 2, 2, 1, 1};
  auto got = copy->values<double>();
  CHECK(std::vector<double>(got.begin(), got.end()) == want);
}

TEST_CASE_FIXTURE(fixture,
                  "a row step that never comes: the replica asks its variable "
                  "actor for the latest version and adds the waiting steps "
                  "past it") {
  // The variable actor: version 2 (2 steps) is all 2s; it counts the asks.
  auto asked = std::make_shared<std::atomic<int>>(0);
  auto variable = system->spawn([asked](caf::event_based_actor*) {
    return caf::behavior{
        [asked](
            latest_atom) -> caf::result<std::uint64_t, std::uint64_t, tensor> {
          ++*asked;
          return {std::uint64_t{2}, std::uint64_t{2},
                  *tensor::filled(dtype::f64, {4, 2}, 2)};
        }};
  });
  REQUIRE(attach(1, *tensor::filled(dtype::f64, {4, 2}, 0), variable));
  caf::scoped_actor self{*system};
  // Version 1 is lost; 2 (covered by the latest version) and 3 wait.
  self->send(replica, install_rows_atom::value, variable_id{1},
             std::uint64_t{2}, std::uint64_t{2}, row_step(1, 5));
  self->send(replica, install_rows_atom::value, variable_id{1},
             std::uint64_t{3}, std::uint64_t{3}, row_step(3, 1));
  auto slot = store->find(1);
  REQUIRE(slot);
  auto give_up = std::chrono::steady_clock::now() + 10s;
  while (slot->load()->version < 3 &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(10ms); // polls the copy, bounded
  REQUIRE(slot->load()->version == 3);
  auto copy = ask<tensor>(copy_get_atom::value, variable_id{1});
  REQUIRE(copy);
  std::vector<double> want{2, 2, 2, 2, 2, 2, 3, 3};
  auto got = copy->values<double>();
  CHECK(std::vector<double>(got.begin(), got.end()) == want);
  CHECK(asked->load() == 1);
  caf::anon_send_exit(variable, caf::exit_reason::user_shutdown);
}

TEST_CASE_FIXTURE(fixture, "copy_set applies the op to the local copy") {
  REQUIRE(attach(1, tensor(10.0)));
  REQUIRE(ask<ok_atom>(copy_set_atom::value, variable_id{1},
                       to_wire(update_op::subtract), tensor(4.0)));
  CHECK(store->find(1)->load()->value == tensor(6.0));
}

TEST_CASE_FIXTURE(fixture,
                  "bad requests get errors and the actor keeps serving") {
  auto unknown = ask<tensor>(copy_get_atom::value, variable_id{99});
  REQUIRE(!unknown);
  CHECK(unknown.error().code() == errc::unknown_variable);
  REQUIRE(attach(1, tensor(1.0)));
  auto bad_op = ask<ok_atom>(copy_set_atom::value, variable_id{1},
                             std::uint8_t{9}, tensor(1.0));
  REQUIRE(!bad_op);
  CHECK(bad_op.error().code() == errc::invalid_argument);
  CHECK(bad_op.error().message().find("9") != std::string::npos);
  auto update =
      ask<ok_atom>(update_atom::value, variable_id{42}, std::uint64_t{0},
                   to_wire(update_op::add), tensor(1.0), std::int64_t{100});
  REQUIRE(!update);
  CHECK(update.error().code() == errc::unknown_variable);
  CHECK(ask<tensor>(copy_get_atom::value, variable_id{1}));
}

TEST_CASE_FIXTURE(fixture, "every handled message is counted") {
  auto before = counters->messages.load();
  REQUIRE(attach(1, tensor(1.0)));
  CHECK(ask<tensor>(copy_get_atom::value, variable_id{1}));
  CHECK(counters->messages.load() == before + 2);
}

TEST_CASE_FIXTURE(fixture, "attach answers with the replica's current clock") {
  CHECK(attach(1, tensor(1.0)).value_or(99) == 0);
  store->clock.store(4);
  auto clock = attach_silent_ssp(2, 2);
  REQUIRE(clock);
  CHECK(*clock == 4);
}

TEST_CASE_FIXTURE(fixture,
                  "a clock() timeout with one replica does not blame slower "
                  "replicas; with two it does") {
  SUBCASE("R = 1") {
    REQUIRE(attach_silent_ssp(3, 1));
    auto waited = ask<ok_atom>(clock_atom::value, std::int64_t{50});
    REQUIRE(!waited);
    CHECK(waited.error().code() == errc::timeout);
    CHECK(waited.error().message() ==
          "replica 3 at clock 1 waited until its deadline for the variable's "
          "actor to confirm its own clocks (it is the group's only replica): "
          "variable 'later' still reflects min clock 0, needs at least 1 "
          "(staleness bound 0)");
  }
  SUBCASE("R = 2") {
    REQUIRE(attach_silent_ssp(3, 2));
    auto waited = ask<ok_atom>(clock_atom::value, std::int64_t{50});
    REQUIRE(!waited);
    CHECK(waited.error().message() ==
          "replica 3 at clock 1 waited for slower replicas until its "
          "deadline: variable 'later' still reflects min clock 0, needs at "
          "least 1 (staleness bound 0)");
  }
}

TEST_CASE_FIXTURE(fixture,
                  "an update whose variable actor never answers fails at its "
                  "own deadline, even behind a later one") {
  // The variable actor is a scoped actor that never reads its mailbox. One
  // alarm guards both variables' updates in flight: the later deadline is
  // armed first, the earlier one must arm it again.
  caf::scoped_actor silent{*system};
  variable_options options;
  options.sync = synchronization::on_write;
  for (variable_id id : {1, 2})
    REQUIRE(ask<std::uint64_t>(attach_atom::value, id, std::string{"quiet"},
                               caf::actor_cast<caf::actor>(silent), tensor(0.0),
                               options, std::uint64_t{1}, std::string{},
                               std::uint16_t{0}));
  caf::scoped_actor caller{*system};
  caller->send(replica, update_atom::value, variable_id{1}, std::uint64_t{0},
               to_wire(update_op::add), tensor(1.0), std::int64_t{20000});
  // Same sender, FIFO: once this answers, the patient update is in flight.
  caller->request(replica, 5s, copy_get_atom::value, variable_id{1})
      .receive([](tensor&) {},
               [](caf::error& err) { FAIL(caf::to_string(err)); });
  auto hasty =
      ask<ok_atom>(update_atom::value, variable_id{2}, std::uint64_t{0},
                   to_wire(update_op::add), tensor(1.0), std::int64_t{50});
  REQUIRE(!hasty);
  CHECK(hasty.error().code() == errc::timeout);
  CHECK(hasty.error().message() ==
        "variable 'quiet': no answer from its actor by the deadline; the step "
        "may or may not have been applied");
  // The patient update is still in flight (its deadline is 20 s away).
  bool answered = false;
  caller->receive([&](ok_atom) { answered = true; },
                  [&](caf::error&) { answered = true; },
                  caf::after(0s) >> [] {});
  CHECK_FALSE(answered);
}

TEST_CASE_FIXTURE(fixture,
                  "bounded_staleness: row refreshes add to the snapshot; "
                  "after a missed one the replica asks its variable once for "
                  "the whole refresh, then rows add on top of it again") {
  auto table = [](double x) { return *tensor::filled(dtype::f64, {3, 2}, x); };
  auto rows = [](std::int64_t row, double add) {
    std::vector<std::int64_t> indices{row};
    return pack_rows(indices, *tensor::filled(dtype::f64, {1, 2}, add));
  };
  // The variable's actor: answers the whole refresh (min clock 3, version
  // 3, all fives) and counts the asks.
  auto asked = std::make_shared<std::atomic<int>>(0);
  auto variable = system->spawn([asked, table] {
    return caf::behavior{
        [asked, table](
            refresh_atom) -> caf::result<std::uint64_t, std::uint64_t, tensor> {
          ++*asked;
          return {std::uint64_t{3}, std::uint64_t{3}, table(5)};
        },
    };
  });
  variable_options options;
  options.sync = synchronization::bounded_staleness;
  options.aggregation = aggregation::sum;
  options.staleness_bound = 0;
  REQUIRE(ask<std::uint64_t>(
      attach_atom::value, variable_id{7}, std::string{"table"}, variable,
      table(0), options, std::uint64_t{2}, std::string{}, std::uint16_t{0}));
  // A read at clock c answers once the cache reflects min clock c.
  auto read_at = [&](std::uint64_t clock) {
    auto value = ask<tensor>(wait_read_atom::value, variable_id{7}, clock,
                             std::int64_t{5000});
    REQUIRE(value);
    auto values = value->values<double>();
    return std::vector<double>(values.begin(), values.end());
  };
  caf::scoped_actor sender{*system};
  sender->send(replica, refresh_rows_atom::value, variable_id{7},
               std::uint64_t{1}, std::uint64_t{1}, rows(2, 3));
  CHECK(read_at(1) == std::vector<double>{0, 0, 0, 0, 3, 3});
  // Version 2 never came.
  sender->send(replica, refresh_rows_atom::value, variable_id{7},
               std::uint64_t{3}, std::uint64_t{3}, rows(1, 1));
  CHECK(read_at(3) == std::vector<double>{5, 5, 5, 5, 5, 5});
  sender->send(replica, refresh_rows_atom::value, variable_id{7},
               std::uint64_t{4}, std::uint64_t{4}, rows(1, 1));
  CHECK(read_at(4) == std::vector<double>{5, 5, 6, 6, 5, 5});
  CHECK(asked->load() == 1);
  caf::anon_send_exit(variable, caf::exit_reason::user_shutdown);
}
