#include "runtime/http/node_http.hpp"

#include "runtime/core/metrics.hpp"
#include "runtime/http/dashboard_page.hpp"
#include "runtime/http/metrics_page.hpp"
#include "runtime/transport/tls_context.hpp"

#include <nlohmann/json.hpp>

namespace varsync::http {

namespace {

using std::chrono::milliseconds;

/// The sampling period; the status call's deadline stays below it.
constexpr milliseconds period{1000};
constexpr milliseconds status_deadline{800};

double unix_seconds_now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The process's per-variable counters as JSON, for the dashboard.
nlohmann::json variable_counters() {
  auto result = nlohmann::json::object();
  metrics::process_metrics().variables.each(
      [&](const std::string& name, const metrics::variable_metrics& var) {
        auto steps = var.step_seconds.read();
        auto staleness = var.staleness_clocks.read();
        result[name] = {{"steps", steps.cumulative.back()},
                        {"step_seconds_sum", steps.sum},
                        {"staleness_reads", staleness.cumulative.back()},
                        {"staleness_sum", staleness.sum}};
      });
  return result;
}

} // namespace

node_http::node_http(node_sources sources) : sources_(std::move(sources)) {
  // nop
}

expected<std::unique_ptr<node_http>> node_http::start(const node_config& config,
                                                      node_sources sources) {
  std::unique_ptr<node_http> result{new node_http(std::move(sources))};
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (config.uses_tls()) {
    auto context = tls::make_mutual_context(config.tls_cert, config.tls_key,
                                            config.tls_ca);
    if (!context)
      return context.error();
    tls = std::move(*context);
  }
  auto* self = result.get();
  auto server = http_server::start(
      config.host, config.http_port.value_or(0),
      [self](const std::string& target) { return self->answer(target); },
      std::move(tls));
  if (!server)
    return server.error();
  result->server_ = std::move(*server);
  result->latest_sample_ = result->take_sample();
  result->sampler_ = std::thread{[self] { self->sample_loop(); }};
  return result;
}

node_http::~node_http() {
  {
    std::lock_guard guard{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  if (sampler_.joinable())
    sampler_.join();
  server_.reset();
}

std::uint16_t node_http::port() const noexcept {
  return server_->port();
}

std::string node_http::take_sample() {
  auto status = sources_.status(status_deadline);
  auto stats = sources_.stats();
  nlohmann::json sample = {
      {"time_unix_ms", static_cast<std::int64_t>(unix_seconds_now() * 1000.0)},
      {"node", sources_.node},
      {"stats",
       {{"actor_messages", stats.actor_messages},
        {"bytes_sent", stats.bytes_sent},
        {"bytes_copied", stats.bytes_copied},
        {"bulk_frames_sent", stats.bulk_frames_sent},
        {"bulk_frames_received", stats.bulk_frames_received}}},
      {"variables", variable_counters()},
      {"status", nullptr},
  };
  std::lock_guard guard{mutex_};
  if (status) {
    sample["status"] = nlohmann::json::parse(to_json(*status));
    latest_status_ = std::move(*status);
    latest_status_error_.clear();
  } else {
    // Keep showing the last status (marked by the error) rather than none.
    latest_status_error_ = status.error().to_string();
    sample["status_error"] = latest_status_error_;
    if (latest_status_)
      sample["status"] = nlohmann::json::parse(to_json(*latest_status_));
  }
  return sample.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void node_http::sample_loop() {
  for (auto next = std::chrono::steady_clock::now() + period;; next += period) {
    {
      std::unique_lock lock{mutex_};
      if (wake_.wait_until(lock, next, [this] { return stopping_; }))
        return;
    }
    auto sample = take_sample();
    {
      std::lock_guard guard{mutex_};
      latest_sample_ = sample;
    }
    server_->publish(std::move(sample));
    // After a slow status call, do not try to catch up missed periods.
    next = std::max(next, std::chrono::steady_clock::now() - period);
  }
}

response node_http::answer(const std::string& target) {
  auto path = target.substr(0, target.find('?'));
  if (path == "/" || path == "/index.html")
    return {200, "text/html; charset=utf-8", std::string{dashboard_page()}};
  if (path == "/events") {
    std::lock_guard guard{mutex_};
    return {200, "text/event-stream", latest_sample_, true};
  }
  if (path == "/status.json") {
    std::lock_guard guard{mutex_};
    if (!latest_status_)
      return {503, "text/plain; charset=utf-8",
              "no status yet: " + latest_status_error_ + "\n"};
    return {200, "application/json", to_json(*latest_status_) + "\n"};
  }
  if (path == "/metrics") {
    metrics_inputs inputs;
    inputs.node = sources_.node;
    inputs.stats = sources_.stats();
    inputs.now_unix_seconds = unix_seconds_now();
    auto saved = metrics::process_metrics().last_checkpoint_unix_seconds.load();
    if (saved > 0)
      inputs.last_checkpoint_unix_seconds = saved;
    {
      std::lock_guard guard{mutex_};
      inputs.status = latest_status_;
    }
    return {200, "text/plain; version=0.0.4; charset=utf-8",
            render_metrics(inputs)};
  }
  return {404, "text/plain; charset=utf-8",
          "not found; this node serves /, /events, /status.json and "
          "/metrics\n"};
}

} // namespace varsync::http
