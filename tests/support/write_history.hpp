#pragma once

// A checker of on_write (and periodic, at its synchronizations) histories
// recorded across processes: for a sum variable that replicas only add
// strictly positive amounts to, each replica records, per acknowledged
// update, what it added and the value it read right after (before its next
// update). The variable's versions form one global sequence
//   V0 = initial < V1 < V2 < ...,  Vj = Vj-1 + the contributions of step j,
// and the checker verifies, without knowing the step numbers:
//   - a replica's reads strictly increase and are consecutive versions (a
//     live replica takes part in every step, so it never skips one);
//   - every version's increase is exactly the sum of what the replicas
//     that read it right after their update added (every acknowledged
//     contribution is in the value, and nothing else is), except that a
//     replica whose history ends (it was lost) may have added one more
//     update it never saw acknowledged;
//   - the last read of a lost replica may be a version nobody else saw (a
//     step acknowledged only to replicas that were lost with the variable's
//     host is redone by the survivors without them).
// A replica that rejoined is recorded as a new history (a new
// incarnation, from its first acknowledged update after the rejoin).

#include <cstdint>
#include <string>
#include <vector>

namespace varsync::test {

/// One replica incarnation's acknowledged updates, in order.
struct write_history {
  /// Names it in violations ("replica 4", "replica 4 after its rejoin").
  std::string name;
  /// What each update added (> 0) and the value read right after it.
  std::vector<std::int64_t> added;
  std::vector<std::int64_t> read;
  /// Its process was killed: it may have made one more update, unrecorded.
  bool lost = false;
  /// The largest amount one unrecorded update of it may have added.
  std::int64_t largest_update = 1;
};

/// Every violation in `histories` of a variable that started at `initial`,
/// one line each; empty when the histories are consistent.
std::vector<std::string>
check_write_histories(const std::vector<write_history>& histories,
                      std::int64_t initial);

} // namespace varsync::test
