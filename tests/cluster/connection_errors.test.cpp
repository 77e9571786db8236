// What `varsync status` and a joining `varsync node` report when pointed at
// the wrong place, with real processes and real listeners on loopback: a
// closed port is `unreachable` ("connection refused"), a program that is
// not a varsync node is `not_varsync` at once (not at the deadline), a
// listener that never answers is a `timeout` naming the deadline, and a
// node asked to listen on a taken port is `address_in_use` naming it.

#include "tests/support/node_cli.hpp"
#include "tests/support/stranger_listener.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <string>

using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

using clock_type = std::chrono::steady_clock;

/// The CLI's exit status, output, and how long it ran.
struct cli_run {
  exit_status status;
  std::string text;
  clock_type::duration took;
};

cli_run run_timed(std::vector<std::string> args) {
  auto started = clock_type::now();
  auto [status, text] = run_cli(std::move(args));
  return {status, text, clock_type::now() - started};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Runs `varsync status ADDRESS` and `varsync node --join ADDRESS`, both
/// with a deadline of `deadline`.
std::pair<cli_run, cli_run> status_and_join(const std::string& address,
                                            const std::string& deadline) {
  auto status = run_timed({"status", address, "--timeout", deadline});
  auto join = run_timed(
      {"node", "--port", "0", "--join", address, "--join-deadline", deadline});
  return {status, join};
}

} // namespace

TEST_CASE("a closed port is unreachable: connection refused") {
  auto address = "127.0.0.1:" + std::to_string(closed_port());
  auto [status, join] = status_and_join(address, "1s");
  CHECK(status.status == exit_status::exited_with(1));
  CHECK_MESSAGE(
      has(status.text, "unreachable: connection refused by " + address),
      status.text);
  // Joining retries until its deadline (the seed may still be starting),
  // then names the refusal.
  CHECK(join.status == exit_status::exited_with(1));
  CHECK_MESSAGE(has(join.text, "unreachable: cannot join the seed at " +
                                   address + " within 1000 ms"),
                join.text);
  CHECK_MESSAGE(has(join.text, "connection refused by " + address), join.text);
}

TEST_CASE("a program that greets with other bytes is not a varsync node, "
          "reported at once") {
  stranger_listener stranger{stranger_listener::behavior::banner,
                             "SSH-2.0-OpenSSH_9.2\r\n"};
  auto [status, join] = status_and_join(stranger.address(), "20s");
  for (const auto& run : {status, join}) {
    CHECK(run.status == exit_status::exited_with(1));
    CHECK_MESSAGE(has(run.text, "not_varsync: "), run.text);
    CHECK_MESSAGE(has(run.text, stranger.address() +
                                    " is not a varsync node: it answered "
                                    "'SSH-2.0-OpenSSH"),
                  run.text);
    CHECK_MESSAGE(run.took < 10s, run.text);
  }
}

TEST_CASE("an HTTP server is not a varsync node, reported at once") {
  stranger_listener web{stranger_listener::behavior::http,
                        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n"};
  auto [status, join] = status_and_join(web.address(), "20s");
  for (const auto& run : {status, join}) {
    CHECK(run.status == exit_status::exited_with(1));
    CHECK_MESSAGE(has(run.text, "not_varsync: "), run.text);
    CHECK_MESSAGE(has(run.text, web.address() +
                                    " is not a varsync node: it answered "
                                    "'HTTP/1.1 400 Bad Request"),
                  run.text);
    CHECK_MESSAGE(run.took < 10s, run.text);
  }
}

TEST_CASE("a listener that accepts and never answers is a timeout naming "
          "the deadline") {
  stranger_listener silent{stranger_listener::behavior::silent};
  auto [status, join] = status_and_join(silent.address(), "700ms");
  CHECK(status.status == exit_status::exited_with(1));
  CHECK_MESSAGE(has(status.text, "timeout: " + silent.address() +
                                     " accepted the connection but sent no "
                                     "handshake within 700 ms"),
                status.text);
  CHECK(join.status == exit_status::exited_with(1));
  CHECK_MESSAGE(has(join.text, "timeout: cannot join the seed at " +
                                   silent.address() + " within 700 ms"),
                join.text);
}

TEST_CASE("a node asked to listen on a taken port fails with "
          "address_in_use naming the address") {
  stranger_listener taken{stranger_listener::behavior::silent};
  auto port = std::to_string(taken.port());
  auto [status, text] = run_cli({"node", "--port", port});
  CHECK(status == exit_status::exited_with(1));
  CHECK_MESSAGE(has(text, "address_in_use: cannot listen on 127.0.0.1:" + port +
                              ": address already in use"),
                text);
}
