// MPI_Allreduce(MPI_SUM, float), out of place, one size after another: the
// peer that bench/cluster_step.cpp (varsync's on_write/mean step across
// processes) is compared with. bench/run starts it with mpirun over TCP on
// loopback and over shared memory (vader), with the same P as varsync.
//
// Method, per size (the same as cluster_step's and the anchors'):
//   warm-up: 3 calls (connections are set up lazily on the first one);
//   calibration: batches of 1, 4, 16, ... calls until one lasts >= 20 ms,
//     then the count that makes a batch last --batch-ms (rank 0 decides and
//     broadcasts it, so every rank makes the same calls);
//   --batches batches, each `MPI_Barrier; t0; iters calls; t1`; the time per
//     call of a batch is the MAXIMUM over ranks (the slowest rank finishes
//     the collective); the figure is the median over batches.
//
// Run: mpirun -np 2 build-bench/bench/varsync_bench_mpi_allreduce
//        [--sizes 8,4096,...] [--batch-ms 150] [--batches 5]
// Output (rank 0), one line per size:
//   RESULT op=allreduce np=2 bytes=4096 iters=.. batches=5 med_us=..
//          min_us=.. ok=1 cpus=0,1
// ok=1: every element of the result equals 1 + 2 + ... + np (rank r adds
// r + 1). cpus: the CPU each rank was on at the end (two ranks sharing one
// CPU explain outliers, see shared/anchors/README.md).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mpi.h>
#include <optional>
#include <sched.h>
#include <string>
#include <vector>

namespace {

struct bench_options {
  /// Array sizes in bytes (rounded down to whole floats, at least one).
  std::vector<long> sizes{8, 4096, 262144, 1048576, 16777216, 67108864};
  /// Target duration of one timed batch.
  double batch_ms = 150;
  /// Timed batches per size.
  int batches = 5;
};

/// Parses the command line into `options` (CLI11, like every program of
/// the project; this one is built apart from the library, with MPI's
/// compiler wrapper, so it prints its errors with CLI11's own handler).
/// Returns the exit status when the program is done (after --help, or 2
/// after a usage error, printed by rank 0); nothing when it should go on.
std::optional<int> parse_options(int argc, char** argv, int rank,
                                 bench_options& options) {
  CLI::App app{"MPI_Allreduce(MPI_SUM, float), the peer of "
               "varsync_bench_cluster_step (see bench/mpi/allreduce.cpp)"};
  app.add_option("--sizes", options.sizes, "array sizes in bytes")
      ->option_text("BYTES[,BYTES...]")
      ->delimiter(',');
  app.add_option("--batch-ms", options.batch_ms,
                 "target duration of one timed batch")
      ->option_text("MS")
      ->check(CLI::Range(0.001, 1e9));
  app.add_option("--batches", options.batches, "timed batches per size")
      ->option_text("COUNT")
      ->check(CLI::Range(1, 1'000'000'000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& failure) {
    if (rank != 0)
      return failure.get_exit_code() == 0 ? 0 : 2;
    auto code = app.exit(failure);
    return code == 0 ? 0 : 2;
  }
  return std::nullopt;
}

} // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  bench_options options;
  if (auto done = parse_options(argc, argv, rank, options)) {
    MPI_Finalize();
    return *done;
  }

  for (long bytes : options.sizes) {
    int elements = static_cast<int>(std::max(1L, bytes / 4));
    std::vector<float> send(elements, static_cast<float>(rank + 1));
    std::vector<float> receive(elements, 0.0f);

    // Seconds per call of `iters` calls, the maximum over ranks.
    auto batch = [&](long iters) {
      MPI_Barrier(MPI_COMM_WORLD);
      double start = MPI_Wtime();
      for (long i = 0; i < iters; ++i)
        MPI_Allreduce(send.data(), receive.data(), elements, MPI_FLOAT, MPI_SUM,
                      MPI_COMM_WORLD);
      double mine = (MPI_Wtime() - start) / static_cast<double>(iters);
      double slowest = 0;
      MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      return slowest;
    };

    batch(3);
    long iters = 1;
    double per_call = batch(iters);
    while (per_call * static_cast<double>(iters) < 0.02 && iters < (1L << 24)) {
      iters *= 4;
      per_call = batch(iters);
    }
    iters = std::max(1L, std::lround(options.batch_ms * 1e-3 / per_call));
    MPI_Bcast(&iters, 1, MPI_LONG, 0, MPI_COMM_WORLD);

    std::vector<double> per_batch;
    for (int b = 0; b < options.batches; ++b)
      per_batch.push_back(batch(iters));
    std::sort(per_batch.begin(), per_batch.end());

    float expected = static_cast<float>(ranks * (ranks + 1) / 2);
    int ok = std::all_of(receive.begin(), receive.end(),
                         [&](float x) { return x == expected; })
                 ? 1
                 : 0;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    int cpu = sched_getcpu();
    std::vector<int> cpus(ranks);
    MPI_Gather(&cpu, 1, MPI_INT, cpus.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);

    if (rank == 0) {
      std::string cpu_list;
      for (int c : cpus)
        cpu_list += (cpu_list.empty() ? "" : ",") + std::to_string(c);
      std::printf("RESULT op=allreduce np=%d bytes=%ld iters=%ld batches=%d "
                  "med_us=%.3f min_us=%.3f ok=%d cpus=%s\n",
                  ranks, bytes, iters, options.batches,
                  per_batch[per_batch.size() / 2] * 1e6,
                  per_batch.front() * 1e6, all_ok, cpu_list.c_str());
      std::fflush(stdout);
    }
  }
  MPI_Finalize();
  return 0;
}
