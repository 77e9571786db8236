#include "runtime/checkpoint.hpp"

#include <array>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <unistd.h>
#include <vector>

namespace varsync {

namespace {

constexpr std::array<char, 8> magic{'V', 'S', 'Y', 'N', 'C', 'K', 'P', 'T'};
constexpr std::uint32_t format_version = 1;
constexpr std::uint64_t max_name_length = 4096;

std::uint64_t fnv1a(std::span<const std::byte> bytes) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (auto byte : bytes) {
    hash ^= static_cast<std::uint8_t>(byte);
    hash *= 1099511628211ULL;
  }
  return hash;
}

template <class T> void put(std::vector<std::byte>& out, T value) {
  auto* first = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), first, first + sizeof(T));
}

/// Reads fixed-size fields from a byte buffer; every read is bounds-checked.
class reader {
public:
  explicit reader(std::span<const std::byte> bytes) : bytes_(bytes) {
    // nop
  }

  template <class T> bool get(T& value) {
    if (bytes_.size() - offset_ < sizeof(T))
      return false;
    std::memcpy(&value, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return true;
  }

  bool get_bytes(std::size_t count, std::span<const std::byte>& out) {
    if (bytes_.size() - offset_ < count)
      return false;
    out = bytes_.subspan(offset_, count);
    offset_ += count;
    return true;
  }

  std::size_t offset() const noexcept { return offset_; }

private:
  std::span<const std::byte> bytes_;
  std::size_t offset_ = 0;
};

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
  out.insert(out.end(), payload.begin(), payload.end());
  put(out, fnv1a(out));
  auto temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_error(temporary, "cannot create");
  bool ok = write_all(fd, out) && ::fsync(fd) == 0;
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

expected<tensor> read_checkpoint(const std::filesystem::path& path,
                                 const std::string& name, dtype type,
                                 const shape_type& shape) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return io_error(path, "cannot open");
  std::vector<char> raw{std::istreambuf_iterator<char>{in},
                        std::istreambuf_iterator<char>{}};
  auto bytes = std::as_bytes(std::span{raw.data(), raw.size()});
  if (bytes.size() < magic.size() + sizeof(std::uint64_t))
    return corrupt(path, "the file is too short (" +
                             std::to_string(bytes.size()) + " bytes)");
  auto body = bytes.first(bytes.size() - sizeof(std::uint64_t));
  std::uint64_t stored_checksum = 0;
  std::memcpy(&stored_checksum, bytes.data() + body.size(),
              sizeof(stored_checksum));
  if (std::memcmp(body.data(), magic.data(), magic.size()) != 0)
    return corrupt(path, "it does not start with the varsync checkpoint "
                         "magic");
  if (fnv1a(body) != stored_checksum)
    return corrupt(path, "the checksum does not match the contents");
  reader fields{body.subspan(magic.size())};
  std::uint32_t version = 0;
  std::uint8_t stored_type = 0;
  std::uint32_t rank = 0;
  if (!fields.get(version) || !fields.get(stored_type) || !fields.get(rank))
    return corrupt(path, "the header is truncated");
  if (version != format_version)
    return corrupt(path, "format version " + std::to_string(version) +
                             " is not supported (expected " +
                             std::to_string(format_version) + ")");
  if (stored_type > static_cast<std::uint8_t>(dtype::i64) || rank > 32)
    return corrupt(path, "the header holds an invalid dtype or rank");
  shape_type stored_shape(rank);
  for (auto& dimension : stored_shape)
    if (!fields.get(dimension))
      return corrupt(path, "the shape is truncated");
  std::uint32_t name_length = 0;
  std::span<const std::byte> stored_name;
  if (!fields.get(name_length) || name_length > max_name_length ||
      !fields.get_bytes(name_length, stored_name))
    return corrupt(path, "the variable name is truncated");
  std::uint64_t payload_length = 0;
  std::span<const std::byte> payload;
  if (!fields.get(payload_length) || !fields.get_bytes(payload_length, payload))
    return corrupt(path, "the payload is truncated");
  if (fields.offset() != body.size() - magic.size())
    return corrupt(
        path, "there are " +
                  std::to_string(body.size() - magic.size() - fields.offset()) +
                  " unexpected bytes after the payload");
  std::string saved_name{reinterpret_cast<const char*>(stored_name.data()),
                         stored_name.size()};
  if (saved_name != name)
    return error{errc::invalid_argument, "checkpoint '" + path.string() +
                                             "' holds variable '" + saved_name +
                                             "', not '" + name + "'"};
  auto stored = static_cast<dtype>(stored_type);
  if (stored != type)
    return error{errc::dtype_mismatch, "checkpoint '" + path.string() +
                                           "' holds dtype " +
                                           to_string(stored) + ", variable '" +
                                           name + "' has " + to_string(type)};
  if (stored_shape != shape)
    return error{errc::shape_mismatch,
                 "checkpoint '" + path.string() + "' holds shape " +
                     to_string(stored_shape) + ", variable '" + name +
                     "' has " + to_string(shape)};
  auto value = tensor::from_bytes(stored, stored_shape, payload);
  if (!value)
    return corrupt(path, value.error().message());
  return value;
}

} // namespace varsync
