// The asynchronous forms of the replica and runtime calls: callbacks,
// Boost.Asio coroutines (use_awaitable) and use_future, plus deadlines: an
// on_write step that a replica never joins ends with `timeout` naming that
// replica, applies nothing and does not wedge the group. The tests wait on
// futures and io_context::run, never on sleeps.

// <varsync/asio.hpp> goes first: it includes <utility> before Boost.Asio,
// which Boost 1.74's awaitable.hpp needs.
// clang-format off
#include <varsync/asio.hpp>
// clang-format on

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstddef>
#include <doctest/doctest.h>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <varsync/varsync.hpp>
#include <vector>

using namespace varsync;
using namespace std::chrono_literals;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::contains_number;
using varsync::test::message_of;
using varsync::test::options_of;
using varsync::test::replicas_of;
using varsync::test::run_on_replicas;
using varsync::test::scalar;

namespace {

/// How long a test waits for a callback before failing (the calls' own
/// deadline is shorter, so a missing callback is a bug, not a slow step).
constexpr auto callback_limit = 20s;

/// Runtime options for these tests: calls fail within seconds, never hang.
runtime_options short_deadlines() {
  return varsync::test::with_default_timeout(5s);
}

/// A callback that records how often it ran and on which thread, and
/// fulfils a future with its first result.
template <class T> struct callback_probe {
  struct state {
    std::promise<expected<T>> promise;
    std::atomic<int> calls{0};
    std::thread::id thread;
  };
  std::shared_ptr<state> shared = std::make_shared<state>();
  std::future<expected<T>> future = shared->promise.get_future();

  std::function<void(expected<T>)> callback() {
    return [s = shared](expected<T> result) {
      if (s->calls.fetch_add(1) == 0) {
        s->thread = std::this_thread::get_id();
        s->promise.set_value(std::move(result));
      }
    };
  }

  /// The result; fails the test when no callback came in time.
  expected<T> get() {
    REQUIRE(future.wait_for(callback_limit) == std::future_status::ready);
    return future.get();
  }

  int calls() const { return shared->calls.load(); }
};

struct two_replicas {
  runtime rt{short_deadlines()};
  replica_group group;
  std::vector<replica> replicas;
  variable var;

  explicit two_replicas(aggregation how = aggregation::sum,
                        double initial = 0.0, const std::string& name = "w") {
    auto made = rt.create_group("workers", 2);
    VARSYNC_REQUIRE_OK(made);
    group = *made;
    replicas = replicas_of(group);
    auto created =
        rt.create_variable(group, name, scalar(dtype::f64, initial),
                           options_of(synchronization::on_write, how));
    VARSYNC_REQUIRE_OK(created);
    var = *created;
  }

  /// Both replicas' copies equal `expected`.
  void require_value(double expected) {
    for (auto& r : replicas) {
      CAPTURE(r.index());
      auto local = r.read(var);
      VARSYNC_REQUIRE_OK(local);
      CHECK_EQ(local->to_double(), expected);
    }
  }
};

} // namespace

TEST_CASE("callback forms complete once through their callbacks on two "
          "replicas") {
  two_replicas f;
  // Both replicas' updates are in flight at once from this one thread: the
  // async forms return before the collective step completes.
  callback_probe<void> assigned[2];
  for (auto& r : f.replicas)
    r.assign_async(f.var,
                   scalar(dtype::f64, 1.0 + static_cast<double>(r.index())),
                   assigned[r.index()].callback());
  for (auto& probe : assigned)
    VARSYNC_CHECK_OK(probe.get());
  f.require_value(3.0);
  callback_probe<tensor> read[2];
  for (auto& r : f.replicas)
    r.read_async(f.var, read[r.index()].callback());
  for (auto& probe : read) {
    auto value = probe.get();
    VARSYNC_REQUIRE_OK(value);
    CHECK_EQ(value->to_double(), 3.0);
  }
  callback_probe<void> added[2];
  for (auto& r : f.replicas)
    r.assign_add_async(f.var, scalar(dtype::f64, 2.0),
                       added[r.index()].callback());
  for (auto& probe : added)
    VARSYNC_CHECK_OK(probe.get());
  f.require_value(7.0);
  callback_probe<void> subtracted[2];
  for (auto& r : f.replicas)
    r.assign_sub_async(f.var, scalar(dtype::f64, 0.5),
                       subtracted[r.index()].callback());
  for (auto& probe : subtracted)
    VARSYNC_CHECK_OK(probe.get());
  f.require_value(6.0);
  // Cross-replica forms.
  callback_probe<tensor> cross_read;
  f.rt.read_async(f.var, cross_read.callback());
  auto cross_value = cross_read.get();
  VARSYNC_REQUIRE_OK(cross_value);
  CHECK_EQ(cross_value->to_double(), 6.0);
  callback_probe<void> cross_assigned;
  f.rt.assign_async(f.var, scalar(dtype::f64, 10.0), cross_assigned.callback());
  VARSYNC_CHECK_OK(cross_assigned.get());
  f.require_value(10.0);
  // Every callback ran exactly once.
  for (int i = 0; i < 2; ++i) {
    CHECK_EQ(assigned[i].calls(), 1);
    CHECK_EQ(read[i].calls(), 1);
    CHECK_EQ(added[i].calls(), 1);
    CHECK_EQ(subtracted[i].calls(), 1);
  }
  CHECK_EQ(cross_read.calls(), 1);
  CHECK_EQ(cross_assigned.calls(), 1);
}

TEST_CASE("successive async updates of one variable from one replica are "
          "applied in call order") {
  two_replicas f;
  // Issued back to back without waiting: assign 5, add 1, subtract 2 per
  // replica. With sum over two replicas in call order: 10, 12, 8. Any other
  // order ends elsewhere (add, subtract, assign ends at 10).
  std::vector<std::unique_ptr<callback_probe<void>>> probes;
  for (auto& r : f.replicas) {
    probes.push_back(std::make_unique<callback_probe<void>>());
    r.assign_async(f.var, scalar(dtype::f64, 5.0), probes.back()->callback());
    probes.push_back(std::make_unique<callback_probe<void>>());
    r.assign_add_async(f.var, scalar(dtype::f64, 1.0),
                       probes.back()->callback());
    probes.push_back(std::make_unique<callback_probe<void>>());
    r.assign_sub_async(f.var, scalar(dtype::f64, 2.0),
                       probes.back()->callback());
  }
  for (auto& probe : probes)
    VARSYNC_CHECK_OK(probe->get());
  f.require_value(8.0);
}

TEST_CASE("callback forms report input errors and local reads on the "
          "caller's thread before returning") {
  two_replicas f;
  auto me = std::this_thread::get_id();
  callback_probe<void> wrong_dtype;
  f.replicas[0].assign_async(f.var, scalar(dtype::i64, 1.0),
                             wrong_dtype.callback());
  CHECK_EQ(wrong_dtype.calls(), 1);
  auto result = wrong_dtype.get();
  CHECK(wrong_dtype.shared->thread == me);
  CHECK_EQ(code_of(result), errc::dtype_mismatch);
  callback_probe<tensor> local_read;
  f.replicas[1].read_async(f.var, local_read.callback());
  CHECK_EQ(local_read.calls(), 1);
  auto value = local_read.get();
  CHECK(local_read.shared->thread == me);
  VARSYNC_REQUIRE_OK(value);
  CHECK_EQ(value->to_double(), 0.0);
  callback_probe<tensor> empty_handle;
  f.rt.read_async(variable{}, empty_handle.callback());
  CHECK_EQ(code_of(empty_handle.get()), errc::unknown_variable);
  f.require_value(0.0);
}

TEST_CASE("asio coroutines of two replicas on one io_context update an "
          "on_write variable and resume on the io_context's thread") {
  two_replicas f;
  boost::asio::io_context context;
  std::thread::id context_thread;
  struct outcome {
    std::vector<std::string> failures;
    std::vector<bool> on_context_thread;
    double after_assign = -1;
    double after_add = -1;
    double after_sub = -1;
    bool finished = false;
  };
  outcome results[2];
  for (auto& r : f.replicas) {
    boost::asio::co_spawn(
        context,
        [&, r]() mutable -> boost::asio::awaitable<void> {
          auto& out = results[r.index()];
          auto here = [&] {
            out.on_context_thread.push_back(std::this_thread::get_id() ==
                                            context_thread);
          };
          auto note = [&](const auto& result, const char* what) {
            if (!result)
              out.failures.push_back(std::string{what} + ": " +
                                     result.error().to_string());
            return result.has_value();
          };
          auto assigned = co_await r.async_assign(
              f.var, scalar(dtype::f64, 1.0 + static_cast<double>(r.index())),
              boost::asio::use_awaitable);
          here();
          if (!note(assigned, "async_assign"))
            co_return;
          auto value = co_await r.async_read(f.var, boost::asio::use_awaitable);
          here();
          if (!note(value, "async_read"))
            co_return;
          out.after_assign = value->to_double();
          auto added = co_await r.async_assign_add(
              f.var, scalar(dtype::f64, 2.0), boost::asio::use_awaitable);
          here();
          if (!note(added, "async_assign_add"))
            co_return;
          value = co_await r.async_read(f.var, boost::asio::use_awaitable);
          here();
          if (!note(value, "async_read"))
            co_return;
          out.after_add = value->to_double();
          auto subtracted = co_await r.async_assign_sub(
              f.var, scalar(dtype::f64, 1.0), boost::asio::use_awaitable);
          here();
          if (!note(subtracted, "async_assign_sub"))
            co_return;
          value = co_await r.async_read(f.var, boost::asio::use_awaitable);
          here();
          if (!note(value, "async_read"))
            co_return;
          out.after_sub = value->to_double();
          out.finished = true;
        },
        boost::asio::detached);
  }
  // Run the context on this thread: run() returns once both coroutines
  // finished (the pending varsync calls keep it busy until then).
  context_thread = std::this_thread::get_id();
  context.run();
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    for (const auto& failure : results[i].failures)
      FAIL_CHECK(failure);
    CHECK(results[i].finished);
    CHECK_EQ(results[i].after_assign, 3.0); // 1 + 2
    CHECK_EQ(results[i].after_add, 7.0);    // 3 + 2 + 2
    CHECK_EQ(results[i].after_sub, 5.0);    // 7 - 1 - 1
    CHECK_EQ(results[i].on_context_thread.size(), 6u);
    for (bool same : results[i].on_context_thread)
      CHECK(same);
  }
  f.require_value(5.0);
}

TEST_CASE("asio coroutines with one io_context per replica thread resume on "
          "their own context's thread") {
  two_replicas f{aggregation::mean, 4.0};
  struct outcome {
    std::string failure;
    bool resumed_on_own_thread = false;
    double value = -1;
  };
  outcome results[2];
  run_on_replicas(f.group, [&](replica& r) {
    boost::asio::io_context context;
    auto& out = results[r.index()];
    auto me = std::this_thread::get_id();
    boost::asio::co_spawn(
        context,
        [&]() -> boost::asio::awaitable<void> {
          auto added = co_await r.async_assign_add(
              f.var, scalar(dtype::f64, 2.0 * static_cast<double>(r.index())),
              boost::asio::use_awaitable);
          out.resumed_on_own_thread = std::this_thread::get_id() == me;
          if (!added) {
            out.failure = added.error().to_string();
            co_return;
          }
          auto value = co_await r.async_read(f.var, boost::asio::use_awaitable);
          if (!value) {
            out.failure = value.error().to_string();
            co_return;
          }
          out.value = value->to_double();
        },
        boost::asio::detached);
    context.run();
  });
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    CHECK_EQ(results[i].failure, "");
    CHECK(results[i].resumed_on_own_thread);
    CHECK_EQ(results[i].value, 5.0); // 4 + mean(0, 2)
  }
  f.require_value(5.0);
}

TEST_CASE("asio use_future returns a std::future of an expected") {
  two_replicas f;
  auto first = f.replicas[0].async_assign(f.var, scalar(dtype::f64, 1.5),
                                          boost::asio::use_future);
  auto second = f.replicas[1].async_assign(f.var, scalar(dtype::f64, 2.5),
                                           boost::asio::use_future);
  static_assert(std::is_same_v<decltype(first), std::future<expected<void>>>);
  REQUIRE(first.wait_for(callback_limit) == std::future_status::ready);
  REQUIRE(second.wait_for(callback_limit) == std::future_status::ready);
  VARSYNC_CHECK_OK(first.get());
  VARSYNC_CHECK_OK(second.get());
  auto read = f.replicas[1].async_read(f.var, boost::asio::use_future);
  static_assert(std::is_same_v<decltype(read), std::future<expected<tensor>>>);
  REQUIRE(read.wait_for(callback_limit) == std::future_status::ready);
  auto value = read.get();
  VARSYNC_REQUIRE_OK(value);
  CHECK_EQ(value->to_double(), 4.0);
  // One step at a time (call order within a replica is the subject of
  // another test): both replicas' futures of a step, then the next step.
  auto wait_all = [](std::vector<std::future<expected<void>>>& futures) {
    for (auto& done : futures) {
      REQUIRE(done.wait_for(callback_limit) == std::future_status::ready);
      VARSYNC_CHECK_OK(done.get());
    }
  };
  std::vector<std::future<expected<void>>> added;
  for (auto& r : f.replicas)
    added.push_back(r.async_assign_add(f.var, scalar(dtype::f64, 1.0),
                                       boost::asio::use_future));
  wait_all(added);
  f.require_value(6.0); // 4 + 2
  std::vector<std::future<expected<void>>> subtracted;
  for (auto& r : f.replicas)
    subtracted.push_back(r.async_assign_sub(f.var, scalar(dtype::f64, 0.25),
                                            boost::asio::use_future));
  wait_all(subtracted);
  f.require_value(5.5); // 4 + 2 - 0.5
}

TEST_CASE("an on_write update that one replica never joins times out naming "
          "the missing replica and does not wedge the group") {
  two_replicas f{aggregation::sum, 1.0, "slow_step"};
  auto& early = f.replicas[0];
  SUBCASE("blocking form") {
    auto started = std::chrono::steady_clock::now();
    auto result = early.assign_add(f.var, scalar(dtype::f64, 5.0), 200ms);
    auto waited = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(result.has_value());
    CHECK_EQ(code_of(result), errc::timeout);
    auto message = message_of(result);
    CAPTURE(message);
    CHECK(contains(message, "slow_step"));
    CHECK(contains(message, "replica"));
    CHECK(contains_number(message, 1));
    // It waited for the deadline, and not much longer.
    CHECK(waited >= 190ms);
    CHECK(waited < 5s);
  }
  SUBCASE("callback form") {
    callback_probe<void> probe;
    early.assign_add_async(f.var, scalar(dtype::f64, 5.0), probe.callback(),
                           200ms);
    auto result = probe.get();
    REQUIRE_FALSE(result.has_value());
    CHECK_EQ(code_of(result), errc::timeout);
    auto message = message_of(result);
    CAPTURE(message);
    CHECK(contains(message, "slow_step"));
    CHECK(contains_number(message, 1));
  }
  // Nothing was applied.
  f.require_value(1.0);
  auto cross = f.rt.read(f.var);
  VARSYNC_REQUIRE_OK(cross);
  CHECK_EQ(cross->to_double(), 1.0);
  // Both replicas update afterwards: the timed-out contribution was
  // withdrawn, so the next step pairs replica 0's and replica 1's updates.
  run_on_replicas(f.group, [&](replica& r) {
    auto done = r.assign_add(
        f.var,
        scalar(dtype::f64, 10.0 * (1.0 + static_cast<double>(r.index()))), 5s);
    VARSYNC_CHECK_OK(done);
  });
  f.require_value(31.0); // 1 + 10 + 20
  run_on_replicas(f.group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign(f.var, scalar(dtype::f64, 2.0), 5s));
  });
  f.require_value(4.0);
}
