// The value type `tensor`: construction, validation of shapes, bitwise
// equality, buffer sharing with copy on write, and its text forms.

#include "runtime/core/copy_count.hpp"
#include "tests/support/checks.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <doctest/doctest.h>
#include <limits>
#include <span>
#include <string>
#include <varsync/tensor.hpp>
#include <vector>

using namespace varsync;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::message_of;

TEST_CASE("a default tensor is an f32 scalar zero") {
  tensor x;
  CHECK_EQ(x.type(), dtype::f32);
  CHECK(x.shape().empty());
  CHECK_EQ(x.size(), 1u);
  CHECK_EQ(x.bytes().size(), 4u);
  CHECK_EQ(x.to_double(), 0.0);
}

TEST_CASE("a float argument makes an f32 scalar") {
  tensor x(1.5f);
  CHECK_EQ(x.type(), dtype::f32);
  CHECK(x.shape().empty());
  CHECK_EQ(x.size(), 1u);
  REQUIRE_EQ(x.values<float>().size(), 1u);
  CHECK_EQ(x.values<float>()[0], 1.5f);
}

TEST_CASE("a double argument makes an f64 scalar") {
  tensor x(2.25);
  CHECK_EQ(x.type(), dtype::f64);
  CHECK(x.shape().empty());
  REQUIRE_EQ(x.values<double>().size(), 1u);
  CHECK_EQ(x.values<double>()[0], 2.25);
}

TEST_CASE("integral arguments of any width make an i64 scalar") {
  tensor from_int(7);
  CHECK_EQ(from_int.type(), dtype::i64);
  CHECK(from_int.shape().empty());
  REQUIRE_EQ(from_int.values<std::int64_t>().size(), 1u);
  CHECK_EQ(from_int.values<std::int64_t>()[0], 7);
  tensor from_negative_short(static_cast<short>(-3));
  CHECK_EQ(from_negative_short.type(), dtype::i64);
  CHECK_EQ(from_negative_short.values<std::int64_t>()[0], -3);
  auto largest = std::numeric_limits<std::int64_t>::max();
  tensor from_largest(largest);
  CHECK_EQ(from_largest.values<std::int64_t>()[0], largest);
}

TEST_CASE("braces make a one-dimensional tensor, even of one element") {
  tensor one{2.0};
  CHECK_EQ(one.type(), dtype::f64);
  CHECK_EQ(one.shape(), shape_type{1});
  CHECK_EQ(one.size(), 1u);
  tensor three{1.0f, 2.0f, 3.0f};
  CHECK_EQ(three.type(), dtype::f32);
  CHECK_EQ(three.shape(), shape_type{3});
  auto values = three.values<float>();
  REQUIRE_EQ(values.size(), 3u);
  CHECK_EQ(values[0], 1.0f);
  CHECK_EQ(values[1], 2.0f);
  CHECK_EQ(values[2], 3.0f);
  tensor integers{std::int64_t{-1}, std::int64_t{4}};
  CHECK_EQ(integers.type(), dtype::i64);
  CHECK_EQ(integers.shape(), shape_type{2});
  CHECK_EQ(integers.values<std::int64_t>()[1], 4);
}

TEST_CASE("a vector makes a one-dimensional tensor with its elements") {
  std::vector<double> source{0.5, -1.5, 8.0, 1e300};
  tensor x{source};
  CHECK_EQ(x.type(), dtype::f64);
  CHECK_EQ(x.shape(), shape_type{4});
  auto values = x.values<double>();
  REQUIRE_EQ(values.size(), source.size());
  for (std::size_t i = 0; i < source.size(); ++i)
    CHECK_EQ(values[i], source[i]);
  tensor empty{std::vector<std::int64_t>{}};
  CHECK_EQ(empty.type(), dtype::i64);
  CHECK_EQ(empty.shape(), shape_type{0});
  CHECK_EQ(empty.size(), 0u);
  CHECK(empty.bytes().empty());
}

TEST_CASE("from_values lays out the values in row-major order") {
  std::vector<float> source{1, 2, 3, 4, 5, 6};
  auto x = tensor::from_values<float>(source, {2, 3});
  VARSYNC_REQUIRE_OK(x);
  CHECK_EQ(x->type(), dtype::f32);
  CHECK_EQ(x->shape(), (shape_type{2, 3}));
  CHECK_EQ(x->size(), 6u);
  REQUIRE_EQ(x->bytes().size(), sizeof(float) * 6);
  CHECK(std::memcmp(x->bytes().data(), source.data(), x->bytes().size()) == 0);
}

TEST_CASE("from_values accepts a scalar shape with one value") {
  std::vector<std::int64_t> source{42};
  auto x = tensor::from_values<std::int64_t>(source, {});
  VARSYNC_REQUIRE_OK(x);
  CHECK(x->shape().empty());
  CHECK_EQ(x->size(), 1u);
  CHECK_EQ(*x, tensor(42));
}

TEST_CASE("from_values accepts a zero dimension with no values") {
  auto x = tensor::from_values<double>(std::span<const double>{}, {2, 0});
  VARSYNC_REQUIRE_OK(x);
  CHECK_EQ(x->shape(), (shape_type{2, 0}));
  CHECK_EQ(x->size(), 0u);
  CHECK(x->bytes().empty());
}

TEST_CASE("from_values rejects a negative dimension and names the shape") {
  std::vector<double> source{1, 2};
  auto x = tensor::from_values<double>(source, {2, -1});
  CHECK_EQ(code_of(x), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(x), "[2, -1]"), message_of(x));
  CHECK_MESSAGE(contains(message_of(x), "negative"), message_of(x));
}

TEST_CASE("from_values rejects a count that differs from the shape") {
  std::vector<float> five{1, 2, 3, 4, 5};
  auto too_few = tensor::from_values<float>(five, {2, 3});
  CHECK_EQ(code_of(too_few), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(too_few), "[2, 3]"), message_of(too_few));
  CHECK_MESSAGE(contains(message_of(too_few), "f32"), message_of(too_few));
  auto too_many = tensor::from_values<float>(five, {2, 2});
  CHECK_EQ(code_of(too_many), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(too_many), "[2, 2]"), message_of(too_many));
  auto scalar_of_two = tensor::from_values<float>(std::span{five}.first(2), {});
  CHECK_EQ(code_of(scalar_of_two), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(scalar_of_two), "[]"),
                message_of(scalar_of_two));
}

TEST_CASE("a shape whose element count overflows is rejected") {
  // 2^62 * 4 elements is 2^64, which wraps to 0 in a 64-bit size_t; an empty
  // payload must not pass for such a shape.
  constexpr std::int64_t huge = std::int64_t{1} << 62;
  auto x = tensor::from_bytes(dtype::f32, {huge, 4}, {});
  CHECK_MESSAGE(code_of(x) == errc::invalid_argument,
                "got " << varsync::test::describe(x) << " for shape [2^62, 4]");
}

TEST_CASE("from_bytes takes the raw bytes in host order") {
  std::vector<double> source{-2.5, 1e-310, 3.0};
  auto raw = std::as_bytes(std::span{source});
  auto x = tensor::from_bytes(dtype::f64, {3}, raw);
  VARSYNC_REQUIRE_OK(x);
  CHECK_EQ(x->type(), dtype::f64);
  CHECK_EQ(x->shape(), shape_type{3});
  REQUIRE_EQ(x->values<double>().size(), 3u);
  CHECK_EQ(x->values<double>()[0], -2.5);
  CHECK_EQ(x->values<double>()[1], 1e-310);
  CHECK_EQ(x->values<double>()[2], 3.0);
  // The tensor holds its own copy of the bytes.
  source[0] = 100;
  CHECK_EQ(x->values<double>()[0], -2.5);
}

TEST_CASE("from_bytes rejects a byte count that differs from the shape") {
  std::vector<std::byte> seven(7);
  auto x = tensor::from_bytes(dtype::i64, {1}, seven);
  CHECK_EQ(code_of(x), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(x), "[1]"), message_of(x));
  CHECK_MESSAGE(contains(message_of(x), "8"), message_of(x));
  CHECK_MESSAGE(contains(message_of(x), "7"), message_of(x));
  auto negative = tensor::from_bytes(dtype::i64, {-3}, {});
  CHECK_EQ(code_of(negative), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(negative), "[-3]"), message_of(negative));
}

TEST_CASE("filled converts the value to the dtype for every element") {
  auto floats = tensor::filled(dtype::f32, {2, 2}, 0.5);
  VARSYNC_REQUIRE_OK(floats);
  CHECK_EQ(floats->type(), dtype::f32);
  CHECK_EQ(floats->shape(), (shape_type{2, 2}));
  REQUIRE_EQ(floats->values<float>().size(), 4u);
  for (auto element : floats->values<float>())
    CHECK_EQ(element, 0.5f);
  auto doubles = tensor::filled(dtype::f64, {3}, 0.1);
  VARSYNC_REQUIRE_OK(doubles);
  for (auto element : doubles->values<double>())
    CHECK_EQ(element, 0.1);
  auto integers = tensor::filled(dtype::i64, {3}, -3.9);
  VARSYNC_REQUIRE_OK(integers);
  REQUIRE_EQ(integers->values<std::int64_t>().size(), 3u);
  for (auto element : integers->values<std::int64_t>())
    CHECK_EQ(element, -3); // truncated toward zero
  auto scalar = tensor::filled(dtype::i64, {}, 9);
  VARSYNC_REQUIRE_OK(scalar);
  CHECK_EQ(*scalar, tensor(9));
}

TEST_CASE("filled rejects a negative dimension and names the shape") {
  auto x = tensor::filled(dtype::f64, {4, -2}, 1.0);
  CHECK_EQ(code_of(x), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(x), "[4, -2]"), message_of(x));
}

TEST_CASE("equal tensors have the same dtype, shape and bits") {
  CHECK_EQ(tensor{1.0, 2.0}, tensor{1.0, 2.0});
  CHECK_EQ(tensor(3), tensor(3));
  // Same bits, different dtype.
  CHECK_NE(tensor(0.0f), tensor(std::int32_t{0}));
  CHECK_NE(tensor(1.0), tensor(1.0f));
  // Same values, different shape.
  auto row = tensor::from_values<double>(std::vector<double>{1, 2}, {1, 2});
  auto column = tensor::from_values<double>(std::vector<double>{1, 2}, {2, 1});
  VARSYNC_REQUIRE_OK(row);
  VARSYNC_REQUIRE_OK(column);
  CHECK_NE(*row, *column);
  CHECK_NE(*row, (tensor{1.0, 2.0}));
  CHECK_NE(tensor(1.0), tensor{1.0});
  // Same dtype and shape, one element differs.
  CHECK_NE(tensor{1.0, 2.0}, tensor{1.0, 3.0});
}

TEST_CASE("equality compares bits, so -0 differs from 0 and NaN equals "
          "itself") {
  CHECK_NE(tensor(-0.0), tensor(0.0));
  CHECK_NE(tensor(-0.0f), tensor(0.0f));
  auto nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_EQ(tensor(nan), tensor(nan));
  CHECK_NE(tensor(nan), tensor(-nan));
}

TEST_CASE("a copy shares the buffer of the original") {
  tensor original{1.0, 2.0, 3.0};
  tensor copy = original;
  CHECK(copy.shares_buffer_with(original));
  CHECK(original.shares_buffer_with(copy));
  CHECK_EQ(copy.bytes().data(), original.bytes().data());
  tensor assigned;
  assigned = original;
  CHECK(assigned.shares_buffer_with(original));
  tensor equal_but_separate{1.0, 2.0, 3.0};
  CHECK_EQ(equal_but_separate, original);
  CHECK_FALSE(equal_but_separate.shares_buffer_with(original));
}

TEST_CASE("payloads of at most inline_bytes bytes are stored inline, never "
          "shared") {
  tensor scalar(2.5);
  tensor pair{std::int64_t{1}, std::int64_t{2}};
  tensor four_floats{1.0f, 2.0f, 3.0f, 4.0f};
  for (const auto* small : {&scalar, &pair, &four_floats}) {
    CAPTURE(to_string(*small));
    REQUIRE_LE(small->bytes().size(), tensor::inline_bytes);
    tensor copy = *small;
    CHECK_EQ(copy, *small);
    CHECK_FALSE(copy.shares_buffer_with(*small));
    CHECK_NE(copy.bytes().data(), small->bytes().data());
    // The bytes live inside the object.
    const auto* begin = reinterpret_cast<const std::byte*>(small);
    CHECK_GE(small->bytes().data(), begin);
    CHECK_LE(small->bytes().data() + small->bytes().size(),
             begin + sizeof(tensor));
  }
  // One byte over the limit: a shared heap buffer again.
  tensor three_doubles{1.0, 2.0, 3.0};
  REQUIRE_GT(three_doubles.bytes().size(), tensor::inline_bytes);
  tensor copy = three_doubles;
  CHECK(copy.shares_buffer_with(three_doubles));
}

TEST_CASE("an inline tensor keeps its value through copies, moves and "
          "writes") {
  tensor original{1.0, 2.0};
  tensor copy = original;
  copy.mutable_values<double>()[0] = 10.0;
  CHECK_EQ(original, (tensor{1.0, 2.0}));
  CHECK_EQ(copy, (tensor{10.0, 2.0}));
  tensor moved = std::move(copy);
  CHECK_EQ(moved, (tensor{10.0, 2.0}));
  tensor assigned{5.0, 6.0, 7.0, 8.0}; // heap buffer replaced by inline bytes
  assigned = moved;
  CHECK_EQ(assigned, (tensor{10.0, 2.0}));
  tensor big{5.0, 6.0, 7.0, 8.0};
  assigned = big; // inline bytes replaced by a heap buffer
  CHECK(assigned.shares_buffer_with(big));
  CHECK_EQ(assigned, big);
  tensor empty_vector = *tensor::from_values<float>({}, {0});
  CHECK(empty_vector.bytes().empty());
  CHECK_EQ(empty_vector, *tensor::from_values<float>({}, {0}));
}

TEST_CASE("from_bytes, adopt_bytes and filled build inline tensors for "
          "small payloads") {
  const double source[2] = {3.0, -4.0};
  auto bytes = std::as_bytes(std::span{source});
  auto copied = tensor::from_bytes(dtype::f64, {2}, bytes);
  REQUIRE(copied);
  CHECK_EQ(*copied, (tensor{3.0, -4.0}));
  auto adopted = tensor::adopt_bytes(
      dtype::f64, {2}, std::vector<std::byte>(bytes.begin(), bytes.end()));
  REQUIRE(adopted);
  CHECK_EQ(*adopted, (tensor{3.0, -4.0}));
  auto filled = tensor::filled(dtype::i64, {2}, 7);
  REQUIRE(filled);
  CHECK_EQ(*filled, (tensor{std::int64_t{7}, std::int64_t{7}}));
  // Size mismatches still fail for small payloads.
  CHECK_FALSE(tensor::from_bytes(dtype::f64, {1}, bytes));
  CHECK_FALSE(tensor::adopt_bytes(
      dtype::f32, {}, std::vector<std::byte>(bytes.begin(), bytes.end())));
}

TEST_CASE("writing through mutable_values copies a shared buffer first") {
  tensor original{1.0, 2.0, 3.0};
  tensor copy = original;
  auto elements = copy.mutable_values<double>();
  REQUIRE_EQ(elements.size(), 3u);
  elements[0] = 10.0;
  CHECK_FALSE(copy.shares_buffer_with(original));
  CHECK_EQ(original, (tensor{1.0, 2.0, 3.0}));
  CHECK_EQ(copy, (tensor{10.0, 2.0, 3.0}));
}

TEST_CASE("mutable_values on an unshared buffer writes in place") {
  tensor sole{std::int64_t{1}, std::int64_t{2}};
  const auto* before = sole.bytes().data();
  auto elements = sole.mutable_values<std::int64_t>();
  REQUIRE_EQ(elements.size(), 2u);
  elements[1] = 5;
  CHECK_EQ(sole.bytes().data(), before);
  CHECK_EQ(sole, (tensor{std::int64_t{1}, std::int64_t{5}}));
}

TEST_CASE("the bytes of a shared buffer copied before a write are counted; "
          "a write in place copies nothing") {
  auto made = tensor::filled(dtype::f64, {1024}, 1.0);
  REQUIRE(made);
  tensor sole = std::move(*made);
  auto before = tensor_bytes_copied.load();
  sole.mutable_values<double>()[0] = 2.0;
  CHECK_EQ(tensor_bytes_copied.load() - before, 0u);
  tensor shared = sole;
  shared.mutable_values<double>()[0] = 3.0;
  CHECK_EQ(tensor_bytes_copied.load() - before, 1024u * 8u);
  auto raw = sole.bytes();
  auto built = tensor::from_bytes(
      dtype::f64, {1024}, std::vector<std::byte>(raw.begin(), raw.end()));
  REQUIRE(built);
  CHECK_EQ(tensor_bytes_copied.load() - before, 2u * 1024u * 8u);
}

TEST_CASE("values and mutable_values with the wrong element type are "
          "empty") {
  // Five floats: more than tensor::inline_bytes, so copies share a buffer.
  tensor floats{1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
  CHECK(floats.values<double>().empty());
  CHECK(floats.values<std::int64_t>().empty());
  CHECK_EQ(floats.values<float>().size(), 5u);
  tensor copy = floats;
  CHECK(copy.mutable_values<double>().empty());
  CHECK(copy.mutable_values<std::int64_t>().empty());
  // A mismatched request neither copies nor changes anything.
  CHECK(copy.shares_buffer_with(floats));
  tensor integers(5);
  CHECK(integers.values<float>().empty());
  CHECK(integers.values<double>().empty());
}

TEST_CASE("to_double converts each element") {
  tensor floats{0.5f, -2.0f};
  CHECK_EQ(floats.to_double(0), 0.5);
  CHECK_EQ(floats.to_double(1), -2.0);
  tensor integers{std::int64_t{-7}, std::int64_t{9}};
  CHECK_EQ(integers.to_double(1), 9.0);
  CHECK_EQ(tensor(0.25).to_double(), 0.25);
}

TEST_CASE("to_string shows dtype, shape and at most eight elements") {
  CHECK_EQ(to_string(tensor{1.0f, 2.0f}), "f32[2] {1, 2}");
  CHECK_EQ(to_string(tensor(0.5)), "f64[] {0.5}");
  CHECK_EQ(to_string(tensor(-3)), "i64[] {-3}");
  CHECK_EQ(to_string(tensor{}), "f32[] {0}");
  auto matrix = tensor::from_values<std::int64_t>(
      std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  VARSYNC_REQUIRE_OK(matrix);
  CHECK_EQ(to_string(*matrix), "i64[2, 3] {1, 2, 3, 4, 5, 6}");
  std::vector<std::int64_t> ten{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  CHECK_EQ(to_string(tensor{ten}), "i64[10] {0, 1, 2, 3, 4, 5, 6, 7, ...}");
  std::vector<std::int64_t> eight{0, 1, 2, 3, 4, 5, 6, 7};
  CHECK_EQ(to_string(tensor{eight}), "i64[8] {0, 1, 2, 3, 4, 5, 6, 7}");
  CHECK_EQ(to_string(tensor{std::vector<double>{}}), "f64[0] {}");
}

TEST_CASE("to_string of a shape lists its dimensions") {
  CHECK_EQ(to_string(shape_type{}), "[]");
  CHECK_EQ(to_string(shape_type{5}), "[5]");
  CHECK_EQ(to_string(shape_type{2, 3, 4}), "[2, 3, 4]");
}

TEST_CASE("dtype names round-trip through dtype_from_string") {
  for (auto type : {dtype::f32, dtype::f64, dtype::i64}) {
    auto parsed = dtype_from_string(to_string(type));
    VARSYNC_REQUIRE_OK(parsed);
    CHECK_EQ(*parsed, type);
  }
  CHECK_EQ(std::string{to_string(dtype::f32)}, "f32");
  CHECK_EQ(std::string{to_string(dtype::f64)}, "f64");
  CHECK_EQ(std::string{to_string(dtype::i64)}, "i64");
}

TEST_CASE("dtype_from_string rejects other names and names the text") {
  for (const char* name : {"", "F32", "float", "f16", "i64 ", "int64"}) {
    CAPTURE(name);
    auto parsed = dtype_from_string(name);
    CHECK_EQ(code_of(parsed), errc::invalid_argument);
    CHECK_MESSAGE(contains(message_of(parsed), "'" + std::string{name} + "'"),
                  message_of(parsed));
  }
}

TEST_CASE("element sizes and integer-ness follow the dtype") {
  CHECK_EQ(size_of(dtype::f32), 4u);
  CHECK_EQ(size_of(dtype::f64), 8u);
  CHECK_EQ(size_of(dtype::i64), 8u);
  CHECK_FALSE(is_integer(dtype::f32));
  CHECK_FALSE(is_integer(dtype::f64));
  CHECK(is_integer(dtype::i64));
  CHECK_EQ(dtype_of<float>(), dtype::f32);
  CHECK_EQ(dtype_of<double>(), dtype::f64);
  CHECK_EQ(dtype_of<std::int64_t>(), dtype::i64);
}

TEST_CASE("adopt_bytes takes over a buffer of the right size and refuses "
          "a wrong one") {
  std::vector<std::byte> raw(3 * sizeof(double));
  double values[3] = {1.5, -2.0, 4.25};
  std::memcpy(raw.data(), values, sizeof values);
  auto x = tensor::adopt_bytes(dtype::f64, {3}, std::move(raw));
  REQUIRE(x);
  CHECK(x->values<double>()[0] == 1.5);
  CHECK(x->values<double>()[2] == 4.25);
  auto wrong = tensor::adopt_bytes(dtype::f64, {4},
                                   std::vector<std::byte>(3 * sizeof(double)));
  REQUIRE(!wrong);
  CHECK(wrong.error().code() == errc::invalid_argument);
  auto negative = tensor::adopt_bytes(dtype::f64, {-1}, {});
  REQUIRE(!negative);
}

TEST_CASE("uninitialized tensors have their dtype and shape and are filled "
          "through mutable_bytes") {
  for (auto shape : {shape_type{}, shape_type{2}, shape_type{3, 1000}}) {
    CAPTURE(to_string(shape));
    auto x = tensor::uninitialized(dtype::f64, shape);
    REQUIRE(x);
    CHECK(x->type() == dtype::f64);
    CHECK(x->shape() == shape);
    auto bytes = x->mutable_bytes();
    REQUIRE(bytes.size() == x->size() * 8);
    std::vector<double> expected(x->size());
    for (std::size_t i = 0; i < expected.size(); ++i)
      expected[i] = static_cast<double>(i) * 0.5;
    std::memcpy(bytes.data(), expected.data(), bytes.size());
    auto values = x->values<double>();
    CHECK(std::vector<double>(values.begin(), values.end()) == expected);
    // Writing through a copy's mutable_bytes leaves the original alone.
    auto copy = *x;
    copy.mutable_bytes()[0] = std::byte{0x7f};
    CHECK(x->values<double>()[0] == 0.0);
    CHECK_FALSE(copy == *x);
  }
  auto bad = tensor::uninitialized(dtype::f32, {2, -1});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == errc::invalid_argument);
}

TEST_CASE("row_slice shares the buffer; writing either copies first") {
  std::vector<double> values(4 * 3);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<double>(i);
  auto table = *tensor::from_values<double>(values, {4, 3});
  auto middle = table.row_slice(1, 3);
  REQUIRE_EQ(middle.shape(), (shape_type{2, 3}));
  CHECK_EQ(middle.bytes().data(), table.bytes().data() + 3 * sizeof(double));
  for (std::size_t i = 0; i < 6; ++i)
    CHECK_EQ(middle.values<double>()[i], static_cast<double>(i + 3));
  // Copy on write: the table keeps its rows.
  middle.mutable_values<double>()[0] = -1;
  CHECK_EQ(table.values<double>()[3], 3.0);
  CHECK_EQ(middle.values<double>()[0], -1.0);
  // The slice outlives the table.
  auto last = table.row_slice(3, 4);
  table = tensor{};
  CHECK_EQ(last.values<double>()[2], 11.0);
  // Small slices are inline; an empty one has no elements.
  auto vector =
      *tensor::from_values<float>(std::vector<float>{1, 2, 3, 4, 5}, {5});
  auto two = vector.row_slice(3, 5);
  CHECK_EQ(two.size(), 2u);
  CHECK_EQ(two.values<float>()[1], 5.0f);
  CHECK_EQ(vector.row_slice(2, 2).size(), 0u);
}
