// A worker program for `varsync run` (tests/cluster/launcher.test.cpp):
// what a user's program does under the launcher. It starts its node with
// runtime::start_from_env(), takes replica VARSYNC_RANK of a group of
// VARSYNC_SIZE replicas, makes --steps on_write/sum steps of
// += (rank + 1) on an f64 scalar and checks after each that it reads what
// every rank added so far (step k: k * size * (size + 1) / 2). It prints
//
//   rank R of N result steps=S value=V ok=1|0
//
// and exits 0 when every read agreed (1 otherwise). A start_from_env error
// is printed as "rank ? error <message>" on stderr (exit 1).
//
// Flags (all optional):
//   --steps S                 steps to make (default 5)
//   --fail-rank R --fail-code C
//                             rank R exits with status C right after its
//                             node started, without joining the group
//   --wait-for-signal         instead of steps: print "rank R waiting",
//                             wait for SIGTERM or SIGINT, print "rank R got
//                             SIGTERM" (or SIGINT) and exit 0
//   --tag T                   ignored: lets a test find its processes

#include "runtime/cli/program_flags.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <string>
#include <string_view>
#include <varsync/varsync.hpp>

int main(int argc, char** argv) {
  int steps = 5;
  long fail_rank = -1;
  int fail_code = 0;
  bool wait_for_signal = false;
  CLI::App app{"A worker of `varsync run` for tests/cluster/launcher.test.cpp"};
  varsync::cli::add_version_flag(app);
  app.add_flag("--wait-for-signal", wait_for_signal,
               "wait for SIGTERM/SIGINT after the steps");
  app.add_option("--steps", steps, "on_write steps to make")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--fail-rank", fail_rank, "this rank exits with --fail-code");
  app.add_option("--fail-code", fail_code, "the exit status of --fail-rank");
  std::string tag;
  app.add_option("--tag", tag, "ignored (marks the processes of one test)");
  if (auto done = varsync::cli::parse_flags(app, argc, argv))
    return *done;
  // Blocked before the runtime starts its threads: sigwait takes them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (wait_for_signal)
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto job = varsync::runtime::start_from_env();
  if (!job) {
    std::fprintf(stderr, "rank ? error %s\n", job.error().to_string().c_str());
    return 1;
  }
  auto& rt = *job->node;
  auto rank = job->rank;
  auto size = job->size;
  if (static_cast<long>(rank) == fail_rank) {
    std::printf("rank %zu failing with %d\n", rank, fail_code);
    std::fflush(stdout);
    std::_Exit(fail_code);
  }
  if (wait_for_signal) {
    std::printf("rank %zu waiting\n", rank);
    std::fflush(stdout);
    int received = 0;
    sigwait(&stop, &received);
    std::printf("rank %zu got %s\n", rank,
                received == SIGTERM ? "SIGTERM" : "SIGINT");
    std::fflush(stdout);
    return 0;
  }

  auto fail = [&](const char* what, const varsync::error& error) {
    std::fprintf(stderr, "rank %zu error %s: %s\n", rank, what,
                 error.to_string().c_str());
    return 1;
  };
  auto group = rt.join_group("launched", size, {rank});
  if (!group)
    return fail("join_group", group.error());
  auto self = group->at(rank);
  if (!self)
    return fail("replica", self.error());
  varsync::variable_options sum;
  sum.sync = varsync::synchronization::on_write;
  sum.aggregation = varsync::aggregation::sum;
  auto w = rt.create_variable(*group, "w", varsync::tensor(0.0), sum);
  if (!w)
    return fail("create_variable", w.error());
  bool ok = true;
  double value = 0;
  const double per_step = static_cast<double>(size * (size + 1) / 2);
  for (int k = 1; k <= steps; ++k) {
    auto done = self->assign_add(*w, varsync::tensor(double(rank + 1)));
    if (!done)
      return fail("assign_add", done.error());
    auto read = self->read(*w);
    if (!read)
      return fail("read", read.error());
    value = read->values<double>()[0];
    ok = ok && value == per_step * k;
  }
  std::printf("rank %zu of %zu result steps=%d value=%g ok=%d\n", rank, size,
              steps, value, ok ? 1 : 0);
  std::fflush(stdout);
  return ok ? 0 : 1;
}
