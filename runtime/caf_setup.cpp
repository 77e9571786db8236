#include "runtime/caf_setup.hpp"

#include "actors/cluster_protocol.hpp"
#include "actors/protocol.hpp"

#include <caf/io/all.hpp>

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
  // deserialize into garbage on an older peer. Every type sent between
  // processes is registered, on every node alike.
  config.add_message_type<tensor>("varsync.tensor.v1");
  config.add_message_type<variable_options>("varsync.variable_options.v1");
  config.add_message_type<std::vector<std::uint64_t>>("varsync.u64_list.v1");
  config.add_message_type<node_info>("varsync.node_info.v1");
  config.add_message_type<group_info>("varsync.group_info.v1");
  config.add_message_type<variable_info>("varsync.variable_info.v1");
  config.add_message_type<variable_wire_spec>("varsync.variable_spec.v1");
  config.add_message_type<cluster_status>("varsync.cluster_status.v1");
}

void configure_network(caf::actor_system_config& config,
                       const node_config& node) {
  config.load<caf::io::middleman>();
  // Decode BASP messages on the I/O thread instead of handing them to a
  // worker pool: one hop less per message (shared/CAF-0.17.md).
  config.set("middleman.workers", std::size_t{0});
  // A dead or frozen peer is noticed after connection_timeout, not at the
  // TCP timeout; every node sends heartbeats (a node that does not would
  // be declared dead by peers that expect them).
  config.set("middleman.heartbeat-interval",
             caf::timespan{node.heartbeat_interval});
  config.set("middleman.connection-timeout",
             caf::timespan{node.connection_timeout});
}

} // namespace varsync
