// The directory actor: group joins by index, create-or-get of variables,
// lookups, concurrent creation of one name, and membership after a loss.

#include "actors/directory_actor.hpp"

#include "actors/caf_error.hpp"
#include "actors/node_agent.hpp"
#include "actors/replica_actor.hpp"
#include "runtime/caf_setup.hpp"

#include <doctest/doctest.h>
#include <thread>

using namespace varsync;
using namespace std::chrono_literals;

namespace {

struct fixture {
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  std::shared_ptr<actor_counters> counters = std::make_shared<actor_counters>();
  caf::actor directory;
  caf::actor agent;
  std::vector<caf::actor> replicas;

  fixture() {
    configure_caf(config, runtime_options{});
    system = std::make_unique<caf::actor_system>(config);
    directory = spawn_directory_actor(*system, false, counters);
    agent = spawn_node_agent(*system, directory, counters);
    auto others = ask<std::vector<node_info>>(
        node_atom::value, node_info{"local", "", 0, true, agent});
    REQUIRE(others);
    CHECK(others->empty());
  }

  ~fixture() {
    for (auto& replica : replicas)
      caf::anon_send_exit(replica, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  }

  template <class Reply, class... Ts> expected<Reply> ask(Ts... xs) {
    caf::scoped_actor self{*system};
    std::optional<expected<Reply>> result;
    self->request(directory, 10s, xs...)
        .receive([&](Reply& reply) { result.emplace(std::move(reply)); },
                 [&](caf::error& err) {
                   result.emplace(from_caf_error(err, "test"));
                 });
    return std::move(*result);
  }

  caf::actor new_replica(std::size_t index) {
    replicas.push_back(spawn_replica_actor(
        *system, index, std::make_shared<local_store>(), counters));
    return replicas.back();
  }

  expected<group_info> join(const std::string& name, std::uint64_t size,
                            std::vector<std::uint64_t> indices,
                            std::vector<caf::actor> actors,
                            std::int64_t timeout_ms = 5000) {
    return ask<group_info>(group_atom::value, name, size, std::move(indices),
                           std::move(actors), std::string{"local"}, timeout_ms);
  }

  /// A complete group of `size` replicas joined at once.
  std::string group(const std::string& name, std::uint64_t size) {
    std::vector<std::uint64_t> indices;
    std::vector<caf::actor> actors;
    for (std::uint64_t i = 0; i < size; ++i) {
      indices.push_back(i);
      actors.push_back(new_replica(i));
    }
    REQUIRE(join(name, size, indices, actors));
    return name;
  }

  expected<variable_info> variable(const std::string& owner,
                                   const std::string& name, tensor initial,
                                   variable_options options) {
    return ask<variable_info>(variable_atom::value, owner, name, initial,
                              options);
  }
};

variable_options with(synchronization sync, aggregation how) {
  variable_options options;
  options.sync = sync;
  options.aggregation = how;
  return options;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a group joined index by index completes once "
                           "every replica joined") {
  auto r0 = new_replica(0);
  auto r1 = new_replica(1);
  // The first join waits for index 1; answer it from another thread.
  std::optional<expected<group_info>> first;
  std::thread waiting{[&] { first.emplace(join("g", 2, {0}, {r0})); }};
  auto second = join("g", 2, {1}, {r1});
  waiting.join();
  REQUIRE(second);
  REQUIRE(*first);
  CHECK((*first)->replicas == std::vector<caf::actor>{r0, r1});
  CHECK(second->replicas == (*first)->replicas);
  // Joining the same index again with the same actor is idempotent.
  CHECK(join("g", 2, {0}, {r0}));
}

TEST_CASE_FIXTURE(fixture, "an incomplete group times out naming the missing "
                           "replicas") {
  auto partial = join("h", 3, {1}, {new_replica(1)}, 100);
  REQUIRE(!partial);
  CHECK(partial.error().code() == errc::timeout);
  CHECK(partial.error().message().find("0, 2") != std::string::npos);
  auto early = variable("h", "v", tensor(1.0), variable_options{});
  REQUIRE(!early);
  CHECK(early.error().code() == errc::unknown_group);
  CHECK(early.error().message().find("incomplete") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "conflicting joins are refused") {
  group("workers", 2);
  auto other_size = join("workers", 4, {0}, {new_replica(0)});
  REQUIRE(!other_size);
  CHECK(other_size.error().code() == errc::already_exists);
  auto taken = join("workers", 2, {1}, {new_replica(1)});
  REQUIRE(!taken);
  CHECK(taken.error().code() == errc::already_exists);
  CHECK(taken.error().message().find("replica 1") != std::string::npos);
  auto empty = join("g", 0, {}, {});
  REQUIRE(!empty);
  CHECK(empty.error().code() == errc::invalid_argument);
  auto out_of_range = join("g", 2, {5}, {new_replica(5)});
  REQUIRE(!out_of_range);
  CHECK(out_of_range.error().code() == errc::invalid_argument);
}

TEST_CASE_FIXTURE(
    fixture,
    "a variable is created once; a different request for its name fails") {
  auto owner = group("workers", 2);
  auto options = with(synchronization::on_write, aggregation::sum);
  auto first = variable(owner, "w", tensor(1.0), options);
  REQUIRE(first);
  CHECK(first->resolved.sync == synchronization::on_write);
  CHECK(first->node == "local");
  auto again = variable(owner, "w", tensor(7.0), options);
  REQUIRE(again);
  CHECK(again->actor == first->actor);
  CHECK(again->id == first->id);
  auto other = variable(owner, "w", tensor(1.0),
                        with(synchronization::on_write, aggregation::mean));
  REQUIRE(!other);
  CHECK(other.error().code() == errc::already_exists);
  CHECK(other.error().message().find("mean") != std::string::npos);
  auto other_type = variable(owner, "w", tensor(1.0f), options);
  REQUIRE(!other_type);
  CHECK(other_type.error().code() == errc::already_exists);
  CHECK(other_type.error().message().find("f32") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture,
                  "concurrent creations of one name yield one variable") {
  auto owner = group("workers", 4);
  auto options = with(synchronization::on_read, aggregation::sum);
  std::vector<std::optional<expected<variable_info>>> results(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      results[i].emplace(variable(owner, "c", tensor(0.0), options));
    });
  for (auto& thread : threads)
    thread.join();
  for (auto& result : results) {
    REQUIRE(*result);
    CHECK((*result)->actor == (*results.front())->actor);
  }
}

TEST_CASE_FIXTURE(fixture,
                  "invalid options are refused and the name stays free") {
  auto owner = group("workers", 2);
  auto bad = variable(owner, "n", tensor(std::int64_t{1}),
                      with(synchronization::on_write, aggregation::mean));
  REQUIRE(!bad);
  CHECK(bad.error().code() == errc::invalid_policy);
  CHECK(variable(owner, "n", tensor(std::int64_t{1}),
                 with(synchronization::on_write, aggregation::sum)));
}

TEST_CASE_FIXTURE(fixture,
                  "lookup finds created variables and names unknown ones") {
  auto owner = group("workers", 1);
  auto created = variable(owner, "x", tensor(1.0), variable_options{});
  REQUIRE(created);
  auto found = ask<variable_info>(lookup_atom::value, std::string{"x"});
  REQUIRE(found);
  CHECK(found->actor == created->actor);
  auto missing = ask<variable_info>(lookup_atom::value, std::string{"nope"});
  REQUIRE(!missing);
  CHECK(missing.error().code() == errc::unknown_variable);
  CHECK(missing.error().message().find("nope") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "status reports nodes, a lost replica and the "
                           "versions of variables") {
  auto owner = group("workers", 2);
  REQUIRE(variable(owner, "w", tensor(1.0),
                   with(synchronization::on_write, aggregation::mean)));
  // A stopped replica actor is reported lost, like one whose node died.
  caf::scoped_actor self{*system};
  self->monitor(replicas[1]);
  self->send_exit(replicas[1], caf::exit_reason::kill);
  self->receive([](caf::down_msg&) {});
  // The directory handles its own DOWN message before a later request
  // from us only if it got it first; ask until it shows (bounded).
  // Bounded by time, not by a count of attempts: on a loaded machine 100
  // quick asks took less time than the DOWN message needed.
  expected<cluster_status> status = error{errc::timeout, "not asked"};
  auto give_up = std::chrono::steady_clock::now() + 5s;
  do {
    status = ask<cluster_status>(status_atom::value, std::int64_t{1000});
    REQUIRE(status);
    if (!status->groups.front().replicas[1].alive)
      break;
    std::this_thread::yield();
  } while (std::chrono::steady_clock::now() < give_up);
  REQUIRE(status->nodes.size() == 1);
  CHECK(status->nodes.front().holder);
  REQUIRE(status->groups.size() == 1);
  CHECK(status->groups.front().lost() == std::vector<std::size_t>{1});
  CHECK(status->groups.front().alive() == std::vector<std::size_t>{0});
  REQUIRE(status->variables.size() == 1);
  CHECK(status->variables.front().available);
  CHECK(status->variables.front().description.find("on_write") !=
        std::string::npos);
  CHECK(to_string(*status).find("workers") != std::string::npos);
}

TEST_CASE_FIXTURE(fixture, "the node agent refuses a spawn whose initial value "
                           "contradicts the variable's description") {
  // The spawn message comes from the network: its description and its
  // initial value are checked against each other, not trusted.
  variable_info info;
  info.id = 77;
  info.name = "forged";
  info.type = dtype::f64;
  info.shape = shape_type{3};
  info.resolved = with(synchronization::on_write, aggregation::sum);
  std::vector<caf::actor> group{new_replica(0)};
  caf::scoped_actor self{*system};
  std::optional<error> refused;
  // Only the directory the agent follows may place actors on its node.
  self->request(agent, 5s, spawn_atom::value, info, tensor(1.0), group)
      .receive(
          [](caf::actor&) { FAIL("a spawn from a stranger was accepted"); },
          [&](caf::error& err) { refused = from_caf_error(err, "spawn"); });
  REQUIRE(refused);
  CHECK(refused->code() == errc::variable_unavailable);
  CHECK(refused->message().find("does not come from the directory") !=
        std::string::npos);
  // An agent that follows `self` checks what `self` sends.
  auto follower =
      spawn_node_agent(*system, caf::actor_cast<caf::actor>(self), counters);
  refused.reset();
  self->request(follower, 5s, spawn_atom::value, info, tensor(1.0), group)
      .receive(
          [](caf::actor&) { FAIL("a mismatched spawn was accepted"); },
          [&](caf::error& err) { refused = from_caf_error(err, "spawn"); });
  REQUIRE(refused);
  CHECK(refused->code() == errc::invalid_argument);
  CHECK(refused->message() ==
        "spawn of variable 'forged': the initial value is f64[], the variable "
        "is f64[3]");
  // A consistent one is accepted.
  self->request(follower, 5s, spawn_atom::value, info,
                *tensor::from_values<double>(std::vector<double>{1, 2, 3},
                                             shape_type{3}),
                group)
      .receive(
          [&](caf::actor& actor) {
            CHECK(actor);
            self->send_exit(actor, caf::exit_reason::user_shutdown);
          },
          [](caf::error& err) { FAIL(caf::to_string(err)); });
  self->send_exit(follower, caf::exit_reason::user_shutdown);
}
