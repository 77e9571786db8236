// fetch_status: a short-lived CAF client that connects to a node, asks its
// agent for the cluster status and disconnects, without joining.

#include "actors/caf_error.hpp"
#include "actors/cluster_protocol.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/connect_node.hpp"
#include "runtime/node_secret.hpp"
#include "runtime/transport/tls_certificates.hpp"
#include "varsync/cluster_status.hpp"

#include <caf/io/all.hpp>
#include <set>

namespace varsync {

expected<cluster_status> fetch_status(const endpoint& address,
                                      std::chrono::milliseconds timeout,
                                      const std::string& secret_file) {
  node_config client;
  client.secret_file = secret_file;
  return fetch_status(address, timeout, client);
}

expected<cluster_status> fetch_status(const endpoint& address,
                                      std::chrono::milliseconds timeout,
                                      node_config client) {
  auto secret = detail::resolve_secret(client.secret_file,
                                       /*may_generate=*/false);
  if (!secret)
    return secret.error();
  if (client.uses_tls())
    if (auto usable = tls::check_tls_files(client.tls_cert, client.tls_key,
                                           client.tls_ca);
        !usable)
      return usable.error();
  caf::actor_system_config config;
  configure_caf(config, runtime_options{});
  client.connection_timeout = std::max(timeout, client.connection_timeout);
  configure_network(config, client);
  caf::actor_system system{config};
  auto where = to_string(address);
  expected<cluster_status> result =
      error{errc::timeout, "no status from " + where + " within " +
                               std::to_string(timeout.count()) + " ms"};
  detail::link_settings link;
  link.secret = secret->secret;
  link.max_message = client.max_message;
  link.tls = client.uses_tls();
  auto peer =
      detail::connect_node(system, address.host, address.port, timeout, link);
  if (!peer)
    return peer.error();
  auto agent = std::move(peer->published);
  if (!agent)
    return error{errc::not_varsync,
                 where + " publishes no actor (not a varsync node)"};
  caf::scoped_actor self{system};
  self->request(agent, timeout, status_atom::value,
                std::int64_t{timeout.count()})
      .receive([&](cluster_status& status) { result = std::move(status); },
               [&](caf::error& err) {
                 result = from_caf_error(err, "status of " + where);
               });
  return result;
}

} // namespace varsync
