// runtime::start_from_env: a worker of `varsync run` reads its place in the
// job from the environment (runtime/job_environment.hpp) and joins the seed.

#include "runtime/core/wording.hpp"
#include "runtime/job_environment.hpp"
#include "runtime/node_secret.hpp"
#include "varsync/runtime.hpp"

#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace varsync {

namespace {

/// The value of `name`, or `invalid_argument` saying it is not set (empty
/// counts as not set).
expected<std::string> required_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    return error{errc::invalid_argument,
                 std::string{name} +
                     " is not set (start the program with `varsync run -np N "
                     "-- PROGRAM`, which sets it)"};
  return std::string{value};
}

/// "NAME='value' is not <what>".
error bad_variable(const char* name, std::string_view value,
                   std::string_view what) {
  return error{errc::invalid_argument, std::string{name} + "='" +
                                           wording::excerpt(value) +
                                           "' is not " + std::string{what}};
}

/// Digits only, no sign or spaces, at most `max`.
std::optional<std::size_t> parse_count(std::string_view text, std::size_t max) {
  std::size_t value = 0;
  auto [end, failure] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || failure != std::errc{} ||
      end != text.data() + text.size() || value > max)
    return std::nullopt;
  return value;
}

} // namespace

expected<job_process> runtime::start_from_env(node_config base) {
  using namespace detail;
  // Everything is read and checked before the node starts, so a malformed
  // variable fails fast instead of after a join.
  auto size_text = required_variable(size_variable);
  if (!size_text)
    return size_text.error();
  // A job of more processes than this is a typo, not a job.
  constexpr std::size_t max_size = 1'000'000;
  auto size = parse_count(*size_text, max_size);
  if (!size || *size == 0)
    return bad_variable(size_variable, *size_text,
                        "a number of processes (1 or more)");
  auto rank_text = required_variable(rank_variable);
  if (!rank_text)
    return rank_text.error();
  auto rank = parse_count(*rank_text, std::numeric_limits<std::size_t>::max());
  if (!rank || *rank >= *size)
    return bad_variable(rank_variable, *rank_text,
                        "a rank from 0 to " + std::to_string(*size - 1) + " (" +
                            size_variable + "=" + *size_text + ")");
  auto join_text = required_variable(join_variable);
  if (!join_text)
    return join_text.error();
  auto join = parse_endpoints(*join_text, join_variable);
  if (!join)
    return join.error();
  auto secret_text = required_variable(secret_file_variable);
  if (!secret_text)
    return secret_text.error();

  base.join = std::move(*join);
  base.secret_file = std::move(*secret_text);
  if (base.name.empty())
    base.name = "rank-" + std::to_string(*rank);
  auto node = start(base);
  if (!node)
    return node.error();
  return job_process{std::move(*node), *rank, *size};
}

} // namespace varsync
