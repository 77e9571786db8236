// Creates, uses and destroys embedded runtimes in a loop, as a program that
// builds several models one after another does, so that a test can assert
// that nothing of varsync's reaches stderr on a clean shutdown.
//
// Usage: varsync_test_runtime_cycles [CYCLES]   (default 20; even cycles
// use the variables, odd ones drop the runtime right after creating them)
// Prints "cycle <k>" after each cycle and "done <cycles>" at the end on
// stdout; exits 0, or 1 with the failed call on stdout.

#include "runtime/cli/program_flags.hpp"

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <varsync/varsync.hpp>
#include <vector>

using namespace varsync;

namespace {

/// Ends the program when `result` holds an error.
template <class T> void need(const expected<T>& result, const char* what) {
  if (result)
    return;
  std::cout << "failed: " << what << ": " << result.error().to_string()
            << std::endl;
  std::exit(1);
}

variable_options options_of(synchronization sync, aggregation how) {
  variable_options options;
  options.sync = sync;
  options.aggregation = how;
  if (sync == synchronization::bounded_staleness)
    options.staleness_bound = 1;
  return options;
}

/// One cycle: a group of 4, two variables of every policy; with `use`, a
/// few steps on every replica and cross-replica reads; then the runtime
/// goes away (without `use`: right after creating them, while replicas
/// and variable actors are still settling, which is when stray messages
/// used to surface).
void run_cycle(bool use) {
  runtime rt;
  auto group = rt.create_group("workers", 4);
  need(group, "create_group");
  // `none` first: its actor is the one that used to print CAF's
  // "unhandled down message" (it had no DOWN handler).
  auto local =
      rt.create_variable(*group, "local", tensor(0.0),
                         options_of(synchronization::none, aggregation::none));
  auto mirrored = rt.create_variable(
      *group, "mirrored", tensor(0.0),
      options_of(synchronization::on_write, aggregation::mean));
  auto counter = rt.create_variable(
      *group, "counter", tensor(0.0),
      options_of(synchronization::on_read, aggregation::sum));
  auto stale = rt.create_variable(
      *group, "stale", tensor(0.0),
      options_of(synchronization::bounded_staleness, aggregation::sum));
  need(mirrored, "create mirrored");
  need(counter, "create counter");
  need(local, "create local");
  need(stale, "create stale");
  for (auto sync :
       {synchronization::on_write, synchronization::on_read,
        synchronization::none, synchronization::bounded_staleness}) {
    auto how =
        sync == synchronization::none ? aggregation::none : aggregation::sum;
    need(rt.create_variable(*group, "more_" + std::string{to_string(sync)},
                            tensor(0.0), options_of(sync, how)),
         "create another variable");
  }
  if (!use)
    return;
  std::vector<std::thread> workers;
  for (std::size_t index = 0; index < group->size(); ++index)
    workers.emplace_back([&, index] {
      auto r = group->at(index);
      need(r, "at");
      for (int step = 0; step < 3; ++step) {
        need(r->assign_add(*mirrored, tensor(1.0)), "mirrored += 1");
        need(r->assign_add(*counter, tensor(1.0)), "counter += 1");
        need(r->assign(*local, tensor(static_cast<double>(index))),
             "local = index");
        need(r->assign_add(*stale, tensor(1.0)), "stale += 1");
        need(r->clock(), "clock");
      }
    });
  for (auto& worker : workers)
    worker.join();
  need(rt.read(*mirrored), "read mirrored");
  need(rt.read(*counter), "read counter");
  need(rt.read(*stale), "read stale");
}

} // namespace

int main(int argc, char** argv) {
  int cycles = 20;
  CLI::App app{"Creates, uses and destroys embedded runtimes in a loop"};
  varsync::cli::add_version_flag(app);
  app.add_option("CYCLES", cycles, "how many runtimes (default 20)")
      ->check(CLI::NonNegativeNumber);
  if (auto done = varsync::cli::parse_flags(app, argc, argv))
    return *done;
  for (int k = 0; k < cycles; ++k) {
    run_cycle(k % 2 == 0);
    std::cout << "cycle " << k << std::endl;
  }
  std::cout << "done " << cycles << std::endl;
  return 0;
}
