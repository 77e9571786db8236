#include "runtime/caf_setup.hpp"

#include "actors/cluster_protocol.hpp"
#include "actors/directory_snapshot.hpp"
#include "actors/policies/replica_recovery.hpp"
#include "actors/protocol.hpp"
#include "runtime/spinning_scheduler.hpp"

#include <algorithm>
#include <caf/io/all.hpp>
#include <caf/openssl/manager.hpp>
#include <thread>

namespace varsync {

void configure_caf(caf::actor_system_config& config,
                   const runtime_options& options) {
  // One shared queue instead of work stealing: idle stealing workers poll
  // and back off, which costs wake-up latency on every hop of a protocol
  // (see shared/CAF-0.17.md, measured 3x lower round trips).
  // Its idle workers poll before they sleep (runtime_options::spin): a
  // scheduler CAF takes as given instead of building its own.
  config.set("scheduler.policy", caf::atom("sharing"));
  config.module_factories.push_back(
      [spin = options.spin](
          caf::actor_system& system) -> caf::actor_system::module* {
        return new spinning_coordinator(system, spin);
      });
  // One scheduler thread per core (at least 2), not CAF's "at least 4": a
  // message to an idle local actor wakes a sleeping worker, so surplus
  // workers only add wake-ups and context switches. Measured on 2 cores
  // (bench/local_ops, in-process R = 4, 8-byte on_write step): 4 workers
  // 112 us, 2 workers 66 us, 1 worker 70 us. No actor blocks (tasks run on
  // their own threads), so fewer workers cannot starve one another.
  auto threads = options.worker_threads;
  if (threads == 0)
    threads = std::max<std::size_t>(2, std::thread::hardware_concurrency());
  config.set("scheduler.max-threads", threads);
  // Names carry a layout version: the same name with another layout would
  // deserialize into garbage on an older peer. Every type sent between
  // processes is registered, on every node alike.
  config.add_message_type<tensor>("varsync.tensor.v1");
  config.add_message_type<variable_options>("varsync.variable_options.v1");
  config.add_message_type<std::vector<std::uint64_t>>("varsync.u64_list.v1");
  config.add_message_type<node_info>("varsync.node_info.v1");
  config.add_message_type<group_info>("varsync.group_info.v1");
  config.add_message_type<variable_info>("varsync.variable_info.v1");
  config.add_message_type<cluster_status>("varsync.cluster_status.v2");
  config.add_message_type<directory_snapshot>("varsync.directory_snapshot.v1");
  config.add_message_type<replica_recovery>("varsync.replica_recovery.v1");
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
  // TLS sessions (runtime/basp_link.hpp) take their context from the
  // openssl module's settings; the files were checked before (CAF raises
  // on files it cannot load).
  if (node.uses_tls()) {
    config.load<caf::openssl::manager>();
    config.openssl_certificate = node.tls_cert;
    config.openssl_key = node.tls_key;
    config.openssl_cafile = node.tls_ca;
  }
}

} // namespace varsync
