// The one translation unit that provides doctest's main() for every suite.
//
// Every node a test starts, in this process or as a child process, proves
// the same cluster secret: main generates one into a private file and
// exports it as VARSYNC_SECRET_FILE (children inherit it) unless the caller
// set one. The file and its directory are removed at exit.
#define DOCTEST_CONFIG_IMPLEMENT
#include "runtime/transport/cluster_secret.hpp"

#include <cstdio>
#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  std::string generated;
  if (std::getenv("VARSYNC_SECRET_FILE") == nullptr) {
    auto path = varsync::auth::generate_secret_file();
    if (!path) {
      std::fprintf(stderr, "tests: %s\n", path.error().to_string().c_str());
      return 1;
    }
    generated = *path;
    ::setenv("VARSYNC_SECRET_FILE", generated.c_str(), 1);
  }
  doctest::Context context(argc, argv);
  auto result = context.run();
  if (!generated.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(std::filesystem::path{generated}.parent_path(),
                                ignored);
  }
  return result;
}
