#include "tests/support/ssp_history.hpp"

#include <algorithm>
#include <limits>

namespace varsync::test {

std::size_t ssp_history::read_count() const {
  std::size_t total = 0;
  for (const auto& reads : reads_)
    total += reads.size();
  return total;
}

namespace {

constexpr auto no_bound = std::numeric_limits<std::uint64_t>::max();

/// Prefix sums of one replica's deltas: sums[k] = sum of the first k.
std::vector<std::int64_t> prefix_sums(const std::vector<update_record>& log) {
  std::vector<std::int64_t> sums{0};
  for (const auto& update : log)
    sums.push_back(sums.back() + update.delta);
  return sums;
}

/// How many of `log`'s updates satisfy `predicate` when they form a prefix
/// (clocks and sequences both grow along a replica's log).
template <class Predicate>
std::size_t prefix_length(const std::vector<update_record>& log,
                          Predicate predicate) {
  return static_cast<std::size_t>(
      std::find_if_not(log.begin(), log.end(), predicate) - log.begin());
}

std::string describe(std::size_t reader, const read_record& read,
                     std::size_t element) {
  return "replica " + std::to_string(reader) + " read at clock " +
         std::to_string(read.clock) + " (sequence " +
         std::to_string(read.sequence) + "), element " +
         std::to_string(element) + " = " + std::to_string(read.value[element]) +
         ": ";
}

} // namespace

std::vector<std::string> check_ssp_history(const ssp_history& history,
                                           std::uint64_t bound) {
  std::vector<std::string> violations;
  const auto replicas = history.replicas();
  std::vector<std::vector<std::int64_t>> sums;
  for (const auto& log : history.updates())
    sums.push_back(prefix_sums(log));
  for (std::size_t reader = 0; reader < replicas; ++reader) {
    for (const auto& read : history.reads()[reader]) {
      if (bound != no_bound && read.reported_staleness > bound)
        violations.push_back("replica " + std::to_string(reader) +
                             " read at clock " + std::to_string(read.clock) +
                             " reported staleness " +
                             std::to_string(read.reported_staleness) +
                             " > bound " + std::to_string(bound));
      if (read.value.size() != replicas) {
        violations.push_back("replica " + std::to_string(reader) +
                             " read a value of the wrong size");
        continue;
      }
      for (std::size_t q = 0; q < replicas; ++q) {
        const auto& log = history.updates()[q];
        auto included = read.value[q] - history.initial()[q];
        auto found = std::find(sums[q].begin(), sums[q].end(), included);
        if (found == sums[q].end()) {
          violations.push_back(describe(reader, read, q) +
                               "is no prefix of replica " + std::to_string(q) +
                               "'s updates (holds something never "
                               "written)");
          continue;
        }
        auto visible = static_cast<std::size_t>(found - sums[q].begin());
        auto written_before = prefix_length(log, [&](const auto& update) {
          return update.sequence < read.sequence;
        });
        if (q == reader) {
          if (visible != written_before)
            violations.push_back(describe(reader, read, q) + "includes " +
                                 std::to_string(visible) +
                                 " own updates, but " +
                                 std::to_string(written_before) +
                                 " were made (read-your-writes)");
          continue;
        }
        if (visible > written_before)
          violations.push_back(describe(reader, read, q) + "includes " +
                               std::to_string(visible) +
                               " updates of replica " + std::to_string(q) +
                               ", only " + std::to_string(written_before) +
                               " were made before the read");
        if (bound == no_bound || read.clock <= bound)
          continue;
        auto horizon = read.clock - bound;
        auto required = prefix_length(
            log, [&](const auto& update) { return update.clock < horizon; });
        if (visible < required)
          violations.push_back(
              describe(reader, read, q) + "includes " +
              std::to_string(visible) + " updates of replica " +
              std::to_string(q) + ", but the " + std::to_string(required) +
              " made at clocks < " + std::to_string(horizon) + " are required");
      }
    }
  }
  return violations;
}

} // namespace varsync::test
