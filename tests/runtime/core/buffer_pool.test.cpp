// The pool of freed tensor buffers (reuse-buffers): off by default, keeps
// only buffers of at least 64 KiB, hands a kept buffer out again for the
// same size, and never keeps more than its cap.

#include "runtime/core/buffer_pool.hpp"

#include <doctest/doctest.h>
#include <vector>

using namespace varsync;

TEST_CASE("freed buffers are kept up to the cap and reused for their size") {
  constexpr std::size_t large = 1 << 20;
  // Off: nothing is kept.
  buffer_pool::keep_freed(0);
  { auto buffer = buffer_pool::allocate(large); }
  CHECK(buffer_pool::kept_bytes() == 0);
  // On, with room for three 1 MiB buffers.
  buffer_pool::keep_freed(3 * large);
  std::byte* first = nullptr;
  {
    auto buffer = buffer_pool::allocate(large);
    first = buffer.get();
  }
  CHECK(buffer_pool::kept_bytes() == large);
  {
    // The same size gets the kept buffer back; another size does not.
    auto again = buffer_pool::allocate(large);
    CHECK(again.get() == first);
    CHECK(buffer_pool::kept_bytes() == 0);
    auto other = buffer_pool::allocate(large + 8);
    CHECK(other.get() != first);
  }
  CHECK(buffer_pool::kept_bytes() == 2 * large + 8);
  {
    // Five freed at once: only what fits under the cap is kept.
    std::vector<std::shared_ptr<std::byte>> many;
    for (int i = 0; i < 5; ++i)
      many.push_back(buffer_pool::allocate(2 * large));
  }
  CHECK(buffer_pool::kept_bytes() <= 3 * large);
  // Small buffers are never kept.
  auto before = buffer_pool::kept_bytes();
  { auto small = buffer_pool::allocate(buffer_pool::min_kept_size - 1); }
  CHECK(buffer_pool::kept_bytes() == before);
  // Lowering the cap releases what no longer fits.
  buffer_pool::keep_freed(large);
  CHECK(buffer_pool::kept_bytes() <= large);
  buffer_pool::keep_freed(0);
  CHECK(buffer_pool::kept_bytes() == 0);
}
