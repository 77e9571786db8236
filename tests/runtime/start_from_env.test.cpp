// runtime::start_from_env: a worker of `varsync run` joins the seed named
// by VARSYNC_JOIN with rank and size from VARSYNC_RANK and VARSYNC_SIZE,
// and a missing or malformed variable is invalid_argument naming the
// variable and its value, before anything starts. (The launcher and its
// workers together: tests/cluster/launcher.test.cpp.)

#include "tests/support/checks.hpp"

#include <cstdlib>
#include <doctest/doctest.h>
#include <optional>
#include <string>
#include <varsync/varsync.hpp>
#include <vector>

using namespace varsync;
using namespace varsync::test;

namespace {

/// Sets (or, with nullopt, unsets) environment variables for one test and
/// restores the previous values on destruction.
class scoped_environment {
public:
  scoped_environment(
      std::vector<std::pair<std::string, std::optional<std::string>>> values) {
    for (auto& [name, value] : values) {
      const char* old = std::getenv(name.c_str());
      saved_.emplace_back(name, old != nullptr ? std::optional<std::string>{old}
                                               : std::nullopt);
      set(name, value);
    }
  }

  ~scoped_environment() {
    for (const auto& [name, value] : saved_)
      set(name, value);
  }

  scoped_environment(const scoped_environment&) = delete;
  scoped_environment& operator=(const scoped_environment&) = delete;

private:
  static void set(const std::string& name,
                  const std::optional<std::string>& value) {
    if (value)
      ::setenv(name.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }

  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

/// The suite's secret (doctest_main sets VARSYNC_SECRET_FILE).
std::string suite_secret() {
  const char* path = std::getenv("VARSYNC_SECRET_FILE");
  REQUIRE(path != nullptr);
  return path;
}

} // namespace

TEST_CASE("start_from_env joins the seed with the rank and size of the "
          "environment") {
  node_config seed_config;
  auto seed = runtime::start(seed_config);
  VARSYNC_REQUIRE_OK(seed);
  scoped_environment environment{
      {{"VARSYNC_JOIN", "127.0.0.1:" + std::to_string((*seed)->port())},
       {"VARSYNC_RANK", "1"},
       {"VARSYNC_SIZE", "2"},
       {"VARSYNC_SECRET_FILE", suite_secret()}}};
  auto job = runtime::start_from_env();
  VARSYNC_REQUIRE_OK(job);
  CHECK_EQ(job->rank, 1u);
  CHECK_EQ(job->size, 2u);
  CHECK_EQ(job->node->node_name(), "rank-1");
  CHECK_FALSE(job->node->is_seed());
  CHECK_EQ(job->node->secret_file(), suite_secret());
  // A name in the base config is kept.
  node_config named;
  named.name = "trainer";
  scoped_environment rank_zero{{{"VARSYNC_RANK", "0"}}};
  auto second = runtime::start_from_env(named);
  VARSYNC_REQUIRE_OK(second);
  CHECK_EQ(second->node->node_name(), "trainer");
  CHECK_EQ(second->rank, 0u);
}

TEST_CASE("start_from_env names the missing or malformed variable and its "
          "value") {
  struct bad_case {
    std::vector<std::pair<std::string, std::optional<std::string>>> set;
    std::string says;
  };
  const std::vector<std::pair<std::string, std::optional<std::string>>> good{
      {"VARSYNC_JOIN", "127.0.0.1:1"},
      {"VARSYNC_RANK", "0"},
      {"VARSYNC_SIZE", "2"},
      {"VARSYNC_SECRET_FILE", "/nonexistent/secret"}};
  const std::vector<bad_case> cases{
      {{{"VARSYNC_SIZE", std::nullopt}}, "VARSYNC_SIZE is not set"},
      {{{"VARSYNC_SIZE", "two"}},
       "VARSYNC_SIZE='two' is not a number of processes"},
      {{{"VARSYNC_SIZE", "0"}},
       "VARSYNC_SIZE='0' is not a number of processes"},
      {{{"VARSYNC_SIZE", "-3"}},
       "VARSYNC_SIZE='-3' is not a number of processes"},
      {{{"VARSYNC_RANK", std::nullopt}}, "VARSYNC_RANK is not set"},
      {{{"VARSYNC_RANK", "2"}},
       "VARSYNC_RANK='2' is not a rank from 0 to 1 (VARSYNC_SIZE=2)"},
      {{{"VARSYNC_RANK", "-1"}}, "VARSYNC_RANK='-1' is not a rank"},
      {{{"VARSYNC_RANK", "1 "}}, "VARSYNC_RANK='1 ' is not a rank"},
      {{{"VARSYNC_JOIN", std::nullopt}}, "VARSYNC_JOIN is not set"},
      {{{"VARSYNC_JOIN", "seed-without-port"}},
       "VARSYNC_JOIN: 'seed-without-port' is not an address HOST:PORT"},
      {{{"VARSYNC_JOIN", "127.0.0.1:99999"}},
       "VARSYNC_JOIN: '127.0.0.1:99999' is not an address HOST:PORT"},
      {{{"VARSYNC_SECRET_FILE", ""}}, "VARSYNC_SECRET_FILE is not set"},
  };
  for (const auto& bad : cases) {
    CAPTURE(bad.says);
    scoped_environment base{good};
    scoped_environment broken{bad.set};
    auto job = runtime::start_from_env();
    CHECK_EQ(code_of(job), errc::invalid_argument);
    CHECK_MESSAGE(contains(message_of(job), bad.says), describe(job));
  }
}
