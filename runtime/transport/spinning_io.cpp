#include "runtime/transport/spinning_io.hpp"

#include <sched.h>

namespace varsync {

void run_spinning(boost::asio::io_context& io, std::chrono::microseconds spin) {
  if (spin.count() <= 0) {
    io.run();
    return;
  }
  using clock = std::chrono::steady_clock;
  auto last_work = clock::now();
  while (!io.stopped()) {
    if (io.poll() > 0) {
      last_work = clock::now();
      continue;
    }
    if (clock::now() - last_work < spin) {
      sched_yield();
      continue;
    }
    if (io.run_one() > 0)
      last_work = clock::now();
  }
}

} // namespace varsync
