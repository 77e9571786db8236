#pragma once

// A fresh, uniquely named directory under the system's temp directory for
// one test, removed with everything in it on destruction.

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>

namespace varsync::test {

/// A fresh directory path (not created), removed on destruction.
struct temp_root {
  std::filesystem::path path;

  explicit temp_root(const std::string& prefix = "varsync-test") {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           (prefix + "-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++));
    std::filesystem::remove_all(path);
  }

  ~temp_root() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }

  temp_root(const temp_root&) = delete;
  temp_root& operator=(const temp_root&) = delete;
};

} // namespace varsync::test
