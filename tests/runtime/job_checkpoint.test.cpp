// Whole-job checkpoints (runtime::save(root) / runtime::restore(root,
// group), runtime/job_checkpoint.hpp): every variable round-trips by its
// policy's restore rule, a fresh runtime gets its variables back, and an
// incomplete or damaged newest checkpoint is skipped for the one before.

#include "runtime/job_checkpoint.hpp"

#include "runtime/checkpoint.hpp"
#include "tests/support/checks.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_root.hpp"

#include <atomic>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>
#include <varsync/varsync.hpp>

using namespace varsync;
namespace fs = std::filesystem;

namespace {

/// A fresh directory for one test.
struct temp_root : varsync::test::temp_root {
  temp_root() : varsync::test::temp_root("varsync-job-checkpoint") {}
};

variable_options with(synchronization sync, aggregation how) {
  variable_options options;
  options.sync = sync;
  options.aggregation = how;
  if (sync == synchronization::bounded_staleness)
    options.staleness_bound = 1;
  if (sync == synchronization::periodic)
    options.period = 2;
  return options;
}

/// Creates one variable of each policy with a cross-replica value in
/// group `group` of `rt` and sets them to `base` + their index.
std::vector<variable> make_job(runtime& rt, const replica_group& group,
                               double base) {
  std::vector<variable> vars;
  const std::vector<variable_options> all{
      with(synchronization::on_write, aggregation::mean),
      with(synchronization::on_read, aggregation::sum),
      with(synchronization::bounded_staleness, aggregation::sum),
      with(synchronization::periodic, aggregation::mean)};
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto var =
        rt.create_variable(group, "v" + std::to_string(i),
                           *tensor::filled(dtype::f64, {3}, 0.0), all[i]);
    VARSYNC_REQUIRE_OK(var);
    VARSYNC_REQUIRE_OK(rt.assign(
        *var, *tensor::filled(dtype::f64, {3}, base + static_cast<double>(i))));
    vars.push_back(*var);
  }
  return vars;
}

double first_of(runtime& rt, const variable& var) {
  auto value = rt.read(var);
  REQUIRE(value);
  return value->values<double>()[0];
}

} // namespace

TEST_CASE("save(root) then restore(root, group) brings every variable back") {
  temp_root root;
  runtime rt;
  auto group = rt.create_group("g", 4);
  VARSYNC_REQUIRE_OK(group);
  auto vars = make_job(rt, *group, 10.0);
  auto saved = rt.save(root.path);
  VARSYNC_REQUIRE_OK(saved);
  CHECK(fs::exists(*saved / "MANIFEST"));
  for (std::size_t i = 0; i < vars.size(); ++i)
    VARSYNC_REQUIRE_OK(
        rt.assign(vars[i], *tensor::filled(dtype::f64, {3}, -1.0)));
  auto restored = rt.restore(root.path, *group);
  VARSYNC_REQUIRE_OK(restored);
  CHECK(*restored == *saved);
  for (std::size_t i = 0; i < vars.size(); ++i) {
    CAPTURE(i);
    CHECK(first_of(rt, vars[i]) == 10.0 + static_cast<double>(i));
  }
  // on_read/sum: TF's restore rule gives each of the 4 copies value / 4.
  auto copy = group->at(0)->read(vars[1]);
  REQUIRE(copy);
  CHECK(copy->values<double>()[0] == 11.0 / 4);
}

TEST_CASE("a fresh runtime restores a job's variables, creating them with "
          "their saved options") {
  temp_root root;
  {
    runtime first;
    auto group = first.create_group("g", 2);
    VARSYNC_REQUIRE_OK(group);
    make_job(first, *group, 5.0);
    VARSYNC_REQUIRE_OK(first.save(root.path));
  }
  runtime second;
  auto group = second.create_group("g", 2);
  VARSYNC_REQUIRE_OK(group);
  VARSYNC_REQUIRE_OK(second.restore(root.path, *group));
  for (int i = 0; i < 4; ++i) {
    auto var = second.find_variable("v" + std::to_string(i));
    VARSYNC_REQUIRE_OK(var);
    CHECK(first_of(second, *var) == 5.0 + i);
  }
  auto on_read = second.find_variable("v1");
  REQUIRE(on_read);
  CHECK(on_read->options().sync == synchronization::on_read);
  CHECK(on_read->options().aggregation == aggregation::sum);
}

TEST_CASE("an incomplete or damaged newest checkpoint is skipped for the "
          "previous one; none at all is an error") {
  temp_root root;
  runtime rt;
  auto group = rt.create_group("g", 2);
  VARSYNC_REQUIRE_OK(group);
  CHECK(test::code_of(rt.restore(root.path, *group)) == errc::checkpoint_io);
  auto vars = make_job(rt, *group, 1.0);
  auto good = rt.save(root.path);
  VARSYNC_REQUIRE_OK(good);
  make_job(rt, *group, 2.0); // create-or-get: the same variables, new values
  SUBCASE("a crash before the manifest was written") {
    auto newer = rt.save(root.path);
    VARSYNC_REQUIRE_OK(newer);
    fs::remove(*newer / "MANIFEST");
  }
  SUBCASE("a damaged manifest") {
    auto newer = rt.save(root.path);
    VARSYNC_REQUIRE_OK(newer);
    std::fstream manifest{*newer / "MANIFEST",
                          std::ios::in | std::ios::out | std::ios::binary};
    manifest.seekp(30);
    manifest.put('#');
  }
  SUBCASE("a damaged variable file") {
    auto newer = rt.save(root.path);
    VARSYNC_REQUIRE_OK(newer);
    fs::resize_file(*newer / "v2.vsk", 20);
  }
  auto restored = rt.restore(root.path, *group);
  VARSYNC_REQUIRE_OK(restored);
  CHECK(*restored == *good);
  // All-or-nothing: every variable holds the good checkpoint's value, none
  // the damaged one's.
  for (std::size_t i = 0; i < vars.size(); ++i)
    CHECK(first_of(rt, vars[i]) == 1.0 + static_cast<double>(i));
}

TEST_CASE("a manifest round-trips and rejects what it cannot store") {
  temp_root root;
  fs::create_directories(root.path);
  checkpoint_manifest manifest;
  checkpoint_entry entry;
  entry.variable = "layer 1/weights";
  entry.group = "workers";
  entry.type = dtype::i64;
  entry.shape = {2, 0, 5};
  entry.options = with(synchronization::bounded_staleness, aggregation::mean);
  entry.options.trainable = false;
  entry.file = "v0.vsk";
  manifest.entries.push_back(entry);
  VARSYNC_REQUIRE_OK(write_manifest(root.path, manifest));
  auto read = read_manifest(root.path);
  VARSYNC_REQUIRE_OK(read);
  REQUIRE(read->entries.size() == 1);
  const auto& back = read->entries.front();
  CHECK(back.variable == entry.variable);
  CHECK(back.group == entry.group);
  CHECK(back.type == entry.type);
  CHECK(back.shape == entry.shape);
  CHECK(back.options == entry.options);
  CHECK(back.file == entry.file);
  manifest.entries.front().variable = "two\tfields";
  CHECK(test::code_of(write_manifest(root.path, manifest)) ==
        errc::invalid_argument);
}

TEST_CASE("varsync checkpoint inspect lists what a checkpoint holds and "
          "flags a damaged file") {
  temp_root root;
  runtime rt;
  auto group = rt.create_group("g", 2);
  VARSYNC_REQUIRE_OK(group);
  make_job(rt, *group, 1.0);
  auto saved = rt.save(root.path);
  VARSYNC_REQUIRE_OK(saved);
  auto inspect = [&root] {
    auto process = test::child_process::start(
        test::binary_path(VARSYNC_BINARY_DIR, "varsync"),
        {"checkpoint", "inspect", root.path.string()});
    REQUIRE(process);
    auto exit = process->wait(std::chrono::seconds{30});
    REQUIRE(exit);
    return std::pair{*exit, process->output()};
  };
  auto [status, shown] = inspect();
  CHECK(status == test::exit_status::exited_with(0));
  CHECK_MESSAGE(test::contains(shown, "checkpoint-000001  4 variable(s)"),
                shown);
  CHECK_MESSAGE(test::contains(shown, "v1  group g  f64[3]  on_read/sum"),
                shown);
  fs::resize_file(*saved / "v3.vsk", 10);
  std::tie(status, shown) = inspect();
  CHECK(status == test::exit_status::exited_with(1));
  CHECK_MESSAGE(test::contains(shown, "v3.vsk  BAD: "), shown);
}

TEST_CASE("a seed with --checkpoint-dir saves every --checkpoint-every and "
          "keeps the newest --checkpoint-keep") {
  temp_root root;
  node_config config;
  VARSYNC_REQUIRE_OK(config.set("checkpoint-dir", root.path.string()));
  VARSYNC_REQUIRE_OK(config.set("checkpoint-every", "20ms"));
  VARSYNC_REQUIRE_OK(config.set("checkpoint-keep", "2"));
  CHECK(test::code_of(config.set("checkpoint-keep", "0")) ==
        errc::invalid_argument);
  auto rt = runtime::start(config);
  VARSYNC_REQUIRE_OK(rt);
  auto group = (*rt)->create_group("g", 2);
  VARSYNC_REQUIRE_OK(group);
  make_job(**rt, *group, 3.0);
  // Waits (bounded) until the fifth automatic save started.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (checkpoint_numbers(root.path).empty() ||
         checkpoint_numbers(root.path).back() < 5) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  rt->reset(); // stops the saver (a save in progress ends first)
  std::size_t complete = 0;
  for (auto number : checkpoint_numbers(root.path))
    complete +=
        read_manifest(checkpoint_directory(root.path, number)).has_value();
  CHECK(complete >= 1);
  CHECK(complete <= 3); // 2 kept, + one saved after the last prune
  runtime fresh;
  auto again = fresh.create_group("g", 2);
  VARSYNC_REQUIRE_OK(again);
  VARSYNC_REQUIRE_OK(fresh.restore(root.path, *again));
  auto var = fresh.find_variable("v0");
  VARSYNC_REQUIRE_OK(var);
  CHECK(first_of(fresh, *var) == 3.0);
}

TEST_CASE("--checkpoint-every 5steps saves once a variable made 5 more steps "
          "since the last save") {
  temp_root root;
  node_config config;
  VARSYNC_REQUIRE_OK(config.set("checkpoint-dir", root.path.string()));
  VARSYNC_REQUIRE_OK(config.set("checkpoint-every", "5steps"));
  REQUIRE(config.checkpoint_every_steps == 5u);
  CHECK(test::code_of(config.set("checkpoint-every", "0steps")) ==
        errc::invalid_argument);
  CHECK(test::code_of(config.set("checkpoint-every", "xsteps")) ==
        errc::invalid_argument);
  auto rt = runtime::start(config);
  VARSYNC_REQUIRE_OK(rt);
  auto group = (*rt)->create_group("g", 2);
  VARSYNC_REQUIRE_OK(group);
  variable_options counting;
  counting.sync = synchronization::on_write;
  counting.aggregation = aggregation::sum;
  auto var = (*rt)->create_variable(*group, "steps", tensor(0.0), counting);
  VARSYNC_REQUIRE_OK(var);
  // The saved values, oldest first, of the complete checkpoints.
  auto saved_values = [&] {
    std::vector<double> values;
    for (auto number : checkpoint_numbers(root.path)) {
      auto directory = checkpoint_directory(root.path, number);
      auto manifest = read_manifest(directory);
      if (!manifest || manifest->entries.size() != 1)
        continue;
      const auto& entry = manifest->entries[0];
      auto value = read_checkpoint(directory / entry.file, entry.variable,
                                   entry.type, entry.shape);
      if (value)
        values.push_back(value->template values<double>()[0]);
    }
    return values;
  };
  // Each cross-replica update is one version: the value is the version.
  auto step = [&](int count) {
    for (int i = 0; i < count; ++i)
      VARSYNC_REQUIRE_OK((*rt)->assign_add(*var, tensor(1.0)));
  };
  // Waits (bounded) until the newest complete save holds `value`.
  auto wait_for_save = [&](double value) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
    while (saved_values().empty() || saved_values().back() != value) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
    }
  };
  step(5);
  wait_for_save(5);
  step(4); // 9: not yet 5 more than the last save
  step(1);
  wait_for_save(10);
  rt->reset();
  // Exactly the two saves that were due; none in between.
  CHECK(saved_values() == std::vector<double>{5, 10});
}
