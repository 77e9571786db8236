// Concurrent on_write updates from real threads: every replica installs the
// same sequence of versions (bit for bit), the sequence is the one a
// sequential reference computation gives, and local reads cost no message.
// Only the public API is used.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <doctest/doctest.h>
#include <random>
#include <string>
#include <varsync/varsync.hpp>
#include <vector>

using namespace varsync;
using varsync::test::code_of;
using varsync::test::options_of;
using varsync::test::replicas_of;
using varsync::test::run_on_replicas;
using varsync::test::wait_until_quiet;

namespace {

constexpr std::int64_t elements = 16;

/// The updates a step can make; all replicas make the same one per step.
enum class step_op { assign, add, subtract };

const char* to_string(step_op op) {
  switch (op) {
  case step_op::assign:
    return "assign";
  case step_op::add:
    return "assign_add";
  default:
    return "assign_sub";
  }
}

/// Steps per replica thread: 2000 for two replicas, fewer for larger groups
/// (whose steps cost more messages) so the suite stays well under a minute
/// on two cores, also under sanitizers.
std::size_t steps_for(std::size_t replicas) {
  switch (replicas) {
  case 2:
    return 2000;
  case 4:
    return 1500;
  default:
    return 1000;
  }
}

/// The operations and per-replica operands of a run, drawn up front from one
/// seeded generator: `ops[k]` is step k's operation (shared by every replica,
/// as a step is a collective), `operands[r][k]` replica r's operand.
template <class T> struct schedule {
  std::vector<step_op> ops;
  std::vector<std::vector<std::vector<T>>> operands;
};

template <class T>
schedule<T> make_schedule(std::size_t replicas, std::size_t steps,
                          std::uint64_t seed) {
  std::mt19937_64 random{seed};
  std::uniform_int_distribution<int> pick_op{0, 2};
  schedule<T> result;
  result.ops.reserve(steps);
  for (std::size_t k = 0; k < steps; ++k)
    result.ops.push_back(static_cast<step_op>(pick_op(random)));
  result.operands.assign(replicas, std::vector<std::vector<T>>(steps));
  for (std::size_t r = 0; r < replicas; ++r) {
    for (std::size_t k = 0; k < steps; ++k) {
      auto& operand = result.operands[r][k];
      operand.resize(elements);
      for (auto& x : operand) {
        if constexpr (std::is_integral_v<T>) {
          // Small values: no overflow in thousands of steps of R replicas.
          x = std::uniform_int_distribution<T>{-1000, 1000}(random);
        } else {
          x = std::uniform_real_distribution<T>{-1, 1}(random);
        }
      }
    }
  }
  return result;
}

/// The value after every step, computed sequentially: the operands of a
/// step are summed in replica index order 0 ... R-1, mean divides the sum by
/// R, the op is applied once.
template <class T>
std::vector<std::vector<T>> reference_values(const schedule<T>& plan,
                                             std::vector<T> value,
                                             aggregation how) {
  auto replicas = plan.operands.size();
  std::vector<std::vector<T>> result;
  result.reserve(plan.ops.size());
  for (std::size_t k = 0; k < plan.ops.size(); ++k) {
    std::vector<T> combined = plan.operands[0][k];
    for (std::size_t r = 1; r < replicas; ++r)
      for (std::size_t i = 0; i < combined.size(); ++i)
        combined[i] += plan.operands[r][k][i];
    if (how == aggregation::mean)
      for (auto& x : combined)
        x /= static_cast<T>(replicas);
    for (std::size_t i = 0; i < value.size(); ++i) {
      switch (plan.ops[k]) {
      case step_op::assign:
        value[i] = combined[i];
        break;
      case step_op::add:
        value[i] += combined[i];
        break;
      case step_op::subtract:
        value[i] -= combined[i];
        break;
      }
    }
    result.push_back(value);
  }
  return result;
}

template <class T> tensor tensor_of(const std::vector<T>& values) {
  return tensor(values);
}

/// Runs `steps` collective steps of random updates on an on_write variable
/// of element type `T` with aggregation `how`, from one thread per replica,
/// and checks what every replica saw after every step.
template <class T>
void run_random_steps(std::size_t replicas, aggregation how) {
  auto steps = steps_for(replicas);
  CAPTURE(replicas);
  CAPTURE(steps);
  CAPTURE(how);
  CAPTURE(to_string(dtype_of<T>()));
  // A short default deadline: if a step wedges, every call fails in seconds
  // instead of hanging the suite.
  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{10})};
  auto group = rt.create_group("workers", replicas);
  VARSYNC_REQUIRE_OK(group);
  std::vector<T> initial(elements);
  for (std::int64_t i = 0; i < elements; ++i)
    initial[static_cast<std::size_t>(i)] = static_cast<T>(i);
  auto var = rt.create_variable(*group, "v", tensor_of(initial),
                                options_of(synchronization::on_write, how));
  VARSYNC_REQUIRE_OK(var);
  auto plan = make_schedule<T>(replicas, steps,
                               0x5eed0000u + replicas * 16 +
                                   static_cast<unsigned>(how));
  // seen[r][k]: what replica r read right after its step k completed.
  std::vector<std::vector<tensor>> seen(replicas, std::vector<tensor>(steps));
  std::atomic<bool> failed{false};
  run_on_replicas(*group, [&](replica& r) {
    auto me = r.index();
    for (std::size_t k = 0; k < steps && !failed.load(); ++k) {
      auto operand = tensor_of(plan.operands[me][k]);
      expected<void> done;
      switch (plan.ops[k]) {
      case step_op::assign:
        done = r.assign(*var, operand);
        break;
      case step_op::add:
        done = r.assign_add(*var, operand);
        break;
      case step_op::subtract:
        done = r.assign_sub(*var, operand);
        break;
      }
      if (!done) {
        failed = true;
        CAPTURE(me);
        CAPTURE(k);
        CAPTURE(to_string(plan.ops[k]));
        FAIL_CHECK("update failed: " << done.error().to_string());
        return;
      }
      auto value = r.read(*var);
      if (!value) {
        failed = true;
        FAIL_CHECK("read failed: " << value.error().to_string());
        return;
      }
      seen[me][k] = *value;
    }
  });
  REQUIRE_FALSE(failed.load());
  // Every replica installed the same value after every step, bit for bit.
  std::size_t first_disagreement = steps;
  for (std::size_t k = 0; k < steps && first_disagreement == steps; ++k)
    for (std::size_t r = 1; r < replicas; ++r)
      if (!(seen[r][k] == seen[0][k])) {
        first_disagreement = k;
        CAPTURE(r);
        CAPTURE(seen[0][k]);
        CAPTURE(seen[r][k]);
        FAIL_CHECK("replicas 0 and " << r << " disagree after step " << k);
        break;
      }
  CHECK_EQ(first_disagreement, steps);
  // The sequence of values is the sequential reference, compared exactly:
  // the reference adds the operands in the same (replica index) order, so
  // i64 and f64 sums are bit-identical; for mean, R is a power of two, so
  // dividing by R is an exact scaling and any correct way of dividing
  // (x / R or x * (1 / R)) gives the same bits.
  auto reference = reference_values(plan, initial, how);
  std::size_t first_wrong = steps;
  for (std::size_t k = 0; k < steps; ++k) {
    if (!(seen[0][k] == tensor_of(reference[k]))) {
      first_wrong = k;
      CAPTURE(to_string(plan.ops[k]));
      CAPTURE(seen[0][k]);
      CAPTURE(tensor_of(reference[k]));
      FAIL_CHECK("value after step " << k << " differs from the reference");
      break;
    }
  }
  CHECK_EQ(first_wrong, steps);
  // The final value, also through the cross-replica read.
  auto final_value = rt.read(*var);
  VARSYNC_REQUIRE_OK(final_value);
  CHECK_EQ(*final_value, tensor_of(reference.back()));
}

} // namespace

TEST_CASE("concurrent on_write f64 sum steps install the same values at "
          "every replica and match the sequential reference") {
  for (std::size_t replicas : {2u, 4u, 8u})
    run_random_steps<double>(replicas, aggregation::sum);
}

TEST_CASE("concurrent on_write f64 mean steps install the same values at "
          "every replica and match the sequential reference") {
  for (std::size_t replicas : {2u, 4u, 8u})
    run_random_steps<double>(replicas, aggregation::mean);
}

TEST_CASE("concurrent on_write i64 sum steps install the same values at "
          "every replica and match the sequential reference exactly") {
  for (std::size_t replicas : {2u, 4u, 8u})
    run_random_steps<std::int64_t>(replicas, aggregation::sum);
}

TEST_CASE("a local read of an on_write or on_read copy sends no message") {
  runtime rt;
  auto group = rt.create_group("workers", 2);
  VARSYNC_REQUIRE_OK(group);
  auto zeros = tensor::filled(dtype::f64, {elements}, 0.0);
  VARSYNC_REQUIRE_OK(zeros);
  auto written = rt.create_variable(
      *group, "weights", *zeros,
      options_of(synchronization::on_write, aggregation::mean));
  VARSYNC_REQUIRE_OK(written);
  auto counted = rt.create_variable(
      *group, "examples_seen", varsync::test::scalar(dtype::i64, 0.0),
      options_of(synchronization::on_read, aggregation::sum));
  VARSYNC_REQUIRE_OK(counted);
  auto ones = tensor::filled(dtype::f64, {elements}, 1.0);
  VARSYNC_REQUIRE_OK(ones);
  run_on_replicas(*group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign_add(*written, *ones));
    VARSYNC_CHECK_OK(
        r.assign_add(*counted, varsync::test::scalar(dtype::i64, 3.0)));
  });
  // Setup is complete when the actors are idle (the installs at the other
  // replica of the last on_write step may still be on their way when the
  // caller's update returns).
  REQUIRE(wait_until_quiet(rt));
  auto handles = replicas_of(*group);
  auto before = rt.stats().actor_messages;
  for (auto& r : handles) {
    for (int i = 0; i < 1000; ++i) {
      auto w = r.read(*written);
      auto n = r.read(*counted);
      if (!w || !n) {
        FAIL("local read failed: " << varsync::test::describe(w) << " / "
                                   << varsync::test::describe(n));
      }
    }
  }
  auto after = rt.stats().actor_messages;
  CHECK_EQ(after, before);
  // Nothing was sent late either.
  REQUIRE(wait_until_quiet(rt));
  CHECK_EQ(rt.stats().actor_messages, before);
  // Control: the counter does count. A cross-replica read of the on_read
  // variable asks every replica for its copy.
  auto total = rt.read(*counted);
  VARSYNC_REQUIRE_OK(total);
  CHECK_EQ(total->to_double(), 6.0);
  auto after_cross_read = rt.stats().actor_messages;
  CHECK_GT(after_cross_read, after);
  // And an on_write step sends messages too.
  run_on_replicas(*group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign_add(*written, *ones));
  });
  CHECK_GT(rt.stats().actor_messages, after_cross_read);
}
