#include "varsync/error.hpp"

namespace varsync {

const char* to_string(errc code) noexcept {
  switch (code) {
  case errc::invalid_policy:
    return "invalid_policy";
  case errc::aggregation_required:
    return "aggregation_required";
  case errc::dtype_mismatch:
    return "dtype_mismatch";
  case errc::shape_mismatch:
    return "shape_mismatch";
  case errc::unknown_variable:
    return "unknown_variable";
  case errc::unknown_group:
    return "unknown_group";
  case errc::already_exists:
    return "already_exists";
  case errc::wrong_context:
    return "wrong_context";
  case errc::collective_mismatch:
    return "collective_mismatch";
  case errc::replica_lost:
    return "replica_lost";
  case errc::variable_unavailable:
    return "variable_unavailable";
  case errc::timeout:
    return "timeout";
  case errc::checkpoint_corrupt:
    return "checkpoint_corrupt";
  case errc::checkpoint_io:
    return "checkpoint_io";
  case errc::unauthenticated:
    return "unauthenticated";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::shutting_down:
    return "shutting_down";
  case errc::unreachable:
    return "unreachable";
  case errc::not_varsync:
    return "not_varsync";
  case errc::address_in_use:
    return "address_in_use";
  }
  return "unknown_error_code";
}

std::string error::to_string() const {
  std::string result = varsync::to_string(code_);
  result += ": ";
  result += message_;
  return result;
}

} // namespace varsync
