// Mutual TLS between real node processes on loopback: `varsync certs`
// makes a CA and node certificates; a node signed by the cluster CA joins;
// a peer with a certificate from another CA, a self-signed one, or none is
// refused (and the node logs it); misconfigured TLS files and a
// non-loopback address without TLS are errors at start, never an abort.
// (Every process here holds the cluster secret: the refusals are TLS's.)

#include "runtime/transport/tls_context.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/node_cli.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <filesystem>
#include <unistd.h>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// A scratch directory with a cluster CA (node certificates "seed" and
/// "member") and a rogue CA (certificate "rogue"), made with the CLI.
struct certificates {
  fs::path root = fs::temp_directory_path() /
                  ("varsync-tls-test-" + std::to_string(::getpid()));
  fs::path cluster = root / "cluster";
  fs::path rogue = root / "rogue";

  certificates() {
    fs::remove_all(root);
    fs::create_directories(root);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"certs", "init", cluster.string()},
             {"certs", "issue", cluster.string(), "seed"},
             {"certs", "issue", cluster.string(), "member"},
             {"certs", "init", rogue.string()},
             {"certs", "issue", rogue.string(), "rogue"}}) {
      auto [status, text] = run_cli(args);
      REQUIRE_MESSAGE(status == exit_status::exited_with(0), text);
    }
  }
  ~certificates() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }

  /// The TLS flags of `name` in `dir`, trusting `ca_dir`'s CA.
  static std::vector<std::string>
  flags(const fs::path& dir, const std::string& name, const fs::path& ca_dir) {
    return {"--tls-cert", (dir / (name + ".pem")).string(),
            "--tls-key",  (dir / (name + ".key")).string(),
            "--tls-ca",   (ca_dir / "ca.pem").string()};
  }
};

std::vector<std::string> operator+(std::vector<std::string> x,
                                   const std::vector<std::string>& y) {
  x.insert(x.end(), y.begin(), y.end());
  return x;
}

} // namespace

TEST_CASE("a node signed by the cluster CA joins over TLS; rogue-CA, "
          "self-signed and plain peers are refused") {
  certificates certs;
  auto [seed, port] =
      start_node(std::vector<std::string>{"--port", "0", "--name", "seed",
                                          "--log-level", "warn"} +
                 certificates::flags(certs.cluster, "seed", certs.cluster));
  auto address = "127.0.0.1:" + std::to_string(port);
  auto [member, member_port] =
      start_node(std::vector<std::string>{"--port", "0", "--name", "member",
                                          "--join", address} +
                 certificates::flags(certs.cluster, "member", certs.cluster));
  CHECK(member_port != port);
  auto [ok_exit, ok_text] =
      run_cli(std::vector<std::string>{"status", address} +
              certificates::flags(certs.cluster, "member", certs.cluster));
  CHECK_MESSAGE(ok_exit == exit_status::exited_with(0), ok_text);
  CHECK_MESSAGE(ok_text.find("member") != std::string::npos, ok_text);
  // Another CA's certificate (trusting that CA), a self-signed one (the
  // rogue CA's own), and no TLS at all.
  for (const auto& credentials : std::vector<std::vector<std::string>>{
           certificates::flags(certs.rogue, "rogue", certs.rogue),
           certificates::flags(certs.rogue, "ca", certs.rogue),
           {}}) {
    CAPTURE(credentials.empty() ? "plain" : credentials[1]);
    auto [status, text] =
        run_cli(std::vector<std::string>{"status", address, "--timeout", "5s"} +
                credentials);
    CHECK(status == exit_status::exited_with(1));
    if (!credentials.empty())
      CHECK_MESSAGE(text.find("TLS handshake with " + address + " failed") !=
                        std::string::npos,
                    text);
    else
      CHECK_MESSAGE(text.find("if it runs TLS, pass --tls-cert") !=
                        std::string::npos,
                    text);
  }
  CHECK_MESSAGE(seed.wait_for_errors("closed during the TLS handshake", 10s),
                seed.errors());
  // The cluster still serves its members.
  auto [again, again_text] =
      run_cli(std::vector<std::string>{"status", address} +
              certificates::flags(certs.cluster, "seed", certs.cluster));
  CHECK_MESSAGE(again == exit_status::exited_with(0), again_text);
  for (auto* node : {&member, &seed}) {
    node->signal(SIGTERM);
    auto status = node->wait(20s);
    REQUIRE(status);
    CHECK_MESSAGE(*status == exit_status::exited_with(0), node->errors());
  }
}

TEST_CASE("misconfigured TLS and a non-loopback address without TLS are "
          "errors at start naming what is wrong") {
  certificates certs;
  auto cluster = certs.cluster;
  struct bad_case {
    std::vector<std::string> flags;
    std::string says;
  };
  std::vector<bad_case> cases{
      {{"--tls-cert", (cluster / "seed.pem").string()},
       "tls-cert, tls-key and tls-ca go together"},
      {{"--tls-cert", (cluster / "seed.pem").string(), "--tls-key",
        (cluster / "member.key").string(), "--tls-ca",
        (cluster / "ca.pem").string()},
       "does not belong to the certificate"},
      {certificates::flags(certs.rogue, "rogue", cluster),
       "is not signed by the CA"},
      {{"--tls-cert", (cluster / "missing.pem").string(), "--tls-key",
        (cluster / "seed.key").string(), "--tls-ca",
        (cluster / "ca.pem").string()},
       "missing.pem' cannot be read"},
      {{"--tls-cert", (cluster / "seed.key").string(), "--tls-key",
        (cluster / "seed.key").string(), "--tls-ca",
        (cluster / "ca.pem").string()},
       "is not a PEM file of that kind"},
      {{"--host", "0.0.0.0"}, "is not a loopback address"},
  };
  for (const auto& bad : cases) {
    CAPTURE(bad.says);
    auto [status, text] =
        run_cli(std::vector<std::string>{"node", "--port", "0"} + bad.flags);
    CHECK(status != exit_status::exited_with(0));
    CHECK(status != exit_status::killed_by(SIGABRT));
    CHECK_MESSAGE(text.find(bad.says) != std::string::npos, text);
  }
  // --insecure (or TLS) lets a node listen beyond loopback; checked on the
  // config, so no test process listens on any other address.
  node_config open;
  open.host = "0.0.0.0";
  CHECK_FALSE(open.check_exposure());
  open.insecure = true;
  CHECK(open.check_exposure());
  open.insecure = false;
  open.tls_cert = open.tls_key = open.tls_ca = "/x";
  CHECK(open.check_exposure());
  // A seed that generated a secret and then cannot bind (its port is
  // taken, on loopback) removes the secret as it fails.
  auto [taken, taken_port] =
      start_node({"--port", "0", "--name", "holder", "--log-level", "warn"});
  auto scratch = certs.root / "tmp";
  fs::create_directories(scratch);
  auto [busy_exit, busy_text] =
      run_cli({"node", "--port", std::to_string(taken_port)},
              {{"VARSYNC_SECRET_FILE", ""}, {"TMPDIR", scratch.string()}});
  CHECK(busy_exit == exit_status::exited_with(1));
  CHECK_MESSAGE(busy_text.find("cannot listen on 127.0.0.1:" +
                               std::to_string(taken_port)) != std::string::npos,
                busy_text);
  CHECK(fs::is_empty(scratch));
  taken.signal(SIGTERM);
  CHECK(taken.wait(20s));
  CHECK(is_loopback("127.0.0.1"));
  CHECK(is_loopback("127.1.2.3"));
  CHECK(is_loopback("localhost"));
  CHECK(is_loopback("::1"));
  CHECK_FALSE(is_loopback("0.0.0.0"));
  CHECK_FALSE(is_loopback("128.0.0.1"));
  CHECK_FALSE(is_loopback("example.org"));
}

TEST_CASE("with TLS, the HTTP port serves HTTPS to clients holding a cluster "
          "certificate only") {
  certificates certs;
  auto [seed, port] = start_node(
      std::vector<std::string>{"--name", "seed", "--http-port", "0"} +
      certificates::flags(certs.cluster, "seed", certs.cluster));
  auto line = seed.wait_for_line("dashboard at https://127.0.0.1:", 20s);
  REQUIRE_MESSAGE(line, seed.output() << seed.errors());
  auto http_port = static_cast<std::uint16_t>(
      std::stoi(line->substr(line->find("127.0.0.1:") + 10)));
  auto context_of = [&](const fs::path& dir, const std::string& name) {
    auto context = tls::make_mutual_context(
        (dir / (name + ".pem")).string(), (dir / (name + ".key")).string(),
        (certs.cluster / "ca.pem").string());
    REQUIRE(context);
    return *context;
  };
  auto member = context_of(certs.cluster, "member");
  std::string why;
  auto served = https_get(http_port, "/metrics", *member, &why);
  REQUIRE_MESSAGE(served, why);
  CHECK(served->status == 200);
  CHECK(served->body.find("varsync_node_info{node=\"seed\"}") !=
        std::string::npos);
  // A certificate of another CA: refused during the handshake.
  auto rogue = context_of(certs.rogue, "rogue");
  CHECK_FALSE(https_get(http_port, "/metrics", *rogue));
  // Plain HTTP to the HTTPS port gets no page.
  auto plain = http_get(http_port, "/metrics");
  CHECK((!plain || plain->status != 200));
  // And the port still serves its members.
  CHECK(https_get(http_port, "/status.json", *member));
  seed.signal(SIGTERM);
  REQUIRE(seed.wait(20s));
}
