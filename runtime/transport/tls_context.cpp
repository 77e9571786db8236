#include "runtime/transport/tls_context.hpp"

namespace varsync::tls {

namespace ssl = boost::asio::ssl;

expected<std::shared_ptr<ssl::context>>
make_mutual_context(const std::string& certificate, const std::string& key,
                    const std::string& ca) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls);
  boost::system::error_code failed;
  auto refuse = [&](const std::string& what, const std::string& path) {
    return error{errc::invalid_argument, "TLS: cannot load the " + what + " '" +
                                             path + "': " + failed.message()};
  };
  context->set_options(ssl::context::default_workarounds |
                           ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                       failed);
  if (failed)
    return error{errc::invalid_argument,
                 "TLS: cannot set the protocol versions: " + failed.message()};
  if (context->use_certificate_chain_file(certificate, failed); failed)
    return refuse("certificate", certificate);
  if (context->use_private_key_file(key, ssl::context::pem, failed); failed)
    return refuse("key", key);
  if (context->load_verify_file(ca, failed); failed)
    return refuse("CA certificate", ca);
  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert,
                           failed);
  if (failed)
    return error{errc::invalid_argument,
                 "TLS: cannot require peer certificates: " + failed.message()};
  return context;
}

} // namespace varsync::tls
