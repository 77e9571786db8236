// periodic (local steps, averaged every k) end to end in one process:
// k = 1 equals on_write bit for bit for assign_add / assign_sub; with k = 2
// and 3 every read between synchronizations is the last synchronized value
// plus the replica's own changes, and every k-th update installs the last
// synchronized value plus the aggregate (sum, mean, only_first_replica) of
// the replicas' accumulated changes — exact integer-valued data; a
// replica-context assign contributes `value - synchronized`; cross-replica
// reads return the last synchronized value.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <cstring>
#include <doctest/doctest.h>
#include <random>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;

namespace {

variable_options periodic_options(std::uint64_t period, aggregation how) {
  variable_options options;
  options.sync = synchronization::periodic;
  options.period = period;
  options.aggregation = how;
  return options;
}

double scalar(const tensor& x) {
  return x.values<double>()[0];
}

bool same_bits(const tensor& x, const tensor& y) {
  auto a = x.bytes();
  auto b = y.bytes();
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

/// Replica i's operand at its update j: integer-valued.
double operand_of(std::size_t replica, std::uint64_t update) {
  return static_cast<double>(replica + 1 + update);
}

/// The synchronized value after `syncs` synchronizations of period k.
double synchronized_after(std::uint64_t syncs, std::uint64_t k,
                          std::size_t replicas, aggregation how,
                          double initial) {
  auto value = initial;
  for (std::uint64_t s = 0; s < syncs; ++s) {
    double total = 0;
    for (std::size_t i = 0; i < replicas; ++i) {
      double change = 0;
      for (auto j = s * k; j < (s + 1) * k; ++j)
        change += operand_of(i, j);
      if (how != aggregation::only_first_replica || i == 0)
        total += change;
    }
    value += how == aggregation::mean ? total / static_cast<double>(replicas)
                                      : total;
  }
  return value;
}

} // namespace

TEST_CASE("periodic with k = 1 equals on_write bit for bit for assign_add "
          "and assign_sub (f64, sum and mean, R = 2 and 4)") {
  for (auto how : {aggregation::sum, aggregation::mean}) {
    for (std::size_t replicas : {2, 4}) {
      CAPTURE(to_string(how));
      CAPTURE(replicas);
      runtime rt;
      auto group = rt.create_group("g", replicas);
      VARSYNC_REQUIRE_OK(group);
      variable_options eager;
      eager.sync = synchronization::on_write;
      eager.aggregation = how;
      tensor initial{0.1, -2.7, 3.3};
      auto mirrored = rt.create_variable(*group, "mirrored", initial, eager);
      auto local_steps = rt.create_variable(*group, "local_steps", initial,
                                            periodic_options(1, how));
      VARSYNC_REQUIRE_OK(mirrored);
      VARSYNC_REQUIRE_OK(local_steps);
      run_on_replicas(*group, [&](replica& r) {
        std::mt19937 rng{static_cast<unsigned>(97 * r.index() + replicas)};
        std::uniform_real_distribution<double> value{-1.0, 1.0};
        for (int step = 0; step < 60; ++step) {
          tensor x{value(rng), value(rng), value(rng)};
          if (step % 3 == 2) {
            VARSYNC_REQUIRE_OK(r.assign_sub(*mirrored, x));
            VARSYNC_REQUIRE_OK(r.assign_sub(*local_steps, x));
          } else {
            VARSYNC_REQUIRE_OK(r.assign_add(*mirrored, x));
            VARSYNC_REQUIRE_OK(r.assign_add(*local_steps, x));
          }
          auto a = r.read(*mirrored);
          auto b = r.read(*local_steps);
          VARSYNC_REQUIRE_OK(a);
          VARSYNC_REQUIRE_OK(b);
          REQUIRE_MESSAGE(same_bits(*a, *b),
                          "step " << step << ": " << *a << " vs " << *b);
        }
      });
      auto a = rt.read(*mirrored);
      auto b = rt.read(*local_steps);
      VARSYNC_REQUIRE_OK(a);
      VARSYNC_REQUIRE_OK(b);
      CHECK(same_bits(*a, *b));
    }
  }
}

TEST_CASE("periodic with k = 2 and 3: local reads, synchronized values and "
          "cross-replica reads follow the sum / mean / only_first rules "
          "exactly") {
  for (auto how :
       {aggregation::sum, aggregation::mean, aggregation::only_first_replica}) {
    for (std::uint64_t k : {2, 3}) {
      CAPTURE(to_string(how));
      CAPTURE(k);
      const std::size_t replicas = 4;
      const double initial = 5.0;
      // 4k + 1 updates: the last one leaves a change unsynchronized.
      const std::uint64_t updates = 4 * k + 1;
      runtime rt;
      auto group = rt.create_group("g", replicas);
      VARSYNC_REQUIRE_OK(group);
      auto w = rt.create_variable(*group, "w", tensor(initial),
                                  periodic_options(k, how));
      VARSYNC_REQUIRE_OK(w);
      run_on_replicas(*group, [&](replica& r) {
        auto i = r.index();
        for (std::uint64_t j = 0; j < updates; ++j) {
          VARSYNC_REQUIRE_OK(r.assign_add(*w, tensor(operand_of(i, j))));
          auto done = j + 1;
          auto syncs = done / k;
          double own = 0;
          for (auto u = syncs * k; u < done; ++u)
            own += operand_of(i, u);
          auto local = r.read(*w);
          VARSYNC_REQUIRE_OK(local);
          CHECK_MESSAGE(
              scalar(*local) ==
                  synchronized_after(syncs, k, replicas, how, initial) + own,
              "replica " << i << " after update " << done);
        }
      });
      auto cross = rt.read(*w);
      VARSYNC_REQUIRE_OK(cross);
      CHECK(scalar(*cross) ==
            synchronized_after(updates / k, k, replicas, how, initial));
    }
  }
}

TEST_CASE("a replica-context assign under periodic sets the local copy and "
          "contributes value - synchronized at the next synchronization") {
  runtime rt;
  auto group = rt.create_group("g", 2);
  VARSYNC_REQUIRE_OK(group);
  auto w = rt.create_variable(*group, "w", tensor(4.0),
                              periodic_options(2, aggregation::mean));
  VARSYNC_REQUIRE_OK(w);
  run_on_replicas(*group, [&](replica& r) {
    if (r.index() == 0) {
      VARSYNC_REQUIRE_OK(r.assign(*w, tensor(10.0)));
      CHECK(scalar(*r.read(*w)) == 10.0); // local copy only
      VARSYNC_REQUIRE_OK(r.assign_add(*w, tensor(1.0)));
    } else {
      VARSYNC_REQUIRE_OK(r.assign_add(*w, tensor(2.0)));
      CHECK(scalar(*r.read(*w)) == 6.0);
      VARSYNC_REQUIRE_OK(r.assign_add(*w, tensor(2.0)));
    }
    // changes 10 - 4 + 1 = 7 and 4: 4 + mean(7, 4) = 9.5 everywhere.
    CHECK(scalar(*r.read(*w)) == 9.5);
  });
  CHECK(scalar(*rt.read(*w)) == 9.5);
}

TEST_CASE("periodic needs a period, and only periodic takes one") {
  runtime rt;
  auto group = rt.create_group("g", 2);
  VARSYNC_REQUIRE_OK(group);
  auto unset = rt.create_variable(*group, "a", tensor(0.0),
                                  periodic_options(0, aggregation::mean));
  REQUIRE(!unset);
  CHECK(unset.error().code() == errc::invalid_policy);
  CHECK(unset.error().message().find("period") != std::string::npos);
  variable_options eager;
  eager.sync = synchronization::on_write;
  eager.aggregation = aggregation::mean;
  eager.period = 4;
  auto stray = rt.create_variable(*group, "b", tensor(0.0), eager);
  REQUIRE(!stray);
  CHECK(stray.error().code() == errc::invalid_policy);
}
