#include "tests/support/write_history.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace varsync::test {

std::vector<std::string>
check_write_histories(const std::vector<write_history>& histories,
                      std::int64_t initial) {
  std::vector<std::string> violations;
  // The versions: every value read, but the last read of a lost replica
  // (it may be a version only the lost replicas saw).
  std::set<std::int64_t> versions{initial};
  for (const auto& history : histories) {
    if (history.added.size() != history.read.size()) {
      violations.push_back(
          history.name + ": " + std::to_string(history.added.size()) +
          " updates but " + std::to_string(history.read.size()) + " reads");
      return violations;
    }
    auto counted = history.read.size();
    if (history.lost && counted > 0)
      --counted;
    versions.insert(history.read.begin(),
                    history.read.begin() +
                        static_cast<std::ptrdiff_t>(counted));
  }
  std::vector<std::int64_t> sequence(versions.begin(), versions.end());
  auto position = [&sequence](std::int64_t value) {
    auto at = std::lower_bound(sequence.begin(), sequence.end(), value);
    return at != sequence.end() && *at == value
               ? static_cast<std::ptrdiff_t>(at - sequence.begin())
               : std::ptrdiff_t{-1};
  };
  // What the replicas that read each version right after their update
  // added, and how much unrecorded updates of lost replicas may add.
  std::map<std::int64_t, std::int64_t> recorded;
  std::map<std::int64_t, std::int64_t> allowance;
  for (const auto& history : histories) {
    std::ptrdiff_t previous = -1;
    for (std::size_t i = 0; i < history.read.size(); ++i) {
      auto value = history.read[i];
      auto at = position(value);
      auto last_of_lost = history.lost && i + 1 == history.read.size();
      if (history.added[i] <= 0)
        violations.push_back(history.name + ": update " + std::to_string(i) +
                             " added " + std::to_string(history.added[i]) +
                             " (the workload adds positive amounts only)");
      if (at < 0) {
        if (!last_of_lost)
          violations.push_back(history.name + ": read " +
                               std::to_string(value) + " after update " +
                               std::to_string(i) +
                               ", a version nobody else "
                               "read");
        continue;
      }
      if (previous >= 0 && at != previous + 1)
        violations.push_back(
            history.name + ": read " + std::to_string(value) +
            " after update " + std::to_string(i) + " but " +
            std::to_string(sequence[static_cast<std::size_t>(previous)]) +
            " after the one before: " +
            (at <= previous
                 ? "the value went back"
                 : "it skipped " + std::to_string(at - previous - 1) +
                       " version(s) while it took part"));
      recorded[value] += history.added[i];
      previous = at;
    }
    if (history.lost &&
        previous + 1 < static_cast<std::ptrdiff_t>(sequence.size()))
      allowance[sequence[static_cast<std::size_t>(previous + 1)]] +=
          history.largest_update;
  }
  for (std::size_t j = 1; j < sequence.size(); ++j) {
    auto increase = sequence[j] - sequence[j - 1];
    auto known = recorded[sequence[j]];
    auto slack = allowance[sequence[j]];
    if (increase < known || increase > known + slack)
      violations.push_back("version " + std::to_string(sequence[j]) +
                           " (after " + std::to_string(sequence[j - 1]) +
                           ") added " + std::to_string(increase) +
                           ", but the replicas that read it after "
                           "their update added " +
                           std::to_string(known) +
                           (slack > 0 ? " (+ at most " + std::to_string(slack) +
                                            " unacknowledged of lost replicas)"
                                      : std::string{}) +
                           (increase < known
                                ? ": an acknowledged contribution is missing"
                                : ": it holds something nobody contributed"));
  }
  return violations;
}

} // namespace varsync::test
