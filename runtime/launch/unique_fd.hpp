#pragma once

// An owned file descriptor, for the launcher and the tests' process table.

#include <unistd.h>
#include <utility>

namespace varsync::launch {

/// Owns a file descriptor; closes it on destruction. Movable, not
/// copyable; not thread-safe.
class unique_fd {
public:
  unique_fd() = default;

  explicit unique_fd(int fd) : fd_(fd) {
    // nop
  }

  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {
    // nop
  }

  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other)
      reset(std::exchange(other.fd_, -1));
    return *this;
  }

  ~unique_fd() { reset(); }

  /// The descriptor; -1 when none.
  int get() const noexcept { return fd_; }

  /// Closes the descriptor held, if any, and holds `fd`.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

} // namespace varsync::launch
