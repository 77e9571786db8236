// The node hosting a variable actor dies (kill -9) while the replicas make
// updates: the directory re-creates the actor on the next node that serves
// variables, from what the surviving replicas hold, and the job goes on.
//
// Four processes: node-0 (the seed, replicas 0 and 1) and node-2 (replicas
// 2 and 3) make the updates and host no variables; node-1 and node-3 host
// variables only. Variable "v" (the policy under test) lands on node-1,
// the barrier "b" on node-3. node-1 is killed while the replicas update v
// every millisecond, so an on_write step is usually in flight. No replica
// is lost, so nothing may be lost: every policy's final value is exactly
// 4 x the updates (on_write and periodic: no step committed twice or
// dropped; bounded_staleness: every pushed delta recovered from the
// replicas' caches), and the bounded_staleness history of every update and
// read across the processes passes the SSP history checker. Then a worker
// that holds replicas and hosts the variable dies: its replicas are lost
// with the host, and what may be lost is bounded
// (tests/support/rehost_run.hpp, lose_a_worker_hosting).

#include "tests/support/rehost_run.hpp"

#include <csignal>
#include <doctest/doctest.h>

using namespace varsync::test;

TEST_CASE("kill -9 of an on_write variable's host: re-hosted from the "
          "replicas, no committed step lost or applied twice") {
  lose_the_host_of("on_write");
}

TEST_CASE("kill -9 of an on_write variable's host with the bulk plane off "
          "(steps as CAF messages): re-hosted, no step lost") {
  lose_the_host_of("on_write", SIGKILL, false);
}

TEST_CASE("a frozen (SIGSTOP) on_write variable host is re-hosted after the "
          "connection timeout") {
  lose_the_host_of("on_write", SIGSTOP);
}

TEST_CASE("kill -9 of the host of one shard of a sharded on_write "
          "variable: that shard is re-hosted, no step lost, reads whole") {
  lose_the_host_of("on_write", SIGKILL, true, 20, {}, 2);
}

TEST_CASE("kill -9 of the host of one shard of a sharded bounded_staleness "
          "variable: re-hosted, nothing lost, the SSP history holds") {
  lose_the_host_of("bounded_staleness", SIGKILL, true, 20, {}, 2);
}

TEST_CASE("kill -9 of a periodic variable's host: re-hosted, no "
          "synchronization lost") {
  lose_the_host_of("periodic");
}

TEST_CASE("kill -9 of a bounded_staleness variable's host: re-hosted from "
          "the replicas' snapshots and pushed deltas, nothing lost") {
  lose_the_host_of("bounded_staleness");
}

TEST_CASE("kill -9 of an on_read variable's host: re-hosted, cross-replica "
          "reads work again") {
  lose_the_host_of("on_read");
}

TEST_CASE("kill -9 of a none variable's host: re-hosted") {
  lose_the_host_of("none");
}

TEST_CASE("kill -9 of a worker that also hosts the on_write variable: "
          "re-hosted from the survivors, every step they were acknowledged "
          "is kept") {
  lose_a_worker_hosting("on_write");
}

TEST_CASE("kill -9 of a worker that also hosts the bounded_staleness "
          "variable: the survivors' updates are all kept, the lost "
          "replicas' within the bound") {
  auto missing = lose_a_worker_hosting("bounded_staleness");
  MESSAGE("updates of the lost replicas missing from the re-hosted "
          "variable: "
          << missing << " (bound: 2 (s + 1) clocks of each, 12)");
}
