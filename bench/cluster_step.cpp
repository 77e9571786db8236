// varsync's on_write/mean step across P processes over loopback TCP: the
// peer of MPI_Allreduce (bench/mpi/allreduce.cpp). Every process holds one
// replica of group "bench"; a step is `replica::assign_add(w, delta)` on an
// f32 variable with aggregation mean, which completes when all P replicas
// contributed and the mean is installed at this replica, like an
// all-reduce (divided by P).
//
// Processes. Started without --worker, the program is the driver: it starts
// the seed node (which hosts the directory and, by varsync's default
// placement, every variable actor), then starts P workers, copies of itself
// (--worker --join 127.0.0.1:PORT --index i), and joins no group itself.
// The driver runs the method and the workers obey: it writes one command a
// line to a worker's stdin and reads one reply a line from its stdout:
//   size B    -> create variable wB of max(1, B/4) floats; "ready K" (K:
//                the shards a step updates)
//   steps N   -> make N timed steps; "time <seconds per step> bytes <tensor
//                payload bytes this worker sent per step in the previous
//                steps command, counted until this one; -1: none> copied
//                <tensor bytes it copied in user space per step, the same
//                way>"
//   check     -> "check <0|1> <value> <expected>" (every element of wB
//                equals steps * (P + 1) / 2: worker i adds i + 1 each step)
//   quit      -> exit
// A failed step (each has a deadline, --step-timeout-s) is "error <text>".
//
// Method per size (the same as the MPI peer's and the anchors'): one timed
// step (when it took longer than --skip-after-s, the size is reported as
// status=timeout and skipped), 2 warm-up steps, calibration with 1, 4, 16,
// ... steps until a round lasts >= 20 ms, then --batches batches of the
// step count that makes a batch last --batch-ms. The time per step of a
// batch is the MAXIMUM over workers; the figure is the median over batches.
// A batch starts when a worker reads its command; the first step of a
// batch absorbs the skew (microseconds against a 150 ms batch).
//
// Run: build-bench/bench/varsync_bench_cluster_step --np 4
//        [--sizes 8,4096,...] [--batch-ms 150] [--batches 5]
//        [--step-timeout-s 60] [--skip-after-s 5]
//        [--bulk-threshold off|BYTES]   (node_config bulk-threshold)
//        [--bulk-part BYTES]   (node_config bulk-part; 0: whole frames)
//        [--spin 100us|off]   (node_config spin)
//        [--bind-to core|none]   core: worker i pinned to CPU i mod CPUs
//                       (node_config cpus), like mpirun --bind-to core
//        [--shards K]   split each variable into K shard variables spread
//                       over the nodes (round robin); a step updates all K
//                       asynchronously and waits for every one
//        [--auto-shards]   one variable with variable_options::shards = 0:
//                       the library shards it (one shard per serving
//                       node from 1 MiB); op=on_write_step sharding=auto
//        [--rows-percent X]   row steps: a [B / 256, 64] table, each step
//                       assign_add_rows of X% of its rows (the same at
//                       every worker; op=on_write_rows_step)
//        [--tls]   mutual TLS between the nodes (a fresh CA and node
//                       certificate; the bulk plane is off under TLS)
//        [--seed-in-worker]   worker 0 is the seed (directory and variable
//                       actors beside replica 0): P processes in all, like
//                       MPI's P ranks, instead of a separate seed process
//                       (the driver) and P workers
// Output (driver), one line per size:
//   RESULT op=on_write_step np=4 bytes=4096 iters=.. batches=5 med_us=..
//          min_us=.. first_us=.. ok=1 node_bytes_per_step=..
//          ring_optimum_bytes=.. node_copies_per_step=.. status=ok
// node_bytes_per_step: the most tensor payload bytes one process sent per
// step (median over batches; the busiest node); ring_optimum_bytes: what a
// ring all-reduce sends per node, 2 (P - 1) / P x the tensor's bytes;
// node_copies_per_step: the most tensor bytes one process copied in user
// space per step (runtime_stats::bytes_copied: copy-on-write, CAF's
// message buffers, the bulk plane's inbox), in whole tensors.
// status=timeout (first step too slow: med_us=nan, ok=na) or status=error
// (a worker failed; the run stops, exit status 1).

#include "runtime/cli/program_flags.hpp"
#include "runtime/launch/child_process.hpp"
#include "runtime/node_flags.hpp"
#include "runtime/transport/cluster_secret.hpp"
#include "runtime/transport/tls_certificates.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <varsync/varsync.hpp>
#include <vector>

using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

struct bench_options {
  /// Number of worker processes (replicas).
  int processes = 2;
  /// Array sizes in bytes (rounded down to whole floats, at least one).
  std::vector<std::size_t> sizes{8, 4096, 262144, 1048576, 16777216, 67108864};
  /// Target duration of one timed batch.
  double batch_ms = 150;
  /// Timed batches per size.
  int batches = 5;
  /// Deadline of every step.
  double step_timeout_s = 60;
  /// Sizes whose first step takes longer are skipped (status=timeout).
  double skip_after_s = 5;
  /// Split each variable into this many shard variables of about equal
  /// size, placed round robin over the nodes (spread-variables); a step
  /// updates every shard (asynchronously) and waits for all of them.
  int shards = 1;
  /// --auto-shards: one variable with variable_options::shards = 0 (the
  /// library's automatic sharding: one shard per serving node for values
  /// of at least 1 MiB); RESULT lines say op=on_write_step sharding=auto.
  bool auto_shards = false;
  /// --rows-percent X (> 0): the variable is a [B / 256, 64] f32 table and
  /// a step is assign_add_rows of X% of its rows (every (100 / X)-th row,
  /// the same rows at every worker) instead of assign_add of all of it;
  /// RESULT lines say op=on_write_rows_step. 0: dense steps.
  double rows_percent = 0;
  /// node_config settings of every node given on the command line
  /// (bulk-threshold, bulk-part, spin), as (key, value); unset ones keep
  /// their defaults.
  std::vector<std::pair<std::string, std::string>> node_settings;
  /// --bind-to core: worker i runs on CPU i mod (CPUs), like mpirun's
  /// --bind-to core (node_config cpus); none (default): not pinned.
  bool bind_to_core = false;
  /// Worker 0 is the seed instead of the driver (which then runs no node).
  bool seed_in_worker = false;
  /// Mutual TLS between the nodes (--tls): the driver makes a CA and a
  /// node certificate in this directory; every node uses them.
  bool tls = false;
  std::string tls_dir;
  /// Worker only: the seed to join, and this worker's replica index.
  bool worker = false;
  std::string join;
  std::size_t index = 0;
};

/// Parses the command line into `options` (CLI11). Returns the exit status
/// when the program is done (after --help or --version, or 2 after a usage
/// error, printed); nothing when it should go on.
std::optional<int> parse_options(int argc, char** argv,
                                 bench_options& options) {
  CLI::App app{"varsync's on_write/mean step across P processes over "
               "loopback TCP, the peer of MPI_Allreduce (see "
               "bench/cluster_step.cpp)"};
  varsync::cli::add_version_flag(app);
  app.add_option("--np", options.processes, "worker processes (replicas)")
      ->option_text("COUNT")
      ->check(varsync::cli::positive_number());
  app.add_option("--sizes", options.sizes, "array sizes in bytes")
      ->option_text("BYTES[,BYTES...]")
      ->delimiter(',');
  app.add_option("--batch-ms", options.batch_ms,
                 "target duration of one timed batch")
      ->option_text("MS")
      ->check(varsync::cli::positive_number());
  app.add_option("--batches", options.batches, "timed batches per size")
      ->option_text("COUNT")
      ->check(varsync::cli::positive_number());
  app.add_option("--step-timeout-s", options.step_timeout_s,
                 "deadline of every step")
      ->option_text("SECONDS")
      ->check(varsync::cli::positive_number());
  app.add_option("--skip-after-s", options.skip_after_s,
                 "sizes whose first step takes longer are skipped")
      ->option_text("SECONDS")
      ->check(varsync::cli::positive_number());
  app.add_option("--shards", options.shards,
                 "shard variables per size, spread over the nodes")
      ->option_text("COUNT")
      ->check(varsync::cli::positive_number());
  app.add_flag("--auto-shards", options.auto_shards,
               "one variable with the library's automatic sharding");
  app.add_option("--rows-percent", options.rows_percent,
                 "steps are assign_add_rows of this share of a table's rows "
                 "(0: dense steps)")
      ->option_text("PERCENT")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option(
         "--bind-to",
         [&options](const CLI::results_t& values) {
           options.bind_to_core = values.back() == "core";
           return true;
         },
         "core: worker i runs on CPU i mod CPUs, like mpirun's")
      ->option_text("core|none")
      ->check(CLI::IsMember({"core", "none"}));
  app.add_flag("--seed-in-worker", options.seed_in_worker,
               "worker 0 is the seed instead of the driver");
  app.add_flag("--tls", options.tls, "mutual TLS between the nodes");
  // Node settings every node gets: checked by node_config::set here, and
  // passed on to the workers as given.
  for (std::string key : {"bulk-threshold", "bulk-part", "spin"})
    app.add_option(
           "--" + key,
           [&options, key](const CLI::results_t& values) {
             varsync::node_config check;
             if (auto set = check.set(key, values.back()); !set)
               throw CLI::ValidationError{"--" + set.error().message()};
             options.node_settings.emplace_back(key, values.back());
             return true;
           },
           "node_config " + key + " of every node")
        ->option_text(varsync::detail::value_placeholder(key));
  // Set by the driver on the workers it starts.
  auto* worker = app.add_flag("--worker", options.worker,
                              "(internal) run as a worker of the driver");
  app.add_option("--join", options.join, "(internal) the seed to join")
      ->option_text("HOST:PORT")
      ->needs(worker);
  app.add_option("--index", options.index, "(internal) this worker's replica")
      ->option_text("INDEX")
      ->needs(worker);
  app.add_option("--tls-dir", options.tls_dir,
                 "(internal) the certificates of --tls")
      ->option_text("DIR")
      ->needs(worker);
  return varsync::cli::parse_flags(app, argc, argv);
}

/// Settings shared by the driver and the workers. Large steps keep a node's
/// network thread busy for a long time: heartbeats must not declare it dead.
varsync::node_config base_config(const bench_options& options) {
  varsync::node_config config;
  config.heartbeat_interval = 1s;
  config.connection_timeout = 60s;
  config.default_timeout = std::chrono::milliseconds{
      static_cast<long>(options.step_timeout_s * 1000)};
  // Only problems on stderr, not every node joining.
  config.log_level = "warn";
  // Large steps: keep freed buffers (opt-in, see node_config::reuse_buffers).
  config.reuse_buffers = true;
  // Shards are spread over the nodes (the seed places them round robin).
  config.spread_variables = options.shards > 1;
  for (const auto& [key, value] : options.node_settings) {
    if (auto set = config.set(key, value); !set) {
      std::fprintf(stderr, "%s\n", set.error().to_string().c_str());
      std::exit(2);
    }
  }
  if (options.bind_to_core && options.worker)
    config.cpus = {static_cast<unsigned>(
        options.index % std::max(1u, std::thread::hardware_concurrency()))};
  if (!options.tls_dir.empty()) {
    config.tls_cert = options.tls_dir + "/node.pem";
    config.tls_key = options.tls_dir + "/node.key";
    config.tls_ca = options.tls_dir + "/ca.pem";
  }
  return config;
}

// -- worker -----------------------------------------------------------------

/// One worker: a replica of group "bench" that makes the steps the driver
/// asks for. Returns the exit status.
int run_worker(const bench_options& options) {
  // Replies go to the driver over the original stdout; anything the
  // library prints goes to stderr instead.
  FILE* reply = ::fdopen(::dup(STDOUT_FILENO), "w");
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  auto fail = [&](const std::string& what) {
    std::fprintf(reply, "error worker %zu: %s\n", options.index, what.c_str());
    std::fflush(reply);
    return 1;
  };

  // Without --join this worker is the seed; it tells the driver its port.
  auto config = base_config(options);
  if (!options.join.empty()) {
    auto seed = varsync::parse_endpoint(options.join, "--join");
    if (!seed)
      return fail(seed.error().to_string());
    config.join = {*seed};
  }
  auto rt = varsync::runtime::start(config);
  if (!rt)
    return fail("start: " + rt.error().to_string());
  if (options.join.empty()) {
    std::fprintf(reply, "port %u\n", static_cast<unsigned>((*rt)->port()));
    std::fflush(reply);
  }
  auto group =
      (*rt)->join_group("bench", static_cast<std::size_t>(options.processes),
                        {options.index}, 60s);
  if (!group)
    return fail("join_group: " + group.error().to_string());
  auto self = group->at(options.index);
  if (!self)
    return fail("replica: " + self.error().to_string());

  varsync::variable_options mean;
  mean.sync = varsync::synchronization::on_write;
  mean.aggregation = varsync::aggregation::mean;
  auto step_timeout = std::chrono::milliseconds{
      static_cast<long>(options.step_timeout_s * 1000)};

  // The variable of the current size as `shards` shard variables.
  std::vector<varsync::variable> shards;
  std::vector<varsync::tensor> deltas;
  // --rows-percent: the rows a step adds to (deltas[0] holds their values).
  bool rows_mode = options.rows_percent > 0;
  std::vector<std::int64_t> touched;
  long steps_done = 0;
  // Tensor bytes sent as of the last "steps" command, and its step count
  // (0: none since the last "size").
  std::uint64_t sent_mark = 0;
  std::uint64_t copied_mark = 0;
  long previous_steps = 0;
  // One step: every shard updated asynchronously, then wait for all.
  auto step = [&]() -> varsync::expected<void> {
    std::mutex mutex;
    std::condition_variable all_done;
    std::size_t pending = shards.size();
    std::optional<varsync::error> failure;
    auto done_one = [&](varsync::expected<void> done) {
      std::lock_guard guard{mutex};
      if (!done && !failure)
        failure = done.error();
      if (--pending == 0)
        all_done.notify_one();
    };
    for (std::size_t j = 0; j < shards.size(); ++j)
      if (rows_mode)
        self->assign_add_rows_async(shards[j], touched, deltas[j], done_one,
                                    step_timeout);
      else
        self->assign_add_async(shards[j], deltas[j], done_one, step_timeout);
    std::unique_lock guard{mutex};
    all_done.wait(guard, [&] { return pending == 0; });
    if (failure)
      return *failure;
    return {};
  };
  char line[256];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    std::string_view command{line};
    if (command.starts_with("size ")) {
      auto elements = static_cast<std::int64_t>(
          std::max<std::size_t>(1, std::strtoull(line + 5, nullptr, 10) / 4));
      auto count = std::min<std::int64_t>(options.shards, elements);
      shards.clear();
      deltas.clear();
      if (rows_mode) {
        constexpr std::int64_t columns = 64;
        auto rows = std::max<std::int64_t>(1, elements / columns);
        auto stride = std::max<std::int64_t>(
            1, std::llround(100.0 / options.rows_percent));
        touched.clear();
        for (std::int64_t row = 0; row < rows; row += stride)
          touched.push_back(row);
        auto zeros =
            varsync::tensor::filled(varsync::dtype::f32, {rows, columns}, 0);
        auto mine = varsync::tensor::filled(
            varsync::dtype::f32,
            {static_cast<std::int64_t>(touched.size()), columns},
            static_cast<double>(options.index) + 1);
        if (!zeros || !mine)
          return fail("table of " + std::to_string(rows) + " rows");
        auto created = (*rt)->create_variable(
            *group, "t" + std::to_string(rows * columns * 4), *zeros, mean);
        if (!created)
          return fail("create_variable: " + created.error().to_string());
        shards.push_back(*created);
        deltas.push_back(*mine);
        count = 0; // no shard variables
      }
      // --auto-shards: one variable, which the library cuts into shards.
      auto how = mean;
      if (options.auto_shards && count > 0) {
        count = 1;
        how.shards = 0;
      }
      for (std::int64_t j = 0; j < count; ++j) {
        auto length = elements / count + (j < elements % count ? 1 : 0);
        auto zeros = varsync::tensor::filled(varsync::dtype::f32, {length}, 0);
        auto mine =
            varsync::tensor::filled(varsync::dtype::f32, {length},
                                    static_cast<double>(options.index) + 1);
        if (!zeros || !mine)
          return fail("tensor of " + std::to_string(length) + " floats");
        auto created = (*rt)->create_variable(
            *group,
            "w" + std::to_string(elements * 4) + ".s" + std::to_string(j) +
                "of" + std::to_string(count),
            *zeros, how);
        if (!created)
          return fail("create_variable: " + created.error().to_string());
        shards.push_back(*created);
        deltas.push_back(*mine);
      }
      steps_done = 0;
      previous_steps = 0;
      // How many shards the step updates: K by hand, or the library's.
      auto shard_count =
          options.auto_shards && !shards.empty()
              ? static_cast<unsigned long>(shards.front().options().shards)
              : static_cast<unsigned long>(shards.size());
      std::fprintf(reply, "ready %lu\n", shard_count);
    } else if (command.starts_with("steps ")) {
      long count = std::strtol(line + 6, nullptr, 10);
      // The previous call's bytes, counted up to now: the installs of its
      // last step may still have been on their way out when it replied.
      auto sent_now = (*rt)->stats().bytes_sent;
      double previous_bytes = previous_steps > 0
                                  ? static_cast<double>(sent_now - sent_mark) /
                                        static_cast<double>(previous_steps)
                                  : -1;
      sent_mark = sent_now;
      auto copied_now = (*rt)->stats().bytes_copied;
      double previous_copied =
          previous_steps > 0 ? static_cast<double>(copied_now - copied_mark) /
                                   static_cast<double>(previous_steps)
                             : -1;
      copied_mark = copied_now;
      previous_steps = count;
      auto start = steady::now();
      for (long i = 0; i < count; ++i) {
        if (auto done = step(); !done)
          return fail("step " + std::to_string(steps_done + 1) + ": " +
                      done.error().to_string());
        ++steps_done;
      }
      std::chrono::duration<double> spent = steady::now() - start;
      std::fprintf(reply, "time %.9g bytes %.9g copied %.9g\n",
                   spent.count() / static_cast<double>(count), previous_bytes,
                   previous_copied);
    } else if (command.starts_with("check")) {
      auto expected =
          static_cast<double>(steps_done) * (options.processes + 1) / 2.0;
      bool ok = !shards.empty();
      double first = 0;
      for (const auto& shard : shards) {
        auto value = self->read(shard);
        if (!value)
          return fail("read: " + value.error().to_string());
        auto values = value->values<float>();
        if (&shard == &shards.front() && !values.empty())
          first = values[0];
        auto near = [&](float x, double want) {
          return std::abs(x - want) <= 1e-6 * want;
        };
        if (rows_mode) {
          // The touched rows hold the steps' means, every other row 0.
          std::vector<bool> is_touched(values.size() / 64, false);
          for (auto row : touched)
            is_touched[static_cast<std::size_t>(row)] = true;
          for (std::size_t k = 0; k < values.size() && ok; ++k)
            ok = is_touched[k / 64] ? near(values[k], expected)
                                    : values[k] == 0.0f;
          continue;
        }
        ok = ok && !values.empty() &&
             std::all_of(values.begin(), values.end(),
                         [&](float x) { return near(x, expected); });
      }
      std::fprintf(reply, "check %d %.9g %.9g\n", ok ? 1 : 0, first, expected);
    } else if (command.starts_with("quit")) {
      break;
    } else {
      return fail("unknown command: " + std::string{command});
    }
    std::fflush(reply);
  }
  return 0;
}

// -- driver -----------------------------------------------------------------

using varsync::launch::child_process;

/// Starts worker `index` as a copy of this program (runtime/launch: its
/// own process group, killed with the driver), joining the seed at
/// `seed_port` (0: the worker is the seed). Commands go to its stdin,
/// replies come from its stdout; its stderr is the driver's.
varsync::expected<child_process> start_worker(const bench_options& options,
                                              std::size_t index,
                                              std::uint16_t seed_port) {
  std::vector<std::string> args{"--worker",
                                "--index",
                                std::to_string(index),
                                "--np",
                                std::to_string(options.processes),
                                "--step-timeout-s",
                                std::to_string(options.step_timeout_s)};
  if (seed_port != 0) {
    args.push_back("--join");
    args.push_back("127.0.0.1:" + std::to_string(seed_port));
  }
  args.push_back("--shards");
  args.push_back(std::to_string(options.shards));
  args.push_back("--rows-percent");
  args.push_back(std::to_string(options.rows_percent));
  if (options.auto_shards)
    args.push_back("--auto-shards");
  for (const auto& [key, value] : options.node_settings) {
    args.push_back("--" + key);
    args.push_back(value);
  }
  if (options.bind_to_core) {
    args.push_back("--bind-to");
    args.push_back("core");
  }
  if (!options.tls_dir.empty()) {
    args.push_back("--tls-dir");
    args.push_back(options.tls_dir);
  }
  varsync::launch::launch_options how;
  how.argv0 = "varsync_bench_cluster_step";
  how.stdin_from = varsync::launch::stream::pipe;
  how.stderr_to = varsync::launch::stream::inherit;
  return child_process::start("/proc/self/exe", args, std::move(how));
}

/// How long the driver waits for a reply that needs no step: a worker
/// that dies ends its stdout at once, so this only bounds a stuck one.
std::chrono::milliseconds reply_patience(const bench_options& options,
                                         long steps = 1) {
  return std::chrono::milliseconds{
      static_cast<long>(options.step_timeout_s * 1000) * std::max(1L, steps) +
      60'000};
}

/// The driver's side of the protocol: commands to every worker, then one
/// reply from each.
class workers {
public:
  workers(std::vector<child_process> processes, const bench_options& options)
      : processes_(std::move(processes)), options_(options) {
    // nop
  }

  /// Sends `command` to every worker and returns their replies in index
  /// order; an empty vector when a worker failed (its message went to
  /// stderr). A reply may take `steps` step deadlines.
  std::vector<std::string> ask(const std::string& command, long steps = 1) {
    for (auto& process : processes_)
      process.write_stdin(command + "\n");
    std::vector<std::string> replies;
    bool failed = false;
    for (auto& process : processes_) {
      // The next line, whatever it says.
      auto line = process.wait_for_line("", reply_patience(options_, steps));
      if (!line) {
        std::fprintf(stderr, "cluster_step: worker %d %s\n", process.pid(),
                     process.running() ? "did not reply" : "ended");
        failed = true;
        continue;
      }
      if (line->starts_with("error")) {
        std::fprintf(stderr, "cluster_step: %s\n", line->c_str());
        failed = true;
      }
      replies.push_back(std::move(*line));
    }
    if (failed)
      replies.clear();
    return replies;
  }

  /// Makes `count` steps; the time per step of the slowest worker, or a
  /// negative value when a worker failed. `most_bytes()` is then the most
  /// tensor bytes a worker sent per step.
  double steps(long count) {
    auto replies = ask("steps " + std::to_string(count), count);
    if (replies.empty())
      return -1;
    double slowest = 0;
    most_bytes_ = -1;
    most_copied_ = -1;
    for (auto& reply : replies) {
      char* end = nullptr;
      slowest = std::max(slowest, std::strtod(reply.c_str() + 5, &end));
      if (auto bytes = std::string_view{end}.find("bytes ");
          bytes != std::string_view::npos)
        most_bytes_ =
            std::max(most_bytes_, std::strtod(end + bytes + 6, nullptr));
      if (auto copied = std::string_view{end}.find("copied ");
          copied != std::string_view::npos)
        most_copied_ =
            std::max(most_copied_, std::strtod(end + copied + 7, nullptr));
    }
    return slowest;
  }

  /// The most tensor payload bytes one worker sent per step in the
  /// `steps` call before the last one (-1: none since the size changed).
  double most_bytes() const noexcept { return most_bytes_; }

  /// Like `most_bytes`, for the tensor bytes copied in user space.
  double most_copied() const noexcept { return most_copied_; }

  /// Tells every worker to quit and waits for it (or kills them all at
  /// once without `ask_to_quit`); false when one failed.
  bool stop(bool ask_to_quit) {
    if (!ask_to_quit) {
      processes_.clear(); // kills and reaps them
      return false;
    }
    for (auto& process : processes_) {
      process.write_stdin("quit\n");
      process.close_stdin();
    }
    bool ok = true;
    for (auto& process : processes_) {
      auto status = process.wait(reply_patience(options_));
      ok = ok && status && status->succeeded();
    }
    processes_.clear();
    return ok;
  }

private:
  std::vector<child_process> processes_;
  const bench_options& options_;
  double most_bytes_ = -1;
  double most_copied_ = -1;
};

/// The RESULT lines' op: the step kind, with the share of rows for row
/// steps (e.g. "on_write_rows_step rows_percent=1").
std::string op_name(const bench_options& options) {
  if (options.auto_shards)
    return "on_write_step sharding=auto";
  if (options.rows_percent <= 0)
    return "on_write_step";
  char text[64];
  std::snprintf(text, sizeof text, "on_write_rows_step rows_percent=%g",
                options.rows_percent);
  return text;
}

/// Runs the method on one size; false when a worker failed.
bool measure(workers& cluster, const bench_options& options,
             std::size_t bytes) {
  auto report_error = [&] {
    std::printf("RESULT op=%s np=%d shards=%d bytes=%zu "
                "med_us=nan ok=0 status=error\n",
                op_name(options).c_str(), options.processes, options.shards,
                bytes);
    std::fflush(stdout);
    return false;
  };
  auto ready = cluster.ask("size " + std::to_string(bytes));
  if (ready.empty())
    return report_error();
  // Shards as the first worker made them ("ready K").
  auto shard_count = std::max(1, std::atoi(ready.front().c_str() + 5));
  double first = cluster.steps(1);
  if (first < 0)
    return report_error();
  if (first > options.skip_after_s) {
    std::printf("RESULT op=%s np=%d shards=%d bytes=%zu "
                "med_us=nan first_us=%.0f ok=na status=timeout\n",
                op_name(options).c_str(), options.processes, options.shards,
                bytes, first * 1e6);
    std::fflush(stdout);
    return true;
  }
  if (cluster.steps(2) < 0)
    return report_error();
  long iters = 1;
  double per_step = cluster.steps(iters);
  while (per_step >= 0 && per_step * static_cast<double>(iters) < 0.02 &&
         iters < (1L << 22)) {
    iters *= 4;
    per_step = cluster.steps(iters);
  }
  if (per_step < 0)
    return report_error();
  iters = std::max(1L, std::lround(options.batch_ms * 1e-3 / per_step));
  std::vector<double> per_batch;
  std::vector<double> bytes_per_batch;
  std::vector<double> copied_per_batch;
  for (int b = 0; b < options.batches; ++b) {
    double slowest = cluster.steps(iters);
    if (slowest < 0)
      return report_error();
    per_batch.push_back(slowest);
    // The calls before each batch had the same size: calibration, batches.
    if (cluster.most_bytes() >= 0)
      bytes_per_batch.push_back(cluster.most_bytes());
    if (cluster.most_copied() >= 0)
      copied_per_batch.push_back(cluster.most_copied());
  }
  for (auto* figures : {&bytes_per_batch, &copied_per_batch}) {
    if (figures->empty())
      figures->push_back(-1);
    std::sort(figures->begin(), figures->end());
  }
  // What each node must send per step at least, in a ring all-reduce of
  // the tensor (rounded to whole floats, as the variable is).
  auto tensor_bytes =
      static_cast<double>(std::max<std::size_t>(1, bytes / 4) * 4);
  auto ring_optimum =
      2.0 * (options.processes - 1) / options.processes * tensor_bytes;
  auto checks = cluster.ask("check");
  if (checks.empty())
    return report_error();
  bool ok = std::all_of(checks.begin(), checks.end(), [](const auto& reply) {
    return reply.starts_with("check 1");
  });
  if (!ok)
    for (auto& reply : checks)
      std::fprintf(stderr, "cluster_step: %zu bytes: %s\n", bytes,
                   reply.c_str());
  std::sort(per_batch.begin(), per_batch.end());
  std::printf("RESULT op=%s np=%d shards=%d bytes=%zu iters=%ld "
              "batches=%d med_us=%.3f min_us=%.3f first_us=%.0f ok=%d "
              "node_bytes_per_step=%.0f ring_optimum_bytes=%.0f "
              "node_copies_per_step=%.3f status=ok\n",
              op_name(options).c_str(), options.processes, shard_count, bytes,
              iters, options.batches, per_batch[per_batch.size() / 2] * 1e6,
              per_batch.front() * 1e6, first * 1e6, ok ? 1 : 0,
              bytes_per_batch[bytes_per_batch.size() / 2], ring_optimum,
              copied_per_batch[copied_per_batch.size() / 2] < 0
                  ? -1.0
                  : copied_per_batch[copied_per_batch.size() / 2] /
                        tensor_bytes);
  std::fflush(stdout);
  // A wrong result ends the run (exit status 1): no timing without it.
  return ok;
}

/// Reads the seed worker's first reply, "port N"; 0 when it failed.
std::uint16_t seed_port_of(child_process& seed, const bench_options& options) {
  auto line = seed.wait_for_line("", reply_patience(options));
  if (!line)
    return 0;
  if (!line->starts_with("port ")) {
    std::fprintf(stderr, "cluster_step: seed worker: %s\n", line->c_str());
    return 0;
  }
  return static_cast<std::uint16_t>(
      std::strtoul(line->c_str() + 5, nullptr, 10));
}

int run_driver(bench_options options) {
  // Every process proves one cluster secret: a fresh one in a private file
  // unless the caller named one; workers inherit VARSYNC_SECRET_FILE.
  if (std::getenv("VARSYNC_SECRET_FILE") == nullptr) {
    auto secret = varsync::auth::generate_secret_file();
    if (!secret) {
      std::fprintf(stderr, "cluster_step: %s\n",
                   secret.error().to_string().c_str());
      return 1;
    }
    ::setenv("VARSYNC_SECRET_FILE", secret->c_str(), 1);
  }
  if (options.tls) {
    auto dir = std::filesystem::temp_directory_path() /
               ("varsync-bench-tls-" + std::to_string(::getpid()));
    options.tls_dir = dir.string();
    auto made = varsync::tls::create_cluster_ca(options.tls_dir);
    if (made)
      made = varsync::tls::issue_node_certificate(options.tls_dir, "node");
    if (!made) {
      std::fprintf(stderr, "cluster_step: %s\n",
                   made.error().to_string().c_str());
      return 1;
    }
  }
  // The seed: this process, or worker 0 (--seed-in-worker).
  std::unique_ptr<varsync::runtime> rt;
  std::uint16_t seed_port = 0;
  std::vector<child_process> processes;
  if (options.seed_in_worker) {
    if (auto seed = start_worker(options, 0, 0)) {
      processes.push_back(std::move(*seed));
      seed_port = seed_port_of(processes.back(), options);
    } else {
      std::fprintf(stderr, "cluster_step: %s\n",
                   seed.error().to_string().c_str());
    }
  } else if (auto started = varsync::runtime::start(base_config(options))) {
    rt = std::move(*started);
    seed_port = rt->port();
  } else {
    std::fprintf(stderr, "cluster_step: start: %s\n",
                 started.error().to_string().c_str());
  }
  if (seed_port == 0)
    return 1; // destroying `processes` kills what started
  for (auto i = processes.size();
       i < static_cast<std::size_t>(options.processes); ++i) {
    auto process = start_worker(options, i, seed_port);
    if (!process) {
      std::fprintf(stderr, "cluster_step: starting a worker: %s\n",
                   process.error().to_string().c_str());
      return 1;
    }
    processes.push_back(std::move(*process));
  }
  workers cluster{std::move(processes), options};
  bool ok = true;
  for (auto bytes : options.sizes) {
    ok = measure(cluster, options, bytes);
    if (!ok)
      break;
  }
  ok = cluster.stop(ok) && ok;
  if (options.tls) {
    std::error_code ignored;
    std::filesystem::remove_all(options.tls_dir, ignored);
  }
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  bench_options options;
  if (auto done = parse_options(argc, argv, options))
    return *done;
  // A worker that dies must not kill the driver while it writes a command.
  std::signal(SIGPIPE, SIG_IGN);
  return options.worker ? run_worker(options) : run_driver(options);
}
