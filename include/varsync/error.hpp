#pragma once

/// Error values of the public API: `errc`, `error` and `expected<T>`.
/// Exceptions never cross the public API; every fallible call returns an
/// `expected` whose error names the variable and what was expected.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace varsync {

/// What went wrong. Every value is documented; `to_string` gives its name.
enum class errc : std::uint8_t {
  /// A synchronization / aggregation / option combination that is not allowed
  /// (e.g. on_read with trainable, mean on an integer dtype).
  invalid_policy = 1,
  /// An on_write update from replica context with aggregation `none` in a
  /// group of more than one replica: TF requires an aggregation there.
  aggregation_required,
  /// A tensor's dtype differs from the variable's dtype.
  dtype_mismatch,
  /// A tensor's shape differs from the variable's shape.
  shape_mismatch,
  /// No variable of that name or handle exists in this runtime.
  unknown_variable,
  /// No replica group of that name exists, or the index is out of range.
  unknown_group,
  /// A variable or group of that name exists with different options.
  already_exists,
  /// The operation is not allowed in this context for this policy (e.g. a
  /// cross-replica read of a `none` variable, cross-replica `assign_add` of
  /// an on_read/sum variable).
  wrong_context,
  /// Replicas made different operations (assign vs. assign_add) in the same
  /// collective step of an on_write variable.
  collective_mismatch,
  /// A replica of the group is gone (its node died); reported, not hidden.
  replica_lost,
  /// The variable's actor cannot be reached (stopped or its node died).
  variable_unavailable,
  /// The call's deadline passed; the message names who had not contributed.
  timeout,
  /// A checkpoint file is truncated, has a bad checksum or a wrong header.
  checkpoint_corrupt,
  /// A checkpoint file could not be read or written (I/O error).
  checkpoint_io,
  /// A peer failed authentication.
  unauthenticated,
  /// An argument is malformed (bad shape, unparsable name, empty name ...).
  invalid_argument,
  /// The runtime is shutting down and no longer accepts calls.
  shutting_down,
  // Values travel between nodes as numbers: new ones go last.
  /// A node's address cannot be reached: the connection was refused
  /// (nothing listens on that port), the host name does not resolve, the
  /// network has no route to it, or the connection broke during the
  /// handshake. (A node that was reached and then lost is
  /// `variable_unavailable` / `replica_lost` instead.)
  unreachable,
  /// Something answers at the address, but not a varsync node: its first
  /// bytes are not varsync's handshake (e.g. an HTTP server, or another
  /// varsync port such as a node's bulk plane).
  not_varsync,
  /// A node cannot listen on its address: another socket holds that port
  /// (pick another port, or 0 for a free one).
  address_in_use,
};

/// The name of an error code, e.g. "dtype_mismatch".
const char* to_string(errc code) noexcept;

/// An error code plus a human-readable message naming the variable and what
/// was expected. Cheap to move; copyable.
class error {
public:
  /// Creates an error with `code` and `message`.
  error(errc code, std::string message)
      : code_(code), message_(std::move(message)) {
    // nop
  }

  /// The error code.
  errc code() const noexcept { return code_; }

  /// The message (without the code name).
  const std::string& message() const noexcept { return message_; }

  /// "code_name: message".
  std::string to_string() const;

  friend bool operator==(const error& x, errc y) noexcept {
    return x.code_ == y;
  }

private:
  errc code_;
  std::string message_;
};

namespace detail {

/// Prints "varsync: <what> on an expected that holds <an error: code:
/// message | a value>" to stderr and aborts the process. Called when a
/// caller reads the wrong alternative of an `expected`: that is a bug in
/// the caller, and continuing with garbage would hide it. Header-only (stdio,
/// not iostream: safe however broken the caller's state is).
[[noreturn]] inline void
abort_on_bad_access(const char* what, const varsync::error* held) noexcept {
  if (held != nullptr)
    std::fprintf(stderr,
                 "varsync: %s on an expected that holds an error, not a "
                 "value: %s: %s\n",
                 what, to_string(held->code()), held->message().c_str());
  else
    std::fprintf(stderr,
                 "varsync: %s on an expected that holds a value, not an "
                 "error\n",
                 what);
  std::fflush(stderr);
  std::abort();
}

} // namespace detail

/// Either a value of type `T` or an `error`. Never throws. Reading the
/// value of an error (`value()`, `*`, `->`) or the error of a value
/// (`error()`) is a caller bug: it aborts the process with the held
/// error's code and message on stderr, in every build type (one branch,
/// nothing next to the message send behind a call). Check with `if (x)`
/// first, or use `value_or`.
template <class T> class [[nodiscard]] expected {
public:
  using value_type = T;

  expected(T value) : storage_(std::in_place_index<0>, std::move(value)) {
    // nop
  }

  expected(varsync::error err)
      : storage_(std::in_place_index<1>, std::move(err)) {
    // nop
  }

  /// True when a value is held.
  bool has_value() const noexcept { return storage_.index() == 0; }

  explicit operator bool() const noexcept { return has_value(); }

  /// The value; aborts (naming the error) when an error is held.
  T& value() & { return *checked_value("value()"); }

  const T& value() const& { return *checked_value("value()"); }

  T&& value() && { return std::move(*checked_value("value()")); }

  /// The value, or `fallback` when an error is held.
  template <class U> T value_or(U&& fallback) const& {
    if (has_value())
      return *std::get_if<0>(&storage_);
    return static_cast<T>(std::forward<U>(fallback));
  }

  /// The value (moved out), or `fallback` when an error is held.
  template <class U> T value_or(U&& fallback) && {
    if (has_value())
      return std::move(*std::get_if<0>(&storage_));
    return static_cast<T>(std::forward<U>(fallback));
  }

  /// The value; aborts (naming the error) when an error is held.
  T& operator*() & { return *checked_value("operator*"); }

  const T& operator*() const& { return *checked_value("operator*"); }

  T&& operator*() && { return std::move(*checked_value("operator*")); }

  /// The value's members; aborts (naming the error) when an error is held.
  T* operator->() { return checked_value("operator->"); }

  const T* operator->() const { return checked_value("operator->"); }

  /// The error; aborts when a value is held.
  const varsync::error& error() const& {
    if (const auto* held = std::get_if<1>(&storage_))
      return *held;
    detail::abort_on_bad_access("error()", nullptr);
  }

private:
  T* checked_value(const char* what) {
    if (auto* held = std::get_if<0>(&storage_))
      return held;
    detail::abort_on_bad_access(what, std::get_if<1>(&storage_));
  }

  const T* checked_value(const char* what) const {
    if (const auto* held = std::get_if<0>(&storage_))
      return held;
    detail::abort_on_bad_access(what, std::get_if<1>(&storage_));
  }

  std::variant<T, varsync::error> storage_;
};

/// Success without a value, or an `error`.
template <> class [[nodiscard]] expected<void> {
public:
  using value_type = void;

  expected() = default;

  expected(varsync::error err) : error_(std::in_place, std::move(err)) {
    // nop
  }

  bool has_value() const noexcept { return !error_.has_value(); }

  explicit operator bool() const noexcept { return has_value(); }

  /// Does nothing on success; aborts (naming the error) when an error is
  /// held, like `expected<T>::value()`.
  void value() const {
    if (error_)
      detail::abort_on_bad_access("value()", &*error_);
  }

  /// The error; aborts when the call succeeded.
  const varsync::error& error() const& {
    if (!error_)
      detail::abort_on_bad_access("error()", nullptr);
    return *error_;
  }

private:
  std::optional<varsync::error> error_;
};

} // namespace varsync
