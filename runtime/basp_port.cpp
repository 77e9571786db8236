#include "runtime/basp_port.hpp"

#include <caf/io/all.hpp>
#include <set>
#include <unistd.h>

namespace varsync::detail {

expected<std::unique_ptr<basp_port>>
basp_port::open(caf::actor_system& system, const std::string& host,
                std::uint16_t port, caf::actor published, link_settings link,
                auth::acceptor_limits limits, std::size_t max_connections) {
  auto acceptor = auth::auth_acceptor::listen(host, port, link.secret,
                                              auth::channel::basp, limits);
  if (!acceptor)
    return acceptor.error();
  std::unique_ptr<basp_port> result{new basp_port};
  result->acceptor_ = std::move(*acceptor);
  auto bound = result->acceptor_->port();
  result->refusals_ = std::make_shared<refusal_log>("BASP port " + host + ":" +
                                                    std::to_string(bound));
  auto refusals = result->refusals_;
  link.on_refused = [refusals](const std::string& address,
                               const std::string& reason) {
    (*refusals)(address, reason);
  };
  link.open_connections = std::make_shared<std::atomic<std::size_t>>(0);
  auto basp = basp_broker_of(system);
  auto whom = caf::actor_cast<caf::strong_actor_ptr>(published);
  result->acceptor_->start(
      [&system, basp, whom, bound, link, max_connections,
       refusals](int fd, const std::string& peer) {
        if (link.open_connections->load() >= max_connections) {
          ::close(fd);
          (*refusals)(peer.substr(0, peer.rfind(':')),
                      "over the cap of " + std::to_string(max_connections) +
                          " connections (max-connections)");
          return;
        }
        // As if CAF's doorman had accepted it: the broker adopts the
        // scribe, registers `whom` at `bound` and sends its handshake.
        auto scribe = make_scribe(system, fd, /*accepted=*/true, link);
        if (scribe)
          caf::anon_send(basp, caf::publish_atom::value, std::move(scribe),
                         bound, whom, std::set<std::string>{});
      },
      [refusals](const std::string& address, const std::string& reason) {
        (*refusals)(address, reason);
      });
  return result;
}

basp_port::~basp_port() {
  stop();
}

std::uint16_t basp_port::port() const noexcept {
  return acceptor_->port();
}

void basp_port::stop() {
  acceptor_->stop();
}

const auth::acceptor_counters& basp_port::counters() const noexcept {
  return acceptor_->counters();
}

} // namespace varsync::detail
