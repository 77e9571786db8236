#pragma once

// `varsync certs`: a cluster CA and node certificates for mutual TLS
// (runtime/transport/tls_certificates.hpp).

#include <string>
#include <vector>

/// Runs `varsync certs ARGS...`; returns the exit status (0, 1 on a
/// failure, 2 on a usage error). Blocking.
int run_certs(const std::vector<std::string>& args);
