#include "runtime/cpu_pinning.hpp"

#include <cerrno>
#include <cstring>
#include <sched.h>

namespace varsync::detail {

std::string describe_cpus(const std::vector<unsigned>& cpus) {
  std::string text;
  for (std::size_t i = 0; i < cpus.size();) {
    auto last = i;
    while (last + 1 < cpus.size() && cpus[last + 1] == cpus[last] + 1)
      ++last;
    if (!text.empty())
      text += ',';
    text += std::to_string(cpus[i]);
    if (last > i)
      text += '-' + std::to_string(cpus[last]);
    i = last + 1;
  }
  return text;
}

expected<void> pin_calling_thread(const std::vector<unsigned>& cpus) {
  if (cpus.empty())
    return {};
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
    return error{errc::invalid_argument,
                 std::string{"cpus: cannot read this process's CPUs: "} +
                     std::strerror(errno)};
  std::vector<unsigned> usable;
  for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &allowed))
      usable.push_back(cpu);
  cpu_set_t wanted;
  CPU_ZERO(&wanted);
  for (auto cpu : cpus) {
    if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))
      return error{errc::invalid_argument,
                   "cpus: CPU " + std::to_string(cpu) +
                       " is not one this process may run on (it may use " +
                       describe_cpus(usable) + ")"};
    CPU_SET(cpu, &wanted);
  }
  if (sched_setaffinity(0, sizeof wanted, &wanted) != 0)
    return error{errc::invalid_argument, "cpus: cannot pin to " +
                                             describe_cpus(cpus) + ": " +
                                             std::strerror(errno)};
  return {};
}

} // namespace varsync::detail
