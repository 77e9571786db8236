#pragma once

// varsync's logger: spdlog, to stderr, its own instance (not spdlog's
// default logger, which belongs to the embedding application, nor a
// registered name another library could take). Level "warn" until a node
// sets its --log-level.

#include <spdlog/logger.h>
#include <string>

namespace varsync {

/// The logger. Thread-safe; created on first use.
spdlog::logger& log();

/// Sets the logger's level from a name ("trace", "debug", "info", "warn",
/// "error", "off"). False for an unknown name (nothing changes then).
bool set_log_level(const std::string& level);

/// Sets how lines look: "text" (spdlog's default: time, logger, level,
/// message) or "json" (one object per line with "time" in UTC ISO 8601,
/// "level", "logger", "message"). False for an unknown name (nothing
/// changes then). Thread-safe.
bool set_log_format(const std::string& format);

} // namespace varsync
