#include "runtime/cli/job_events.hpp"

#include <cerrno>
#include <csignal>
#include <pthread.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace varsync::cli {

void line_printer::print(int fd, std::string_view prefix,
                         std::string_view line) {
  std::string text;
  text.reserve(prefix.size() + line.size() + 1);
  text.append(prefix).append(line).push_back('\n');
  std::lock_guard guard{mutex_};
  std::string_view rest{text};
  while (!rest.empty()) {
    auto written = ::write(fd, rest.data(), rest.size());
    if (written < 0 && errno == EINTR)
      continue;
    if (written <= 0)
      return; // the terminal is gone: nothing else to do with the line
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
}

void line_printer::say(std::string_view message) {
  print(STDERR_FILENO, "varsync run: ", message);
}

void event_queue::push(job_event event) {
  std::lock_guard guard{mutex_};
  events_.push_back(std::move(event));
  changed_.notify_one();
}

std::optional<job_event>
event_queue::pop(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock{mutex_};
  if (!changed_.wait_until(lock, deadline, [&] { return !events_.empty(); }))
    return std::nullopt;
  auto event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void forward_stop_signals(std::shared_ptr<event_queue> events) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::thread{[stop_signals, events = std::move(events)] {
    for (;;) {
      int received = 0;
      if (sigwait(&stop_signals, &received) == 0)
        events->push({job_event::kind::signal, -1, {}, {}, received});
    }
  }}.detach();
}

} // namespace varsync::cli
