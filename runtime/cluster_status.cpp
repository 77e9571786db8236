#include "varsync/cluster_status.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

namespace varsync {

std::vector<std::size_t> group_status::alive() const {
  std::vector<std::size_t> result;
  for (const auto& replica : replicas)
    if (replica.alive)
      result.push_back(replica.index);
  return result;
}

std::vector<std::size_t> group_status::lost() const {
  std::vector<std::size_t> result;
  for (const auto& replica : replicas)
    if (!replica.alive && !replica.node.empty())
      result.push_back(replica.index);
  return result;
}

std::string state_of(const node_status& node) {
  return node.alive ? "alive" : node.left ? "left" : "lost";
}

namespace {

/// Renders rows as left-aligned columns separated by two spaces.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths.resize(std::max(widths.size(), row.size()));
      widths[i] = std::max(widths[i], row[i].size());
    }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << "  " << line << '\n';
  }
  return out.str();
}

std::string join(const std::vector<std::size_t>& indices) {
  if (indices.empty())
    return "-";
  std::string result;
  for (auto index : indices)
    result += (result.empty() ? "" : ",") + std::to_string(index);
  return result;
}

} // namespace

std::string to_string(const cluster_status& status) {
  std::string result = "directory held by " + status.holder + " (epoch " +
                       std::to_string(status.epoch) + ")\n";
  if (!status.directory_note.empty())
    result += "  note: " + status.directory_note + "\n";
  result += "nodes (" + std::to_string(status.nodes.size()) + ")\n";
  std::vector<std::vector<std::string>> rows{
      {"NAME", "ADDRESS", "ROLE", "SERVES", "STATE"}};
  for (const auto& node : status.nodes)
    rows.push_back({node.name, node.address.empty() ? "-" : node.address,
                    node.holder ? "holder" : "member",
                    node.serves_variables ? "yes" : "no", state_of(node)});
  result += table(rows);
  result += "groups (" + std::to_string(status.groups.size()) + ")\n";
  rows = {{"NAME", "SIZE", "ALIVE", "LOST", "NODES"}};
  for (const auto& group : status.groups) {
    std::string nodes;
    for (const auto& replica : group.replicas)
      nodes += (nodes.empty() ? "" : " ") + std::to_string(replica.index) +
               "@" + (replica.node.empty() ? "?" : replica.node) +
               (replica.rejoins > 0
                    ? " (rejoined " + std::to_string(replica.rejoins) + "x)"
                    : "");
    rows.push_back({group.name, std::to_string(group.size), join(group.alive()),
                    join(group.lost()), nodes});
  }
  result += table(rows);
  result += "variables (" + std::to_string(status.variables.size()) + ")\n";
  rows = {{"NAME", "GROUP", "TYPE AND POLICY", "NODE", "STATE", "VERSION",
           "CLOCK"}};
  for (const auto& var : status.variables)
    rows.push_back({var.name, var.group, var.description, var.node,
                    var.available ? "available" : "unavailable",
                    std::to_string(var.version), std::to_string(var.clock)});
  result += table(rows);
  return result;
}

std::string to_json(const cluster_status& status) {
  using nlohmann::json;
  json nodes = json::array();
  for (const auto& node : status.nodes) {
    json row = {{"name", node.name},
                {"address", node.address},
                {"holder", node.holder},
                {"serves_variables", node.serves_variables},
                {"state", state_of(node)}};
    if (!node.alive)
      row["ended_unix_ms"] = node.ended_unix_ms;
    nodes.push_back(std::move(row));
  }
  json groups = json::array();
  for (const auto& group : status.groups) {
    json replicas = json::array();
    for (const auto& replica : group.replicas)
      replicas.push_back({{"index", replica.index},
                          {"node", replica.node},
                          {"state", replica.alive          ? "alive"
                                    : replica.node.empty() ? "missing"
                                                           : "lost"},
                          {"rejoins", replica.rejoins}});
    groups.push_back({{"name", group.name},
                      {"size", group.size},
                      {"complete", group.complete},
                      {"replicas", std::move(replicas)}});
  }
  json variables = json::array();
  for (const auto& var : status.variables)
    variables.push_back({{"name", var.name},
                         {"group", var.group},
                         {"description", var.description},
                         {"node", var.node},
                         {"available", var.available},
                         {"version", var.version},
                         {"clock", var.clock}});
  json document = {
      {"schema", "varsync.status/" + std::to_string(status_schema_version)},
      {"holder", status.holder},
      {"epoch", status.epoch},
      {"directory_note", status.directory_note},
      {"nodes", std::move(nodes)},
      {"groups", std::move(groups)},
      {"variables", std::move(variables)},
  };
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace varsync
