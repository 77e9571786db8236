#pragma once

// Certificates for mutual TLS between nodes: a cluster CA and node
// certificates made with OpenSSL's API (`varsync certs init|issue`), and
// the check of a node's TLS files before it starts (so a misconfigured
// setup is an error value, never an abort inside CAF's openssl module,
// which throws or aborts on files it cannot load).
//
// Files in a certificate directory DIR:
//   ca.pem, ca.key         the cluster CA (key mode 0600); `init`
//   NAME.pem, NAME.key     a node's certificate and key; `issue`
// Keys are EC P-256; certificates are X.509 v3, valid 10 years, signed
// with SHA-256; node certificates may be used as client and server.

#include "varsync/error.hpp"

#include <string>

namespace varsync::tls {

/// Creates DIR (mode 0700) if needed and a new cluster CA in it. Refuses
/// (`already_exists`) when DIR/ca.pem exists. Blocking.
expected<void> create_cluster_ca(const std::string& dir);

/// Issues DIR/NAME.pem and DIR/NAME.key signed by DIR's CA. NAME may hold
/// letters, digits, '.', '_' and '-'. Refuses (`already_exists`) when
/// DIR/NAME.pem exists. Blocking.
expected<void> issue_node_certificate(const std::string& dir,
                                      const std::string& name);

/// Checks that `certificate`, `key` and `ca` are readable PEM files, that
/// the key belongs to the certificate and that the CA signed it;
/// `invalid_argument` naming the file and what is wrong otherwise.
/// Blocking.
expected<void> check_tls_files(const std::string& certificate,
                               const std::string& key, const std::string& ca);

} // namespace varsync::tls
