#pragma once

// The cluster secret of the running test binary (see doctest_main.cpp),
// for tests that authenticate raw connections themselves.

#include "runtime/transport/cluster_secret.hpp"

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace varsync::test {

/// The secret in $VARSYNC_SECRET_FILE. Throws when it cannot be loaded
/// (doctest reports it as the test's failure).
inline std::shared_ptr<const auth::cluster_secret> test_secret() {
  const char* path = std::getenv("VARSYNC_SECRET_FILE");
  if (path == nullptr)
    throw std::runtime_error{"VARSYNC_SECRET_FILE is not set"};
  auto loaded = auth::load_secret(path);
  if (!loaded)
    throw std::runtime_error{loaded.error().to_string()};
  return std::make_shared<const auth::cluster_secret>(std::move(*loaded));
}

} // namespace varsync::test
