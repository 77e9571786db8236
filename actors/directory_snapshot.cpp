#include "actors/directory_snapshot.hpp"

namespace varsync {

std::string check_snapshot(const directory_snapshot& snapshot) {
  if (snapshot.epoch == 0)
    return "a directory copy has epoch 0";
  if (snapshot.holder.empty())
    return "a directory copy names no holder";
  if (snapshot.nodes.size() > max_snapshot_rows ||
      snapshot.groups.size() > max_snapshot_rows ||
      snapshot.variables.size() > max_snapshot_rows)
    return "a directory copy lists more than " +
           std::to_string(max_snapshot_rows) + " nodes, groups or variables";
  for (const auto& node : snapshot.nodes)
    if (node.info.name.empty() || !node.info.agent)
      return "a directory copy lists a node without a name or an agent";
  for (const auto& group : snapshot.groups) {
    auto size = group.size;
    if (group.name.empty() || size == 0 || size > max_snapshot_rows ||
        group.replicas.size() != size || group.nodes.size() != size ||
        group.lost.size() != size || group.rejoins.size() != size)
      return "group '" + group.name +
             "' of a directory copy has lists of the wrong length";
  }
  for (const auto& variable : snapshot.variables)
    if (variable.info.name.empty() || variable.info.id == 0)
      return "a directory copy lists a variable without a name or an id";
  return {};
}

} // namespace varsync
