#include "runtime/checkpoint.hpp"

#include "runtime/core/wire.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>
#include <zlib.h>

namespace varsync {

namespace {

constexpr std::array<char, 8> magic{'V', 'S', 'Y', 'N', 'C', 'K', 'P', 'T'};
/// Version 2 (written): CRC-32 (zlib) checksum. Version 1 (still read):
/// FNV-1a 64, byte-serial and about 8x slower on large payloads.
constexpr std::uint32_t format_version = 2;
constexpr std::uint32_t fnv_format_version = 1;
constexpr std::uint64_t max_name_length = 4096;

constexpr std::uint64_t fnv1a_start = 14695981039346656037ULL;

/// FNV-1a 64 of `bytes`, continuing from `hash`.
std::uint64_t fnv1a(std::span<const std::byte> bytes,
                    std::uint64_t hash = fnv1a_start) {
  for (auto byte : bytes) {
    hash ^= static_cast<std::uint8_t>(byte);
    hash *= 1099511628211ULL;
  }
  return hash;
}

/// CRC-32 (zlib's, which processes several bytes per step) of `bytes`,
/// continuing from `crc`.
std::uint64_t crc32_of(std::span<const std::byte> bytes, std::uint64_t crc) {
  return ::crc32_z(static_cast<uLong>(crc),
                   reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
}

template <class T> void put(std::vector<std::byte>& out, T value) {
  auto* first = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), first, first + sizeof(T));
}

/// A checkpoint file read front to back, hashing the body as it goes.
/// Reads never go past the body (the file minus its 8-byte checksum), so a
/// field that claims more bytes than the file holds fails instead of
/// allocating. Never throws.
class body_reader {
public:
  body_reader(int fd, std::uint64_t body_size) : fd_(fd), left_(body_size) {
    // nop
  }

  /// Reads exactly `count` bytes of the body into `out`; false if the body
  /// (or the file) ends first.
  bool read(void* out, std::size_t count) {
    if (count > left_ || !read_exactly(out, count))
      return false;
    std::span<const std::byte> bytes{static_cast<const std::byte*>(out), count};
    if (!version_ || *version_ == fnv_format_version)
      fnv_ = fnv1a(bytes, fnv_);
    if (!version_ || *version_ != fnv_format_version)
      crc_ = crc32_of(bytes, crc_);
    left_ -= count;
    return true;
  }

  /// The file's format version is known: from now on only its checksum
  /// is computed.
  void set_version(std::uint32_t version) { version_ = version; }

  template <class T> bool get(T& value) { return read(&value, sizeof(T)); }

  /// Reads (and hashes) the rest of the body through a small buffer.
  bool skip_rest() {
    std::byte buffer[64 * 1024];
    while (left_ > 0) {
      auto chunk = static_cast<std::size_t>(
          std::min<std::uint64_t>(left_, sizeof(buffer)));
      if (!read(buffer, chunk))
        return false;
    }
    return true;
  }

  /// Reads the trailing checksum (not hashed); once the body was read.
  bool read_checksum(std::uint64_t& checksum) {
    return left_ == 0 && read_exactly(&checksum, sizeof(checksum));
  }

  std::uint64_t left() const noexcept { return left_; }
  std::uint64_t hash() const noexcept {
    return version_ && *version_ == fnv_format_version ? fnv_ : crc_;
  }

private:
  bool read_exactly(void* out, std::size_t count) {
    auto* at = static_cast<char*>(out);
    while (count > 0) {
      auto got = ::read(fd_, at, count);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        return false;
      at += got;
      count -= static_cast<std::size_t>(got);
    }
    return true;
  }

  int fd_;
  std::uint64_t left_;
  std::optional<std::uint32_t> version_;
  std::uint64_t fnv_ = fnv1a_start;
  std::uint64_t crc_ = 0;
};

/// Closes a descriptor when it goes out of scope.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

/// What a file that is not a regular file is, for the error message.
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode))
    return "a device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

error io_error(const std::filesystem::path& path, const std::string& what) {
  return error{errc::checkpoint_io, "checkpoint '" + path.string() + "': " +
                                        what + ": " + std::strerror(errno)};
}

error corrupt(const std::filesystem::path& path, const std::string& what) {
  return error{errc::checkpoint_corrupt,
               "checkpoint '" + path.string() + "' is corrupt: " + what};
}

/// Writes all of `bytes` to `fd`.
bool write_all(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    auto written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
  return true;
}

} // namespace

expected<void> write_checkpoint(const std::filesystem::path& path,
                                const std::string& name, const tensor& value) {
  std::vector<std::byte> out;
  out.insert(out.end(), reinterpret_cast<const std::byte*>(magic.data()),
             reinterpret_cast<const std::byte*>(magic.data()) + magic.size());
  put(out, format_version);
  put(out, static_cast<std::uint8_t>(value.type()));
  put(out, static_cast<std::uint32_t>(value.shape().size()));
  for (auto dimension : value.shape())
    put(out, dimension);
  put(out, static_cast<std::uint32_t>(name.size()));
  auto name_bytes = std::as_bytes(std::span{name.data(), name.size()});
  out.insert(out.end(), name_bytes.begin(), name_bytes.end());
  auto payload = value.bytes();
  put(out, static_cast<std::uint64_t>(payload.size()));
  // The payload is written from the tensor itself (no copy of it).
  std::uint64_t checksum = crc32_of(payload, crc32_of(out, 0));
  std::array<std::byte, sizeof checksum> trailer{};
  std::memcpy(trailer.data(), &checksum, sizeof checksum);
  return write_file_atomically(path, {out, payload, trailer});
}

std::uint64_t checksum_of(std::span<const std::byte> bytes) {
  return crc32_of(bytes, 0);
}

expected<void> write_file_atomically(const std::filesystem::path& path,
                                     std::span<const std::byte> bytes) {
  return write_file_atomically(path, {bytes});
}

expected<void> write_file_atomically(
    const std::filesystem::path& path,
    std::initializer_list<std::span<const std::byte>> pieces) {
  auto temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_error(temporary, "cannot create");
  bool ok = true;
  for (auto piece : pieces)
    ok = ok && write_all(fd, piece);
  ok = ok && ::fsync(fd) == 0;
  auto saved_errno = errno;
  ::close(fd);
  if (!ok) {
    errno = saved_errno;
    auto err = io_error(temporary, "cannot write");
    ::unlink(temporary.c_str());
    return err;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    auto err = io_error(path, "cannot rename the temporary file into place");
    ::unlink(temporary.c_str());
    return err;
  }
  // Make the rename itself durable.
  auto directory = path.parent_path().empty() ? std::filesystem::path{"."}
                                              : path.parent_path();
  if (int dir_fd =
          ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return {};
}

// Reading: the file is checked to be a regular file before a byte is
// read, then read once, front to back, in bounded pieces. The header is
// parsed as it streams by; memory for the payload is allocated only when
// the header names this variable with its dtype and shape (the payload's
// size is then known and matches the file's). Every other case streams the
// rest through a small buffer to verify the checksum: a file whose checksum
// does not match is corrupt whatever its header says; one whose checksum
// matches gets the header's own error (another variable, dtype, shape, a
// field that does not fit).
expected<tensor> read_checkpoint(const std::filesystem::path& path,
                                 const std::string& name, dtype type,
                                 const shape_type& shape) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0)
    return io_error(path, "cannot open");
  struct stat status {};
  if (::fstat(file.fd, &status) != 0)
    return io_error(path, "cannot stat");
  if (!S_ISREG(status.st_mode))
    return error{errc::checkpoint_io, "checkpoint '" + path.string() + "' is " +
                                          kind_of(status.st_mode) +
                                          ", not a regular file"};
  auto size = static_cast<std::uint64_t>(status.st_size);
  if (size < magic.size() + sizeof(std::uint64_t))
    return corrupt(path, "the file is too short (" + std::to_string(size) +
                             " bytes)");
  body_reader body{file.fd, size - sizeof(std::uint64_t)};
  std::array<char, magic.size()> stored_magic{};
  if (!body.read(stored_magic.data(), stored_magic.size()))
    return io_error(path, "cannot read");
  if (stored_magic != magic)
    return corrupt(path, "it does not start with the varsync checkpoint "
                         "magic");
  // The first problem the header shows; reported only if the checksum
  // matches (else the file is corrupt, whatever its header says).
  std::optional<error> problem;
  std::optional<tensor> value;
  auto fail = [&problem](error why) { problem = std::move(why); };
  [&] {
    std::uint32_t version = 0;
    std::uint8_t stored_type = 0;
    std::uint32_t rank = 0;
    if (!body.get(version))
      return fail(corrupt(path, "the header is truncated"));
    body.set_version(version);
    if (!body.get(stored_type) || !body.get(rank))
      return fail(corrupt(path, "the header is truncated"));
    if (version != format_version && version != fnv_format_version)
      return fail(corrupt(path, "format version " + std::to_string(version) +
                                    " is not supported (expected " +
                                    std::to_string(format_version) + ")"));
    if (stored_type > static_cast<std::uint8_t>(dtype::i64) || rank > 32)
      return fail(corrupt(path, "the header holds an invalid dtype or rank"));
    shape_type stored_shape(rank);
    for (auto& dimension : stored_shape)
      if (!body.get(dimension))
        return fail(corrupt(path, "the shape is truncated"));
    std::uint32_t name_length = 0;
    std::string saved_name;
    if (body.get(name_length) && name_length <= max_name_length &&
        name_length <= body.left()) {
      saved_name.resize(name_length);
      if (!body.read(saved_name.data(), name_length))
        return fail(io_error(path, "cannot read"));
    } else {
      return fail(corrupt(path, "the variable name is truncated"));
    }
    std::uint64_t payload_length = 0;
    if (!body.get(payload_length) || payload_length > body.left())
      return fail(corrupt(path, "the payload is truncated"));
    if (payload_length < body.left())
      return fail(corrupt(
          path, "there are " + std::to_string(body.left() - payload_length) +
                    " unexpected bytes after the payload"));
    auto stored = static_cast<dtype>(stored_type);
    if (saved_name != name)
      return fail(error{errc::invalid_argument,
                        "checkpoint '" + path.string() + "' holds variable '" +
                            saved_name + "', not '" + name + "'"});
    if (stored != type)
      return fail(error{errc::dtype_mismatch,
                        "checkpoint '" + path.string() + "' holds dtype " +
                            to_string(stored) + ", variable '" + name +
                            "' has " + to_string(type)});
    if (stored_shape != shape)
      return fail(error{errc::shape_mismatch,
                        "checkpoint '" + path.string() + "' holds shape " +
                            to_string(stored_shape) + ", variable '" + name +
                            "' has " + to_string(shape)});
    auto expected_bytes = announced_bytes(stored, stored_shape);
    if (!expected_bytes || *expected_bytes != payload_length)
      return fail(corrupt(
          path, "the payload holds " + std::to_string(payload_length) +
                    " bytes, the shape " + to_string(stored_shape) + " needs " +
                    (expected_bytes ? std::to_string(*expected_bytes)
                                    : std::string{"too many"})));
    // Only now, for this variable's own size: the payload's buffer.
    auto buffer = tensor::uninitialized(stored, stored_shape);
    if (!buffer)
      return fail(corrupt(path, buffer.error().message()));
    auto bytes = buffer->mutable_bytes();
    if (!bytes.empty() && !body.read(bytes.data(), bytes.size()))
      return fail(io_error(path, "cannot read"));
    value = std::move(*buffer);
  }();
  std::uint64_t stored_checksum = 0;
  if (!body.skip_rest() || !body.read_checksum(stored_checksum))
    return io_error(path, "cannot read");
  if (body.hash() != stored_checksum)
    return corrupt(path, "the checksum does not match the contents");
  if (problem)
    return *problem;
  return std::move(*value);
}

} // namespace varsync
