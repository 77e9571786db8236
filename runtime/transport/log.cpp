#include "runtime/transport/log.hpp"

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace varsync {

namespace {

/// Formats each record as one JSON object on one line, for log shippers:
/// {"time": "2026-12-01T20:55:20.123Z", "level": "info", "logger":
/// "varsync", "message": "..."}. spdlog's patterns cannot escape the
/// message as JSON requires, so nlohmann-json writes the line.
class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg,
              spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto since_epoch = msg.time.time_since_epoch();
    auto seconds = duration_cast<std::chrono::seconds>(since_epoch);
    auto millis = duration_cast<milliseconds>(since_epoch - seconds).count();
    std::time_t whole = seconds.count();
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char time[40];
    auto length = std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(time + length, sizeof time - length, ".%03dZ",
                  static_cast<int>(millis));
    // The names --log-level takes ("warn", not spdlog's "warning").
    static constexpr const char* names[] = {"trace", "debug",    "info", "warn",
                                            "error", "critical", "off"};
    auto index = static_cast<std::size_t>(msg.level);
    nlohmann::json line = {
        {"time", time},
        {"level", index < std::size(names) ? names[index] : "?"},
        {"logger", std::string{msg.logger_name.data(), msg.logger_name.size()}},
        {"message", std::string{msg.payload.data(), msg.payload.size()}},
    };
    auto text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

} // namespace

spdlog::logger& log() {
  static auto logger = [] {
    auto created = std::make_shared<spdlog::logger>(
        "varsync", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    created->set_level(spdlog::level::warn);
    return created;
  }();
  return *logger;
}

bool set_log_level(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    return false;
  log().set_level(parsed);
  return true;
}

bool set_log_format(const std::string& format) {
  if (format == "json")
    log().set_formatter(std::make_unique<json_formatter>());
  else if (format == "text")
    log().set_formatter(std::make_unique<spdlog::pattern_formatter>());
  else
    return false;
  return true;
}

} // namespace varsync
