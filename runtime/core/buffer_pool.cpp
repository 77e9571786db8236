#include "runtime/core/buffer_pool.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

namespace varsync::buffer_pool {

namespace {

struct pool {
  /// Whether buffers are kept (cap > 0): read without the lock on every
  /// allocation.
  std::atomic<bool> enabled{false};
  std::mutex mutex;
  std::size_t cap = 0;
  std::size_t kept = 0;
  /// Kept buffers by size.
  std::multimap<std::size_t, std::byte*> free;

  /// Takes back a buffer of `size` bytes, or frees it when over the cap.
  void give_back(std::byte* data, std::size_t size) {
    {
      std::lock_guard guard{mutex};
      if (size >= min_kept_size && kept + size <= cap) {
        free.emplace(size, data);
        kept += size;
        return;
      }
    }
    delete[] data;
  }
};

/// Never destroyed: buffers may be freed during static destruction.
pool& the_pool() {
  static auto* instance = new pool;
  return *instance;
}

} // namespace

void keep_freed(std::size_t cap) {
  auto& p = the_pool();
  std::vector<std::byte*> released;
  {
    std::lock_guard guard{p.mutex};
    p.cap = cap;
    p.enabled = cap > 0;
    while (p.kept > cap && !p.free.empty()) {
      auto largest = std::prev(p.free.end());
      p.kept -= largest->first;
      released.push_back(largest->second);
      p.free.erase(largest);
    }
  }
  for (auto* data : released)
    delete[] data;
}

std::shared_ptr<std::byte> allocate(std::size_t size) {
  auto& p = the_pool();
  if (size < min_kept_size || !p.enabled.load(std::memory_order_relaxed)) {
    // One allocation for the buffer and its count, as before the pool.
    auto block = std::make_shared_for_overwrite<std::byte[]>(size);
    return std::shared_ptr<std::byte>(block, block.get());
  }
  std::byte* data = nullptr;
  {
    std::lock_guard guard{p.mutex};
    if (auto i = p.free.find(size); i != p.free.end()) {
      data = i->second;
      p.kept -= size;
      p.free.erase(i);
    }
  }
  if (data == nullptr)
    data = new std::byte[size];
  return std::shared_ptr<std::byte>(
      data, [size](std::byte* freed) { the_pool().give_back(freed, size); });
}

std::size_t kept_bytes() {
  auto& p = the_pool();
  std::lock_guard guard{p.mutex};
  return p.kept;
}

} // namespace varsync::buffer_pool
