// The `varsync` tool and a node's port under bad input, with real
// processes: `varsync node` runs until SIGTERM and exits cleanly, `varsync
// status` shows the cluster, usage errors name the flag; random garbage
// and a truncated handshake sent to a node's port do not stop it from
// serving; a malformed update from a remote replica is an error to that
// caller and changes nothing.

#include "tests/support/node_cli.hpp"
#include "tests/support/test_cluster.hpp"
#include "tests/support/worker_lines.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>
#include <varsync/varsync.hpp>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

TEST_CASE("varsync --help, subcommand help and usage errors") {
  auto [status, text] = run_cli({"--help"});
  CHECK(status == exit_status::exited_with(0));
  CHECK(text.find("node") != std::string::npos);
  CHECK(text.find("status") != std::string::npos);
  for (const char* command : {"node", "run", "status", "certs", "checkpoint"})
    CHECK_MESSAGE(text.find(command) != std::string::npos, command, "\n", text);
  std::tie(status, text) = run_cli({"node", "--help"});
  CHECK(status == exit_status::exited_with(0));
  // Value placeholders and the config file.
  for (const char* shown :
       {"--config FILE", "--connection-timeout DURATION", "--port PORT"})
    CHECK_MESSAGE(text.find(shown) != std::string::npos, shown, "\n", text);
  std::tie(status, text) = run_cli({"status", "--help"});
  CHECK(status == exit_status::exited_with(0));
  CHECK(text.find("HOST:PORT") != std::string::npos);
  std::tie(status, text) = run_cli({"node", "--port", "seventy"});
  CHECK(status == exit_status::exited_with(2));
  CHECK(text.find("port") != std::string::npos);
  // A duration without a unit is refused, suggesting one.
  std::tie(status, text) = run_cli({"node", "--connection-timeout", "5"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("--connection-timeout: '5' needs a unit (e.g. 5s or "
                          "5ms)") != std::string::npos,
                text);
  std::tie(status, text) = run_cli({"status", "127.0.0.1:1", "--timeout", "5"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("varsync status: --timeout: '5' needs a unit (e.g. "
                          "5s or 5ms)") != std::string::npos,
                text);
  std::tie(status, text) =
      run_cli({"status", "127.0.0.1:1", "--timeout", "soon"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("--timeout: 'soon'") != std::string::npos, text);
  std::tie(status, text) = run_cli({"status", "--help"});
  CHECK(status == exit_status::exited_with(0));
  for (const char* shown : {"--timeout DURATION", "--secret-file FILE",
                            "--tls-cert FILE", "--json", "--watch"})
    CHECK_MESSAGE(text.find(shown) != std::string::npos, shown, "\n", text);
  // A missing or malformed address, and a stray argument.
  std::tie(status, text) = run_cli({"status"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("varsync status: ") != std::string::npos, text);
  std::tie(status, text) = run_cli({"status", "localhost"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("localhost") != std::string::npos, text);
  std::tie(status, text) = run_cli({"node", "stray"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("varsync node: unexpected argument 'stray'") !=
                    std::string::npos,
                text);
  std::tie(status, text) = run_cli({"certs", "init"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("varsync certs init: ") != std::string::npos, text);
  std::tie(status, text) = run_cli({"--version"});
  CHECK(status == exit_status::exited_with(0));
  CHECK_EQ(text, std::string{"varsync "} + VARSYNC_PROJECT_VERSION + "\n");
  std::tie(status, text) = run_cli({"frobnicate"});
  CHECK(status == exit_status::exited_with(2));
  CHECK(text.find("frobnicate") != std::string::npos);
  // Input is quoted escaped and cut, never echoed whole to a terminal.
  std::tie(status, text) = run_cli({"bad\x1b[31m" + std::string(100000, 'z')});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("'bad\\x1b[31mzzz") != std::string::npos, text);
  CHECK_MESSAGE(text.find("(100008 bytes)") != std::string::npos, text);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.size() < 2000);
}

TEST_CASE("joining a seed that is not there fails at the join deadline with "
          "a clear error") {
  // Port 1 on loopback: nothing listens there; connects are refused.
  auto [status, text] = run_cli({"node", "--port", "0", "--join", "127.0.0.1:1",
                                 "--join-deadline", "400ms"});
  CHECK(status == exit_status::exited_with(1));
  CHECK_MESSAGE(text.find("cannot join the seed at 127.0.0.1:1") !=
                    std::string::npos,
                text);
}

TEST_CASE("SIGTERM stops a node within 2 s while it waits for a seed that "
          "accepts and never answers; the join deadline holds too") {
  // A listener that never calls accept(): the kernel completes the TCP
  // handshake, so the node's connect succeeds and its BASP handshake waits.
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(silent >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&address),
                 sizeof address) == 0);
  REQUIRE(::listen(silent, 16) == 0);
  socklen_t length = sizeof address;
  ::getsockname(silent, reinterpret_cast<sockaddr*>(&address), &length);
  auto seed = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  auto joining = child_process::start(
      cli(), {"node", "--join", seed, "--join-deadline", "20s"});
  REQUIRE(joining);
  // The node is joining once its connection is pending at the listener.
  pollfd pending{silent, POLLIN, 0};
  REQUIRE(::poll(&pending, 1, 10000) == 1);
  joining->signal(SIGTERM);
  auto status = joining->wait(2s);
  REQUIRE_MESSAGE(status, "still running 2 s after SIGTERM");
  CHECK(*status == exit_status::exited_with(128 + SIGTERM));
  CHECK_MESSAGE(joining->errors().find("SIGTERM while starting") !=
                    std::string::npos,
                joining->errors());
  // Without a signal it gives up at its deadline.
  auto [deadline_status, text] =
      run_cli({"node", "--join", seed, "--join-deadline", "500ms"});
  CHECK(deadline_status == exit_status::exited_with(1));
  CHECK_MESSAGE(text.find("within 500 ms") != std::string::npos, text);
  ::close(silent);
}

TEST_CASE("a node survives garbage and a truncated handshake on its port "
          "and keeps serving; status shows the joined cluster") {
  auto [seed, port] = start_node({"--port", "0", "--name", "seed"});
  // 1. Random bytes after the node's handshake (seeded: the same bytes in
  //    every run).
  {
    int fd = connect_raw(port);
    drain(fd, 500ms);
    std::mt19937 random{42};
    std::vector<unsigned char> garbage(64 * 1024);
    for (auto& byte : garbage)
      byte = static_cast<unsigned char>(random());
    send_all(fd, garbage);
    ::close(fd);
  }
  // 2. A truncated handshake: the first bytes of a header, then close.
  {
    int fd = connect_raw(port);
    send_all(fd, {0x00, 0x00, 0x00, 0x01, 0x02});
    ::close(fd);
  }
  // 3. Connect and close at once, many times.
  for (int i = 0; i < 50; ++i)
    ::close(connect_raw(port));
  // The node still serves: another node joins and status shows both.
  auto [member, member_port] =
      start_node({"--port", "0", "--name", "member", "--join",
                  "127.0.0.1:" + std::to_string(port)});
  CHECK(member_port != port);
  auto status = fetch_status(endpoint{"127.0.0.1", port}, 5s);
  REQUIRE_MESSAGE(status, status.error().to_string());
  REQUIRE(status->nodes.size() == 2);
  CHECK(status->nodes[0].name == "seed");
  CHECK(status->nodes[0].holder);
  CHECK(status->nodes[1].name == "member");
  CHECK(status->nodes[1].alive);
  // The CLI prints the same, asked through the member.
  auto [cli_status, text] =
      run_cli({"status", "127.0.0.1:" + std::to_string(member_port)});
  CHECK(cli_status == exit_status::exited_with(0));
  CHECK_MESSAGE(text.find("member") != std::string::npos, text);
  CHECK(text.find("seed") != std::string::npos);
  CHECK(seed.running());
  // Clean shutdown on SIGTERM and SIGINT.
  member.signal(SIGINT);
  seed.signal(SIGTERM);
  auto member_exit = member.wait(20s);
  auto seed_exit = seed.wait(20s);
  REQUIRE(member_exit);
  REQUIRE(seed_exit);
  // A failed exit shows the node's stderr (e.g. a sanitizer's report).
  CHECK_MESSAGE(*member_exit == exit_status::exited_with(0), member.errors());
  CHECK_MESSAGE(*seed_exit == exit_status::exited_with(0), seed.errors());
}

TEST_CASE("an update with the wrong dtype, shape or op from a remote replica "
          "is an error to that caller and changes nothing") {
  auto cluster =
      start_test_cluster({{{0}, {}}, {{1}, {}}},
                         {"--scenario", "bad_update", "--group-size", "2"});
  REQUIRE_MESSAGE(cluster.failure.empty(), cluster.failure);
  for (auto& node : cluster.nodes)
    REQUIRE_MESSAGE(node.wait_for_line("done", 60s), cluster.transcript());
  // Node 1 is remote to the variable actor (on the seed).
  auto output = cluster.nodes[1].output();
  CHECK_MESSAGE(output.find("bad dtype dtype_mismatch") != std::string::npos,
                output);
  CHECK(output.find("bad shape shape_mismatch") != std::string::npos);
  CHECK(output.find("bad op invalid_argument") != std::string::npos);
  CHECK(output.find("bad cross_shape shape_mismatch") != std::string::npos);
  CHECK(output.find("bad value_after 1.000000,1.000000") != std::string::npos);
  CHECK_MESSAGE(cluster.stop(), cluster.transcript());
}

TEST_CASE("a node program's flags (CLI11): --help shows value placeholders "
          "and --config, bad values name the flag, --version the version") {
  auto worker =
      binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_cluster_worker");
  auto run = [&](std::vector<std::string> args) {
    auto process = child_process::start(worker, std::move(args));
    REQUIRE(process);
    auto status = process->wait(30s);
    REQUIRE(status);
    return std::pair{*status, process->output() + process->errors()};
  };
  auto [status, text] = run({"--help"});
  CHECK(status == exit_status::exited_with(0));
  for (const char* shown : {"--config FILE", "--heartbeat-interval DURATION",
                            "--port PORT", "--join HOST:PORT[,HOST:PORT...]",
                            "--serve-variables [BOOL]", "--scenario NAME"})
    CHECK_MESSAGE(text.find(shown) != std::string::npos, shown, "\n", text);
  std::tie(status, text) = run({"--port", "seventy"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(
      text.find("--port: 'seventy' is not a port") != std::string::npos, text);
  std::tie(status, text) = run({"--connection-timeout", "5"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("--connection-timeout: '5' needs a unit (e.g. 5s or "
                          "5ms)") != std::string::npos,
                text);
  std::tie(status, text) = run({"--heartbeat-interval"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("--heartbeat-interval: missing value (expected "
                          "--heartbeat-interval DURATION)") !=
                    std::string::npos,
                text);
  std::tie(status, text) = run({"--steps", "many"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("--steps") != std::string::npos, text);
  CHECK_MESSAGE(text.find("many") != std::string::npos, text);
  std::tie(status, text) = run({"--frobnicate"});
  CHECK(status == exit_status::exited_with(2));
  CHECK_MESSAGE(text.find("--frobnicate") != std::string::npos, text);
  std::tie(status, text) = run({"--version"});
  CHECK(status == exit_status::exited_with(0));
  CHECK_EQ(text, std::string{"varsync_test_cluster_worker "} +
                     VARSYNC_PROJECT_VERSION + "\n");
}
