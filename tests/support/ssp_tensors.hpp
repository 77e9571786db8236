#pragma once

// Tensors of the SSP history workload (tests/support/ssp_history.hpp): a
// shape-[R] i64 variable where replica q only adds to element q.

#include <cstddef>
#include <cstdint>
#include <varsync/varsync.hpp>
#include <vector>

namespace varsync::test {

/// The elements of an i64 tensor.
inline std::vector<std::int64_t> elements_of(const tensor& x) {
  auto values = x.values<std::int64_t>();
  return {values.begin(), values.end()};
}

/// A delta of `amount` at element `index` of a tensor of `size` elements.
inline tensor one_hot(std::size_t size, std::size_t index,
                      std::int64_t amount) {
  std::vector<std::int64_t> values(size, 0);
  values[index] = amount;
  return tensor{values};
}

} // namespace varsync::test
