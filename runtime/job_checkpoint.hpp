#pragma once

// Whole-job checkpoints: every variable of a job saved together, so that a
// job can be resumed after every process was killed.
//
// Layout. A checkpoint root holds numbered checkpoints:
//   ROOT/checkpoint-000001/v0.vsk, v1.vsk, ...   one file per variable
//                                                (runtime/checkpoint.hpp:
//                                                atomic, checksummed)
//   ROOT/checkpoint-000001/MANIFEST              written last
// The manifest is text, one tab-separated line per variable (name, group,
// dtype, shape, the options it was created with, its file), then a line
// with the FNV-1a 64 checksum of every byte before it; it is written to a
// temporary file, fsynced and renamed into place, so a checkpoint is
// complete exactly when its manifest reads back with a matching checksum.
// A crash mid-save leaves a numbered directory without a valid manifest,
// which readers skip (and the next save numbers past).

#include "varsync/error.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable_options.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace varsync {

/// One variable of a checkpoint.
struct checkpoint_entry {
  std::string variable;
  std::string group;
  dtype type = dtype::f32;
  shape_type shape;
  /// The options the variable was created with (as its creator passed
  /// them).
  variable_options options;
  /// Its file, relative to the checkpoint's directory.
  std::string file;
};

/// What a checkpoint holds.
struct checkpoint_manifest {
  std::vector<checkpoint_entry> entries;
};

/// The directory of checkpoint `number` under `root`.
std::filesystem::path checkpoint_directory(const std::filesystem::path& root,
                                           std::uint64_t number);

/// The numbers of the checkpoint directories under `root`, complete or
/// not, in increasing order (empty when `root` does not exist).
std::vector<std::uint64_t>
checkpoint_numbers(const std::filesystem::path& root);

/// Keeps the newest `keep` complete checkpoints under `root`: removes the
/// older complete ones and every incomplete one older than the newest
/// complete one (what a crash mid-save left). Returns how many it removed.
/// Blocks.
std::size_t prune_checkpoints(const std::filesystem::path& root,
                              std::size_t keep);

/// Writes `manifest` into `directory` atomically (the checkpoint is
/// complete once this returned). A name with a tab or newline is
/// `invalid_argument`. Blocks.
expected<void> write_manifest(const std::filesystem::path& directory,
                              const checkpoint_manifest& manifest);

/// Reads the manifest of the checkpoint in `directory`: missing is
/// `checkpoint_io`, truncated or altered `checkpoint_corrupt`. Blocks.
expected<checkpoint_manifest>
read_manifest(const std::filesystem::path& directory);

} // namespace varsync
