#include "runtime/cli/certs_command.hpp"

#include "runtime/transport/tls_certificates.hpp"

#include <iostream>
#include <memory>
#include <string>

namespace {

/// What `varsync certs` was asked.
struct certs_options {
  std::string directory;
  std::string name;
};

int init(const certs_options& options) {
  auto done = varsync::tls::create_cluster_ca(options.directory);
  if (!done) {
    std::cerr << "varsync certs: " << done.error().to_string() << '\n';
    return 1;
  }
  std::cout << "cluster CA: " << options.directory << "/ca.pem (key "
            << options.directory << "/ca.key)\n";
  return 0;
}

int issue(const certs_options& options) {
  auto done =
      varsync::tls::issue_node_certificate(options.directory, options.name);
  if (!done) {
    std::cerr << "varsync certs: " << done.error().to_string() << '\n';
    return 1;
  }
  std::cout << "node certificate: " << options.directory << '/' << options.name
            << ".pem (key " << options.directory << '/' << options.name
            << ".key)\n";
  return 0;
}

} // namespace

varsync::cli::command add_certs_command(CLI::App& varsync) {
  auto* certs = varsync.add_subcommand(
      "certs", "make a cluster CA and node certificates for TLS");
  certs->require_subcommand(1);
  certs->footer("Start each node with --tls-cert DIR/NAME.pem --tls-key "
                "DIR/NAME.key --tls-ca DIR/ca.pem\n(copy the three files to "
                "its machine; keep ca.key off them).");
  // Filled while the command line parses, read when it runs.
  auto options = std::make_shared<certs_options>();
  auto* init_command = certs->add_subcommand(
      "init", "create DIR (mode 0700) and a cluster CA in it: ca.pem and "
              "ca.key (0600)");
  init_command->add_option("DIR", options->directory, "the CA's directory")
      ->required();
  auto* issue_command = certs->add_subcommand(
      "issue", "make NAME.pem and NAME.key (0600) signed by DIR's CA, for "
               "one node");
  issue_command->add_option("DIR", options->directory, "the CA's directory")
      ->required();
  issue_command->add_option("NAME", options->name, "the node's name")
      ->required();
  return {certs, [options, init_command] {
            return init_command->parsed() ? init(*options) : issue(*options);
          }};
}
