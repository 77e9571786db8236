#pragma once

// What CAF messages and bulk frames share on the wire: bounds on what a
// peer may announce (checked before anything is allocated for it) and the
// count of tensor bytes sent.

#include "varsync/tensor.hpp"

#include <atomic>
#include <cstdint>
#include <optional>

namespace varsync {

/// Largest tensor payload accepted from the network (4 GiB): bounds what a
/// malformed or hostile message can make a node allocate.
inline constexpr std::uint64_t max_tensor_bytes = std::uint64_t{1} << 32;

/// Largest rank accepted from the network.
inline constexpr std::uint64_t max_tensor_rank = 32;

/// The bytes of a tensor of `type` and `shape` as announced by a peer or a
/// file: the element count times the element size, or nullopt on a
/// negative dimension or an overflow. Allocates nothing.
inline std::optional<std::uint64_t> announced_bytes(dtype type,
                                                    const shape_type& shape) {
  std::uint64_t count = 1;
  for (auto dimension : shape)
    if (dimension < 0 ||
        __builtin_mul_overflow(count, static_cast<std::uint64_t>(dimension),
                               &count))
      return std::nullopt;
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(count, size_of(type), &bytes))
    return std::nullopt;
  return bytes;
}

/// Tensor payload bytes this process serialized or wrote to the bulk plane
/// (for runtime_stats). Thread-safe.
inline std::atomic<std::uint64_t> tensor_bytes_serialized{0};

} // namespace varsync
