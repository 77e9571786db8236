// The on_write history checker (tests/support/write_history.hpp) accepts
// consistent histories and catches planted violations.

#include "tests/support/write_history.hpp"

#include <doctest/doctest.h>

using namespace varsync::test;

namespace {

/// Two replicas that each add 1 per step, three steps: 2, 4, 6.
std::vector<write_history> two_replicas() {
  return {{"replica 0", {1, 1, 1}, {2, 4, 6}},
          {"replica 1", {1, 1, 1}, {2, 4, 6}}};
}

} // namespace

TEST_CASE("a consistent history passes") {
  CHECK(check_write_histories(two_replicas(), 0).empty());
}

TEST_CASE("a replica lost mid-step: its unacknowledged update may or may "
          "not be in the next version, and the survivor goes on alone") {
  auto histories = two_replicas();
  histories[1].added.resize(1);
  histories[1].read.resize(1);
  histories[1].lost = true;
  // Step 2 with replica 1's last contribution (4), step 3 without (5).
  histories[0].read = {2, 4, 5};
  CHECK(check_write_histories(histories, 0).empty());
  // Or without it (3, 4).
  histories[0].read = {2, 3, 4};
  CHECK(check_write_histories(histories, 0).empty());
}

TEST_CASE("a step acknowledged only to a lost replica may be redone "
          "without it") {
  auto histories = two_replicas();
  histories[1].read = {2, 4, 6};
  histories[1].lost = true;
  histories[0].read = {2, 4, 5}; // the survivor's step 3 without replica 1
  CHECK(check_write_histories(histories, 0).empty());
}

TEST_CASE("planted violations are caught") {
  SUBCASE("a read of a value that was never a version") {
    auto histories = two_replicas();
    histories[1].read[1] = 5;
    CHECK_FALSE(check_write_histories(histories, 0).empty());
  }
  SUBCASE("an acknowledged contribution missing from the value") {
    auto histories = two_replicas();
    histories[0].read[2] = 5;
    histories[1].read[2] = 5;
    auto violations = check_write_histories(histories, 0);
    REQUIRE_FALSE(violations.empty());
    CHECK(violations.front().find("missing") != std::string::npos);
  }
  SUBCASE("a contribution applied twice") {
    auto histories = two_replicas();
    histories[0].read[2] = 7;
    histories[1].read[2] = 7;
    auto violations = check_write_histories(histories, 0);
    REQUIRE_FALSE(violations.empty());
    CHECK(violations.front().find("nobody contributed") != std::string::npos);
  }
  SUBCASE("a replica skipping a version while it took part") {
    auto histories = two_replicas();
    histories.push_back({"replica 2", {1}, {3}});
    CHECK_FALSE(check_write_histories(histories, 0).empty());
  }
  SUBCASE("a value that goes back") {
    auto histories = two_replicas();
    histories[0].read = {2, 6, 4};
    CHECK_FALSE(check_write_histories(histories, 0).empty());
  }
}
