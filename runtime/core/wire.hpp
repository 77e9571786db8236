#pragma once

// What CAF messages and bulk frames share on the wire: bounds on what a
// peer may announce (checked before anything is allocated for it) and the
// count of tensor bytes sent.

#include <atomic>
#include <cstdint>

namespace varsync {

/// Largest tensor payload accepted from the network (4 GiB): bounds what a
/// malformed or hostile message can make a node allocate.
inline constexpr std::uint64_t max_tensor_bytes = std::uint64_t{1} << 32;

/// Largest rank accepted from the network.
inline constexpr std::uint64_t max_tensor_rank = 32;

/// Tensor payload bytes this process serialized or wrote to the bulk plane
/// (for runtime_stats). Thread-safe.
inline std::atomic<std::uint64_t> tensor_bytes_serialized{0};

} // namespace varsync
