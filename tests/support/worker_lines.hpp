#pragma once

// Parsing the event lines of tests/programs/cluster_worker (see the table
// at the top of that file).

#include "tests/support/write_history.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace varsync::test {

/// The whitespace-separated fields of every line of `output` that starts
/// with `kind` followed by a space.
inline std::vector<std::vector<std::string>> lines_of(const std::string& output,
                                                      const std::string& kind) {
  std::vector<std::vector<std::string>> result;
  std::istringstream in{output};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(kind + " ", 0) != 0)
      continue;
    std::istringstream fields{line};
    std::vector<std::string> row;
    for (std::string field; fields >> field;)
      row.push_back(field);
    result.push_back(std::move(row));
  }
  return result;
}

/// The bulk frames a worker sent and received, from its "bulk_frames
/// sent=N received=M" line ({0, 0} without one).
inline std::pair<std::uint64_t, std::uint64_t>
bulk_frames_of(const std::string& output) {
  auto rows = lines_of(output, "bulk_frames");
  if (rows.empty() || rows.back().size() < 3)
    return {0, 0};
  const auto& row = rows.back();
  return {std::stoull(row[1].substr(row[1].find('=') + 1)),
          std::stoull(row[2].substr(row[2].find('=') + 1))};
}

/// The bulk frames a worker sent.
inline std::uint64_t bulk_frames_sent(const std::string& output) {
  return bulk_frames_of(output).first;
}

/// The steady clock now, in the workers' unit (ns since the clock's epoch;
/// CLOCK_MONOTONIC is the same clock in every process of the machine).
inline std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The on_write histories (tests/support/write_history.hpp) of the
/// replicas in worker outputs ("step <replica> <k> <value>" lines, each
/// update adding 1); `lost`: that worker was killed.
inline std::vector<write_history>
unit_step_histories(const std::vector<std::pair<std::string, bool>>& outputs) {
  std::vector<write_history> result;
  for (const auto& [output, lost] : outputs) {
    std::map<std::string, write_history> by_replica;
    for (const auto& row : lines_of(output, "step")) {
      if (row.size() < 4)
        continue; // cut short by a kill
      auto& history = by_replica[row[1]];
      history.name = "replica " + row[1];
      history.lost = lost;
      history.added.push_back(1);
      history.read.push_back(std::llround(std::stod(row[3])));
    }
    for (auto& [replica, history] : by_replica)
      result.push_back(std::move(history));
  }
  return result;
}

} // namespace varsync::test
