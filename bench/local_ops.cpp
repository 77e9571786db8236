// In-process costs of varsync's local operations, each next to the plain
// C++ building block an application would otherwise use, measured in the
// same process with batches interleaved (varsync batch, peer batch, ...):
//
//   read_on_write   replica-context read of an on_write/mean f64 scalar
//                   peers: std::atomic<std::shared_ptr<const double>> load
//                   (what a replica's copy is built on: one per replica),
//                   and a plain std::atomic<double> load
//   read_on_read    the same for an on_read/sum f64 scalar
//   add_on_read     replica-context assign_add(1.0) of an on_read/sum f64
//                   scalar (a local update, no message)
//                   peer: += under a std::mutex, one per replica (each
//                   replica owns its copy; nothing is shared)
//   on_write_step   the in-process collective step (assign_add of every
//                   replica, mean) with 4 replicas on 4 threads, 8 B and
//                   1 MiB of f32; peer: a std::barrier all-reduce of
//                   shared buffers (each thread reduces its slice, then
//                   copies the whole result), see bench/on_write_step.cpp
//   cross_read      the cross-replica read of an on_write f64 scalar: a
//                   host call (one request to the variable actor through
//                   the runtime's host gateway, the reply back to the
//                   caller); peer: the same round trip to a server thread
//                   written by hand (a queue under a mutex, a condition
//                   variable, a std::promise per request)
//
// Reads and adds run with 1 thread, then 2 (one replica per thread).
// Method per case and implementation: warm-up, calibration (batches of
// growing size until one lasts >= 20 ms, then the count that makes a batch
// last --batch-ms), --batches batches. Every thread times its own loop
// after a common start; a batch's time per operation is the MAXIMUM over
// threads, and the figure is the median over batches: nanoseconds per
// operation per thread (rate per thread = 1e9 / ns_per_op).
//
// Run: build-bench/bench/varsync_bench_local_ops [--batch-ms 150]
//        [--batches 5] [--smoke]   (--smoke: one 5 ms batch per case)
// Output, one line per case and implementation:
//   RESULT op=read_on_write threads=2 bytes=8 impl=varsync iters=..
//          batches=5 ns_per_op=.. min_ns=.. ok=1
// impl: varsync, atomic_shared_ptr, atomic_double, mutex_add,
// barrier_allreduce, thread_handoff. ok=1: the values read or reduced are the
// expected ones.

#include "runtime/cli/program_flags.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

struct bench_options {
  /// Target duration of one timed batch.
  double batch_ms = 150;
  /// Timed batches per case and implementation.
  int batches = 5;
};

/// The operation under test, run `iters` times by thread `thread`; returns
/// false when a result was wrong or a call failed.
using loop_body = std::function<bool(std::size_t thread, long iters)>;

/// One implementation of a case: its name, its loop and its measurements.
struct contender {
  contender(std::string name, loop_body loop)
      : impl(std::move(name)), body(std::move(loop)) {
    // nop
  }
  std::string impl;
  loop_body body;
  long iters = 1;
  std::vector<double> per_batch; // seconds per operation
  bool ok = true;
};

/// Seconds per operation of one batch: `threads` threads run `iters`
/// operations each after a common start; the slowest thread counts.
double run_batch(contender& c, std::size_t threads, long iters) {
  std::vector<double> spent(threads);
  std::vector<char> ok(threads, 1);
  std::latch start{static_cast<std::ptrdiff_t>(threads)};
  std::vector<std::jthread> pool;
  for (std::size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      auto begin = steady::now();
      ok[t] = c.body(t, iters) ? 1 : 0;
      spent[t] = std::chrono::duration<double>(steady::now() - begin).count();
    });
  pool.clear(); // joins
  c.ok = c.ok && std::all_of(ok.begin(), ok.end(), [](char x) { return x; });
  return *std::max_element(spent.begin(), spent.end()) /
         static_cast<double>(iters);
}

/// Calibrates and runs every contender of a case, batches interleaved.
void measure_case(const bench_options& options, std::size_t threads,
                  std::vector<contender>& contenders, long first_iters) {
  for (auto& c : contenders) {
    run_batch(c, threads, first_iters); // warm-up
    long iters = first_iters;
    double per_op = run_batch(c, threads, iters);
    while (per_op * static_cast<double>(iters) < 0.02 && iters < (1L << 30)) {
      iters *= 4;
      per_op = run_batch(c, threads, iters);
    }
    c.iters = std::max(1L, std::lround(options.batch_ms * 1e-3 / per_op));
  }
  for (int b = 0; b < options.batches; ++b)
    for (auto& c : contenders)
      c.per_batch.push_back(run_batch(c, threads, c.iters));
}

/// One RESULT line per contender.
void print_case(const bench_options& options, const std::string& op,
                std::size_t threads, std::size_t bytes,
                std::vector<contender>& contenders) {
  for (auto& c : contenders) {
    std::sort(c.per_batch.begin(), c.per_batch.end());
    std::printf("RESULT op=%s threads=%zu bytes=%zu impl=%s iters=%ld "
                "batches=%d ns_per_op=%.3f min_ns=%.3f ok=%d\n",
                op.c_str(), threads, bytes, c.impl.c_str(), c.iters,
                options.batches, c.per_batch[c.per_batch.size() / 2] * 1e9,
                c.per_batch.front() * 1e9, c.ok ? 1 : 0);
  }
  std::fflush(stdout);
}

/// Cache-line-sized cells, so that threads never share a line.
struct alignas(64) shared_ptr_cell {
  std::atomic<std::shared_ptr<const double>> value;
};
struct alignas(64) double_cell {
  std::atomic<double> value;
};
struct alignas(64) mutex_cell {
  std::mutex mutex;
  double value = 0;
};

/// Reads of a variable with policy `sync` (holding 42) vs the two atomics.
void bench_reads(const bench_options& options, varsync::synchronization sync,
                 std::size_t threads) {
  varsync::runtime rt;
  auto group = *rt.create_group("reads", threads);
  varsync::variable_options variable_options;
  variable_options.sync = sync;
  variable_options.aggregation = sync == varsync::synchronization::on_read
                                     ? varsync::aggregation::sum
                                     : varsync::aggregation::mean;
  auto v =
      *rt.create_variable(group, "v", varsync::tensor(0.0), variable_options);
  // on_read/sum: assigning 42 * R cross-replica gives every copy 42.
  auto assigned =
      sync == varsync::synchronization::on_read
          ? rt.assign(v, varsync::tensor(42.0 * static_cast<double>(threads)))
          : rt.assign(v, varsync::tensor(42.0));
  if (!assigned)
    std::abort();
  std::vector<varsync::replica> replicas;
  for (std::size_t t = 0; t < threads; ++t)
    replicas.push_back(*group.at(t));
  std::vector<shared_ptr_cell> pointers(threads);
  std::vector<double_cell> doubles(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    pointers[t].value.store(std::make_shared<const double>(42.0));
    doubles[t].value.store(42.0);
  }

  std::vector<contender> contenders;
  contenders.emplace_back("varsync", [&](std::size_t t, long iters) {
    double sum = 0;
    for (long i = 0; i < iters; ++i) {
      auto x = replicas[t].read(v);
      if (!x)
        return false;
      sum += x->to_double();
    }
    return sum == 42.0 * static_cast<double>(iters);
  });
  contenders.emplace_back("atomic_shared_ptr", [&](std::size_t t, long iters) {
    double sum = 0;
    for (long i = 0; i < iters; ++i)
      sum += *pointers[t].value.load(std::memory_order_acquire);
    return sum == 42.0 * static_cast<double>(iters);
  });
  contenders.emplace_back("atomic_double", [&](std::size_t t, long iters) {
    double sum = 0;
    for (long i = 0; i < iters; ++i)
      sum += doubles[t].value.load(std::memory_order_acquire);
    return sum == 42.0 * static_cast<double>(iters);
  });
  auto op = sync == varsync::synchronization::on_read ? "read_on_read"
                                                      : "read_on_write";
  measure_case(options, threads, contenders, 1000);
  print_case(options, op, threads, 8, contenders);
}

/// on_read/sum local assign_add vs a per-replica mutex-protected add.
void bench_on_read_adds(const bench_options& options, std::size_t threads) {
  varsync::runtime rt;
  auto group = *rt.create_group("adds", threads);
  varsync::variable_options variable_options;
  variable_options.sync = varsync::synchronization::on_read;
  variable_options.aggregation = varsync::aggregation::sum;
  auto v =
      *rt.create_variable(group, "v", varsync::tensor(0.0), variable_options);
  std::vector<varsync::replica> replicas;
  for (std::size_t t = 0; t < threads; ++t)
    replicas.push_back(*group.at(t));
  std::vector<mutex_cell> cells(threads);
  std::atomic<long> varsync_adds{0};
  std::atomic<long> peer_adds{0};
  const varsync::tensor one(1.0);

  std::vector<contender> contenders;
  contenders.emplace_back("varsync", [&](std::size_t t, long iters) {
    for (long i = 0; i < iters; ++i)
      if (!replicas[t].assign_add(v, one))
        return false;
    varsync_adds += iters;
    return true;
  });
  contenders.emplace_back("mutex_add", [&](std::size_t t, long iters) {
    for (long i = 0; i < iters; ++i) {
      std::lock_guard guard{cells[t].mutex};
      cells[t].value += 1.0;
    }
    peer_adds += iters;
    return true;
  });
  measure_case(options, threads, contenders, 1000);
  // Every add is counted: the sums over the replicas must match.
  auto total = rt.read(v);
  contenders[0].ok = contenders[0].ok && total &&
                     total->to_double() == static_cast<double>(varsync_adds);
  double peer_total = 0;
  for (auto& cell : cells)
    peer_total += cell.value;
  contenders[1].ok =
      contenders[1].ok && peer_total == static_cast<double>(peer_adds);
  print_case(options, "add_on_read", threads, 8, contenders);
}

/// A server thread answering requests for a value: the hand-written peer
/// of a host call (one wake-up to the server, one back to the caller).
class value_server {
public:
  explicit value_server(double value)
      : value_(value), thread_([this] { serve(); }) {
    // nop
  }

  ~value_server() {
    {
      std::lock_guard guard{mutex_};
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  /// Asks the server for its value and waits for the answer.
  double ask() {
    std::promise<double> reply;
    auto answer = reply.get_future();
    {
      std::lock_guard guard{mutex_};
      requests_.push_back(std::move(reply));
    }
    wake_.notify_one();
    return answer.get();
  }

private:
  void serve() {
    std::unique_lock guard{mutex_};
    for (;;) {
      wake_.wait(guard, [this] { return stopping_ || !requests_.empty(); });
      if (requests_.empty())
        return;
      auto reply = std::move(requests_.front());
      requests_.pop_front();
      reply.set_value(value_);
    }
  }

  double value_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::promise<double>> requests_;
  bool stopping_ = false;
  std::thread thread_;
};

/// The cross-replica read of an on_write scalar (a host call) vs a
/// hand-written request to a server thread.
void bench_cross_reads(const bench_options& options) {
  varsync::runtime rt;
  auto group = *rt.create_group("cross", 1);
  varsync::variable_options variable_options;
  variable_options.sync = varsync::synchronization::on_write;
  variable_options.aggregation = varsync::aggregation::mean;
  auto v =
      *rt.create_variable(group, "v", varsync::tensor(2.5), variable_options);
  value_server server{2.5};
  std::vector<contender> contenders;
  contenders.emplace_back("varsync", [&](std::size_t, long iters) {
    for (long i = 0; i < iters; ++i) {
      auto value = rt.read(v);
      if (!value || value->to_double() != 2.5)
        return false;
    }
    return true;
  });
  contenders.emplace_back("thread_handoff", [&](std::size_t, long iters) {
    for (long i = 0; i < iters; ++i)
      if (server.ask() != 2.5)
        return false;
    return true;
  });
  measure_case(options, 1, contenders, 10);
  print_case(options, "cross_read", 1, 8, contenders);
}

/// The in-process on_write/mean step with `replicas` threads vs a
/// std::barrier all-reduce of the same array.
void bench_local_steps(const bench_options& options, std::size_t replicas,
                       std::size_t elements) {
  varsync::runtime rt;
  auto group = *rt.create_group("steps", replicas);
  varsync::variable_options variable_options;
  variable_options.sync = varsync::synchronization::on_write;
  variable_options.aggregation = varsync::aggregation::mean;
  auto count = static_cast<std::int64_t>(elements);
  auto w = *rt.create_variable(
      group, "w", *varsync::tensor::filled(varsync::dtype::f32, {count}, 0),
      variable_options);
  std::vector<varsync::replica> handles;
  std::vector<varsync::tensor> deltas;
  for (std::size_t r = 0; r < replicas; ++r) {
    handles.push_back(*group.at(r));
    deltas.push_back(*varsync::tensor::filled(varsync::dtype::f32, {count},
                                              static_cast<double>(r + 1)));
  }
  // Replica r contributes r + 1: each step adds the mean (R + 1) / 2.
  const float mean_step = static_cast<float>(replicas + 1) / 2.0f;
  std::atomic<long> varsync_steps{0};

  // Peer state: every replica's contribution, the running sum and every
  // replica's copy of the result.
  std::vector<std::vector<float>> local(replicas);
  for (std::size_t r = 0; r < replicas; ++r)
    local[r].assign(elements, static_cast<float>(r + 1));
  std::vector<float> sum(elements, 0.0f);
  std::vector<std::vector<float>> result(replicas,
                                         std::vector<float>(elements));
  std::barrier sync{static_cast<std::ptrdiff_t>(replicas)};
  std::atomic<long> peer_steps{0};

  std::vector<contender> contenders;
  contenders.emplace_back("varsync", [&](std::size_t r, long iters) {
    for (long i = 0; i < iters; ++i)
      if (!handles[r].assign_add(w, deltas[r]))
        return false;
    if (r == 0)
      varsync_steps += iters;
    return true;
  });
  contenders.emplace_back("barrier_allreduce", [&](std::size_t r, long iters) {
    auto begin = elements * r / replicas;
    auto end = elements * (r + 1) / replicas;
    for (long i = 0; i < iters; ++i) {
      for (auto k = begin; k < end; ++k) {
        float total = 0;
        for (std::size_t q = 0; q < replicas; ++q)
          total += local[q][k];
        sum[k] += total / static_cast<float>(replicas);
      }
      sync.arrive_and_wait();
      std::copy(sum.begin(), sum.end(), result[r].begin());
      sync.arrive_and_wait();
    }
    if (r == 0)
      peer_steps += iters;
    return true;
  });
  measure_case(options, replicas, contenders, elements > 1024 ? 1 : 100);
  // Every element, at every replica, is the sum of the step means.
  auto all_equal = [](std::span<const float> values, float expected) {
    return std::all_of(values.begin(), values.end(),
                       [&](float x) { return x == expected; });
  };
  for (auto& handle : handles) {
    auto value = handle.read(w);
    contenders[0].ok = contenders[0].ok && value &&
                       all_equal(value->values<float>(),
                                 static_cast<float>(varsync_steps) * mean_step);
  }
  for (auto& copy : result)
    contenders[1].ok =
        contenders[1].ok &&
        all_equal(copy, static_cast<float>(peer_steps) * mean_step);
  print_case(options, "on_write_step", replicas, elements * 4, contenders);
}

} // namespace

int main(int argc, char** argv) {
  bench_options options;
  bool smoke = false;
  CLI::App app{"In-process costs of varsync's local operations"};
  varsync::cli::add_version_flag(app);
  app.add_option("--batch-ms", options.batch_ms,
                 "target duration of one timed batch")
      ->option_text("MS")
      ->check(varsync::cli::positive_number());
  app.add_option("--batches", options.batches,
                 "timed batches per case and implementation")
      ->option_text("COUNT")
      ->check(varsync::cli::positive_number());
  app.add_flag("--smoke", smoke, "one 5 ms batch per case");
  if (auto done = varsync::cli::parse_flags(app, argc, argv))
    return *done;
  if (smoke) {
    options.batch_ms = 5;
    options.batches = 1;
  }
  for (std::size_t threads : {1, 2}) {
    bench_reads(options, varsync::synchronization::on_write, threads);
    bench_reads(options, varsync::synchronization::on_read, threads);
    bench_on_read_adds(options, threads);
  }
  bench_cross_reads(options);
  bench_local_steps(options, 4, 2);
  bench_local_steps(options, 4, std::size_t{1} << 18);
}
