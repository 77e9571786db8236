// Saves whole-job checkpoints in a loop, for the crash soak of
// tests/runtime/job_checkpoint.soak.test.cpp: an embedded runtime with
// group "g" (2 replicas) and variables of every policy with a
// cross-replica value ("v0".."v3", f64 [65536]: 512 KiB each, so that a
// kill lands in the middle of a save). Before save n every variable is
// assigned n, so a restored checkpoint shows which save it came from, and
// a mix of saves shows as variables that differ.
//
// Usage: varsync_test_checkpoint_writer ROOT
// Prints "saved <n>" after save n returned; runs until killed.

#include "runtime/cli/program_flags.hpp"

#include <iostream>
#include <varsync/varsync.hpp>

using namespace varsync;

int main(int argc, char** argv) {
  std::string root;
  CLI::App app{"Saves whole-job checkpoints under ROOT until killed"};
  varsync::cli::add_version_flag(app);
  app.add_option("ROOT", root, "the checkpoint root")->required();
  if (auto done = varsync::cli::parse_flags(app, argc, argv))
    return *done;
  runtime rt;
  auto group = rt.create_group("g", 2);
  if (!group) {
    std::cout << "failed: " << group.error().to_string() << std::endl;
    return 1;
  }
  std::vector<variable> vars;
  const synchronization policies[] = {
      synchronization::on_write, synchronization::on_read,
      synchronization::bounded_staleness, synchronization::periodic};
  for (std::size_t i = 0; i < 4; ++i) {
    variable_options options;
    options.sync = policies[i];
    options.aggregation = aggregation::sum;
    options.period = policies[i] == synchronization::periodic ? 2 : 0;
    auto var =
        rt.create_variable(group.value(), "v" + std::to_string(i),
                           *tensor::filled(dtype::f64, {65536}, 0.0), options);
    if (!var) {
      std::cout << "failed: " << var.error().to_string() << std::endl;
      return 1;
    }
    vars.push_back(*var);
  }
  for (std::uint64_t n = 1;; ++n) {
    for (const auto& var : vars)
      if (auto assigned =
              rt.assign(var, *tensor::filled(dtype::f64, {65536},
                                             static_cast<double>(n)));
          !assigned) {
        std::cout << "failed: " << assigned.error().to_string() << std::endl;
        return 1;
      }
    if (auto saved = rt.save(root); !saved) {
      std::cout << "failed: " << saved.error().to_string() << std::endl;
      return 1;
    }
    std::cout << "saved " << n << std::endl;
  }
}
