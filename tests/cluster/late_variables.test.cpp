// A bounded_staleness variable created after its group has clocked, across
// processes (real TCP on loopback): groups of 2 and 4 replicas on two node
// processes clock 0, 1 or 5 times, then every process creates the
// variable, and each replica adds 10 * c + q + 1 to its own element at
// every clock c. With s = 0 every read right after clock() is the exact
// sum of every update tagged below its clock; with s = 2 each element is a
// prefix of its replica's updates that includes every update tagged below
// clock - 2, and the reader's own element is exact. Variable actors on the
// seed, and spread over the nodes.

#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <doctest/doctest.h>
#include <sstream>

using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t clocks_with_variable = 6;

std::int64_t delta_of(std::size_t replica, std::uint64_t clock) {
  return static_cast<std::int64_t>(10 * clock + replica + 1);
}

/// Replica p's updates tagged below `clock` (one per clock from `first`).
std::int64_t sum_before(std::size_t replica, std::uint64_t first,
                        std::uint64_t clock) {
  std::int64_t sum = 0;
  for (auto c = first; c < clock; ++c)
    sum += delta_of(replica, c);
  return sum;
}

std::vector<std::int64_t> parse_values(const std::string& field) {
  std::vector<std::int64_t> values;
  std::stringstream in{field};
  for (std::string item; std::getline(in, item, ',');)
    values.push_back(std::stoll(item));
  return values;
}

void run_across_processes(std::size_t replicas, std::uint64_t clocks_before,
                          std::uint64_t bound, bool spread) {
  CAPTURE(replicas);
  CAPTURE(clocks_before);
  CAPTURE(bound);
  CAPTURE(spread);
  std::vector<std::size_t> first_half, second_half;
  for (std::size_t q = 0; q < replicas; ++q)
    (q < replicas / 2 ? first_half : second_half).push_back(q);
  std::vector<std::string> seed_args;
  if (spread)
    seed_args = {"--spread-variables", "true"};
  auto cluster = start_test_cluster(
      {{first_half, seed_args}, {second_half, {}}},
      {"--scenario", "late_ssp", "--group-size", std::to_string(replicas),
       "--clocks-before", std::to_string(clocks_before), "--bound",
       std::to_string(bound), "--clocks-with-variable",
       std::to_string(clocks_with_variable)});
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  for (auto& node : cluster.nodes)
    REQUIRE_MESSAGE(node.wait_for_line("done", 60s), cluster.transcript());
  std::size_t reads = 0;
  for (auto& node : cluster.nodes) {
    auto output = node.output();
    CHECK_MESSAGE(lines_of(output, "late_error").empty(), output);
    for (const auto& row : lines_of(output, "late")) {
      REQUIRE(row.size() == 4);
      auto reader = std::stoul(row[1]);
      auto clock = std::stoull(row[2]);
      auto values = parse_values(row[3]);
      REQUIRE(values.size() == replicas);
      ++reads;
      for (std::size_t p = 0; p < replicas; ++p) {
        INFO("replica " << reader << " at clock " << clock << ", element "
                        << p);
        auto exact = sum_before(p, clocks_before, clock);
        if (bound == 0 || p == reader) {
          CHECK(values[p] == exact);
          continue;
        }
        // A prefix of p's updates, covering every clock below clock - s.
        bool is_prefix = false;
        std::uint64_t required = clock > bound ? clock - bound : 0;
        for (auto upto = std::max(required, clocks_before);
             upto <= clocks_before + clocks_with_variable; ++upto)
          is_prefix |= values[p] == sum_before(p, clocks_before, upto);
        CHECK(is_prefix);
      }
    }
  }
  CHECK(reads == replicas * clocks_with_variable);
  CHECK_MESSAGE(cluster.stop(), cluster.transcript());
}

} // namespace

TEST_CASE("a bounded_staleness variable created after 0, 1 or 5 clocks "
          "joins the group's clocks across processes (s = 0: exact sums)") {
  for (std::size_t replicas : {2, 4})
    for (std::uint64_t clocks_before : {0, 1, 5})
      run_across_processes(replicas, clocks_before, 0, false);
}

TEST_CASE("the same with s = 2 and the variable actor spread over the "
          "nodes") {
  for (std::size_t replicas : {2, 4})
    for (std::uint64_t clocks_before : {0, 5})
      run_across_processes(replicas, clocks_before, 2, true);
}
