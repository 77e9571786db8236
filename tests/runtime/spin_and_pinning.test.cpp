// The runtime's idle threads poll before they sleep (runtime_options::spin)
// and can be pinned to CPUs (node_config::cpus): results still arrive with
// the polling on and off, and a pinned node's threads all run where asked.

#include "runtime/cpu_pinning.hpp"
#include "runtime/runtime_core.hpp"
#include "tests/support/checks.hpp"
#include "varsync/node_config.hpp"
#include "varsync/runtime.hpp"

#include <algorithm>
#include <chrono>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <sched.h>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace varsync;
using namespace std::chrono_literals;

namespace {

/// The CPUs the calling thread may run on.
std::vector<unsigned> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  std::vector<unsigned> cpus;
  for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set))
      cpus.push_back(cpu);
  return cpus;
}

/// The ids of this process's threads.
std::set<std::string> thread_ids() {
  std::set<std::string> ids;
  for (const auto& entry :
       std::filesystem::directory_iterator{"/proc/self/task"})
    ids.insert(entry.path().filename().string());
  return ids;
}

/// The "Cpus_allowed_list" of thread `id` ("" when it ended).
std::string cpus_of_thread(const std::string& id) {
  std::ifstream status{"/proc/self/task/" + id + "/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("Cpus_allowed_list:"))
      return line.substr(line.find_first_not_of(" \t", 18));
  return "";
}

/// An in-process on_write step of `replicas` replicas with `options`;
/// true when every replica saw the sum.
bool step_completes(runtime_options options, std::size_t replicas) {
  runtime rt{options};
  auto group = rt.create_group("g", replicas);
  REQUIRE(group);
  variable_options sum;
  sum.sync = synchronization::on_write;
  sum.aggregation = aggregation::sum;
  auto var = rt.create_variable(*group, "v", tensor(0.0), sum);
  REQUIRE(var);
  std::vector<std::thread> threads;
  std::vector<int> done(replicas, 0);
  for (std::size_t r = 0; r < replicas; ++r)
    threads.emplace_back([&, r] {
      auto replica = group->at(r);
      for (int step = 0; step < 20; ++step)
        if (!replica->assign_add(*var, tensor(1.0)))
          return;
      done[r] = 1;
    });
  for (auto& thread : threads)
    thread.join();
  auto value = rt.read(*var);
  return std::count(done.begin(), done.end(), 1) ==
             static_cast<std::ptrdiff_t>(replicas) &&
         value && value->values<double>()[0] == 20.0 * replicas;
}

} // namespace

TEST_CASE("steps complete with the idle threads polling (the default) and "
          "with polling off") {
  runtime_options polling;
  CHECK_EQ(polling.spin, 100us);
  CHECK(step_completes(polling, 4));
  runtime_options sleeping;
  sleeping.spin = 0us;
  CHECK(step_completes(sleeping, 4));
}

TEST_CASE("a result slot hands over a result put before, during or never "
          "within the wait") {
  detail::result_slot<int> early;
  early.put(7);
  auto got = early.take(1000ms, 100us);
  REQUIRE(got);
  CHECK_EQ(**got, 7);

  // The waiter may be polling or asleep when the result comes: either way
  // it gets it.
  for (auto spin : {0us, 100us, 1000000us}) {
    CAPTURE(spin.count());
    detail::result_slot<int> later;
    std::thread producer{[&] { later.put(8); }};
    auto taken = later.take(10s, spin);
    producer.join();
    REQUIRE(taken);
    CHECK_EQ(**taken, 8);
  }

  detail::result_slot<int> never;
  CHECK_FALSE(never.take(5ms, 100us).has_value());
}

TEST_CASE("a node started with cpus runs its starting thread and every "
          "thread it starts on those CPUs") {
  auto cpus = allowed_cpus();
  REQUIRE_FALSE(cpus.empty());
  auto target = cpus.back();
  auto before = thread_ids();
  std::string starter_cpus;
  std::vector<std::string> started_cpus;
  std::string failure;
  // A thread of its own: pinning applies to the thread that starts the
  // node, which must not be the test's.
  std::thread starter{[&] {
    node_config config;
    config.cpus = {target};
    config.log_level = "error";
    auto rt = runtime::start(config);
    if (!rt) {
      failure = rt.error().to_string();
      return;
    }
    starter_cpus = detail::describe_cpus(allowed_cpus());
    auto own = std::to_string(gettid());
    for (const auto& id : thread_ids())
      if (!before.contains(id) && id != own)
        started_cpus.push_back(cpus_of_thread(id));
  }};
  starter.join();
  REQUIRE_MESSAGE(failure.empty(), failure);
  CHECK_EQ(starter_cpus, std::to_string(target));
  // The scheduler's workers and clock, CAF's multiplexer, the bulk plane's
  // I/O and acceptor threads, at least.
  CHECK_GE(started_cpus.size(), 4u);
  for (const auto& listed : started_cpus)
    CHECK_EQ(listed, std::to_string(target));
  // The test's own thread was not touched.
  CHECK_EQ(allowed_cpus(), cpus);
}

TEST_CASE("a node asked to run on a CPU this process may not use is an error "
          "naming the CPU, and nothing is pinned") {
  auto cpus = allowed_cpus();
  node_config config;
  config.cpus = {CPU_SETSIZE - 1};
  REQUIRE(cpus.back() != CPU_SETSIZE - 1);
  auto rt = runtime::start(config);
  REQUIRE_FALSE(rt);
  CHECK_EQ(rt.error().code(), errc::invalid_argument);
  CHECK_MESSAGE(test::contains(rt.error().message(),
                               "CPU " + std::to_string(CPU_SETSIZE - 1) +
                                   " is not one this process may run on"),
                rt.error().message());
  CHECK_EQ(allowed_cpus(), cpus);
  CHECK_EQ(detail::describe_cpus({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
}
