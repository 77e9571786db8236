// expected<T>: reading the wrong alternative aborts with the error's code
// and message in every build type (never a silent segfault or garbage);
// value_or gives a default. Each abort runs in a forked child whose stderr
// and end are checked.

#include <csignal>
#include <cstdio>
#include <doctest/doctest.h>
#include <functional>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <varsync/varsync.hpp>

using namespace varsync;

namespace {

/// How a forked child that ran `body` ended: the signal that ended it (0
/// when it exited) and everything it wrote to stderr.
struct child_end {
  int signal = 0;
  std::string errors;
};

child_end run_in_child(const std::function<void()>& body) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  auto pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    body();
    std::_Exit(0);
  }
  ::close(pipe_fds[1]);
  child_end result;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;)
    result.errors.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status))
    result.signal = WTERMSIG(status);
  return result;
}

expected<int> failed_lookup() {
  return error{errc::unknown_group, "group 'workers' has 4 replicas, index 7"};
}

} // namespace

TEST_CASE("dereferencing a failed expected aborts with its code and message") {
  auto end = run_in_child([] {
    auto x = failed_lookup();
    std::printf("%d\n", *x);
  });
  CHECK(end.signal == SIGABRT);
  CHECK(end.errors == "varsync: operator* on an expected that holds an "
                      "error, not a value: unknown_group: group 'workers' "
                      "has 4 replicas, index 7\n");
}

TEST_CASE("value() and operator-> of a failed expected abort the same way") {
  auto by_value = run_in_child([] { (void)failed_lookup().value(); });
  CHECK(by_value.signal == SIGABRT);
  CHECK(by_value.errors.find("value() on an expected that holds an error") !=
        std::string::npos);
  auto by_arrow = run_in_child([] {
    expected<std::string> x = error{errc::timeout, "no reply"};
    std::printf("%zu\n", x->size());
  });
  CHECK(by_arrow.signal == SIGABRT);
  CHECK(by_arrow.errors.find("operator-> on an expected that holds an error, "
                             "not a value: timeout: no reply") !=
        std::string::npos);
}

TEST_CASE("asking a value for its error aborts instead of reading garbage") {
  auto end = run_in_child([] {
    expected<int> x = 3;
    std::printf("%d\n", static_cast<int>(x.error().code()));
  });
  CHECK(end.signal == SIGABRT);
  CHECK(end.errors ==
        "varsync: error() on an expected that holds a value, not an error\n");
  auto done = run_in_child([] {
    expected<void> ok;
    (void)ok.error();
  });
  CHECK(done.signal == SIGABRT);
}

TEST_CASE("value() of a failed expected<void> aborts; of a success it "
          "returns") {
  auto end = run_in_child([] {
    expected<void> failed = error{errc::shutting_down, "stopping"};
    failed.value();
  });
  CHECK(end.signal == SIGABRT);
  CHECK(end.errors.find("shutting_down: stopping") != std::string::npos);
  auto fine = run_in_child([] {
    expected<void> ok;
    ok.value();
  });
  CHECK(fine.signal == 0);
  CHECK(fine.errors.empty());
}

TEST_CASE("the issue's case: *group->at(7) of a group of 4 aborts naming the "
          "index") {
  auto end = run_in_child([] {
    runtime rt;
    auto group = rt.create_group("workers", 4);
    if (!group)
      std::_Exit(3);
    auto r = *group->at(7);
    std::printf("%zu\n", r.index());
  });
  CHECK(end.signal == SIGABRT);
  CHECK(end.errors.find("varsync: operator* on an expected that holds an "
                        "error, not a value: unknown_group: ") == 0);
  CHECK(end.errors.find("7") != std::string::npos);
}

TEST_CASE("value_or gives the value, or the fallback for an error") {
  expected<int> good = 5;
  CHECK(good.value_or(-1) == 5);
  CHECK(failed_lookup().value_or(-1) == -1);
  expected<std::string> text = error{errc::timeout, "late"};
  CHECK(text.value_or("none") == "none");
  CHECK(std::move(text).value_or(std::string{"moved"}) == "moved");
}
