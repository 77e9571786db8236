#include "actors/caf_error.hpp"

namespace varsync {

namespace {

constexpr auto varsync_category = caf::atom("varsync");

} // namespace

caf::error to_caf_error(const error& x) {
  return caf::error{static_cast<std::uint8_t>(x.code()), varsync_category,
                    caf::make_message(x.message())};
}

error from_caf_error(const caf::error& x, const std::string& what) {
  if (x.category() == varsync_category) {
    std::string message;
    if (x.context().match_elements<std::string>())
      message = x.context().get_as<std::string>(0);
    return error{static_cast<errc>(x.code()), std::move(message)};
  }
  if (x.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(x.code())) {
    case caf::sec::request_timeout:
      return error{errc::timeout, what + ": no reply before the deadline"};
    case caf::sec::request_receiver_down:
      return error{errc::variable_unavailable,
                   what + ": the actor serving it is gone"};
    default:
      break;
    }
  }
  return error{errc::variable_unavailable, what + ": " + caf::to_string(x)};
}

} // namespace varsync
