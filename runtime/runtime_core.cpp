#include "runtime/runtime_core.hpp"

#include "actors/directory_actor.hpp"
#include "runtime/caf_setup.hpp"

namespace varsync::detail {

runtime_core::runtime_core(runtime_options options)
    : options_(options), config_(std::make_unique<caf::actor_system_config>()),
      counters_(std::make_shared<actor_counters>()) {
  configure_caf(*config_, options_);
  system_ = std::make_unique<caf::actor_system>(*config_);
  directory_ = spawn_directory_actor(*system_, runtime_ref{this}, counters_);
}

runtime_core::~runtime_core() {
  stopping_ = true;
  // The directory stops every replica and variable actor it spawned; the
  // actor system's destructor then waits for all actors (including
  // in-flight request helpers, whose requests now fail) to finish.
  caf::anon_send_exit(directory_, caf::exit_reason::user_shutdown);
  directory_ = nullptr;
  system_.reset();
}

std::optional<error>
runtime_core::refuse_if_stopping(const std::string& what) const {
  if (stopping_)
    return error{errc::shutting_down, what + ": the runtime is shutting down"};
  return std::nullopt;
}

void runtime_core::ask_ok(const caf::actor& target,
                          std::chrono::milliseconds timeout,
                          caf::message message,
                          std::function<void(expected<void>)> done,
                          std::string what) {
  system_->spawn([=](caf::event_based_actor* self) {
    self->request(target, timeout, message)
        .then(
            [done](ok_atom) { done(expected<void>{}); },
            [done, what](caf::error& err) { done(from_caf_error(err, what)); });
  });
}

} // namespace varsync::detail
