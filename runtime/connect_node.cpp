// connect_node: one blocking, authenticated connect to another node,
// handed to CAF's BASP broker (runtime/basp_link.hpp), retried while CAF
// reports a timeout that is not one.
//
// CAF 0.17.6's BASP broker creates the state of an outgoing connection with
// `last_seen` = the clock's epoch and sets it only when the peer's first
// bytes arrive. A heartbeat tick that runs between sending our handshake
// and receiving the peer's therefore finds the connection "silent for
// longer than connection-timeout" and drops it, and the connect fails with
// `connection_timeout` although the peer is healthy. The window is the
// handshake's round trip, so this hits rarely on an idle machine and often
// under load or with short heartbeat intervals (measured under ASan with
// `--heartbeat-interval 1ms`: 3 of 8 three-node joins failed this way).
// A new attempt races the next tick afresh, so we retry on that error until
// the caller's deadline; a peer that really never answers still fails, with
// `timeout`, when the deadline passes. Every other error is final here.

#include "runtime/connect_node.hpp"

#include "runtime/transport/auth_socket.hpp"

#include <caf/io/all.hpp>
#include <set>
#include <unistd.h>

namespace varsync::detail {

namespace {

using clock_type = std::chrono::steady_clock;

/// What one connect request to the middleman actor ended with.
struct attempt_result {
  expected<connected_node> value;
  bool spurious_timeout = false;
};

/// One attempt within `timeout`, the part left of the caller's `whole`
/// deadline (which errors name).
attempt_result connect_once(caf::actor_system& system, const std::string& host,
                            std::uint16_t port,
                            std::chrono::milliseconds timeout,
                            std::chrono::milliseconds whole,
                            const link_settings& link) {
  auto where = host + ":" + std::to_string(port);
  auto deadline = clock_type::now() + timeout;
  auto fd = auth::connect_with_deadline(host, port, deadline);
  if (!fd)
    return {fd.error()};
  if (auto proven = auth::prove_membership(
          *fd, *link.secret, auth::channel::basp, deadline, where);
      !proven) {
    ::close(*fd);
    if (proven.error().code() == errc::timeout)
      return {error{errc::timeout,
                    where +
                        " accepted the connection but sent no handshake "
                        "within " +
                        std::to_string(whole.count()) +
                        " ms (a stopped or overloaded node, or a program "
                        "that is not a varsync node)"}};
    return {proven.error()};
  }
  attempt_result result{
      error{errc::timeout, "no answer from " + where + " within " +
                               std::to_string(whole.count()) + " ms"}};
  auto scribe = make_scribe(system, *fd, /*accepted=*/false, link);
  if (!scribe)
    return {error{errc::unauthenticated,
                  "cannot start a TLS session with " + where}};
  auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                           deadline - clock_type::now()),
                       std::chrono::milliseconds{1});
  caf::scoped_actor self{system};
  self->request(basp_broker_of(system), left, caf::connect_atom::value,
                std::move(scribe), port)
      .receive(
          [&](caf::node_id& node, caf::strong_actor_ptr& published,
              std::set<std::string>&) {
            result.value = connected_node{
                std::move(node), caf::actor_cast<caf::actor>(published)};
          },
          [&](caf::error& err) {
            result.spurious_timeout = err == caf::sec::connection_timeout;
            if (link.tls && err == caf::sec::disconnect_during_handshake)
              result.value =
                  error{errc::unauthenticated,
                        "TLS handshake with " + where +
                            " failed: the node refused our certificate, or its "
                            "certificate is not signed by our CA"};
            else if (err == caf::sec::disconnect_during_handshake)
              // It accepted our secret, then dropped CAF's handshake.
              result.value = error{
                  errc::unreachable,
                  where + " closed the connection after the cluster "
                          "handshake: if it runs TLS, pass --tls-cert, "
                          "--tls-key and --tls-ca (else it is stopping or "
                          "over its --max-connections)"};
            else
              result.value =
                  error{errc::unreachable, "cannot connect to " + where + ": " +
                                               system.render(err)};
          });
  return result;
}

} // namespace

expected<connected_node> connect_node(caf::actor_system& system,
                                      const std::string& host,
                                      std::uint16_t port,
                                      std::chrono::milliseconds timeout,
                                      const link_settings& link) {
  if (!link.secret || link.secret->empty())
    return error{errc::unauthenticated,
                 "cannot connect to " + host + ":" + std::to_string(port) +
                     ": no cluster secret to prove membership with"};
  auto give_up = clock_type::now() + timeout;
  for (int attempt = 1;; ++attempt) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - clock_type::now());
    auto result = connect_once(system, host, port,
                               std::max(left, std::chrono::milliseconds{1}),
                               timeout, link);
    if (!result.spurious_timeout)
      return std::move(result.value);
    if (clock_type::now() >= give_up)
      return error{errc::timeout,
                   "cannot connect to " + host + ":" + std::to_string(port) +
                       ": no handshake within " +
                       std::to_string(timeout.count()) + " ms (" +
                       std::to_string(attempt) + " attempts)"};
  }
}

} // namespace varsync::detail
