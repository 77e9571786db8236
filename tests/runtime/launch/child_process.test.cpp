// The project's one launcher (runtime/launch/child_process), as `varsync
// run`, the example, the bench and the multi-process tests use it: lines
// are seen (waited for, or passed to callbacks before the exit is
// reported), stdin can be written, waits time out instead of hanging,
// exits and signals are reported, output is complete, and nothing a child
// started outlives its child_process.
//
// Children are /bin/sh, /bin/echo and /bin/sleep. Processes are found by a
// marker unique to this test process, passed to sh as $0 so it appears in
// the command line.

#include "tests/support/child_process.hpp"

#include "tests/support/checks.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <doctest/doctest.h>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using varsync::errc;
using varsync::test::child_process;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::describe;
using varsync::test::exit_status;
using varsync::test::launch_options;
using varsync::test::message_of;
using varsync::test::processes_matching;
using varsync::test::wait_for_no_process_matching;

namespace {

/// Long enough for any expected event on a loaded machine; only a failing
/// test waits this long.
constexpr auto patience = 10s;

/// A string found in no command line but those of this process's children.
std::string unique_marker() {
  static std::atomic<int> counter{0};
  return "varsync-child-process-test-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++);
}

/// Starts `executable` with `args`, failing the test if that fails.
child_process
start(const std::string& executable, const std::vector<std::string>& args,
      const std::vector<std::pair<std::string, std::string>>& extra_env = {}) {
  auto result = child_process::start(executable, args, extra_env);
  VARSYNC_REQUIRE_OK(result);
  return std::move(result).value();
}

/// Runs `script` with /bin/sh -c; `marker` becomes $0.
child_process start_shell(const std::string& script,
                          const std::string& marker = "sh") {
  return start("/bin/sh", {"-c", script, marker});
}

/// True when no process with id `pid` exists (reaped, not even a zombie).
bool is_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

bool has(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

/// "pids: 12 34"; for failure messages.
std::string describe_pids(const std::vector<pid_t>& pids) {
  std::string result = "pids:";
  for (auto pid : pids)
    result += " " + std::to_string(pid);
  return result;
}

} // namespace

TEST_CASE("a line of the child's stdout is returned whole and kept") {
  auto child = start_shell("echo first; echo 'ready on port 42'; sleep 1000");
  auto line = child.wait_for_line("ready", patience);
  REQUIRE_MESSAGE(line.has_value(), "output: " << child.output() << " errors: "
                                               << child.errors());
  CHECK_EQ(*line, "ready on port 42");
  CHECK_EQ(child.output(), "first\nready on port 42\n");
  CHECK(child.running());
}

TEST_CASE("wait_for_line offers each line once, in order") {
  auto child = start_shell("echo step 1; echo step 2; echo step 1 again");
  CHECK_EQ(child.wait_for_line("step", patience), "step 1");
  CHECK_EQ(child.wait_for_line("step", patience), "step 2");
  CHECK_EQ(child.wait_for_line("1", patience), "step 1 again");
  CHECK_EQ(child.wait_for_line("step", patience), std::nullopt);
  CHECK_EQ(child.output(), "step 1\nstep 2\nstep 1 again\n");
}

TEST_CASE("wait_for_line gives up after the timeout on a silent child") {
  auto child = start("/bin/sleep", {"1000"});
  auto started = std::chrono::steady_clock::now();
  CHECK_EQ(child.wait_for_line("anything", 200ms), std::nullopt);
  auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited >= 200ms);
  CHECK(waited < patience);
  CHECK(child.running());
}

TEST_CASE("wait_for_line returns at the end of stdout, before the timeout") {
  auto child = start("/bin/echo", {"hello"});
  auto started = std::chrono::steady_clock::now();
  CHECK_EQ(child.wait_for_line("absent", 60s), std::nullopt);
  CHECK(std::chrono::steady_clock::now() - started < 30s);
  CHECK_EQ(child.output(), "hello\n");
}

TEST_CASE("a last line without a newline is seen once stdout ends") {
  auto child = start_shell("printf 'no newline'");
  CHECK_EQ(child.wait_for_line("newline", patience), "no newline");
}

TEST_CASE("arguments reach the program verbatim, without a shell") {
  auto child = start("/bin/echo", {"a  b", "$HOME", "*"});
  CHECK_EQ(child.wait_for_line("", patience), "a  b $HOME *");
}

TEST_CASE("extra_env adds variables and overrides inherited ones") {
  auto child =
      start("/bin/sh",
            {"-c", "echo \"value=$VARSYNC_CHILD_TEST_VALUE "
                   "home=$HOME path_set=${PATH:+yes}\""},
            {{"VARSYNC_CHILD_TEST_VALUE", "42"}, {"HOME", "/nowhere"}});
  CHECK_EQ(child.wait_for_line("value", patience),
           "value=42 home=/nowhere path_set=yes");
}

TEST_CASE("the exit code is reported, and again on a second wait") {
  auto child = start_shell("exit 3");
  CHECK_EQ(child.wait(patience), exit_status::exited_with(3));
  CHECK_FALSE(child.running());
  CHECK_EQ(child.wait(0ms), exit_status::exited_with(3));
}

TEST_CASE("a child killed by SIGKILL is reported as killed by that signal") {
  auto child = start("/bin/sleep", {"1000"});
  CHECK(child.running());
  CHECK(child.signal(SIGKILL));
  CHECK_EQ(child.wait(patience), exit_status::killed_by(SIGKILL));
  CHECK_FALSE(child.running());
  CHECK_FALSE(child.signal(SIGTERM)); // reaped: nothing to signal
}

TEST_CASE("wait gives up after the timeout while the child runs") {
  auto child = start("/bin/sleep", {"1000"});
  CHECK_EQ(child.wait(100ms), std::nullopt);
  CHECK(child.running());
}

TEST_CASE("stderr is captured apart from stdout") {
  auto child = start_shell("echo out; echo oops >&2; exit 0");
  CHECK_EQ(child.wait(patience), exit_status::exited_with(0));
  CHECK_EQ(child.output(), "out\n");
  CHECK_EQ(child.errors(), "oops\n");
}

TEST_CASE("after wait, output holds everything a chatty child wrote") {
  // About 110 KB: more than a pipe holds, so the child blocks unless the
  // output is read while it runs. Another thread takes snapshots meanwhile;
  // each must extend the one before.
  auto child = start_shell("seq 1 20000");
  std::atomic<bool> done{false};
  bool snapshots_grow = true;
  std::thread observer{[&] {
    std::string previous;
    while (!done.load()) {
      auto current = child.output();
      if (current.compare(0, previous.size(), previous) != 0)
        snapshots_grow = false;
      previous = std::move(current);
      std::this_thread::yield();
    }
  }};
  auto status = child.wait(patience);
  done = true;
  observer.join();
  CHECK_EQ(status, exit_status::exited_with(0));
  CHECK(snapshots_grow);
  auto output = child.output();
  CHECK_EQ(std::count(output.begin(), output.end(), '\n'), 20000);
  CHECK(output.starts_with("1\n2\n3\n"));
  CHECK(output.ends_with("\n19999\n20000\n"));
}

TEST_CASE("the destructor kills and reaps a running child") {
  auto marker = unique_marker();
  pid_t pid = -1;
  {
    auto child = start_shell("echo ready; sleep 1000; true", marker);
    REQUIRE(child.wait_for_line("ready", patience));
    pid = child.pid();
    CHECK(has(processes_matching(marker), pid));
  }
  CHECK(is_gone(pid));
  auto left = wait_for_no_process_matching(marker, patience);
  CHECK_MESSAGE(left.empty(), "still running: " << describe_pids(left));
}

TEST_CASE("destroying a child kills what it started in its process group") {
  // The grandchild, a second sh, announces its pid once it runs (its
  // command line is only stable from then on) and then waits in sleep.
  auto marker = unique_marker();
  pid_t grandchild = -1;
  {
    auto child = start_shell("/bin/sh -c 'echo grandchild $$; sleep 1000; "
                             "true' " +
                                 marker + " & wait",
                             marker);
    auto line = child.wait_for_line("grandchild", patience);
    REQUIRE_MESSAGE(line.has_value(), "errors: " << child.errors());
    grandchild = std::stoi(line->substr(line->find(' ') + 1));
    CHECK_NE(grandchild, child.pid());
    CHECK_MESSAGE(has(processes_matching(marker), grandchild),
                  "grandchild " << grandchild << " not found by marker");
  }
  auto left = wait_for_no_process_matching(marker, patience);
  CHECK_MESSAGE(left.empty(), "still running: " << describe_pids(left));
  CHECK_FALSE(has(left, grandchild));
}

TEST_CASE("moving a child_process moves the process; assigning kills the "
          "old one") {
  auto first = start("/bin/sleep", {"1000"});
  auto first_pid = first.pid();
  auto moved = std::move(first);
  CHECK_EQ(first.pid(), -1); // NOLINT(bugprone-use-after-move)
  CHECK_EQ(moved.pid(), first_pid);
  CHECK(moved.running());

  auto second = start("/bin/sleep", {"1000"});
  auto second_pid = second.pid();
  second = std::move(moved);
  CHECK(is_gone(second_pid));
  CHECK_EQ(second.pid(), first_pid);
  CHECK(second.signal(SIGKILL));
  CHECK_EQ(second.wait(patience), exit_status::killed_by(SIGKILL));
}

TEST_CASE("starting a missing executable reports execve's error") {
  auto result = child_process::start("/nonexistent/varsync-no-program", {});
  CHECK_EQ(code_of(result), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(result), "/nonexistent/varsync-no-program"),
                describe(result));
  CHECK_MESSAGE(contains(message_of(result), "No such file or directory"),
                describe(result));
}

TEST_CASE("starting a file that is not executable reports execve's error") {
  auto result = child_process::start("/dev/null", {});
  CHECK_EQ(code_of(result), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(result), "Permission denied"),
                describe(result));
}

TEST_CASE("lines written to stdin reach the child, and closing it ends its "
          "input") {
  launch_options options;
  options.stdin_from = varsync::launch::stream::pipe;
  auto started = child_process::start(
      "/bin/sh",
      {"-c", "while read word; do echo \"got $word\"; done; "
             "echo end of input"},
      std::move(options));
  VARSYNC_REQUIRE_OK(started);
  auto& child = *started;
  CHECK(child.write_stdin("one\n"));
  CHECK_EQ(child.wait_for_line("got", patience), "got one");
  CHECK(child.write_stdin("two\n"));
  CHECK_EQ(child.wait_for_line("got", patience), "got two");
  child.close_stdin();
  CHECK_EQ(child.wait_for_line("end", patience), "end of input");
  CHECK_EQ(child.wait(patience), exit_status::exited_with(0));
  CHECK_FALSE(child.write_stdin("three\n")); // closed
}

TEST_CASE("writing to a child that stopped reading fails without SIGPIPE") {
  launch_options options;
  options.stdin_from = varsync::launch::stream::pipe;
  auto started = child_process::start("/bin/true", {}, std::move(options));
  VARSYNC_REQUIRE_OK(started);
  REQUIRE_EQ(started->wait(patience), exit_status::exited_with(0));
  // The read end is gone with the child: EPIPE, and this process lives on.
  CHECK_FALSE(started->write_stdin("anyone there?\n"));
}

TEST_CASE("without a stdin pipe, write_stdin fails and the child reads "
          "/dev/null") {
  auto child = start_shell("cat; echo cat done");
  CHECK_EQ(child.wait_for_line("done", patience), "cat done");
  CHECK_FALSE(child.write_stdin("x\n"));
}

TEST_CASE("line callbacks get every line in order, the exit comes after "
          "them, and the lines are not kept") {
  std::mutex mutex;
  std::condition_variable exited;
  std::vector<std::string> events;
  auto record = [&](std::string event) {
    std::lock_guard guard{mutex};
    events.push_back(std::move(event));
    exited.notify_all();
  };
  launch_options options;
  options.on_stdout_line = [&](std::string_view line) {
    record("out " + std::string{line});
  };
  options.on_stderr_line = [&](std::string_view line) {
    record("err " + std::string{line});
  };
  options.on_exit = [&](const exit_status& status) {
    record("exit " + to_string(status));
  };
  auto started = child_process::start(
      "/bin/sh",
      {"-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done; "
             "echo oops >&2; printf 'last'; exit 3"},
      std::move(options));
  VARSYNC_REQUIRE_OK(started);
  std::unique_lock lock{mutex};
  REQUIRE(exited.wait_for(lock, patience, [&] {
    return !events.empty() && events.back().starts_with("exit");
  }));
  std::vector<std::string> out;
  for (const auto& event : events)
    if (event.starts_with("out "))
      out.push_back(event);
  REQUIRE_EQ(out.size(), 301u);
  for (int i = 0; i < 300; ++i)
    CHECK_EQ(out[static_cast<std::size_t>(i)], "out line " + std::to_string(i));
  CHECK_EQ(out.back(), "out last"); // the unterminated last line
  CHECK(std::find(events.begin(), events.end(), "err oops") != events.end());
  CHECK_EQ(events.back(), "exit exited with code 3");
  lock.unlock();
  CHECK_EQ(started->output(), "");
  CHECK_EQ(started->errors(), "");
}

TEST_CASE("an inherited stdout is not captured, and argv0 names the "
          "program") {
  auto marker = unique_marker();
  launch_options options;
  options.stdout_to = varsync::launch::stream::inherit;
  options.argv0 = marker;
  // $0 of `sh -c` is the first argument after the script, so the marker
  // (argv[0]) shows up in the command line instead.
  auto started = child_process::start("/bin/sh",
                                      {"-c", "echo to the stdout of the test; "
                                             "echo on stderr >&2; sleep 1000"},
                                      std::move(options));
  VARSYNC_REQUIRE_OK(started);
  CHECK(started->wait_for_errors("on stderr", patience));
  CHECK(has(processes_matching(marker), started->pid()));
  CHECK_EQ(started->output(), "");
}

TEST_CASE("processes_matching never lists the calling process") {
  auto own = processes_matching("");
  CHECK_FALSE(own.empty()); // every other process matches ""
  CHECK_FALSE(has(own, ::getpid()));
}

TEST_CASE("exit statuses print as sentences and map to a shell's status") {
  CHECK_EQ(to_string(exit_status::exited_with(3)), "exited with code 3");
  CHECK_EQ(to_string(exit_status::killed_by(SIGKILL)),
           "killed by signal 9 (SIGKILL)");
  CHECK_EQ(exit_status::exited_with(3).shell_code(), 3);
  CHECK_EQ(exit_status::killed_by(SIGTERM).shell_code(), 128 + SIGTERM);
  CHECK(exit_status::exited_with(0).succeeded());
  CHECK_FALSE(exit_status::killed_by(SIGTERM).succeeded());
}

TEST_CASE("binary_path is relative to the build directory") {
  CHECK_EQ(varsync::test::binary_path("bench/x"),
           std::string{VARSYNC_BINARY_DIR} + "/bench/x");
}
