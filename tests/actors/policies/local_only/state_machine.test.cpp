// The rules of synchronization none.

#include "actors/policies/local_only/state_machine.hpp"

#include <doctest/doctest.h>

using namespace varsync;

TEST_CASE("every cross-replica call of a none variable is wrong_context") {
  policies::local_only policy{"scratch"};
  for (const char* call : {"read", "assign", "assign_add", "assign_sub"}) {
    CAPTURE(call);
    auto err = policy.reject_cross_replica(call);
    CHECK(err.code() == errc::wrong_context);
    CHECK(err.message().find("scratch") != std::string::npos);
    CHECK(err.message().find(call) != std::string::npos);
  }
}
