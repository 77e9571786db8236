// The directory actor: create-or-get of groups and variables, lookups, and
// concurrent creation of one name.

#include "actors/directory_actor.hpp"

#include "actors/caf_error.hpp"
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

  fixture() {
    configure_caf(config, runtime_options{});
    system = std::make_unique<caf::actor_system>(config);
    directory = spawn_directory_actor(*system, detail::runtime_ref{}, counters);
  }

  ~fixture() {
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

  group_record_ptr group(const std::string& name, std::uint64_t size) {
    auto record = ask<group_record_ptr>(group_atom::value, name, size);
    REQUIRE(record);
    return *record;
  }

  expected<variable_record_ptr> variable(group_record_ptr owner,
                                         const std::string& name,
                                         tensor initial,
                                         variable_options options) {
    return ask<variable_record_ptr>(variable_atom::value, owner, name, initial,
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

TEST_CASE_FIXTURE(fixture, "a group is created once and found again by name") {
  auto first = group("workers", 3);
  CHECK(first->replica_actors.size() == 3);
  CHECK(first->stores.size() == 3);
  CHECK(group("workers", 3) == first);
  auto other_size = ask<group_record_ptr>(
      group_atom::value, std::string{"workers"}, std::uint64_t{4});
  REQUIRE(!other_size);
  CHECK(other_size.error().code() == errc::already_exists);
  auto empty = ask<group_record_ptr>(group_atom::value, std::string{"g"},
                                     std::uint64_t{0});
  REQUIRE(!empty);
  CHECK(empty.error().code() == errc::invalid_argument);
}

TEST_CASE_FIXTURE(
    fixture,
    "a variable is created once; a different request for its name fails") {
  auto owner = group("workers", 2);
  auto options = with(synchronization::on_write, aggregation::sum);
  auto first = variable(owner, "w", tensor(1.0), options);
  REQUIRE(first);
  CHECK((*first)->resolved.sync == synchronization::on_write);
  auto again = variable(owner, "w", tensor(7.0), options);
  REQUIRE(again);
  CHECK(*again == *first);
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
  std::vector<std::optional<expected<variable_record_ptr>>> results(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      results[i].emplace(variable(owner, "c", tensor(0.0), options));
    });
  for (auto& thread : threads)
    thread.join();
  for (auto& result : results) {
    REQUIRE(*result);
    CHECK(**result == **results.front());
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
  auto found = ask<variable_record_ptr>(lookup_atom::value, std::string{"x"});
  REQUIRE(found);
  CHECK(*found == *created);
  auto missing =
      ask<variable_record_ptr>(lookup_atom::value, std::string{"nope"});
  REQUIRE(!missing);
  CHECK(missing.error().code() == errc::unknown_variable);
  CHECK(missing.error().message().find("nope") != std::string::npos);
}
