#pragma once

// Driving the `varsync` tool from tests (a node per process, `varsync
// status`) and raw TCP to a node's port on loopback. Only for test targets
// (child_process::binary_path).

#include "tests/support/child_process.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <doctest/doctest.h>
#include <fstream>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace varsync::test {

/// The `varsync` tool of this build.
inline std::string cli() {
  return binary_path("varsync");
}

/// Runs the CLI to completion (at most 30 s) with the environment plus
/// `env`; returns its status and stdout + stderr.
inline std::pair<exit_status, std::string>
run_cli(std::vector<std::string> args,
        const std::vector<std::pair<std::string, std::string>>& env = {}) {
  auto process = child_process::start(cli(), args, env);
  REQUIRE(process);
  auto status = process->wait(std::chrono::seconds{30});
  REQUIRE(status);
  return {*status, process->output() + process->errors()};
}

/// Starts `varsync node` with `args` (through `wrapper`, e.g. prlimit, when
/// given; with `extra_env` added to this process's environment); returns it
/// and its port once it listens.
inline std::pair<child_process, std::uint16_t> start_node(
    std::vector<std::string> args, std::vector<std::string> wrapper = {},
    const std::vector<std::pair<std::string, std::string>>& extra_env = {}) {
  args.insert(args.begin(), "node");
  auto program = cli();
  if (!wrapper.empty()) {
    args.insert(args.begin(), program);
    args.insert(args.begin(), wrapper.begin() + 1, wrapper.end());
    program = wrapper.front();
  }
  auto process = child_process::start(program, args, extra_env);
  REQUIRE(process);
  auto line = process->wait_for_line("listening on ", std::chrono::seconds{20});
  REQUIRE_MESSAGE(line, process->output() << process->errors());
  auto colon = line->find(':', line->find("listening on "));
  auto port = static_cast<std::uint16_t>(std::stoi(line->substr(colon + 1)));
  return {std::move(*process), port};
}

/// Connects a raw TCP socket to 127.0.0.1:`port`.
inline int connect_raw(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address),
                    sizeof address) == 0);
  return fd;
}

/// Reads what the server sends within `timeout` (its handshake).
inline void drain(int fd, std::chrono::milliseconds timeout) {
  pollfd entry{fd, POLLIN, 0};
  char buffer[4096];
  while (::poll(&entry, 1, static_cast<int>(timeout.count())) > 0 &&
         ::read(fd, buffer, sizeof buffer) > 0)
    timeout = std::chrono::milliseconds{50};
}

/// Sends `bytes`, stopping quietly when the peer drops the connection.
inline void send_all(int fd, const std::vector<unsigned char>& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return; // the node may drop the connection mid-way: fine
    sent += static_cast<std::size_t>(n);
  }
}

/// Whether the peer closes `fd` within `timeout` (EOF or reset; bytes
/// before it are skipped).
inline bool closed_within(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0)
      continue;
    auto got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got == 0 || (got < 0 && errno == ECONNRESET))
      return true;
  }
}

/// The peak resident memory of process `pid` (VmHWM), in KiB; 0 when it
/// cannot be read.
inline std::uint64_t peak_rss_kib(pid_t pid) {
  std::ifstream status{"/proc/" + std::to_string(pid) + "/status"};
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      std::uint64_t kib = 0;
      status >> kib;
      return kib;
    }
    std::getline(status, key);
  }
  return 0;
}

/// ASAN_OPTIONS for a child whose memory is measured: this process's own
/// options plus no quarantine. AddressSanitizer keeps freed blocks resident
/// in a quarantine of up to 256 MiB by design, so an instrumented node's
/// RSS grows with every allocation it frees, whatever bounds its live
/// memory; without the quarantine RSS measures what the node holds.
/// Harmless in an uninstrumented build (nothing reads the variable).
inline std::pair<std::string, std::string> asan_without_quarantine() {
  std::string options;
  if (const char* inherited = std::getenv("ASAN_OPTIONS"))
    options = std::string{inherited} + ":";
  options += "quarantine_size_mb=0:thread_local_quarantine_size_kb=0";
  return {"ASAN_OPTIONS", options};
}

/// The peak resident memory of process `pid` once it has settled: polls
/// VmHWM every 100 ms until it grew by less than 1 MiB over 500 ms (at most
/// for `deadline`) and returns the last reading, in KiB. A node just
/// started and served once under AddressSanitizer still grows by 50-60 MiB
/// in the next few hundred milliseconds (instrumented code and its shadow
/// memory paging in; measured in .ci/run's build), which is not what a
/// memory bound under attack is about. Blocks.
inline std::uint64_t settled_peak_rss_kib(pid_t pid,
                                          std::chrono::milliseconds deadline) {
  using namespace std::chrono_literals;
  constexpr std::uint64_t still_kib = 1024;
  auto give_up = std::chrono::steady_clock::now() + deadline;
  std::vector<std::uint64_t> readings{peak_rss_kib(pid)};
  while (std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(100ms);
    readings.push_back(peak_rss_kib(pid));
    if (readings.size() > 5 &&
        readings.back() < readings[readings.size() - 6] + still_kib)
      break;
  }
  return readings.back();
}

} // namespace varsync::test
