#pragma once

// doctest printing and checking helpers for varsync's public types, so a
// failed CHECK says "timeout == ok (no error)" or shows the error message
// instead of "{?}".

#include <cstddef>
#include <doctest/doctest.h>
#include <string>
#include <string_view>
#include <varsync/varsync.hpp>

// doctest prints enums as their underlying integer (a uint8_t prints as a
// character); these overloads, found by argument-dependent lookup, print
// their names instead.
namespace varsync {

inline doctest::String toString(errc code) {
  if (static_cast<int>(code) == 0)
    return "ok (no error)";
  return to_string(code);
}

inline doctest::String toString(dtype type) {
  return to_string(type);
}

inline doctest::String toString(synchronization sync) {
  return to_string(sync);
}

inline doctest::String toString(aggregation how) {
  return to_string(how);
}

} // namespace varsync

namespace doctest {

template <> struct StringMaker<varsync::tensor> {
  static String convert(const varsync::tensor& value) {
    return to_string(value).c_str();
  }
};

} // namespace doctest

namespace varsync::test {

/// "ok" or the error as "code: message"; for failure messages.
template <class T> std::string describe(const expected<T>& result) {
  return result.has_value() ? std::string{"ok"} : result.error().to_string();
}

/// The error code, or the value 0 (printed "ok (no error)") on success, so
/// `CHECK_EQ(code_of(r), errc::timeout)` prints both sides when it fails.
template <class T> errc code_of(const expected<T>& result) {
  return result.has_value() ? static_cast<errc>(0) : result.error().code();
}

/// The error message, or "" on success.
template <class T> std::string message_of(const expected<T>& result) {
  return result.has_value() ? std::string{} : result.error().message();
}

/// True when `text` contains `part`.
inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// True when `text` contains `number` as a whole number (not as a part of
/// a longer run of digits), e.g. "replicas 1 had not" contains 1, "120 ms"
/// does not.
inline bool contains_number(std::string_view text, std::size_t number) {
  auto digits = std::to_string(number);
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (auto pos = text.find(digits); pos != std::string_view::npos;
       pos = text.find(digits, pos + 1)) {
    auto before_ok = pos == 0 || !is_digit(text[pos - 1]);
    auto after = pos + digits.size();
    auto after_ok = after == text.size() || !is_digit(text[after]);
    if (before_ok && after_ok)
      return true;
  }
  return false;
}

} // namespace varsync::test

/// REQUIREs that the `expected` given as the argument holds a value and
/// prints the error when not. The argument is evaluated exactly once.
#define VARSYNC_REQUIRE_OK(...)                                                \
  do {                                                                         \
    const auto& varsync_checked_result_ = (__VA_ARGS__);                       \
    REQUIRE_MESSAGE(                                                           \
        varsync_checked_result_.has_value(),                                   \
        #__VA_ARGS__ << ": "                                                   \
                     << ::varsync::test::describe(varsync_checked_result_));   \
  } while (false)

/// CHECKs that the `expected` given as the argument holds a value and prints
/// the error when not. The argument is evaluated exactly once.
#define VARSYNC_CHECK_OK(...)                                                  \
  do {                                                                         \
    const auto& varsync_checked_result_ = (__VA_ARGS__);                       \
    CHECK_MESSAGE(varsync_checked_result_.has_value(),                         \
                  #__VA_ARGS__                                                 \
                      << ": "                                                  \
                      << ::varsync::test::describe(varsync_checked_result_));  \
  } while (false)
