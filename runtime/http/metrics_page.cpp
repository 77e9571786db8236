#include "runtime/http/metrics_page.hpp"

#include "runtime/core/metrics.hpp"

#include <cstdio>
#include <map>

namespace varsync::http {

std::string escape_label(const std::string& text) {
  std::string result;
  result.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      result += "\\\\";
    else if (c == '"')
      result += "\\\"";
    else if (c == '\n')
      result += "\\n";
    else
      result += c;
  }
  return result;
}

namespace {

/// Appends one metric family at a time: HELP and TYPE once, then samples.
class page {
public:
  void family(const std::string& name, const char* type, const char* help) {
    text_ +=
        "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }

  void sample(const std::string& name, const std::string& labels,
              double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    text_ += name;
    if (!labels.empty())
      text_ += "{" + labels + "}";
    text_ += " ";
    text_ += number;
    text_ += "\n";
  }

  void counter(const std::string& name, const char* help, std::uint64_t value) {
    family(name, "counter", help);
    sample(name, "", static_cast<double>(value));
  }

  /// The samples of one labelled histogram (its family written before).
  void histogram(const std::string& name, const std::string& labels,
                 const metrics::histogram::reading& reading) {
    auto with = [&](const std::string& more) {
      return labels.empty() ? more : labels + "," + more;
    };
    for (std::size_t i = 0; i < reading.bounds.size(); ++i) {
      char bound[32];
      std::snprintf(bound, sizeof bound, "%g", reading.bounds[i]);
      sample(name + "_bucket", with("le=\"" + std::string{bound} + "\""),
             static_cast<double>(reading.cumulative[i]));
    }
    sample(name + "_bucket", with("le=\"+Inf\""),
           static_cast<double>(reading.cumulative.back()));
    sample(name + "_sum", labels, reading.sum);
    sample(name + "_count", labels,
           static_cast<double>(reading.cumulative.back()));
  }

  std::string take() { return std::move(text_); }

private:
  std::string text_;
};

std::string label(const char* name, const std::string& value) {
  return std::string{name} + "=\"" + escape_label(value) + "\"";
}

void render_status(page& out, const cluster_status& status) {
  out.family("varsync_directory_epoch", "gauge",
             "Term of the directory's holder (1: the seed).");
  out.sample("varsync_directory_epoch", "", static_cast<double>(status.epoch));
  std::map<std::string, int> nodes{{"alive", 0}, {"left", 0}, {"lost", 0}};
  for (const auto& node : status.nodes)
    ++nodes[state_of(node)];
  out.family("varsync_cluster_nodes", "gauge",
             "Nodes the directory lists, by state (left: shut down in "
             "order; lost: killed or cut off).");
  for (const auto& [state, count] : nodes)
    out.sample("varsync_cluster_nodes", label("state", state), count);
  out.family("varsync_group_replicas", "gauge",
             "Replicas of each group, by state.");
  for (const auto& group : status.groups) {
    std::map<std::string, int> states{
        {"alive", 0}, {"lost", 0}, {"missing", 0}};
    for (const auto& replica : group.replicas)
      ++states[replica.alive          ? "alive"
               : replica.node.empty() ? "missing"
                                      : "lost"];
    for (const auto& [state, count] : states)
      out.sample("varsync_group_replicas",
                 label("group", group.name) + "," + label("state", state),
                 count);
  }
  out.family("varsync_group_rejoins_total", "counter",
             "Times a lost replica of the group joined again.");
  for (const auto& group : status.groups) {
    std::uint64_t rejoins = 0;
    for (const auto& replica : group.replicas)
      rejoins += replica.rejoins;
    out.sample("varsync_group_rejoins_total", label("group", group.name),
               static_cast<double>(rejoins));
  }
  out.family("varsync_variable_version", "gauge",
             "Latest published version (on_write, bounded_staleness).");
  for (const auto& var : status.variables)
    out.sample("varsync_variable_version", label("variable", var.name),
               static_cast<double>(var.version));
  out.family("varsync_variable_clock", "gauge",
             "Minimum clock of the group (bounded_staleness).");
  for (const auto& var : status.variables)
    out.sample("varsync_variable_clock", label("variable", var.name),
               static_cast<double>(var.clock));
  out.family("varsync_variable_available", "gauge",
             "1 while the variable's actor is reachable.");
  for (const auto& var : status.variables)
    out.sample("varsync_variable_available", label("variable", var.name),
               var.available ? 1 : 0);
}

} // namespace

std::string render_metrics(const metrics_inputs& inputs) {
  page out;
  auto& recorded = metrics::process_metrics();
  out.family("varsync_node_info", "gauge", "This node; the value is 1.");
  out.sample("varsync_node_info", label("node", inputs.node), 1);
  out.counter("varsync_actor_messages_total",
              "Messages handled by this node's varsync actors.",
              inputs.stats.actor_messages);
  out.counter("varsync_sent_bytes_total",
              "Tensor payload bytes this process sent to other processes.",
              inputs.stats.bytes_sent);
  out.counter("varsync_copied_bytes_total",
              "Tensor payload bytes this process copied in user space.",
              inputs.stats.bytes_copied);
  out.counter("varsync_bulk_frames_sent_total",
              "Frames sent on this node's bulk plane.",
              inputs.stats.bulk_frames_sent);
  out.counter("varsync_bulk_frames_received_total",
              "Frames received on this node's bulk plane.",
              inputs.stats.bulk_frames_received);
  out.counter("varsync_rehostings_total",
              "Variables this node re-hosted while it held the directory.",
              recorded.rehostings.load());

  out.family("varsync_peer_sent_bytes_total", "counter",
             "Bytes sent to each peer on the bulk plane.");
  recorded.peers.each([&](const std::string& peer, const auto& counts) {
    out.sample("varsync_peer_sent_bytes_total", label("peer", peer),
               static_cast<double>(counts.bytes_sent.load()));
  });
  out.family("varsync_peer_received_bytes_total", "counter",
             "Bytes received from each peer on the bulk plane.");
  recorded.peers.each([&](const std::string& peer, const auto& counts) {
    out.sample("varsync_peer_received_bytes_total", label("peer", peer),
               static_cast<double>(counts.bytes_received.load()));
  });

  out.family("varsync_variable_steps_total", "counter",
             "Collective steps (on_write updates) of this node's replicas "
             "that completed.");
  recorded.variables.each([&](const std::string& name, const auto& var) {
    out.sample("varsync_variable_steps_total", label("variable", name),
               static_cast<double>(var.steps.load()));
  });
  out.family("varsync_variable_failed_steps_total", "counter",
             "Collective steps of this node's replicas that failed.");
  recorded.variables.each([&](const std::string& name, const auto& var) {
    out.sample("varsync_variable_failed_steps_total", label("variable", name),
               static_cast<double>(var.failed_steps.load()));
  });
  out.family("varsync_variable_step_seconds", "histogram",
             "Time from a replica's update call to its completion.");
  recorded.variables.each([&](const std::string& name, const auto& var) {
    out.histogram("varsync_variable_step_seconds", label("variable", name),
                  var.step_seconds.read());
  });
  out.family("varsync_ssp_staleness_clocks", "histogram",
             "bounded_staleness reads: clocks between the reader and the "
             "oldest update the value reflects.");
  recorded.variables.each([&](const std::string& name, const auto& var) {
    out.histogram("varsync_ssp_staleness_clocks", label("variable", name),
                  var.staleness_clocks.read());
  });
  out.family("varsync_clock_wait_seconds", "histogram",
             "Time replicas spent in clock() (bounded_staleness).");
  out.histogram("varsync_clock_wait_seconds", "",
                recorded.clock_wait_seconds.read());

  if (inputs.last_checkpoint_unix_seconds) {
    out.family("varsync_checkpoint_age_seconds", "gauge",
               "Time since this node last saved an automatic checkpoint.");
    out.sample("varsync_checkpoint_age_seconds", "",
               inputs.now_unix_seconds - *inputs.last_checkpoint_unix_seconds);
  }
  if (inputs.status)
    render_status(out, *inputs.status);
  return out.take();
}

} // namespace varsync::http
