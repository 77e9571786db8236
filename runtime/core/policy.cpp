#include "varsync/policy.hpp"

#include <array>
#include <string>
#include <utility>

namespace varsync {

namespace {

constexpr std::array synchronization_names{
    std::pair{synchronization::automatic, "automatic"},
    std::pair{synchronization::none, "none"},
    std::pair{synchronization::on_write, "on_write"},
    std::pair{synchronization::on_read, "on_read"},
    std::pair{synchronization::bounded_staleness, "bounded_staleness"},
    std::pair{synchronization::periodic, "periodic"},
};

constexpr std::array aggregation_names{
    std::pair{aggregation::none, "none"},
    std::pair{aggregation::sum, "sum"},
    std::pair{aggregation::mean, "mean"},
    std::pair{aggregation::only_first_replica, "only_first_replica"},
    std::pair{aggregation::min, "min"},
    std::pair{aggregation::max, "max"},
};

template <class Enum, std::size_t N>
const char* name_of(const std::array<std::pair<Enum, const char*>, N>& names,
                    Enum value) noexcept {
  for (const auto& [candidate, name] : names)
    if (candidate == value)
      return name;
  return "invalid";
}

template <class Enum, std::size_t N>
expected<Enum> parse(const std::array<std::pair<Enum, const char*>, N>& names,
                     std::string_view text, const char* what) {
  std::string accepted;
  for (const auto& [value, name] : names) {
    if (text == name)
      return value;
    if (!accepted.empty())
      accepted += ", ";
    accepted += name;
  }
  // Built with += : GCC 12 at -O3 reports a false -Wrestrict on a chain
  // of operator+ here.
  std::string message = "'";
  message += text;
  message += "' is not a ";
  message += what;
  message += "; expected one of: ";
  message += accepted;
  return error{errc::invalid_argument, std::move(message)};
}

} // namespace

const char* to_string(synchronization x) noexcept {
  return name_of(synchronization_names, x);
}

const char* to_string(aggregation x) noexcept {
  return name_of(aggregation_names, x);
}

expected<synchronization> synchronization_from_string(std::string_view name) {
  return parse(synchronization_names, name, "synchronization");
}

expected<aggregation> aggregation_from_string(std::string_view name) {
  return parse(aggregation_names, name, "aggregation");
}

} // namespace varsync
