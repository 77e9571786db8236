// mpi_peer/allreduce: MPI_Allreduce(MPI_SUM, float) per size — the peer of
// bench/network_step.cpp, run by bench/run with the same P over TCP and
// over shared memory (OpenMPI from Debian).
//
// Method (as for varsync): 3 warm-up calls, an iteration count chosen by
// rank 0 so that a batch lasts about --batch-ms (broadcast to all ranks),
// --batches batches; a batch's per-call time is the maximum over ranks;
// the figure is the median over batches. Output, one line per size:
//   RESULT op=allreduce np=4 bytes=16777216 iters=.. batches=5 med_us=..
//          min_us=.. ok=1
// ok=1: every element of the result equals the expected sum.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mpi.h>
#include <vector>

namespace {

double now_s() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int np = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &np);
  std::vector<long> sizes{8, 4096, 262144, 1048576, 16777216, 67108864};
  double batch_ms = 150;
  int batches = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--sizes")) {
      sizes.clear();
      for (char* p = argv[i + 1]; *p != 0;) {
        sizes.push_back(std::strtol(p, &p, 10));
        if (*p == ',')
          ++p;
      }
    } else if (!std::strcmp(argv[i], "--batch-ms")) {
      batch_ms = std::atof(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--batches")) {
      batches = std::atoi(argv[i + 1]);
    }
  }
  for (auto bytes : sizes) {
    auto n = static_cast<int>(std::max(bytes / 4, 1L));
    std::vector<float> send(n, static_cast<float>(rank + 1));
    std::vector<float> receive(n);
    auto call = [&] {
      MPI_Allreduce(send.data(), receive.data(), n, MPI_FLOAT, MPI_SUM,
                    MPI_COMM_WORLD);
    };
    auto start = now_s();
    for (int i = 0; i < 3; ++i)
      call();
    long iters = static_cast<long>(
        std::max(1.0, std::ceil(batch_ms * 1e-3 / ((now_s() - start) / 3))));
    MPI_Bcast(&iters, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    std::vector<double> per_call;
    for (int b = 0; b < batches; ++b) {
      MPI_Barrier(MPI_COMM_WORLD);
      auto t0 = now_s();
      for (long i = 0; i < iters; ++i)
        call();
      double mine = (now_s() - t0) / static_cast<double>(iters);
      double slowest = 0;
      MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      per_call.push_back(slowest);
    }
    float expected = static_cast<float>(np * (np + 1) / 2);
    int ok = std::all_of(receive.begin(), receive.end(),
                         [&](float x) { return x == expected; })
                 ? 1
                 : 0;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    std::sort(per_call.begin(), per_call.end());
    if (rank == 0) {
      std::printf("RESULT op=allreduce np=%d bytes=%ld iters=%ld batches=%d "
                  "med_us=%.3f min_us=%.3f ok=%d\n",
                  np, bytes, iters, batches,
                  per_call[per_call.size() / 2] * 1e6, per_call.front() * 1e6,
                  all_ok);
      std::fflush(stdout);
    }
  }
  MPI_Finalize();
  return 0;
}
