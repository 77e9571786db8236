#include "runtime/cli/certs_command.hpp"

#include "runtime/core/wording.hpp"
#include "runtime/transport/tls_certificates.hpp"

#include <iostream>

namespace {

void print_certs_usage() {
  std::cout
      << "usage: varsync certs init DIR\n"
         "       varsync certs issue DIR NAME\n\n"
         "init creates DIR (mode 0700) and a cluster CA in it: ca.pem and "
         "ca.key (0600).\nissue makes NAME.pem and NAME.key (0600) signed by "
         "DIR's CA, for one node.\nStart each node with --tls-cert "
         "DIR/NAME.pem "
         "--tls-key DIR/NAME.key\n--tls-ca DIR/ca.pem (copy the three files to "
         "its machine; keep ca.key off them).\n";
}

} // namespace

int run_certs(const std::vector<std::string>& args) {
  for (const auto& arg : args)
    if (arg == "--help" || arg == "-h") {
      print_certs_usage();
      return 0;
    }
  varsync::expected<void> done;
  if (args.size() == 2 && args[0] == "init") {
    done = varsync::tls::create_cluster_ca(args[1]);
    if (done)
      std::cout << "cluster CA: " << args[1] << "/ca.pem (key " << args[1]
                << "/ca.key)\n";
  } else if (args.size() == 3 && args[0] == "issue") {
    done = varsync::tls::issue_node_certificate(args[1], args[2]);
    if (done)
      std::cout << "node certificate: " << args[1] << '/' << args[2]
                << ".pem (key " << args[1] << '/' << args[2] << ".key)\n";
  } else {
    std::cerr << "varsync certs: expected 'init DIR' or 'issue DIR NAME'"
              << (args.empty()
                      ? std::string{}
                      : ", got '" + varsync::wording::excerpt(args.front()) +
                            "'")
              << " (see varsync certs --help)\n";
    return 2;
  }
  if (!done) {
    std::cerr << "varsync certs: " << done.error().to_string() << '\n';
    return 1;
  }
  return 0;
}
