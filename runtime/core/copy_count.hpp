#pragma once

// The count of tensor bytes this process copied in user space: what the
// data path costs beyond the reduction itself and the kernel's socket
// copies. Reported as runtime_stats::bytes_copied; bench/cluster_step
// divides it by the tensor's size to give full-tensor copies per step.
//
// Counted where a tensor's bytes move from one buffer to another:
// copy-on-write (tensor::unshare), tensors built from caller bytes,
// CAF's serialization and deserialization of a tensor (into and out of
// CAF's message buffer), and the bulk plane's copies (a frame's bytes
// already read into its inbox, the unsent rest of a frame a sending
// thread wrote in part). Not counted: the reduction (it reads each
// operand once and writes a fresh result), small tensors held inline, and
// TLS's encryption (OpenSSL's own buffers).

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace varsync {

/// Tensor bytes copied in user space since the process started.
/// Thread-safe.
inline std::atomic<std::uint64_t> tensor_bytes_copied{0};

/// Adds `bytes` to `tensor_bytes_copied`. Thread-safe; never blocks.
inline void count_copied(std::size_t bytes) noexcept {
  tensor_bytes_copied.fetch_add(bytes, std::memory_order_relaxed);
}

} // namespace varsync
