#pragma once

// The Prometheus text exposition (format 0.0.4) of a node's metrics: what
// the process recorded (runtime/core/metrics.hpp), the runtime's counters,
// and gauges from the cluster's status as this node last saw it. Names and
// units follow Prometheus's conventions: `varsync_` prefix, base units
// (`_seconds`, `_bytes`), `_total` on counters.

#include "varsync/cluster_status.hpp"
#include "varsync/runtime.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace varsync::http {

/// What the page shows besides the process's registry.
struct metrics_inputs {
  std::string node;
  runtime_stats stats;
  /// The last status this node fetched; nullopt when none arrived yet.
  std::optional<cluster_status> status;
  /// When the last automatic checkpoint was saved (Unix seconds), if any.
  std::optional<double> last_checkpoint_unix_seconds;
  /// Now (Unix seconds), for ages.
  double now_unix_seconds = 0;
};

/// The page (text/plain; version=0.0.4). Never blocks beyond the
/// registry's mutexes.
std::string render_metrics(const metrics_inputs& inputs);

/// `text` escaped as a Prometheus label value (backslash, quote, newline).
std::string escape_label(const std::string& text);

} // namespace varsync::http
