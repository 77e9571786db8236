// network_step: the on_write/mean step of varsync across P processes over
// loopback TCP — the peer of MPI_Allreduce (bench/mpi_peer/allreduce.cpp).
//
// The program started without --worker is the seed and replica 0: it hosts
// the directory and the variable actors (varsync's default placement) and
// starts P - 1 worker processes of itself (one replica each) that join it.
// For every size, every replica makes `assign_add(w, delta)` steps of an
// f32 variable with aggregation mean: a step completes when all P replicas
// contributed and the mean is installed everywhere, like an all-reduce.
// Method (as for the MPI peer): 3 warm-up steps, an iteration count chosen
// by replica 0 so that a batch lasts about --batch-ms (and shared through an
// only_first_replica variable, since steps are collectives), --batches
// batches; the figure is the median of the per-step batch times of
// replica 0 (steps are lock-step, so every replica sees the same batch
// time within a step). Output, one line per size:
//   RESULT op=on_write_step np=4 bytes=16777216 iters=.. batches=5
//          med_us=.. min_us=.. ok=1
// ok=1: the value after the steps equals the expected mean sum.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <varsync/varsync.hpp>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct options {
  int np = 2;
  std::vector<std::size_t> sizes{8, 4096, 262144, 1048576, 16777216, 67108864};
  double batch_ms = 150;
  int batches = 5;
  bool worker = false;
  /// Scheduler threads per process (0: one per core).
  std::size_t threads = 0;
  std::string join;
  std::size_t index = 0;
};

std::vector<std::size_t> parse_sizes(const char* text) {
  std::vector<std::size_t> sizes;
  for (const char* p = text; *p != 0;) {
    sizes.push_back(std::strtoull(p, const_cast<char**>(&p), 10));
    if (*p == ',')
      ++p;
  }
  return sizes;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--np"))
      o.np = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sizes"))
      o.sizes = parse_sizes(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch-ms"))
      o.batch_ms = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batches"))
      o.batches = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--join"))
      o.join = argv[i + 1], o.worker = true;
    else if (!std::strcmp(argv[i], "--threads"))
      o.threads = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--index"))
      o.index = std::strtoull(argv[i + 1], nullptr, 10);
  }
  return o;
}

[[noreturn]] void fail(const std::string& what, const varsync::error& err) {
  std::fprintf(stderr, "network_step: %s: %s\n", what.c_str(),
               err.to_string().c_str());
  std::exit(1);
}

template <class T> T check(varsync::expected<T> x, const std::string& what) {
  if (!x)
    fail(what, x.error());
  return std::move(*x);
}

void check(const varsync::expected<void>& x, const std::string& what) {
  if (!x)
    fail(what, x.error());
}

/// Runs every size on this process's replica; replica 0 reports.
void run_sizes(varsync::runtime& rt, const options& o) {
  auto group = check(
      rt.join_group("bench", static_cast<std::size_t>(o.np), {o.index}, 60s),
      "join_group");
  auto r = check(group.at(o.index), "replica");
  varsync::variable_options mean;
  mean.sync = varsync::synchronization::on_write;
  mean.aggregation = varsync::aggregation::mean;
  varsync::variable_options first;
  first.sync = varsync::synchronization::on_write;
  first.aggregation = varsync::aggregation::only_first_replica;
  for (auto bytes : o.sizes) {
    auto elements =
        static_cast<std::int64_t>(std::max<std::size_t>(bytes / 4, 1));
    auto tag = std::to_string(bytes);
    auto w = check(
        rt.create_variable(
            group, "w" + tag,
            check(varsync::tensor::filled(varsync::dtype::f32, {elements}, 0.0),
                  "tensor"),
            mean),
        "create w");
    auto agreed =
        check(rt.create_variable(group, "iters" + tag,
                                 varsync::tensor(std::int64_t{0}), first),
              "create iters");
    // Every replica adds index + 1: the mean per step is (np + 1) / 2.
    auto delta =
        check(varsync::tensor::filled(varsync::dtype::f32, {elements},
                                      static_cast<double>(o.index + 1)),
              "delta");
    std::int64_t steps = 0;
    auto step = [&] {
      check(r.assign_add(w, delta, 120s), "step of " + tag + " bytes");
      ++steps;
    };
    auto warm_start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i)
      step();
    auto per_step = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - warm_start)
                        .count() /
                    3;
    auto wanted = static_cast<std::int64_t>(
        std::max(1.0, std::ceil(o.batch_ms / std::max(per_step, 1e-3))));
    check(r.assign(agreed, varsync::tensor(o.index == 0 ? wanted : 0), 60s),
          "agree");
    auto iters = check(r.read(agreed), "read iters").values<std::int64_t>()[0];
    std::vector<double> batch_us;
    for (int b = 0; b < o.batches; ++b) {
      auto start = std::chrono::steady_clock::now();
      for (std::int64_t i = 0; i < iters; ++i)
        step();
      batch_us.push_back(std::chrono::duration<double, std::micro>(
                             std::chrono::steady_clock::now() - start)
                             .count() /
                         static_cast<double>(iters));
    }
    auto value = check(r.read(w), "read w").values<float>()[0];
    auto expected = static_cast<double>(steps) * (o.np + 1) / 2.0;
    bool ok = std::abs(value - expected) <= 1e-3 * expected + 1e-3;
    std::sort(batch_us.begin(), batch_us.end());
    if (o.index == 0) {
      std::printf("RESULT op=on_write_step np=%d bytes=%zu iters=%lld "
                  "batches=%d med_us=%.3f min_us=%.3f ok=%d\n",
                  o.np, bytes, static_cast<long long>(iters), o.batches,
                  batch_us[batch_us.size() / 2], batch_us.front(), ok ? 1 : 0);
      std::fflush(stdout);
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  varsync::node_config config;
  config.connection_timeout = 10s; // large steps keep the I/O thread busy
  config.heartbeat_interval = 500ms;
  config.worker_threads = o.threads;
  if (o.worker) {
    config.join = check(varsync::parse_endpoint(o.join, "--join"), "join");
    auto rt = check(varsync::runtime::start(config), "start");
    run_sizes(*rt, o);
    return 0;
  }
  auto rt = check(varsync::runtime::start(config), "start");
  auto seed = "127.0.0.1:" + std::to_string(rt->port());
  std::vector<pid_t> workers;
  for (int i = 1; i < o.np; ++i) {
    auto pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<std::string> args{argv[0], "--join", seed, "--index",
                                    std::to_string(i)};
      for (int k = 1; k < argc; ++k)
        args.emplace_back(argv[k]);
      std::vector<char*> raw;
      for (auto& arg : args)
        raw.push_back(arg.data());
      raw.push_back(nullptr);
      ::execv("/proc/self/exe", raw.data());
      ::_exit(127);
    }
    workers.push_back(pid);
  }
  o.index = 0;
  run_sizes(*rt, o);
  int status = 0;
  for (auto pid : workers) {
    int child = 0;
    ::waitpid(pid, &child, 0);
    if (!WIFEXITED(child) || WEXITSTATUS(child) != 0)
      status = 1;
  }
  return status;
}
