#include "runtime/caf_setup.hpp"

#include "actors/protocol.hpp"

namespace varsync {

void configure_caf(caf::actor_system_config& config,
                   const runtime_options& options) {
  // One shared queue instead of work stealing: idle stealing workers poll
  // and back off, which costs wake-up latency on every hop of a protocol
  // (see shared/CAF-0.17.md, measured 3x lower round trips).
  config.set("scheduler.policy", caf::atom("sharing"));
  if (options.worker_threads > 0)
    config.set("scheduler.max-threads", options.worker_threads);
  // Names carry a layout version: the same name with another layout would
  // deserialize into garbage on an older peer.
  config.add_message_type<tensor>("varsync.tensor.v1");
  config.add_message_type<variable_options>("varsync.variable_options.v1");
}

} // namespace varsync
