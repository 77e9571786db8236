#include "tests/support/child_process.hpp"

#include "runtime/launch/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <filesystem>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>

namespace varsync::test {

namespace {

using clock_type = std::chrono::steady_clock;
using launch::unique_fd;

/// The command line of the process at `proc_entry` (/proc/<pid>), arguments
/// joined by spaces; empty for zombies, kernel threads and processes that
/// vanished.
std::string command_line_of(const std::filesystem::path& proc_entry) {
  // POSIX reads: a process that vanishes mid-read makes read() fail with
  // ESRCH, which std::ifstream would turn into an exception.
  unique_fd file{
      ::open((proc_entry / "cmdline").c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.get() < 0)
    return {};
  std::string text;
  char chunk[4096];
  for (;;) {
    auto count = ::read(file.get(), chunk, sizeof chunk);
    if (count > 0)
      text.append(chunk, static_cast<std::size_t>(count));
    else if (count < 0 && errno == EINTR)
      continue;
    else if (count < 0)
      return {};
    else
      break;
  }
  while (!text.empty() && text.back() == '\0')
    text.pop_back();
  for (auto& c : text)
    if (c == '\0')
      c = ' ';
  return text;
}

} // namespace

// -- free functions -----------------------------------------------------------

std::vector<pid_t> processes_matching(std::string_view needle) {
  std::vector<pid_t> result;
  auto self = ::getpid();
  std::error_code ignored;
  for (std::filesystem::directory_iterator entries{"/proc", ignored}, end;
       entries != end; entries.increment(ignored)) {
    auto name = entries->path().filename().string();
    pid_t pid = 0;
    auto [last, parse_error] =
        std::from_chars(name.data(), name.data() + name.size(), pid);
    if (parse_error != std::errc{} || last != name.data() + name.size() ||
        pid == self)
      continue;
    auto command_line = command_line_of(entries->path());
    if (!command_line.empty() && command_line.find(needle) != std::string::npos)
      result.push_back(pid);
  }
  std::sort(result.begin(), result.end());
  return result;
}

std::vector<pid_t>
wait_for_no_process_matching(std::string_view needle,
                             std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  for (;;) {
    auto left = processes_matching(needle);
    if (left.empty() || clock_type::now() >= deadline)
      return left;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

std::string binary_path(std::string_view binary_dir,
                        std::string_view relative) {
  std::string result{binary_dir};
  result += '/';
  result += relative;
  return result;
}

} // namespace varsync::test
