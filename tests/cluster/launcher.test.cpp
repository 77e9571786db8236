// `varsync run` with real processes on loopback: 4 workers of
// tests/programs/launched_worker.cpp (runtime::start_from_env) form a
// group and agree on their steps, and every rank's line arrives prefixed
// with its rank; a failing worker's status becomes the launcher's and the
// others are stopped; SIGTERM to the launcher reaches every worker; ranks
// --hosts puts on other hosts are printed, not started; bad command lines
// are usage errors. No test leaves a process behind: each passes a unique
// --tag to its workers and a unique secret file (part of the seed's
// command line) and checks that nothing matching either is left.

#include "runtime/transport/cluster_secret.hpp"
#include "tests/support/checks.hpp"
#include "tests/support/node_cli.hpp"
#include "tests/support/temp_root.hpp"

#include <atomic>
#include <csignal>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace varsync;
using namespace varsync::test;
using namespace std::chrono_literals;

namespace {

/// Long enough for a job on a loaded machine; only a failing test waits
/// this long.
constexpr auto patience = 90s;

std::string worker() {
  return binary_path(VARSYNC_TEST_BINARY_DIR, "varsync_test_launched_worker");
}

/// A unique tag and secret file for one job, so its processes can be
/// found (and found gone).
struct job_names {
  std::string tag;
  std::string secret_file;

  job_names() {
    static std::atomic<int> counter{0};
    tag = "launcher-test-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter++);
    auto secret = auth::generate_secret_file();
    REQUIRE_MESSAGE(secret, secret.error().to_string());
    secret_file = *secret;
  }

  ~job_names() {
    std::error_code ignored;
    std::filesystem::remove_all(
        std::filesystem::path{secret_file}.parent_path(), ignored);
  }

  job_names(const job_names&) = delete;
  job_names& operator=(const job_names&) = delete;

  /// Checks that no worker and no seed of this job is left.
  void check_nothing_left() const {
    CHECK_MESSAGE(wait_for_no_process_matching(tag, 10s).empty(),
                  "workers left behind");
    CHECK_MESSAGE(wait_for_no_process_matching(secret_file, 10s).empty(),
                  "the seed was left behind");
  }
};

/// Starts `varsync run -np NP --secret-file F -- WORKER ARGS... --tag T`.
child_process start_job(const job_names& names, int processes,
                        std::vector<std::string> worker_args) {
  std::vector<std::string> args{"run",
                                "-np",
                                std::to_string(processes),
                                "--secret-file",
                                names.secret_file,
                                "--",
                                worker()};
  args.insert(args.end(), worker_args.begin(), worker_args.end());
  args.push_back("--tag");
  args.push_back(names.tag);
  auto launcher = child_process::start(cli(), args);
  REQUIRE_MESSAGE(launcher, launcher.error().to_string());
  return std::move(*launcher);
}

} // namespace

TEST_CASE("varsync run starts 4 workers that form a group, finish, and "
          "print their lines prefixed with their rank") {
  job_names names;
  auto launcher = start_job(names, 4, {"--steps", "5"});
  auto status = launcher.wait(patience);
  REQUIRE_MESSAGE(status, launcher.output() << launcher.errors());
  auto output = launcher.output();
  CHECK_MESSAGE(*status == exit_status::exited_with(0),
                output << launcher.errors());
  // Rank r added r + 1 per step: 5 steps of 1 + 2 + 3 + 4.
  for (int rank = 0; rank < 4; ++rank)
    CHECK_MESSAGE(contains(output, "\n[" + std::to_string(rank) + "] rank " +
                                       std::to_string(rank) +
                                       " of 4 result steps=5 value=50 ok=1\n"),
                  output);
  CHECK_MESSAGE(contains(output, "[seed] varsync node 'seed' listening on "),
                output);
  // The seed left gracefully once every rank was done.
  CHECK_MESSAGE(contains(output, "[seed] varsync node: stopped"), output);
  names.check_nothing_left();
}

TEST_CASE("a failing worker makes varsync run exit with its status and "
          "stops the others") {
  job_names names;
  auto launcher = start_job(names, 4, {"--fail-rank", "2", "--fail-code", "3"});
  auto status = launcher.wait(patience);
  REQUIRE_MESSAGE(status, launcher.output() << launcher.errors());
  CHECK_MESSAGE(*status == exit_status::exited_with(3),
                launcher.output() << launcher.errors());
  CHECK_MESSAGE(contains(launcher.output(), "[2] rank 2 failing with 3"),
                launcher.output());
  CHECK_MESSAGE(contains(launcher.errors(),
                         "varsync run: rank 2 exited with code 3; stopping "
                         "the other ranks"),
                launcher.errors());
  // The other ranks never finished their steps: they were stopped.
  CHECK_FALSE(contains(launcher.output(), "result steps="));
  names.check_nothing_left();
}

TEST_CASE("SIGTERM to varsync run is forwarded to every worker") {
  job_names names;
  auto launcher = start_job(names, 3, {"--wait-for-signal"});
  // The three "waiting" lines come in any order.
  std::set<std::string> waiting;
  for (int i = 0; i < 3; ++i) {
    auto line = launcher.wait_for_line(" waiting", patience);
    REQUIRE_MESSAGE(line, launcher.output() << launcher.errors());
    waiting.insert(*line);
  }
  CHECK_EQ(waiting,
           std::set<std::string>{"[0] rank 0 waiting", "[1] rank 1 waiting",
                                 "[2] rank 2 waiting"});
  REQUIRE(launcher.signal(SIGTERM));
  auto status = launcher.wait(patience);
  REQUIRE_MESSAGE(status, launcher.output() << launcher.errors());
  // The workers exit 0 after the signal; the launcher reports the signal.
  CHECK_MESSAGE(*status == exit_status::exited_with(128 + SIGTERM),
                launcher.output() << launcher.errors());
  for (int rank = 0; rank < 3; ++rank)
    CHECK_MESSAGE(
        contains(launcher.output(), "[" + std::to_string(rank) + "] rank " +
                                        std::to_string(rank) + " got SIGTERM"),
        launcher.output());
  CHECK_MESSAGE(contains(launcher.errors(),
                         "SIGTERM: forwarding it to the ranks and the seed"),
                launcher.errors());
  names.check_nothing_left();
}

TEST_CASE("ranks on other hosts are printed as command lines, the local "
          "ones run, and a generated secret is private and removed") {
  // An empty VARSYNC_SECRET_FILE counts as unset: the launcher makes one.
  // Nothing here connects to the other host: its ranks are only printed.
  auto tag = "launcher-hosts-" + std::to_string(::getpid());
  auto launcher = child_process::start(
      cli(),
      {"run", "-np", "4", "--hosts", "localhost:2,worker-b.invalid:2", "--",
       "/bin/sh", "-c", "echo rank $VARSYNC_RANK of $VARSYNC_SIZE >&2", tag},
      std::vector<std::pair<std::string, std::string>>{
          {"VARSYNC_SECRET_FILE", ""}});
  REQUIRE_MESSAGE(launcher, launcher.error().to_string());
  for (int rank = 2; rank < 4; ++rank) {
    auto line = launcher->wait_for_line("VARSYNC_RANK=" + std::to_string(rank),
                                        patience);
    REQUIRE_MESSAGE(line, launcher->output() << launcher->errors());
    CHECK_MESSAGE(line->starts_with("  on worker-b.invalid: VARSYNC_RANK=" +
                                    std::to_string(rank) +
                                    " VARSYNC_SIZE=4 VARSYNC_JOIN=127.0.0.1:"),
                  *line);
    CHECK_MESSAGE(line->ends_with(" /bin/sh -c 'echo rank $VARSYNC_RANK of "
                                  "$VARSYNC_SIZE >&2' " +
                                  tag),
                  *line);
  }
  // The local ranks run (they print on stderr, which is searched whole:
  // their lines and the remote ranks' come in any order).
  for (auto local : {"[0] rank 0 of 4", "[1] rank 1 of 4"})
    REQUIRE_MESSAGE(launcher->wait_for_errors(local, patience),
                    launcher->errors());
  REQUIRE_MESSAGE(
      launcher->wait_for_errors("until SIGINT or SIGTERM", patience),
      launcher->errors());
  auto output = launcher->output();
  // The generated secret: mode 0600, named in the printed lines.
  auto at = output.find("VARSYNC_SECRET_FILE=");
  REQUIRE(at != std::string::npos);
  auto secret = output.substr(at + 20, output.find(' ', at) - at - 20);
  struct stat info {};
  REQUIRE_MESSAGE(::stat(secret.c_str(), &info) == 0, secret);
  CHECK_EQ(info.st_mode & 0777, 0600u);
  REQUIRE(launcher->signal(SIGTERM));
  auto status = launcher->wait(patience);
  REQUIRE(status);
  CHECK_MESSAGE(*status == exit_status::exited_with(128 + SIGTERM),
                launcher->errors());
  // The remote ranks did not run here.
  CHECK_FALSE(contains(launcher->errors(), "] rank 2 of 4"));
  CHECK_FALSE(std::filesystem::exists(secret));
  CHECK(wait_for_no_process_matching(secret, 10s).empty());
}

TEST_CASE("with --ssh, ranks on other hosts run through ssh and join like "
          "local ones") {
  // A stand-in for ssh ($VARSYNC_SSH) that runs the command on this
  // machine: the test checks what the launcher asks ssh to do, and nothing
  // connects anywhere but loopback.
  job_names names;
  temp_root dir{"varsync-fake-ssh"};
  std::filesystem::create_directories(dir.path);
  auto fake_ssh = (dir.path / "ssh").string();
  {
    std::ofstream script{fake_ssh};
    script << "#!/bin/sh\n"
              "while [ \"$1\" = -o ]; do shift 2; done\n"
              "echo \"fake ssh to $1\" >&2\n"
              "exec /bin/sh -c \"$2\"\n";
  }
  std::filesystem::permissions(fake_ssh, std::filesystem::perms::owner_all);
  auto launcher = child_process::start(
      cli(),
      {"run", "-np", "4", "--hosts", "localhost:2,worker-b.invalid:2", "--ssh",
       "--secret-file", names.secret_file, "--", worker(), "--tag", names.tag},
      std::vector<std::pair<std::string, std::string>>{
          {"VARSYNC_SSH", fake_ssh}});
  REQUIRE_MESSAGE(launcher, launcher.error().to_string());
  auto status = launcher->wait(patience);
  REQUIRE_MESSAGE(status, launcher->output() << launcher->errors());
  CHECK_MESSAGE(*status == exit_status::exited_with(0),
                launcher->output() << launcher->errors());
  auto output = launcher->output();
  for (int rank = 0; rank < 4; ++rank)
    CHECK_MESSAGE(contains(output, "[" + std::to_string(rank) + "] rank " +
                                       std::to_string(rank) +
                                       " of 4 result steps=5 value=50 ok=1"),
                  output);
  // Ranks 2 and 3 went through ssh to their host; 0 and 1 did not.
  CHECK(contains(launcher->errors(), "[2] fake ssh to worker-b.invalid"));
  CHECK(contains(launcher->errors(), "[3] fake ssh to worker-b.invalid"));
  CHECK_FALSE(contains(launcher->errors(), "[0] fake ssh"));
  names.check_nothing_left();
}

TEST_CASE("bad varsync run command lines are usage errors that say what is "
          "wrong") {
  struct bad_case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<bad_case> cases{
      {{"run", "--", "/bin/true"}, "-np N is missing"},
      {{"run", "-np", "0", "--", "/bin/true"},
       "-np: '0' is not a number of processes"},
      {{"run", "-np", "four", "--", "/bin/true"},
       "-np: 'four' is not a number of processes"},
      {{"run", "-np", "2", "/bin/true"},
       "'/bin/true': expected `--` before the program"},
      {{"run", "-np", "2"}, "`-- PROGRAM ARGS...` is missing"},
      {{"run", "-np", "2", "--"}, "no program after `--`"},
      {{"run", "-np", "4", "--hosts", "a:2,b:1", "--", "/bin/true"},
       "--hosts: 3 slots for -np 4"},
      {{"run", "-np", "2", "--hosts", "a:x", "--", "/bin/true"},
       "--hosts: 'a:x' is not HOST:SLOTS"},
      {{"run", "-np", "2", "--frobnicate", "--", "/bin/true"},
       "unexpected argument '--frobnicate'"},
      {{"run", "-np", "2", "--hosts", "worker-b.invalid:2", "--ssh", "--",
        "/bin/true"},
       "--ssh: ranks on other hosts need --secret-file"},
  };
  for (const auto& bad : cases) {
    CAPTURE(bad.says);
    // No secret from the suite's environment (the --ssh case needs none).
    auto [status, text] = run_cli(bad.args, {{"VARSYNC_SECRET_FILE", ""}});
    CHECK_MESSAGE(status == exit_status::exited_with(2), text);
    CHECK_MESSAGE(contains(text, "varsync run: " + bad.says), text);
  }
  // A program that does not exist: nothing starts, the shell's 127.
  auto [status, text] =
      run_cli({"run", "-np", "2", "--", "varsync-no-such-program"});
  CHECK_MESSAGE(status == exit_status::exited_with(127), text);
  CHECK_MESSAGE(contains(text, "'varsync-no-such-program': no such program in "
                               "PATH"),
                text);
  std::tie(status, text) = run_cli({"run", "--help"});
  CHECK(status == exit_status::exited_with(0));
  CHECK(contains(text, "VARSYNC_RANK"));
  CHECK_MESSAGE(contains(text, "--np N"), text);
  CHECK_MESSAGE(contains(text, "--hosts HOST:SLOTS[,...]"), text);
  // Everything after `--` is the program's, flags and `--` included.
  std::tie(status, text) = run_cli(
      {"run", "-np", "1", "--", "/bin/echo", "--help", "-np", "3", "--", "x"},
      {{"VARSYNC_SECRET_FILE", ""}});
  CHECK_MESSAGE(status == exit_status::exited_with(0), text);
  CHECK_MESSAGE(contains(text, "[0] --help -np 3 -- x\n"), text);
}
