#include "runtime/launch/exit_status.hpp"

#include <cstring>
#include <ostream>
#include <sys/wait.h>

namespace varsync::launch {

exit_status exit_status::from_wait_status(int status) noexcept {
  if (WIFEXITED(status))
    return exited_with(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return killed_by(WTERMSIG(status));
  return {}; // stopped or continued: not reported by our waitpid calls
}

std::string to_string(const exit_status& status) {
  if (status.exited)
    return "exited with code " + std::to_string(status.code);
  std::string result = "killed by signal " + std::to_string(status.signal);
  if (const char* name = ::sigabbrev_np(status.signal))
    result += std::string{" (SIG"} + name + ")";
  return result;
}

std::ostream& operator<<(std::ostream& out, const exit_status& status) {
  return out << to_string(status);
}

} // namespace varsync::launch
