// Whole-job checkpoint throughput (runtime::save(root) / restore(root,
// group), runtime/job_checkpoint.hpp) next to the machine's own tools on
// the same bytes, in the same run:
//
//   save     runtime::save of a job of 4 on_write f32 variables (--mib in
//            total, default 256) of an embedded runtime with 2 replicas:
//            a cross-replica read of each, one checksummed file each
//            (write, fsync, rename), the manifest last
//            peers: `cp -r` of the checkpoint just written (no fsync), and
//            `cp -r` followed by `sync` of the copied files (durable, as
//            save is)
//   restore  runtime::restore: read and check every file, then a
//            cross-replica assign of each value
//            peer: `cat` of the checkpoint's files to /dev/null
//
// Method: --reps repetitions (default 5) of save, cp, cp+sync, restore,
// cat, interleaved; each checkpoint is removed before the next rep. The
// page cache is warm for the readers (restore and cat read what was just
// written). Figures are medians: MB/s (1 MB = 10^6 bytes) and each
// varsync figure's time as a ratio of its peer's.
//
// Run: build-bench/bench/varsync_bench_checkpoint [--mib 256] [--reps 5]
//        [--dir DIR]   (default: a fresh directory under the system's
//        temporary directory)
// Output, one line per operation and implementation:
//   RESULT op=save impl=varsync bytes=268435456 reps=5 ms=.. mb_per_s=..
//          ok=1
// then one line per comparison:
//   RATIO op=save varsync_over=cp ratio=..
// ok=1: the restored values equal the saved ones.

#include "runtime/cli/program_flags.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <unistd.h>
#include <varsync/varsync.hpp>
#include <vector>

using namespace varsync;
namespace fs = std::filesystem;

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  auto n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// Runs a shell command (the peers are the shell's tools); false when it
/// failed.
bool shell(const std::string& command) {
  return std::system(command.c_str()) == 0;
}

/// Milliseconds `work` took.
template <class F> double timed_ms(F&& work) {
  auto start = clock_type::now();
  work();
  return std::chrono::duration<double, std::milli>(clock_type::now() - start)
      .count();
}

std::string quoted(const fs::path& path) {
  return "'" + path.string() + "'";
}

} // namespace

int main(int argc, char** argv) {
  std::size_t mib = 256;
  int reps = 5;
  fs::path dir;
  CLI::App app{"Checkpoint save and restore throughput"};
  varsync::cli::add_version_flag(app);
  app.add_option("--mib", mib, "size of the checkpointed variable, MiB")
      ->option_text("MIB")
      ->check(varsync::cli::positive_number());
  app.add_option("--reps", reps, "saves and restores timed")
      ->option_text("COUNT")
      ->check(varsync::cli::positive_number());
  app.add_option("--dir", dir, "where to write (default: a temp directory)")
      ->option_text("DIR");
  if (auto done = varsync::cli::parse_flags(app, argc, argv))
    return *done;
  if (dir.empty())
    dir = fs::temp_directory_path() /
          ("varsync-bench-checkpoint-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto root = dir / "root";
  const auto copy = dir / "copy";
  const std::int64_t elements =
      static_cast<std::int64_t>(mib) * (1 << 20) / 4 / 4;
  const auto bytes = static_cast<double>(elements) * 4 * 4;

  runtime rt;
  auto group = rt.create_group("g", 2);
  if (!group) {
    std::cerr << group.error().to_string() << "\n";
    return 1;
  }
  std::vector<variable> vars;
  for (int i = 0; i < 4; ++i) {
    variable_options options;
    options.sync = synchronization::on_write;
    options.aggregation = aggregation::mean;
    auto var = rt.create_variable(
        *group, "w" + std::to_string(i),
        *tensor::filled(dtype::f32, {elements}, 1.0 + i), options);
    if (!var) {
      std::cerr << var.error().to_string() << "\n";
      return 1;
    }
    vars.push_back(*var);
  }
  std::map<std::string, std::vector<double>> ms;
  bool ok = true;
  for (int rep = 0; rep < reps; ++rep) {
    fs::remove_all(root);
    fs::remove_all(copy);
    expected<fs::path> saved = error{errc::invalid_argument, "not saved"};
    ms["save"].push_back(timed_ms([&] { saved = rt.save(root); }));
    if (!saved) {
      std::cerr << saved.error().to_string() << "\n";
      return 1;
    }
    ms["cp"].push_back(timed_ms([&] {
      ok = shell("cp -r " + quoted(*saved) + " " + quoted(copy)) && ok;
    }));
    fs::remove_all(copy);
    ms["cp_sync"].push_back(timed_ms([&] {
      ok = shell("cp -r " + quoted(*saved) + " " + quoted(copy) + " && sync " +
                 quoted(copy) + "/*") &&
           ok;
    }));
    for (const auto& var : vars)
      if (!rt.assign(var, *tensor::filled(dtype::f32, {elements}, 0.0)))
        ok = false;
    expected<fs::path> restored = error{errc::invalid_argument, "none"};
    ms["restore"].push_back(
        timed_ms([&] { restored = rt.restore(root, *group); }));
    ok = ok && restored.has_value();
    ms["cat"].push_back(timed_ms(
        [&] { ok = shell("cat " + quoted(*saved) + "/* > /dev/null") && ok; }));
    for (int i = 0; i < 4; ++i) {
      auto value = rt.read(vars[static_cast<std::size_t>(i)]);
      ok = ok && value && value->values<float>()[0] == 1.0f + i &&
           value->values<float>()[elements - 1] == 1.0f + i;
    }
  }
  auto report = [&](const char* op, const char* impl, const char* key) {
    auto m = median(ms[key]);
    std::printf("RESULT op=%s impl=%s bytes=%.0f reps=%d ms=%.1f "
                "mb_per_s=%.0f ok=%d\n",
                op, impl, bytes, reps, m, bytes / 1e6 / (m / 1e3), ok ? 1 : 0);
  };
  report("save", "varsync", "save");
  report("save", "cp", "cp");
  report("save", "cp_sync", "cp_sync");
  report("restore", "varsync", "restore");
  report("restore", "cat", "cat");
  std::printf("RATIO op=save varsync_over=cp ratio=%.2f\n",
              median(ms["save"]) / median(ms["cp"]));
  std::printf("RATIO op=save varsync_over=cp_sync ratio=%.2f\n",
              median(ms["save"]) / median(ms["cp_sync"]));
  std::printf("RATIO op=restore varsync_over=cat ratio=%.2f\n",
              median(ms["restore"]) / median(ms["cat"]));
  fs::remove_all(dir);
  return ok ? 0 : 1;
}
