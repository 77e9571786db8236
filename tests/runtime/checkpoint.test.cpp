// Checkpoint files: bit-exact round trips, atomic replacement, and that every
// damaged or foreign file is reported as an error (never a crash).
//
// Several cases edit a header field and then recompute the trailing
// checksum (see runtime/checkpoint.cpp), so the field's own check is what
// rejects the file, not the checksum.

#include "runtime/checkpoint.hpp"

#include "tests/support/checks.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

using namespace varsync;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::describe;
using varsync::test::message_of;

namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system's temporary directory, removed with
/// everything in it on destruction.
class temp_dir {
public:
  temp_dir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("varsync-checkpoint-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }

  const fs::path& path() const noexcept { return path_; }

  /// The names of all entries of the directory.
  std::vector<std::string> entries() const {
    std::vector<std::string> result;
    for (const auto& entry : fs::directory_iterator{path_})
      result.push_back(entry.path().filename().string());
    return result;
  }

private:
  fs::path path_;
};

/// Byte offsets of the header fields (see runtime/checkpoint.hpp).
constexpr std::size_t version_offset = 8;
constexpr std::size_t dtype_offset = 12;
constexpr std::size_t rank_offset = 13;
constexpr std::size_t first_dimension_offset = 17;

std::vector<char> read_file(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE(in);
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

void write_file(const fs::path& path, const std::vector<char>& bytes) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  REQUIRE(out);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out);
}

template <class T>
void put_at(std::vector<char>& bytes, std::size_t offset, T value) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <class T>
T get_at(const std::vector<char>& bytes, std::size_t offset) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

/// Recomputes the trailing checksum over everything before it, as the
/// current format computes it.
void fix_checksum(std::vector<char>& bytes) {
  REQUIRE(bytes.size() >= sizeof(std::uint64_t));
  auto body_size = bytes.size() - sizeof(std::uint64_t);
  put_at(bytes, body_size,
         checksum_of(std::as_bytes(std::span{bytes.data(), body_size})));
}

/// Recomputes the trailing checksum as format version 1 did: FNV-1a 64.
void fix_v1_checksum(std::vector<char>& bytes) {
  REQUIRE(bytes.size() >= sizeof(std::uint64_t));
  auto body_size = bytes.size() - sizeof(std::uint64_t);
  std::uint64_t hash = 14695981039346656037ULL;
  for (std::size_t i = 0; i < body_size; ++i) {
    hash ^= static_cast<std::uint8_t>(bytes[i]);
    hash *= 1099511628211ULL;
  }
  put_at(bytes, body_size, hash);
}

/// A tensor of `type` and `shape` with distinct elements, including a
/// negative zero and a fraction for the floating-point dtypes.
tensor sample(dtype type, const shape_type& shape) {
  std::size_t count = 1;
  for (auto dimension : shape)
    count *= static_cast<std::size_t>(dimension);
  std::vector<double> values;
  for (std::size_t i = 0; i < count; ++i)
    values.push_back(i == 1 ? -0.0 : static_cast<double>(i) * 1.25 - 3);
  switch (type) {
  case dtype::f32: {
    std::vector<float> typed(values.begin(), values.end());
    return *tensor::from_values<float>(typed, shape);
  }
  case dtype::f64:
    return *tensor::from_values<double>(values, shape);
  case dtype::i64:
    break;
  }
  std::vector<std::int64_t> typed;
  for (std::size_t i = 0; i < count; ++i)
    typed.push_back(static_cast<std::int64_t>(i) * 1000003 - 7);
  return *tensor::from_values<std::int64_t>(typed, shape);
}

/// A valid checkpoint of an f32 [2, 3] variable "weights" and its bytes.
struct written_checkpoint {
  temp_dir dir;
  fs::path path = dir.path() / "weights.ckpt";
  tensor value = sample(dtype::f32, {2, 3});
  std::vector<char> bytes;

  written_checkpoint() {
    auto written = write_checkpoint(path, "weights", value);
    REQUIRE_MESSAGE(written.has_value(), describe(written));
    bytes = read_file(path);
  }

  expected<tensor> read() const {
    return read_checkpoint(path, "weights", dtype::f32, {2, 3});
  }

  /// Offset of the payload length field (after the name).
  std::size_t payload_length_offset() const {
    auto name_length_offset = first_dimension_offset + 2 * sizeof(std::int64_t);
    auto name_length = get_at<std::uint32_t>(bytes, name_length_offset);
    return name_length_offset + sizeof(std::uint32_t) + name_length;
  }
};

} // namespace

TEST_CASE("a checkpoint round-trips every dtype and shape bit for bit") {
  temp_dir dir;
  const std::vector<shape_type> shapes{{}, {3}, {2, 3}, {0}, {2, 1, 2}};
  for (auto type : {dtype::f32, dtype::f64, dtype::i64}) {
    for (const auto& shape : shapes) {
      CAPTURE(type);
      CAPTURE(to_string(shape));
      auto path = dir.path() / "value.ckpt";
      auto value = sample(type, shape);
      auto written = write_checkpoint(path, "layer/kernel", value);
      REQUIRE_MESSAGE(written.has_value(), describe(written));
      auto restored = read_checkpoint(path, "layer/kernel", type, shape);
      REQUIRE_MESSAGE(restored.has_value(), describe(restored));
      CHECK_EQ(*restored, value);
      CHECK_EQ(restored->type(), type);
      CHECK_EQ(restored->shape(), shape);
    }
  }
}

TEST_CASE("a checkpoint preserves special floating-point bit patterns") {
  temp_dir dir;
  auto path = dir.path() / "special.ckpt";
  tensor value{-0.0, std::numeric_limits<double>::quiet_NaN(),
               std::numeric_limits<double>::infinity(),
               std::numeric_limits<double>::denorm_min()};
  auto written = write_checkpoint(path, "special", value);
  REQUIRE_MESSAGE(written.has_value(), describe(written));
  auto restored = read_checkpoint(path, "special", dtype::f64, {4});
  REQUIRE_MESSAGE(restored.has_value(), describe(restored));
  CHECK_EQ(*restored, value);
}

TEST_CASE("writing a checkpoint leaves no temporary file behind") {
  temp_dir dir;
  auto path = dir.path() / "w.ckpt";
  auto first = write_checkpoint(path, "w", tensor{1.0, 2.0});
  REQUIRE_MESSAGE(first.has_value(), describe(first));
  CHECK_EQ(dir.entries(), std::vector<std::string>{"w.ckpt"});
  auto second = write_checkpoint(path, "w", tensor{3.0, 4.0});
  REQUIRE_MESSAGE(second.has_value(), describe(second));
  auto entries = dir.entries();
  CHECK_EQ(entries, std::vector<std::string>{"w.ckpt"});
  for (const auto& entry : entries)
    CHECK_MESSAGE(!contains(entry, ".tmp."), entry);
}

TEST_CASE("writing a checkpoint again replaces the previous one") {
  temp_dir dir;
  auto path = dir.path() / "w.ckpt";
  REQUIRE(write_checkpoint(path, "w", tensor{1.0, 2.0}).has_value());
  REQUIRE(write_checkpoint(path, "w", tensor{3.0, 4.0}).has_value());
  auto restored = read_checkpoint(path, "w", dtype::f64, {2});
  REQUIRE_MESSAGE(restored.has_value(), describe(restored));
  CHECK_EQ(*restored, (tensor{3.0, 4.0}));
}

TEST_CASE("writing into a missing directory is checkpoint_io and creates "
          "nothing") {
  temp_dir dir;
  auto path = dir.path() / "no-such-directory" / "w.ckpt";
  auto written = write_checkpoint(path, "w", tensor(1.0));
  CHECK_EQ(code_of(written), errc::checkpoint_io);
  CHECK_FALSE(fs::exists(path));
  CHECK(dir.entries().empty());
}

TEST_CASE("reading a missing file is checkpoint_io naming the path") {
  temp_dir dir;
  auto path = dir.path() / "missing.ckpt";
  auto restored = read_checkpoint(path, "w", dtype::f32, {});
  CHECK_EQ(code_of(restored), errc::checkpoint_io);
  CHECK_MESSAGE(contains(message_of(restored), "missing.ckpt"),
                message_of(restored));
}

TEST_CASE("a checkpoint truncated at any length is checkpoint_corrupt") {
  written_checkpoint checkpoint;
  auto full = checkpoint.bytes;
  REQUIRE_GT(full.size(), 16u);
  for (std::size_t length = 0; length < full.size(); ++length) {
    CAPTURE(length);
    write_file(
        checkpoint.path,
        std::vector<char>(full.begin(),
                          full.begin() + static_cast<std::ptrdiff_t>(length)));
    auto restored = checkpoint.read();
    CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                  describe(restored));
  }
}

TEST_CASE("a checkpoint with any one byte flipped is checkpoint_corrupt") {
  written_checkpoint checkpoint;
  for (std::size_t offset = 0; offset < checkpoint.bytes.size(); ++offset) {
    CAPTURE(offset);
    auto damaged = checkpoint.bytes;
    damaged[offset] = static_cast<char>(damaged[offset] ^ 0xFF);
    write_file(checkpoint.path, damaged);
    auto restored = checkpoint.read();
    CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                  describe(restored));
  }
  // One bit is enough, too.
  for (std::size_t offset = 0; offset < checkpoint.bytes.size(); ++offset) {
    CAPTURE(offset);
    auto damaged = checkpoint.bytes;
    damaged[offset] = static_cast<char>(damaged[offset] ^ 0x01);
    write_file(checkpoint.path, damaged);
    auto restored = checkpoint.read();
    CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                  describe(restored));
  }
}

TEST_CASE("recomputing the checksum of an unchanged file keeps it valid") {
  // Guards the helper the following cases rely on.
  written_checkpoint checkpoint;
  auto rewritten = checkpoint.bytes;
  fix_checksum(rewritten);
  CHECK_EQ(rewritten, checkpoint.bytes);
  write_file(checkpoint.path, rewritten);
  auto restored = checkpoint.read();
  REQUIRE_MESSAGE(restored.has_value(), describe(restored));
  CHECK_EQ(*restored, checkpoint.value);
}

TEST_CASE("a file with the wrong magic is checkpoint_corrupt") {
  written_checkpoint checkpoint;
  auto foreign = checkpoint.bytes;
  std::memcpy(foreign.data(), "NOTVSYNC", 8);
  fix_checksum(foreign);
  write_file(checkpoint.path, foreign);
  auto restored = checkpoint.read();
  CHECK_EQ(code_of(restored), errc::checkpoint_corrupt);
  CHECK_MESSAGE(contains(message_of(restored), "magic"), message_of(restored));
}

TEST_CASE("a file of another format version is checkpoint_corrupt even with "
          "a valid checksum") {
  written_checkpoint checkpoint;
  REQUIRE_EQ(get_at<std::uint32_t>(checkpoint.bytes, version_offset), 2u);
  for (std::uint32_t version : {0u, 3u, 0xFFFFFFFFu}) {
    CAPTURE(version);
    auto other = checkpoint.bytes;
    put_at(other, version_offset, version);
    fix_checksum(other);
    write_file(checkpoint.path, other);
    auto restored = checkpoint.read();
    CHECK_EQ(code_of(restored), errc::checkpoint_corrupt);
    CHECK_MESSAGE(contains(message_of(restored), "version"),
                  message_of(restored));
    CHECK_MESSAGE(!contains(message_of(restored), "checksum"),
                  message_of(restored));
  }
}

TEST_CASE("a format version 1 file (FNV-1a 64 checksum) still reads; with a "
          "version 2 checksum it is corrupt") {
  written_checkpoint checkpoint;
  auto old = checkpoint.bytes;
  put_at(old, version_offset, std::uint32_t{1});
  fix_v1_checksum(old);
  write_file(checkpoint.path, old);
  auto restored = checkpoint.read();
  REQUIRE_MESSAGE(restored.has_value(), describe(restored));
  CHECK_EQ(*restored, checkpoint.value);
  fix_checksum(old);
  write_file(checkpoint.path, old);
  CHECK_EQ(code_of(checkpoint.read()), errc::checkpoint_corrupt);
}

TEST_CASE("a file with an unknown dtype byte is checkpoint_corrupt even with "
          "a valid checksum") {
  written_checkpoint checkpoint;
  for (std::uint8_t type : {std::uint8_t{3}, std::uint8_t{255}}) {
    CAPTURE(static_cast<int>(type));
    auto other = checkpoint.bytes;
    put_at(other, dtype_offset, type);
    fix_checksum(other);
    write_file(checkpoint.path, other);
    auto restored = checkpoint.read();
    CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                  describe(restored));
  }
}

TEST_CASE("a file announcing a huge rank is checkpoint_corrupt even with a "
          "valid checksum") {
  written_checkpoint checkpoint;
  for (std::uint32_t rank : {33u, 0xFFFFFFFFu}) {
    CAPTURE(rank);
    auto other = checkpoint.bytes;
    put_at(other, rank_offset, rank);
    fix_checksum(other);
    write_file(checkpoint.path, other);
    auto restored = checkpoint.read();
    CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                  describe(restored));
  }
}

TEST_CASE("a file announcing more name or payload bytes than it holds is "
          "checkpoint_corrupt even with a valid checksum") {
  written_checkpoint checkpoint;
  auto name_length_offset = first_dimension_offset + 2 * sizeof(std::int64_t);
  REQUIRE_EQ(get_at<std::uint32_t>(checkpoint.bytes, name_length_offset),
             std::string{"weights"}.size());
  for (std::uint32_t name_length : {200u, 0xFFFFFFFFu}) {
    CAPTURE(name_length);
    auto other = checkpoint.bytes;
    put_at(other, name_length_offset, name_length);
    fix_checksum(other);
    write_file(checkpoint.path, other);
    auto restored = checkpoint.read();
    CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                  describe(restored));
  }
  auto payload_length_offset = checkpoint.payload_length_offset();
  REQUIRE_EQ(get_at<std::uint64_t>(checkpoint.bytes, payload_length_offset),
             6 * sizeof(float));
  for (std::uint64_t payload_length :
       {std::uint64_t{25}, std::uint64_t{1} << 40,
        std::numeric_limits<std::uint64_t>::max()}) {
    CAPTURE(payload_length);
    auto other = checkpoint.bytes;
    put_at(other, payload_length_offset, payload_length);
    fix_checksum(other);
    write_file(checkpoint.path, other);
    auto restored = checkpoint.read();
    CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                  describe(restored));
  }
}

TEST_CASE("a payload that disagrees with the stored shape is "
          "checkpoint_corrupt even with a valid checksum") {
  written_checkpoint checkpoint;
  // Store shape [2, 2] while the payload still holds 6 floats.
  auto other = checkpoint.bytes;
  put_at(other, first_dimension_offset + sizeof(std::int64_t), std::int64_t{2});
  fix_checksum(other);
  write_file(checkpoint.path, other);
  auto restored =
      read_checkpoint(checkpoint.path, "weights", dtype::f32, {2, 2});
  CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                describe(restored));
}

TEST_CASE("a file with extra bytes before the checksum is "
          "checkpoint_corrupt even with a valid checksum") {
  written_checkpoint checkpoint;
  auto other = checkpoint.bytes;
  auto checksum_offset = other.size() - sizeof(std::uint64_t);
  other.insert(other.begin() + static_cast<std::ptrdiff_t>(checksum_offset),
               {'x', 'y', 'z', 'w'});
  fix_checksum(other);
  write_file(checkpoint.path, other);
  auto restored = checkpoint.read();
  CHECK_MESSAGE(code_of(restored) == errc::checkpoint_corrupt,
                describe(restored));
}

TEST_CASE("reading the checkpoint of another variable is invalid_argument "
          "naming both") {
  written_checkpoint checkpoint;
  auto restored = read_checkpoint(checkpoint.path, "bias", dtype::f32, {2, 3});
  CHECK_EQ(code_of(restored), errc::invalid_argument);
  CHECK_MESSAGE(contains(message_of(restored), "'weights'"),
                message_of(restored));
  CHECK_MESSAGE(contains(message_of(restored), "'bias'"), message_of(restored));
}

TEST_CASE("reading a checkpoint with another dtype is dtype_mismatch naming "
          "both") {
  written_checkpoint checkpoint;
  auto restored =
      read_checkpoint(checkpoint.path, "weights", dtype::f64, {2, 3});
  CHECK_EQ(code_of(restored), errc::dtype_mismatch);
  CHECK_MESSAGE(contains(message_of(restored), "f32"), message_of(restored));
  CHECK_MESSAGE(contains(message_of(restored), "f64"), message_of(restored));
  CHECK_MESSAGE(contains(message_of(restored), "weights"),
                message_of(restored));
}

TEST_CASE("reading a checkpoint with another shape is shape_mismatch naming "
          "both") {
  written_checkpoint checkpoint;
  for (const auto& shape : {shape_type{3, 2}, shape_type{6}, shape_type{}}) {
    CAPTURE(to_string(shape));
    auto restored =
        read_checkpoint(checkpoint.path, "weights", dtype::f32, shape);
    CHECK_EQ(code_of(restored), errc::shape_mismatch);
    CHECK_MESSAGE(contains(message_of(restored), "[2, 3]"),
                  message_of(restored));
    CHECK_MESSAGE(contains(message_of(restored), to_string(shape)),
                  message_of(restored));
  }
}

/// The peak resident set of this process (VmHWM), in KiB.
std::uint64_t peak_rss_kib() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stoull(line.substr(6));
  return 0;
}

TEST_CASE("reading a directory, a device or a FIFO is checkpoint_io naming "
          "the path and what it is; nothing blocks or throws") {
  temp_dir dir;
  auto restored = read_checkpoint(dir.path(), "w", dtype::f32, {});
  CHECK_EQ(code_of(restored), errc::checkpoint_io);
  CHECK_MESSAGE(contains(message_of(restored), "is a directory"),
                message_of(restored));
  restored = read_checkpoint("/dev/zero", "w", dtype::f32, {});
  CHECK_EQ(code_of(restored), errc::checkpoint_io);
  CHECK_MESSAGE(contains(message_of(restored), "'/dev/zero' is a device"),
                message_of(restored));
  // A FIFO with no writer: opening it must not wait for one.
  auto fifo = dir.path() / "pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  restored = read_checkpoint(fifo, "w", dtype::f32, {});
  CHECK_EQ(code_of(restored), errc::checkpoint_io);
  CHECK_MESSAGE(contains(message_of(restored), "is a FIFO"),
                message_of(restored));
}

TEST_CASE("a large file is not read into memory to be refused") {
  // 512 MiB (sparse, so the test costs no disk): refused at the magic,
  // without the file ever being held in memory (the old reader held all
  // of it before looking at the magic).
  temp_dir dir;
  auto path = dir.path() / "huge.ckpt";
  {
    std::ofstream out{path, std::ios::binary};
    out << "NOTVSYNC";
  }
  std::filesystem::resize_file(path, std::uint64_t{512} << 20);
  auto before = peak_rss_kib();
  REQUIRE(before > 0);
  auto restored = read_checkpoint(path, "w", dtype::f32, {});
  CHECK_EQ(code_of(restored), errc::checkpoint_corrupt);
  CHECK_MESSAGE(contains(message_of(restored), "magic"), message_of(restored));
  // With the right magic the body is streamed (to verify the checksum)
  // through a small buffer, never held.
  {
    std::fstream out{path, std::ios::binary | std::ios::in | std::ios::out};
    out << "VSYNCKPT";
  }
  restored = read_checkpoint(path, "w", dtype::f32, {});
  CHECK_EQ(code_of(restored), errc::checkpoint_corrupt);
  CHECK_LT(peak_rss_kib(), before + 64 * 1024);
}
