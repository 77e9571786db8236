// What the on_write data path copies in user space, through the public
// counter runtime_stats::bytes_copied: an in-process step shares the
// contributions and the result between the replicas and the variable
// actor (nothing copied); a copy of the whole tensor per step would show.
// on_read row updates add to the local copy in place.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <cstdint>
#include <doctest/doctest.h>
#include <varsync/varsync.hpp>

using namespace varsync;
using varsync::test::options_of;
using varsync::test::replicas_of;
using varsync::test::run_on_replicas;

TEST_CASE("in-process on_write steps of a 1 MiB tensor copy no tensor bytes "
          "in user space") {
  constexpr std::int64_t elements = 256 * 1024; // 1 MiB of f32
  constexpr int steps = 20;
  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{30})};
  auto group = rt.create_group("workers", 2);
  REQUIRE(group);
  auto zeros = tensor::filled(dtype::f32, {elements}, 0);
  REQUIRE(zeros);
  auto var = rt.create_variable(
      *group, "w", *zeros,
      options_of(synchronization::on_write, aggregation::sum));
  REQUIRE(var);
  auto replicas = replicas_of(*group);
  std::vector<tensor> deltas;
  for (std::size_t r = 0; r < replicas.size(); ++r) {
    auto delta =
        tensor::filled(dtype::f32, {elements}, static_cast<double>(r + 1));
    REQUIRE(delta);
    deltas.push_back(std::move(*delta));
  }
  auto before = rt.stats().bytes_copied;
  run_on_replicas(*group, [&](replica r) {
    for (int k = 0; k < steps; ++k)
      REQUIRE(r.assign_add(*var, deltas[r.index()]));
  });
  auto copied = rt.stats().bytes_copied - before;
  MESSAGE("copied " << copied << " bytes in " << steps << " steps of "
                    << elements * 4 << " bytes");
  CHECK_EQ(copied, 0u);
  // The steps happened: every element is steps x (1 + 2).
  auto value = replicas[0].read(*var);
  REQUIRE(value);
  CHECK_EQ(value->values<float>()[elements - 1], static_cast<float>(steps * 3));
}

TEST_CASE("on_read row updates add in place: steps touching 1% of a 4 MiB "
          "table copy no tensor bytes") {
  constexpr std::int64_t rows = 65536;
  constexpr std::int64_t columns = 16; // 4 MiB of f32
  constexpr int steps = 20;
  runtime rt{varsync::test::with_default_timeout(std::chrono::seconds{30})};
  auto group = rt.create_group("workers", 2);
  REQUIRE(group);
  auto var = rt.create_variable(
      *group, "table", *tensor::filled(dtype::f32, {rows, columns}, 0),
      options_of(synchronization::on_read, aggregation::sum));
  REQUIRE(var);
  std::vector<std::int64_t> touched;
  for (std::int64_t i = 0; i < rows; i += 100)
    touched.push_back(i);
  auto values = *tensor::filled(
      dtype::f32, {static_cast<std::int64_t>(touched.size()), columns}, 1);
  // Every replica's copy starts as the initial value's buffer, shared with
  // the others: its first write copies it once. Later steps copy nothing.
  auto before = rt.stats().bytes_copied;
  run_on_replicas(*group, [&](replica r) {
    REQUIRE(r.assign_add_rows(*var, touched, values));
  });
  CHECK_LE(rt.stats().bytes_copied - before, 2u * rows * columns * 4);
  before = rt.stats().bytes_copied;
  run_on_replicas(*group, [&](replica r) {
    for (int k = 1; k < steps; ++k)
      REQUIRE(r.assign_add_rows(*var, touched, values));
  });
  CHECK_EQ(rt.stats().bytes_copied - before, 0u);
  // Each replica's copy holds its own steps; the cross-replica read sums.
  auto summed = rt.read_rows(*var, touched);
  REQUIRE(summed);
  CHECK_EQ(summed->values<float>()[0], static_cast<float>(2 * steps));
  std::vector<std::int64_t> untouched{1};
  auto other = rt.read_rows(*var, untouched);
  REQUIRE(other);
  CHECK_EQ(other->values<float>()[0], 0.0f);
}
