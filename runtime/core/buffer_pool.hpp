#pragma once

// Tensor buffers kept for reuse (node_config::reuse_buffers): a 16 MiB
// step allocates and frees 16 MiB buffers at every step, and fresh pages
// from the kernel cost a fault per 4 KiB on first touch. With reuse on,
// freed buffers of at least 64 KiB are kept, up to a cap on the bytes kept
// (1 GiB: a P = 4 step of 64 MiB tensors frees several hundred MiB), and
// handed out again for the same size. The pool is varsync's
// own: the process's malloc is not retuned (an embedding application's
// allocator is not ours to change), and what it keeps is bounded.
// Process-wide; thread-safe.

#include <cstddef>
#include <memory>

namespace varsync::buffer_pool {

/// Buffers of at least this many bytes are kept.
inline constexpr std::size_t min_kept_size = 64 * 1024;

/// The default cap on the bytes kept.
inline constexpr std::size_t default_cap = std::size_t{1} << 30;

/// Keeps freed buffers of at least `min_kept_size` bytes, up to `cap`
/// bytes in total, from now on (0: keeps none and releases what it kept).
/// Thread-safe.
void keep_freed(std::size_t cap);

/// A buffer of `size` bytes with unspecified contents: a kept one of that
/// size when there is one. Thread-safe; throws std::bad_alloc like new.
std::shared_ptr<std::byte> allocate(std::size_t size);

/// Bytes kept now (for tests and stats). Thread-safe.
std::size_t kept_bytes();

} // namespace varsync::buffer_pool
