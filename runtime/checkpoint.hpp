#pragma once

// Checkpoint files: one variable's value, versioned and checksummed.
//
// Layout (little-endian, as every supported host):
//   magic "VSYNCKPT" (8 bytes) | format version u32 (= 2) | dtype u8 |
//   rank u32 | dimensions i64 x rank | name length u32 | name bytes |
//   payload length u64 | payload | checksum u64 of all before: CRC-32
//   (zlib; version 2, written) or FNV-1a 64 (version 1, still read).
// A file is written to a temporary sibling, fsynced and renamed over the
// target, so a crash leaves either the old or the new checkpoint.

#include "varsync/error.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>

namespace varsync {

/// Writes `value` of variable `name` to `path` atomically. Blocks.
expected<void> write_checkpoint(const std::filesystem::path& path,
                                const std::string& name, const tensor& value);

/// Reads the checkpoint at `path` for variable `name`, which must have
/// `type` and `shape`. A truncated, altered or foreign file is
/// `checkpoint_corrupt`; a dtype/shape/name mismatch names both sides.
expected<tensor> read_checkpoint(const std::filesystem::path& path,
                                 const std::string& name, dtype type,
                                 const shape_type& shape);

/// The checksum of checkpoint files written now (CRC-32 of `bytes`,
/// zero-extended).
std::uint64_t checksum_of(std::span<const std::byte> bytes);

/// Writes `bytes` to `path` atomically: a temporary sibling, fsynced,
/// renamed over `path`, and the directory fsynced; a crash leaves the old
/// file or the new one. Blocks.
expected<void> write_file_atomically(const std::filesystem::path& path,
                                     std::span<const std::byte> bytes);

/// The same for a file made of `pieces`, written one after another.
expected<void>
write_file_atomically(const std::filesystem::path& path,
                      std::initializer_list<std::span<const std::byte>> pieces);

} // namespace varsync
