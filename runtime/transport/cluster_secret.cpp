#include "runtime/transport/cluster_secret.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace varsync::auth {

namespace {

/// Closes a descriptor when it goes out of scope.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

std::string octal_mode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o",
                static_cast<unsigned>(mode & 07777));
  return text;
}

error bad_secret(const std::string& path, const std::string& what) {
  return error{errc::invalid_argument,
               "cluster secret file '" + path + "' " + what};
}

} // namespace

cluster_secret::~cluster_secret() {
  if (!bytes_.empty())
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

expected<cluster_secret> load_secret(const std::string& path) {
  if (path.empty())
    return error{errc::invalid_argument, "cluster secret file: empty path"};
  // Non-blocking open: a FIFO must not stall the node (it is refused
  // below as not a regular file).
  fd_guard file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0)
    return bad_secret(path,
                      std::string{"cannot be opened: "} + std::strerror(errno));
  struct stat info {};
  if (::fstat(file.fd, &info) != 0)
    return bad_secret(path,
                      std::string{"cannot be read: "} + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    return bad_secret(path, "is not a regular file");
  if ((info.st_mode & 077) != 0)
    return bad_secret(path, "may be read by other users (mode " +
                                octal_mode(info.st_mode) +
                                "); run: chmod 600 " + path);
  if (static_cast<std::uint64_t>(info.st_size) > max_secret_size)
    return bad_secret(path, "is larger than " +
                                std::to_string(max_secret_size) +
                                " bytes (not a secret file?)");
  std::vector<std::byte> bytes(static_cast<std::size_t>(info.st_size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    auto n = ::read(file.fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return bad_secret(path,
                        std::string{"cannot be read: "} + std::strerror(errno));
    }
    if (n == 0)
      break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  while (!bytes.empty() &&
         std::isspace(static_cast<unsigned char>(bytes.back())))
    bytes.pop_back();
  if (bytes.size() < min_secret_size) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return bad_secret(path, "holds " + std::to_string(bytes.size()) +
                                " bytes; a secret needs at least " +
                                std::to_string(min_secret_size) +
                                " (e.g. `openssl rand -hex 32`)");
  }
  return cluster_secret{std::move(bytes)};
}

expected<std::string> generate_secret_file(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string directory = base + "/varsync-secret-XXXXXX";
  if (::mkdtemp(directory.data()) == nullptr) // mode 0700
    return error{errc::invalid_argument,
                 "cannot create a directory for the cluster secret in '" +
                     base + "': " + std::strerror(errno)};
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1)
    return error{errc::invalid_argument,
                 "cannot draw random bytes for the cluster secret (OpenSSL)"};
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  for (auto byte : random) {
    text += digits[byte >> 4];
    text += digits[byte & 15];
  }
  text += '\n';
  OPENSSL_cleanse(random, sizeof(random));
  auto path = directory + "/cluster.secret";
  fd_guard file{
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  if (file.fd < 0)
    return error{errc::invalid_argument,
                 "cannot create the cluster secret file '" + path +
                     "': " + std::strerror(errno)};
  std::size_t written = 0;
  while (written < text.size()) {
    auto n = ::write(file.fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      OPENSSL_cleanse(text.data(), text.size());
      return error{errc::invalid_argument,
                   "cannot write the cluster secret file '" + path +
                       "': " + std::strerror(errno)};
    }
    written += static_cast<std::size_t>(n);
  }
  OPENSSL_cleanse(text.data(), text.size());
  return path;
}

} // namespace varsync::auth
