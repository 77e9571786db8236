// The policy table: every concrete policy has a variable side; anything
// else (automatic unresolved, a value from a newer peer) is an explicit
// invalid_policy error, never a silent fallback to on_write.

#include "actors/policies/table.hpp"

#include <doctest/doctest.h>

using namespace varsync;

TEST_CASE("every concrete synchronization has a variable side") {
  for (auto sync : {synchronization::on_write, synchronization::on_read,
                    synchronization::none, synchronization::bounded_staleness,
                    synchronization::periodic}) {
    CAPTURE(to_string(sync));
    auto side = policies::variable_side_of(sync);
    REQUIRE(side);
    CHECK((*side != nullptr));
  }
}

TEST_CASE("automatic and unknown values are invalid_policy, not on_write") {
  auto automatic = policies::variable_side_of(synchronization::automatic);
  REQUIRE(!automatic);
  CHECK(automatic.error().code() == errc::invalid_policy);
  auto unknown = policies::variable_side_of(static_cast<synchronization>(42));
  REQUIRE(!unknown);
  CHECK(unknown.error().code() == errc::invalid_policy);
  CHECK(unknown.error().message().find("42") != std::string::npos);
  CHECK((*policies::variable_side_of(synchronization::on_write) !=
         *policies::variable_side_of(synchronization::on_read)));
}
