#include "runtime/transport/log.hpp"

#include <memory>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace varsync {

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

} // namespace varsync
