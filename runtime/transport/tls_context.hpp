#pragma once

// The TLS context of the bulk plane's connections (Boost.Asio's SSL over
// OpenSSL): mutual TLS, each side presenting its node certificate and
// accepting only a peer certificate signed by the cluster CA — the same
// rule CAF's openssl module applies on the BASP port.

#include "varsync/error.hpp"

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

namespace varsync::tls {

/// A context for both ends of a connection (TLS 1.2 or later) that
/// presents `certificate` with `key` and requires the peer's certificate
/// to be signed by `ca`. `invalid_argument` naming the file that cannot be
/// loaded; never throws. Blocking (reads the files).
expected<std::shared_ptr<boost::asio::ssl::context>>
make_mutual_context(const std::string& certificate, const std::string& key,
                    const std::string& ca);

} // namespace varsync::tls
