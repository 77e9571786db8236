// Cluster secret files: a generated one is private (0600 in a 0700
// directory) and loads; files that are missing, not regular, readable by
// others, too short or too long are refused with an error naming the path,
// without blocking on a FIFO.

#include "runtime/transport/cluster_secret.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace varsync;
using namespace varsync::auth;
namespace fs = std::filesystem;

namespace {

/// A private scratch directory, removed at the end.
struct scratch {
  fs::path dir;
  scratch() {
    auto made = generate_secret_file();
    REQUIRE(made);
    dir = fs::path{*made}.parent_path();
  }
  ~scratch() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  fs::path write(const std::string& name, const std::string& text,
                 fs::perms mode = fs::perms::owner_read |
                                  fs::perms::owner_write) {
    auto path = dir / name;
    std::ofstream{path} << text;
    fs::permissions(path, mode);
    return path;
  }
};

std::string message_of(const expected<cluster_secret>& x) {
  return x ? std::string{} : x.error().message();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a generated secret file is private and loads; trailing "
          "whitespace is not part of the secret") {
  scratch s;
  auto path = s.dir / "cluster.secret";
  struct stat file {};
  REQUIRE(::stat(path.c_str(), &file) == 0);
  CHECK_EQ(file.st_mode & 0777, 0600u);
  struct stat dir {};
  REQUIRE(::stat(s.dir.c_str(), &dir) == 0);
  CHECK_EQ(dir.st_mode & 0777, 0700u);
  auto loaded = load_secret(path);
  REQUIRE_MESSAGE(loaded, message_of(loaded));
  CHECK_EQ(loaded->bytes().size(), 64u);
  auto other = generate_secret_file();
  REQUIRE(other);
  auto second = load_secret(*other);
  REQUIRE(second);
  CHECK_FALSE(std::equal(loaded->bytes().begin(), loaded->bytes().end(),
                         second->bytes().begin(), second->bytes().end()));
  fs::remove_all(fs::path{*other}.parent_path());
  auto spaced = s.write("spaced", std::string(40, 'k') + " \n\n");
  auto trimmed = load_secret(spaced);
  REQUIRE(trimmed);
  CHECK_EQ(trimmed->bytes().size(), 40u);
}

TEST_CASE("bad secret files are refused with the path and the reason") {
  scratch s;
  auto missing = load_secret((s.dir / "nope").string());
  CHECK(contains(message_of(missing), "nope"));
  CHECK(contains(message_of(missing), "cannot be opened"));
  auto directory = load_secret(s.dir.string());
  CHECK(contains(message_of(directory), "not a regular file"));
  auto open = s.write("open", std::string(64, 'a'),
                      fs::perms::owner_read | fs::perms::owner_write |
                          fs::perms::others_read);
  auto readable = load_secret(open.string());
  CHECK(contains(message_of(readable), "mode 0604"));
  CHECK(contains(message_of(readable), "chmod 600"));
  auto short_file = s.write("short", "hunter2\n");
  auto too_short = load_secret(short_file.string());
  CHECK(contains(message_of(too_short), "at least 32"));
  auto long_file = s.write("long", std::string(5000, 'a'));
  CHECK(contains(message_of(load_secret(long_file.string())), "larger than"));
  auto fifo = s.dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(contains(message_of(load_secret(fifo.string())), "not a regular file"));
  CHECK(contains(message_of(load_secret("/dev/zero")), "not a regular file"));
  CHECK(contains(message_of(load_secret("")), "empty path"));
}
