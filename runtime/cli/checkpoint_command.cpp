#include "runtime/cli/checkpoint_command.hpp"

#include "runtime/checkpoint.hpp"
#include "runtime/job_checkpoint.hpp"

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

namespace {

namespace fs = std::filesystem;

/// Prints the checkpoint in `directory`; whether it is complete and every
/// file checks out.
bool inspect_one(const fs::path& directory) {
  auto manifest = varsync::read_manifest(directory);
  if (!manifest) {
    std::cout << directory.filename().string()
              << "  not restorable: " << manifest.error().message() << "\n";
    return false;
  }
  bool all_ok = true;
  std::cout << directory.filename().string() << "  " << manifest->entries.size()
            << " variable(s)\n";
  for (const auto& entry : manifest->entries) {
    auto value = varsync::read_checkpoint(
        directory / entry.file, entry.variable, entry.type, entry.shape);
    all_ok = all_ok && value.has_value();
    std::cout << "  " << entry.variable << "  group " << entry.group << "  "
              << varsync::to_string(entry.type)
              << varsync::to_string(entry.shape) << "  "
              << varsync::to_string(entry.options.sync) << "/"
              << varsync::to_string(entry.options.aggregation) << "  "
              << entry.file << "  "
              << (value ? std::string{"checksum ok"}
                        : "BAD: " + value.error().message())
              << "\n";
  }
  return all_ok;
}

int inspect(const fs::path& root) {
  if (fs::exists(root / "MANIFEST"))
    return inspect_one(root) ? 0 : 1;
  auto numbers = varsync::checkpoint_numbers(root);
  if (numbers.empty()) {
    std::cout << "no checkpoint under '" << root.string() << "'\n";
    return 1;
  }
  bool newest_ok = false;
  for (auto number : numbers)
    newest_ok = inspect_one(varsync::checkpoint_directory(root, number));
  return newest_ok ? 0 : 1;
}

} // namespace

varsync::cli::command add_checkpoint_command(CLI::App& varsync) {
  auto* checkpoint =
      varsync.add_subcommand("checkpoint", "inspect whole-job checkpoints");
  checkpoint->require_subcommand(1);
  auto* inspect_command = checkpoint->add_subcommand(
      "inspect", "list what the checkpoints under DIR hold");
  inspect_command->footer(
      "DIR is a checkpoint root (runtime::save(DIR), --checkpoint-dir) or "
      "one checkpoint\nin it. Lists each checkpoint: complete or not, and "
      "for a complete one every\nvariable with its group, dtype, shape, "
      "policy and whether its file reads back\nwith a matching checksum. "
      "Exit status 1 when the newest checkpoint cannot be\nrestored.");
  // Filled while the command line parses, read when it runs.
  auto directory = std::make_shared<std::string>();
  inspect_command
      ->add_option("DIR", *directory, "a checkpoint root or one checkpoint")
      ->required();
  return {checkpoint, [directory] { return inspect(*directory); }};
}
