#include "runtime/basp_link.hpp"

#include <caf/io/basp_broker.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/io/network/scribe_impl.hpp>

namespace varsync::detail {

namespace {

/// CAF's scribe with a bound on the reads its broker may ask for.
///
/// BASP asks for each message's payload with `configure_read(exactly(n))`
/// from inside `consume` (its new_data_msg handler); the stream allocates
/// `n` bytes when `consume` returns. Above `max_message` we pass the stream
/// a small read instead and, once the broker's handler returned, fail the
/// connection as a read error does: the broker gets connection_closed_msg
/// and the socket closes. Nothing of the announced size is allocated.
class bounded_scribe final : public caf::io::network::scribe_impl {
public:
  bounded_scribe(caf::io::network::default_multiplexer& backend, int fd,
                 std::uint64_t max_message, oversize_handler on_oversize)
      : scribe_impl(backend, fd), max_message_(max_message),
        on_oversize_(std::move(on_oversize)) {}

  void configure_read(caf::io::receive_policy::config config) override {
    if (config.second > max_message_) {
      refused_ = config.second;
      config = caf::io::receive_policy::at_most(64);
    }
    scribe_impl::configure_read(config);
  }

  bool consume(caf::execution_unit* context, const void* data,
               std::size_t size) override {
    if (refused_ == 0 && !scribe_impl::consume(context, data, size))
      return false;
    if (refused_ == 0)
      return true;
    if (!reported_) {
      reported_ = true;
      if (on_oversize_)
        on_oversize_(addr() + ":" + std::to_string(port()), refused_);
    }
    io_failure(context, caf::io::network::operation::read);
    return false;
  }

private:
  std::uint64_t max_message_;
  oversize_handler on_oversize_;
  std::uint64_t refused_ = 0;
  bool reported_ = false;
};

} // namespace

caf::io::scribe_ptr make_bounded_scribe(caf::actor_system& system, int fd,
                                        std::uint64_t max_message,
                                        oversize_handler on_oversize) {
  auto& backend = static_cast<caf::io::network::default_multiplexer&>(
      system.middleman().backend());
  // As CAF's own new_scribe: keepalive probes; the event handler sets
  // non-blocking mode, TCP_NODELAY and no SIGPIPE.
  caf::io::network::keepalive(fd, true);
  return caf::make_counted<bounded_scribe>(backend, fd, max_message,
                                           std::move(on_oversize));
}

caf::actor basp_broker_of(caf::actor_system& system) {
  return system.middleman().named_broker<caf::io::basp_broker>(
      caf::atom("BASP"));
}

} // namespace varsync::detail
