// The wire forms of actors/protocol.hpp under CAF 0.17's binary serializer:
// tensors round-trip bit for bit as one raw block, malformed tensors are
// rejected without allocating what the sender announced, op bytes are
// validated, and variable_options keep all four fields.
//
// To prove "no huge allocation", this executable replaces the global
// operator new: it records the largest request made while an
// `allocation_watch` is active and refuses (std::bad_alloc) any request above
// `allocation_limit`, so a failing case reports the size instead of taking
// gigabytes.

#include "actors/protocol.hpp"

#include "tests/support/checks.hpp"

#include <atomic>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <doctest/doctest.h>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <vector>

using namespace varsync;
using varsync::test::contains;

namespace {

/// Requests above this size are refused by the replaced operator new.
constexpr std::size_t allocation_limit = std::size_t{64} << 20; // 64 MiB

std::atomic<bool> watching{false};
std::atomic<std::size_t> largest_request{0};

void note_request(std::size_t size) {
  if (!watching.load(std::memory_order_relaxed))
    return;
  auto seen = largest_request.load(std::memory_order_relaxed);
  while (size > seen && !largest_request.compare_exchange_weak(
                            seen, size, std::memory_order_relaxed)) {
    // retry
  }
}

} // namespace

// GCC cannot see that this operator new and the operator deletes below are a
// matching malloc/free pair and warns wherever it inlines them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  note_request(size);
  if (size > allocation_limit)
    throw std::bad_alloc{};
  if (void* result = std::malloc(size == 0 ? 1 : size))
    return result;
  throw std::bad_alloc{};
}

void operator delete(void* pointer) noexcept {
  std::free(pointer);
}

void operator delete(void* pointer, std::size_t) noexcept {
  std::free(pointer);
}

namespace {

/// Records the largest allocation request made during its lifetime.
class allocation_watch {
public:
  allocation_watch() {
    largest_request = 0;
    watching = true;
  }

  allocation_watch(const allocation_watch&) = delete;
  allocation_watch& operator=(const allocation_watch&) = delete;

  ~allocation_watch() { watching = false; }

  std::size_t largest() const noexcept { return largest_request.load(); }
};

/// One actor system per test case; serializers need one in CAF 0.17.
struct fixture {
  caf::actor_system_config config;
  caf::actor_system system{config};

  /// The bytes `sink(x)` writes.
  template <class T> std::vector<char> serialize(T x) {
    std::vector<char> buffer;
    caf::binary_serializer sink{system, buffer};
    auto err = sink(x);
    REQUIRE_MESSAGE(!err, system.render(err));
    return buffer;
  }

  /// The outcome of reading a tensor from a buffer.
  struct read_result {
    caf::error err;
    tensor value;
    bool refused_allocation = false;
    std::size_t largest_allocation = 0;
    std::size_t remaining = 0;
  };

  read_result deserialize_tensor(const std::vector<char>& buffer) {
    read_result result;
    allocation_watch watch;
    try {
      caf::binary_deserializer source{system, buffer};
      result.err = source(result.value);
      result.remaining = source.remaining();
    } catch (const std::bad_alloc&) {
      result.refused_allocation = true;
    }
    result.largest_allocation = watch.largest();
    return result;
  }

  std::string render(const caf::error& err) { return system.render(err); }
};

/// A buffer holding a tensor header as protocol.hpp writes it, followed by
/// `payload` raw bytes, so tests can announce anything they like.
std::vector<char> raw_tensor(caf::actor_system& system, std::uint8_t type,
                             std::uint64_t rank, shape_type dimensions,
                             std::uint64_t byte_count,
                             std::vector<char> payload) {
  std::vector<char> buffer;
  caf::binary_serializer sink{system, buffer};
  REQUIRE_FALSE(sink(type, rank));
  for (auto dimension : dimensions)
    REQUIRE_FALSE(sink(dimension));
  REQUIRE_FALSE(sink(byte_count));
  if (!payload.empty())
    REQUIRE_FALSE(sink.apply_raw(payload.size(), payload.data()));
  return buffer;
}

/// Tensors of every dtype with awkward bit patterns.
std::vector<tensor> awkward_tensors() {
  auto nan = std::numeric_limits<double>::quiet_NaN();
  auto nan_f = std::numeric_limits<float>::quiet_NaN();
  std::vector<tensor> result{
      tensor(0.5f),
      tensor{-0.0f, nan_f, -nan_f, std::numeric_limits<float>::denorm_min(),
             std::numeric_limits<float>::infinity(), 3.25f},
      tensor(-2.0),
      tensor{-0.0, nan, -nan, std::numeric_limits<double>::denorm_min(),
             -std::numeric_limits<double>::infinity(), 1e300},
      tensor(std::int64_t{-1}),
      tensor{std::numeric_limits<std::int64_t>::min(), std::int64_t{-1},
             std::int64_t{0}, std::numeric_limits<std::int64_t>::max()},
      tensor{std::vector<float>{}},
  };
  std::vector<double> six{1, 2, 3, 4, 5, 6};
  result.push_back(*tensor::from_values<double>(six, {2, 3}));
  result.push_back(
      *tensor::from_values<double>(std::span<const double>{}, {3, 0, 2}));
  return result;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a tensor of every dtype round-trips bit for "
                           "bit") {
  for (const auto& original : awkward_tensors()) {
    CAPTURE(to_string(original));
    auto buffer = serialize(original);
    auto result = deserialize_tensor(buffer);
    REQUIRE_MESSAGE(!result.err, render(result.err));
    CHECK_EQ(result.remaining, 0u);
    CHECK_EQ(result.value, original);
    CHECK_EQ(result.value.type(), original.type());
    CHECK_EQ(result.value.shape(), original.shape());
    REQUIRE_EQ(result.value.bytes().size(), original.bytes().size());
    // memcmp must not see the null data pointer of an empty tensor.
    CHECK((original.bytes().empty() ||
           std::memcmp(result.value.bytes().data(), original.bytes().data(),
                       original.bytes().size()) == 0));
  }
}

TEST_CASE_FIXTURE(fixture, "a 1 MiB tensor is written as one raw block "
                           "after a small header") {
  constexpr std::size_t payload_size = std::size_t{1} << 20;
  std::vector<float> elements(payload_size / sizeof(float));
  for (std::size_t i = 0; i < elements.size(); ++i)
    elements[i] = static_cast<float>(i) * 0.5f;
  tensor original{elements};
  auto buffer = serialize(original);
  REQUIRE_GE(buffer.size(), payload_size);
  CHECK_LT(buffer.size(), payload_size + 64);
  // The payload is the tensor's bytes unchanged, at the end of the buffer.
  auto header_size = buffer.size() - payload_size;
  CHECK(std::memcmp(buffer.data() + header_size, original.bytes().data(),
                    payload_size) == 0);
  auto result = deserialize_tensor(buffer);
  REQUIRE_MESSAGE(!result.err, render(result.err));
  CHECK_EQ(result.value, original);
}

TEST_CASE_FIXTURE(fixture, "the hand-built test header matches what the "
                           "serializer writes") {
  // Guards `raw_tensor`, which the malformed-input cases rely on.
  tensor original{1.0, 2.0};
  std::vector<char> payload(16);
  std::memcpy(payload.data(), original.bytes().data(), 16);
  auto by_hand = raw_tensor(system, 1, 1, {2}, 16, payload);
  CHECK_EQ(by_hand, serialize(original));
  auto result = deserialize_tensor(by_hand);
  REQUIRE_MESSAGE(!result.err, render(result.err));
  CHECK_EQ(result.value, original);
}

TEST_CASE_FIXTURE(fixture, "a tensor with an unknown dtype byte is "
                           "rejected") {
  for (std::uint8_t type : {std::uint8_t{3}, std::uint8_t{255}}) {
    CAPTURE(static_cast<int>(type));
    auto buffer = raw_tensor(system, type, 1, {1}, 8, std::vector<char>(8));
    auto result = deserialize_tensor(buffer);
    CHECK_FALSE(result.refused_allocation);
    CHECK_MESSAGE(result.err == caf::sec::invalid_argument, render(result.err));
  }
}

TEST_CASE_FIXTURE(fixture, "a tensor announcing a rank above 32 is rejected "
                           "without allocating for it") {
  for (std::uint64_t rank : {std::uint64_t{33}, std::uint64_t{1} << 40,
                             std::numeric_limits<std::uint64_t>::max()}) {
    CAPTURE(rank);
    auto buffer = raw_tensor(system, 0, rank, {}, 0, {});
    auto result = deserialize_tensor(buffer);
    CHECK_FALSE(result.refused_allocation);
    CHECK_LT(result.largest_allocation, std::size_t{1} << 20);
    CHECK_MESSAGE(result.err == caf::sec::invalid_argument, render(result.err));
  }
  // Rank 32 itself is allowed; it fails here only for lack of dimensions.
  auto at_limit = deserialize_tensor(raw_tensor(system, 0, 32, {}, 0, {}));
  CHECK(at_limit.err);
  CHECK_NE(at_limit.err, caf::sec::invalid_argument);
}

TEST_CASE_FIXTURE(fixture, "a tensor announcing more than 4 GiB is rejected "
                           "without allocating for it") {
  constexpr std::uint64_t four_gib = std::uint64_t{1} << 32;
  for (std::uint64_t byte_count : {four_gib + 1, four_gib * 4,
                                   std::numeric_limits<std::uint64_t>::max()}) {
    CAPTURE(byte_count);
    auto elements = static_cast<std::int64_t>(byte_count / 8);
    auto buffer = raw_tensor(system, 2, 1, {elements}, byte_count, {});
    auto result = deserialize_tensor(buffer);
    CHECK_FALSE(result.refused_allocation);
    CHECK_LT(result.largest_allocation, std::size_t{1} << 20);
    CHECK_MESSAGE(result.err == caf::sec::invalid_argument, render(result.err));
  }
}

TEST_CASE_FIXTURE(fixture, "a byte count inconsistent with the shape is "
                           "rejected") {
  // f32 [2] needs 8 bytes; 4 arrive, and are announced.
  auto buffer = raw_tensor(system, 0, 1, {2}, 4, std::vector<char>(4));
  auto result = deserialize_tensor(buffer);
  CHECK_MESSAGE(result.err == caf::sec::invalid_argument, render(result.err));
  // f64 [] needs 8 bytes; 16 are announced and sent.
  auto too_many = deserialize_tensor(
      raw_tensor(system, 1, 0, {}, 16, std::vector<char>(16)));
  CHECK_MESSAGE(too_many.err == caf::sec::invalid_argument,
                render(too_many.err));
  // A negative dimension is never consistent.
  auto negative = deserialize_tensor(
      raw_tensor(system, 2, 1, {-1}, 8, std::vector<char>(8)));
  CHECK_MESSAGE(negative.err == caf::sec::invalid_argument,
                render(negative.err));
}

TEST_CASE_FIXTURE(fixture, "a large byte count inconsistent with the shape "
                           "is rejected without allocating for it") {
  // f32 [2] needs 8 bytes; the sender announces the 4 GiB maximum and sends
  // nothing. The shape already shows the announcement is wrong.
  auto buffer = raw_tensor(system, 0, 1, {2}, std::uint64_t{1} << 32, {});
  auto result = deserialize_tensor(buffer);
  CHECK_MESSAGE(!result.refused_allocation, "the deserializer requested "
                                                << result.largest_allocation
                                                << " bytes");
  CHECK_LT(result.largest_allocation, std::size_t{1} << 20);
  if (!result.refused_allocation)
    CHECK(result.err);
}

TEST_CASE_FIXTURE(fixture, "a shape whose element count overflows is "
                           "rejected") {
  // 2^62 * 4 elements wraps to 0 in 64 bits; an empty payload must not pass.
  constexpr std::int64_t huge = std::int64_t{1} << 62;
  auto buffer = raw_tensor(system, 0, 2, {huge, 4}, 0, {});
  auto result = deserialize_tensor(buffer);
  CHECK_MESSAGE(result.err == caf::sec::invalid_argument,
                (result.err ? render(result.err)
                            : "accepted as " + to_string(result.value)));
}

TEST_CASE_FIXTURE(fixture, "a tensor truncated at any length is rejected") {
  std::vector<std::int64_t> elements{1, -2, 3, -4, 5, -6};
  auto original = *tensor::from_values<std::int64_t>(elements, {3, 2});
  auto full = serialize(original);
  for (std::size_t length = 0; length < full.size(); ++length) {
    CAPTURE(length);
    std::vector<char> prefix(
        full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    auto result = deserialize_tensor(prefix);
    CHECK_FALSE(result.refused_allocation);
    CHECK(result.err);
  }
}

TEST_CASE("update ops travel as bytes 0, 1 and 2") {
  for (auto op : {update_op::assign, update_op::add, update_op::subtract}) {
    CAPTURE(to_string(op));
    auto decoded = op_from_wire(to_wire(op));
    REQUIRE(decoded.has_value());
    CHECK_EQ(*decoded, op);
  }
  CHECK_EQ(to_wire(update_op::assign), 0);
  CHECK_EQ(to_wire(update_op::add), 1);
  CHECK_EQ(to_wire(update_op::subtract), 2);
}

TEST_CASE("op_from_wire rejects every byte above 2") {
  for (int byte = 3; byte <= 255; ++byte) {
    CAPTURE(byte);
    CHECK_FALSE(op_from_wire(static_cast<std::uint8_t>(byte)).has_value());
  }
}

TEST_CASE("invalid_op names the byte and the valid codes") {
  auto err = invalid_op(7);
  CHECK_EQ(err.code(), errc::invalid_argument);
  CHECK_MESSAGE(contains(err.message(), "7"), err.message());
  CHECK_MESSAGE(contains(err.message(), "assign_add"), err.message());
}

TEST_CASE_FIXTURE(fixture, "variable_options round-trip with trainable "
                           "unset, false or true") {
  for (auto trainable : {std::optional<bool>{}, std::optional<bool>{false},
                         std::optional<bool>{true}}) {
    for (auto sync : {synchronization::automatic, synchronization::on_read,
                      synchronization::bounded_staleness}) {
      CAPTURE(trainable.has_value());
      CAPTURE(trainable.value_or(false));
      CAPTURE(sync);
      variable_options original;
      original.sync = sync;
      original.aggregation = aggregation::only_first_replica;
      original.staleness_bound = unbounded_staleness - 1;
      original.trainable = trainable;
      auto buffer = serialize(original);
      // Start from values that differ in every field.
      variable_options restored;
      restored.sync = synchronization::none;
      restored.aggregation = aggregation::mean;
      restored.staleness_bound = 3;
      restored.trainable = trainable.has_value() ? std::optional<bool>{}
                                                 : std::optional<bool>{false};
      caf::binary_deserializer source{system, buffer};
      auto err = source(restored);
      REQUIRE_MESSAGE(!err, render(err));
      CHECK_EQ(source.remaining(), 0u);
      CHECK(restored == original);
      CHECK_EQ(restored.sync, original.sync);
      CHECK_EQ(restored.aggregation, original.aggregation);
      CHECK_EQ(restored.staleness_bound, original.staleness_bound);
      CHECK_EQ(restored.trainable.has_value(), trainable.has_value());
      if (trainable.has_value() && restored.trainable.has_value())
        CHECK_EQ(*restored.trainable, *trainable);
    }
  }
}

TEST_CASE_FIXTURE(fixture, "variable_options round-trip with min and max; "
                           "an aggregation byte past max is refused") {
  for (auto how : {aggregation::min, aggregation::max}) {
    CAPTURE(how);
    variable_options original;
    original.sync = synchronization::on_read;
    original.aggregation = how;
    auto buffer = serialize(original);
    variable_options restored;
    caf::binary_deserializer source{system, buffer};
    auto err = source(restored);
    REQUIRE_MESSAGE(!err, render(err));
    CHECK_EQ(restored.aggregation, how);
    // The aggregation is the second byte: one past max is no aggregation.
    REQUIRE_GE(buffer.size(), 2u);
    buffer[1] =
        static_cast<char>(static_cast<std::uint8_t>(aggregation::max) + 1);
    variable_options garbled;
    caf::binary_deserializer refused{system, buffer};
    CHECK(refused(garbled));
  }
}

TEST_CASE_FIXTURE(fixture, "default variable_options round-trip") {
  variable_options original;
  auto buffer = serialize(original);
  variable_options restored;
  restored.trainable = true;
  caf::binary_deserializer source{system, buffer};
  auto err = source(restored);
  REQUIRE_MESSAGE(!err, render(err));
  CHECK(restored == original);
  CHECK_FALSE(restored.trainable.has_value());
}
