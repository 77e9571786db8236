#include "varsync/tensor.hpp"

#include "runtime/core/buffer_pool.hpp"
#include "runtime/core/copy_count.hpp"
#include "runtime/core/wording.hpp"

#include <cstring>
#include <sstream>

namespace varsync {

const char* to_string(dtype x) noexcept {
  switch (x) {
  case dtype::f32:
    return "f32";
  case dtype::f64:
    return "f64";
  case dtype::i64:
    return "i64";
  }
  return "invalid";
}

expected<dtype> dtype_from_string(std::string_view name) {
  for (auto candidate : {dtype::f32, dtype::f64, dtype::i64})
    if (name == to_string(candidate))
      return candidate;
  return error{errc::invalid_argument, "'" + std::string{name} +
                                           "' is not a dtype; expected one "
                                           "of: f32, f64, i64"};
}

std::size_t size_of(dtype x) noexcept {
  return x == dtype::f32 ? 4 : 8;
}

std::string to_string(const shape_type& shape) {
  std::string result = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0)
      result += ", ";
    result += std::to_string(shape[i]);
  }
  result += ']';
  return result;
}

namespace {

/// A heap buffer of `size` bytes whose contents are unspecified (a kept
/// one with reuse-buffers on: buffer_pool.hpp).
std::shared_ptr<std::byte> raw_buffer(std::size_t size) {
  return buffer_pool::allocate(size);
}

/// No tensor holds more elements than fit in a byte count of 2^60.
constexpr std::size_t max_elements = std::size_t{1} << 57;

/// The element count of `shape`, or an error naming the bad dimension.
expected<std::size_t> element_count(const shape_type& shape) {
  std::size_t count = 1;
  for (auto dimension : shape) {
    if (dimension < 0)
      return error{errc::invalid_argument,
                   "shape " + to_string(shape) +
                       " has a negative dimension; dimensions must be >= 0"};
    if (__builtin_mul_overflow(count, static_cast<std::size_t>(dimension),
                               &count) ||
        count > max_elements)
      return error{errc::invalid_argument,
                   "shape " + to_string(shape) +
                       " has more elements than a tensor can hold"};
  }
  return count;
}

} // namespace

tensor::tensor() : tensor(0.0f) {
  // nop
}

void tensor::init_raw(dtype type, shape_type shape,
                      std::span<const std::byte> raw) {
  type_ = type;
  shape_ = std::move(shape);
  element_count_ = raw.size() / size_of(type);
  if (raw.size() <= inline_bytes) {
    storage_.reset();
    std::memset(inline_, 0, inline_bytes);
    if (!raw.empty())
      std::memcpy(inline_, raw.data(), raw.size());
  } else {
    storage_ = raw_buffer(raw.size());
    std::memcpy(storage_.get(), raw.data(), raw.size());
    count_copied(raw.size());
  }
}

expected<tensor> tensor::from_bytes(dtype type, shape_type shape,
                                    std::span<const std::byte> bytes) {
  // Small payloads go inline: no vector to allocate and adopt.
  if (bytes.size() <= inline_bytes) {
    auto count = element_count(shape);
    if (!count)
      return count.error();
    if (*count * size_of(type) == bytes.size()) {
      tensor result;
      result.init_raw(type, std::move(shape), bytes);
      return result;
    }
  }
  auto result = uninitialized(type, std::move(shape));
  if (!result)
    return result;
  if (result->byte_count() != bytes.size())
    return error{errc::invalid_argument,
                 wording::with_article(type) + " tensor of shape " +
                     to_string(result->shape()) + " needs " +
                     std::to_string(result->byte_count()) + " bytes, got " +
                     std::to_string(bytes.size())};
  if (!bytes.empty()) {
    std::memcpy(result->unshare(), bytes.data(), bytes.size());
    count_copied(bytes.size());
  }
  return result;
}

expected<tensor> tensor::uninitialized(dtype type, shape_type shape) {
  auto count = element_count(shape);
  if (!count)
    return count.error();
  tensor result;
  result.type_ = type;
  result.shape_ = std::move(shape);
  result.element_count_ = *count;
  if (result.byte_count() > inline_bytes)
    result.storage_ = raw_buffer(result.byte_count());
  else
    result.storage_.reset(); // inline bytes are zero (default tensor)
  return result;
}

expected<tensor> tensor::adopt_bytes(dtype type, shape_type shape,
                                     std::vector<std::byte> bytes) {
  auto count = element_count(shape);
  if (!count)
    return count.error();
  if (*count * size_of(type) != bytes.size())
    return error{errc::invalid_argument,
                 wording::with_article(type) + " tensor of shape " +
                     to_string(shape) + " needs " +
                     std::to_string(*count * size_of(type)) + " bytes, got " +
                     std::to_string(bytes.size())};
  tensor result;
  if (bytes.size() <= inline_bytes) {
    // Too small to be worth a shared buffer: copied inline.
    result.init_raw(type, std::move(shape), bytes);
    return result;
  }
  result.type_ = type;
  result.shape_ = std::move(shape);
  result.element_count_ = *count;
  auto holder = std::make_shared<std::vector<std::byte>>(std::move(bytes));
  result.storage_ = std::shared_ptr<std::byte>(holder, holder->data());
  return result;
}

expected<tensor> tensor::filled(dtype type, shape_type shape, double value) {
  auto count = element_count(shape);
  if (!count)
    return count.error();
  tensor result;
  result.type_ = type;
  result.shape_ = std::move(shape);
  result.element_count_ = *count;
  if (*count * size_of(type) > inline_bytes)
    result.storage_ = raw_buffer(*count * size_of(type));
  else
    result.storage_.reset();
  auto fill = [&](auto typed_value) {
    using element_type = decltype(typed_value);
    auto* data = reinterpret_cast<element_type*>(result.unshare());
    for (std::size_t i = 0; i < *count; ++i)
      data[i] = typed_value;
  };
  switch (type) {
  case dtype::f32:
    fill(static_cast<float>(value));
    break;
  case dtype::f64:
    fill(value);
    break;
  case dtype::i64:
    fill(static_cast<std::int64_t>(value));
    break;
  }
  return result;
}

tensor tensor::row_slice(std::int64_t first, std::int64_t last) const {
  tensor result;
  result.type_ = type_;
  result.shape_ = shape_;
  result.shape_.front() = last - first;
  auto rows = static_cast<std::size_t>(shape_.front());
  auto row_elements = rows == 0 ? 0 : element_count_ / rows;
  result.element_count_ = row_elements * static_cast<std::size_t>(last - first);
  auto offset = static_cast<std::size_t>(first) * row_elements *
                (type_ == dtype::f32 ? 4 : 8);
  if (result.byte_count() <= inline_bytes) {
    if (result.byte_count() > 0)
      std::memcpy(result.inline_, bytes().data() + offset, result.byte_count());
    return result;
  }
  // Shares ownership of the whole buffer, points at the slice.
  result.storage_ =
      std::shared_ptr<std::byte>(storage_, storage_.get() + offset);
  return result;
}

std::byte* tensor::unshare() {
  if (byte_count() <= inline_bytes)
    return inline_;
  if (storage_.use_count() > 1) {
    auto copy = raw_buffer(byte_count());
    std::memcpy(copy.get(), storage_.get(), byte_count());
    count_copied(byte_count());
    storage_ = std::move(copy);
  }
  return storage_.get();
}

double tensor::to_double(std::size_t index) const noexcept {
  switch (type_) {
  case dtype::f32:
    return values<float>()[index];
  case dtype::f64:
    return values<double>()[index];
  case dtype::i64:
    return static_cast<double>(values<std::int64_t>()[index]);
  }
  return 0;
}

bool operator==(const tensor& x, const tensor& y) noexcept {
  if (x.type_ != y.type_ || x.shape_ != y.shape_)
    return false;
  if (x.storage_ != nullptr && x.storage_ == y.storage_)
    return true;
  auto xs = x.bytes();
  auto ys = y.bytes();
  return xs.size() == ys.size() &&
         (xs.empty() || std::memcmp(xs.data(), ys.data(), xs.size()) == 0);
}

std::string to_string(const tensor& x) {
  std::ostringstream out;
  out << to_string(x.type()) << to_string(x.shape()) << " {";
  constexpr std::size_t max_printed = 8;
  for (std::size_t i = 0; i < x.size() && i < max_printed; ++i) {
    if (i > 0)
      out << ", ";
    out << x.to_double(i);
  }
  if (x.size() > max_printed)
    out << ", ...";
  out << '}';
  return out.str();
}

} // namespace varsync
