#pragma once

// The integer-valued workload the multi-process tests run on every policy:
// the same function runs in one embedded runtime (the reference) and in
// several processes that each hold some replicas of the group; the result
// lines of the processes together must equal the reference's exactly.

#include "tests/support/child_process.hpp"

#include <set>
#include <string>
#include <varsync/varsync.hpp>
#include <vector>

namespace varsync::test {

/// Runs every case of the workload on the replicas of `group` that live in
/// this process (one thread each) and returns its result lines, e.g.
/// "ow_sum_assign replica=3 12" or "or_sum cross 15" (cross-replica reads
/// are made by every process; equal lines appear once per process). A
/// failed call yields a line naming its error code instead of a value.
/// Blocks until every case finished, which needs every process of the
/// group to run it too. Every variable is created with `shards`
/// (variable_options::shards): the lines must not depend on it.
std::vector<std::string> run_policy_workload(runtime& rt,
                                             const replica_group& group,
                                             std::uint32_t shards = 1);

/// The workload's result lines in one embedded runtime with a group of
/// `replicas` replicas: what the processes together must print.
std::set<std::string> reference_lines(std::size_t replicas = 6);

/// The result lines ("result ..." without the prefix) that the worker
/// processes `nodes` printed so far.
std::set<std::string> printed_results(std::vector<child_process>& nodes);

} // namespace varsync::test
