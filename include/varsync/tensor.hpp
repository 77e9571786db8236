#pragma once

/// `tensor`: a dtype, a shape and one contiguous buffer. Copies share the
/// buffer (copying a tensor costs one reference count); writing through
/// `mutable_values` copies the buffer first when it is shared (copy on
/// write), so a tensor handed to varsync never changes under the caller.
/// Payloads of at most `tensor::inline_bytes` bytes (scalars, tiny vectors)
/// live inside the tensor object instead: copying one copies the bytes and
/// touches no reference count shared with other threads.

#include "varsync/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace varsync {

/// Element type of a tensor.
enum class dtype : std::uint8_t {
  f32 = 0, ///< 32-bit IEEE float
  f64 = 1, ///< 64-bit IEEE float
  i64 = 2, ///< 64-bit signed integer
};

/// "f32", "f64" or "i64".
const char* to_string(dtype x) noexcept;

/// Parses "f32", "f64" or "i64"; anything else is `errc::invalid_argument`.
expected<dtype> dtype_from_string(std::string_view name);

/// Bytes per element of `x`.
std::size_t size_of(dtype x) noexcept;

/// True for the integer dtypes (where `mean` aggregation is not allowed).
constexpr bool is_integer(dtype x) noexcept {
  return x == dtype::i64;
}

/// The C++ element types a tensor can hold.
template <class T>
concept element = std::is_same_v<T, float> || std::is_same_v<T, double> ||
    std::is_same_v<T, std::int64_t>;

/// The dtype of element type `T`.
template <element T> constexpr dtype dtype_of() noexcept {
  if constexpr (std::is_same_v<T, float>)
    return dtype::f32;
  else if constexpr (std::is_same_v<T, double>)
    return dtype::f64;
  else
    return dtype::i64;
}

/// Dimensions of a tensor; empty for a scalar.
using shape_type = std::vector<std::int64_t>;

/// "[2, 3]" or "[]" for a scalar.
std::string to_string(const shape_type& shape);

/// A dense, immutable-by-default n-dimensional array. Thread-safety: distinct
/// tensor objects may be used from distinct threads even when they share a
/// buffer; one tensor object is not safe for concurrent mutation.
class tensor {
public:
  /// Payloads up to this many bytes are stored inline (no heap buffer, never
  /// shared); larger ones live in a reference-counted heap buffer.
  static constexpr std::size_t inline_bytes = 16;

  /// An f32 scalar 0.
  tensor();

  /// A scalar. Integral arguments become i64, `float` f32, `double` f64.
  /// Inline and without a call: a scalar read is on hot paths.
  template <class T>
  requires std::is_arithmetic_v<T>
  tensor(T value) // NOLINT(google-explicit-constructor): scalars read well
      : element_count_(1) {
    if constexpr (std::is_integral_v<T>)
      store_inline_scalar(static_cast<std::int64_t>(value));
    else if constexpr (std::is_same_v<T, float>)
      store_inline_scalar(value);
    else
      store_inline_scalar(static_cast<double>(value));
  }

  /// A one-dimensional tensor holding `values`. Like std::vector, braces
  /// make a vector: `tensor{2.0}` has shape [1]; write `tensor(2.0)` for a
  /// scalar.
  template <element T> tensor(std::initializer_list<T> values) {
    init_from(std::span<const T>{values.begin(), values.size()},
              shape_type{static_cast<std::int64_t>(values.size())});
  }

  /// A one-dimensional tensor holding `values`.
  template <element T> explicit tensor(const std::vector<T>& values) {
    init_from(std::span<const T>{values.data(), values.size()},
              shape_type{static_cast<std::int64_t>(values.size())});
  }

  /// A tensor of `shape` holding `values` in row-major order. Fails with
  /// `invalid_argument` when a dimension is negative or the element count
  /// differs from the product of the dimensions.
  template <element T>
  static expected<tensor> from_values(std::span<const T> values,
                                      shape_type shape) {
    return from_bytes(dtype_of<T>(), std::move(shape), std::as_bytes(values));
  }

  /// A tensor of `type` and `shape` whose raw bytes are `bytes` (host byte
  /// order). Fails with `invalid_argument` when the sizes disagree.
  static expected<tensor> from_bytes(dtype type, shape_type shape,
                                     std::span<const std::byte> bytes);

  /// Like `from_bytes`, but takes over `bytes` instead of copying them (for
  /// buffers filled by a reader, e.g. a network message).
  static expected<tensor> adopt_bytes(dtype type, shape_type shape,
                                      std::vector<std::byte> bytes);

  /// A tensor of `type` and `shape` whose elements are unspecified until
  /// written through `mutable_bytes` or `mutable_values` (no pass zeroing a
  /// buffer that a reader is about to fill). Fails with `invalid_argument`
  /// on a negative dimension.
  static expected<tensor> uninitialized(dtype type, shape_type shape);

  /// A tensor of `type` and `shape` with every element equal to `value`
  /// converted to `type`. Fails with `invalid_argument` on a negative
  /// dimension.
  static expected<tensor> filled(dtype type, shape_type shape, double value);

  /// The element type.
  dtype type() const noexcept { return type_; }

  /// The dimensions (empty for a scalar).
  const shape_type& shape() const noexcept { return shape_; }

  /// The number of elements.
  std::size_t size() const noexcept { return element_count_; }

  /// The raw bytes, `size() * size_of(type())` of them.
  std::span<const std::byte> bytes() const noexcept {
    auto count = byte_count();
    if (count <= inline_bytes)
      return {inline_, count};
    if (!storage_) // moved from
      return {};
    return {storage_.get(), count};
  }

  /// Rows [first, last) along the first dimension, sharing this tensor's
  /// buffer (no copy; writing to either copies first, as for any shared
  /// buffer); a slice of at most `inline_bytes` bytes is copied inline.
  /// Shape [last - first, shape()[1], ...]. Precondition: rank >= 1 and
  /// 0 <= first <= last <= shape()[0].
  tensor row_slice(std::int64_t first, std::int64_t last) const;

  /// The elements; an empty span when `T` does not match `type()`.
  template <element T> std::span<const T> values() const noexcept {
    if (dtype_of<T>() != type_)
      return {};
    return {reinterpret_cast<const T*>(bytes().data()), element_count_};
  }

  /// Mutable elements; copies the buffer first when another tensor shares
  /// it. An empty span when `T` does not match `type()`.
  template <element T> std::span<T> mutable_values() {
    if (dtype_of<T>() != type_)
      return {};
    return {reinterpret_cast<T*>(unshare()), element_count_};
  }

  /// The raw bytes, writable; copies the buffer first when another tensor
  /// shares it (as `mutable_values`).
  std::span<std::byte> mutable_bytes() { return {unshare(), byte_count()}; }

  /// Element `index` converted to double (handy for printing and tests).
  /// Precondition: `index < size()`.
  double to_double(std::size_t index = 0) const noexcept;

  /// True when this tensor and `other` share one heap buffer (no copy was
  /// made). Always false for inline payloads (see `inline_bytes`).
  bool shares_buffer_with(const tensor& other) const noexcept {
    return storage_ != nullptr && storage_ == other.storage_;
  }

  /// Same dtype, same shape and bit-identical elements.
  friend bool operator==(const tensor& x, const tensor& y) noexcept;

  /// E.g. "f32[2] {1, 2}" (at most 8 elements are printed).
  friend std::string to_string(const tensor& x);

private:
  template <element T>
  void init_from(std::span<const T> values, shape_type shape) {
    init_raw(dtype_of<T>(), std::move(shape), std::as_bytes(values));
  }

  void init_raw(dtype type, shape_type shape, std::span<const std::byte> raw);

  /// Sets the type and the inline payload to `value`, zero-padded, with one
  /// 16-byte store: copying the payload later reads it as one 16-byte
  /// block, which a narrower store could not forward to (a stall of a few
  /// nanoseconds on x86).
  template <element T> void store_inline_scalar(T value) noexcept {
    type_ = dtype_of<T>();
    using block = std::uint64_t __attribute__((vector_size(inline_bytes)));
    std::uint64_t low = 0;
    std::memcpy(&low, &value, sizeof(value));
    block payload = {low, 0};
    std::memcpy(inline_, &payload, sizeof(payload));
  }

  /// `size() * size_of(type())`, without a call.
  std::size_t byte_count() const noexcept {
    return element_count_ * (type_ == dtype::f32 ? 4 : 8);
  }

  std::byte* unshare();

  dtype type_ = dtype::f32;
  shape_type shape_;
  std::size_t element_count_ = 0;
  /// The heap buffer of payloads larger than `inline_bytes` (its first
  /// byte; it may alias an adopted vector); null otherwise.
  std::shared_ptr<std::byte> storage_;
  /// The payload when it has at most `inline_bytes` bytes.
  alignas(std::int64_t) std::byte inline_[inline_bytes];
};

} // namespace varsync
