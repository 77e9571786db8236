// The TensorFlow rules of DESIGN.md ("TF rules that are tests"), one test
// case per rule, each run for groups of 1, 2, 4 and 8 replicas and for every
// dtype the rule applies to (mean never applies to i64). Only the public API
// is used. Replica-context on_write updates are collectives, so every
// replica's call runs on its own thread (`run_on_replicas`).
//
// All values in these rules (small integers and halves) are exactly
// representable in f32, f64 and i64, so results are compared exactly.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <array>
#include <cstddef>
#include <doctest/doctest.h>
#include <filesystem>
#include <string>
#include <system_error>
#include <unistd.h>
#include <varsync/varsync.hpp>
#include <vector>

using namespace varsync;
using varsync::test::code_of;
using varsync::test::contains;
using varsync::test::message_of;
using varsync::test::options_of;
using varsync::test::replicas_of;
using varsync::test::run_on_replicas;
using varsync::test::scalar;

namespace {

constexpr std::array<std::size_t, 4> replica_counts{1, 2, 4, 8};

constexpr std::array<dtype, 3> all_dtypes{dtype::f32, dtype::f64, dtype::i64};

/// The dtypes `how` may be used with: mean excludes the integer dtypes.
std::vector<dtype> dtypes_for(aggregation how) {
  std::vector<dtype> result;
  for (auto type : all_dtypes)
    if (how != aggregation::mean || !is_integer(type))
      result.push_back(type);
  return result;
}

/// One runtime per test case; one group per group size.
struct fixture {
  runtime rt;

  replica_group group_of(std::size_t replicas) {
    auto group = rt.create_group("group" + std::to_string(replicas), replicas);
    VARSYNC_REQUIRE_OK(group);
    REQUIRE_EQ(group->size(), replicas);
    return *group;
  }

  variable make(const replica_group& group, const std::string& name,
                const tensor& initial, variable_options options) {
    auto var = rt.create_variable(group, name, initial, options);
    VARSYNC_REQUIRE_OK(var);
    return *var;
  }
};

/// A variable name unique per rule, group size, dtype and aggregation.
std::string name_for(const std::string& rule, std::size_t replicas, dtype type,
                     aggregation how = aggregation::none) {
  return rule + "_r" + std::to_string(replicas) + "_" + to_string(type) + "_" +
         to_string(how);
}

/// Every replica's local copy and the cross-replica read equal `expected`.
void require_everywhere(runtime& rt, const replica_group& group,
                        const variable& var, double expected) {
  for (auto& r : replicas_of(group)) {
    CAPTURE(r.index());
    auto local = r.read(var);
    VARSYNC_REQUIRE_OK(local);
    CHECK_EQ(local->type(), var.type());
    CHECK_EQ(local->to_double(), expected);
  }
  auto cross = rt.read(var);
  VARSYNC_REQUIRE_OK(cross);
  CHECK_EQ(cross->to_double(), expected);
}

/// A fresh path in the temp directory, removed when the guard goes away.
struct temp_file {
  std::filesystem::path path;

  explicit temp_file(const std::string& stem)
      : path(std::filesystem::temp_directory_path() /
             ("varsync_tf_rules_" + std::to_string(::getpid()) + "_" + stem +
              ".ckpt")) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }

  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }

  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
};

} // namespace

TEST_CASE("tf rule: defaults are automatic synchronization and aggregation "
          "none") {
  variable_options defaults;
  CHECK_EQ(defaults.sync, synchronization::automatic);
  CHECK_EQ(defaults.aggregation, aggregation::none);
  CHECK_FALSE(defaults.trainable.has_value());
  CHECK_EQ(defaults.staleness_bound, 0u);
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    for (auto type : all_dtypes) {
      CAPTURE(type);
      auto var = f.make(group, name_for("defaults", replicas, type),
                        scalar(type, 1.0), {});
      // As given by the creator.
      CHECK_EQ(var.requested_options().sync, synchronization::automatic);
      CHECK_EQ(var.requested_options().aggregation, aggregation::none);
      // In effect: automatic resolves to on_write (as in TF), trainable
      // defaults to true for on_write.
      CHECK_EQ(var.options().sync, synchronization::on_write);
      CHECK_EQ(var.options().aggregation, aggregation::none);
      CHECK_EQ(var.options().trainable, std::optional<bool>{true});
      CHECK_EQ(var.type(), type);
      CHECK(var.shape().empty());
      CHECK_EQ(var.group_size(), replicas);
      auto description = var.description();
      CAPTURE(description);
      CHECK(contains(description, var.name()));
      CHECK(contains(description, "on_write"));
      CHECK(contains(description, "automatic"));
      require_everywhere(f.rt, group, var, 1.0);
    }
  }
}

TEST_CASE("tf rule: mean aggregation on an integer dtype is an error at "
          "creation") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    for (auto sync : {synchronization::automatic, synchronization::on_write,
                      synchronization::on_read}) {
      CAPTURE(sync);
      variable_options options;
      options.sync = sync;
      options.aggregation = aggregation::mean;
      auto name = std::string{"mean_i64_r"} + std::to_string(replicas) + "_" +
                  to_string(sync);
      auto var =
          f.rt.create_variable(group, name, scalar(dtype::i64, 1.0), options);
      REQUIRE_FALSE(var.has_value());
      CHECK_EQ(code_of(var), errc::invalid_policy);
      auto message = message_of(var);
      CAPTURE(message);
      CHECK(contains(message, "mean"));
      CHECK(contains(message, "i64"));
      CHECK(contains(message, name));
      // Nothing was created under that name.
      CHECK_EQ(code_of(f.rt.find_variable(name)), errc::unknown_variable);
      // The floating-point dtypes accept mean.
      for (auto type : {dtype::f32, dtype::f64}) {
        CAPTURE(type);
        auto ok = f.rt.create_variable(group, name + "_" + to_string(type),
                                       scalar(type, 1.0), options);
        VARSYNC_CHECK_OK(ok);
      }
    }
  }
}

TEST_CASE("tf rule: on_write per-replica assign of 2.0 gives 2.0 times R with "
          "sum and 2.0 with mean") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    for (auto how : {aggregation::sum, aggregation::mean}) {
      CAPTURE(how);
      for (auto type : dtypes_for(how)) {
        CAPTURE(type);
        auto var = f.make(group, name_for("assign2", replicas, type, how),
                          scalar(type, 0.0),
                          options_of(synchronization::on_write, how));
        run_on_replicas(group, [&](replica& r) {
          auto done = r.assign(var, scalar(type, 2.0));
          VARSYNC_CHECK_OK(done);
        });
        auto expected =
            how == aggregation::sum ? 2.0 * static_cast<double>(replicas) : 2.0;
        require_everywhere(f.rt, group, var, expected);
      }
    }
  }
}

TEST_CASE("tf rule: on_write mean of 5.0 after every replica adds 1.0 is 6.0 "
          "at every replica") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    for (auto type : dtypes_for(aggregation::mean)) {
      CAPTURE(type);
      auto var =
          f.make(group, name_for("add1", replicas, type, aggregation::mean),
                 scalar(type, 5.0),
                 options_of(synchronization::on_write, aggregation::mean));
      run_on_replicas(group, [&](replica& r) {
        auto done = r.assign_add(var, scalar(type, 1.0));
        VARSYNC_CHECK_OK(done);
        // A completed update is visible to the caller's next read.
        auto mine = r.read(var);
        VARSYNC_REQUIRE_OK(mine);
        CHECK_EQ(mine->to_double(), 6.0);
      });
      require_everywhere(f.rt, group, var, 6.0);
    }
  }
}

TEST_CASE("tf rule: on_write only_first_replica with each replica assigning "
          "its index gives 0 everywhere") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    for (auto type : dtypes_for(aggregation::only_first_replica)) {
      CAPTURE(type);
      auto var = f.make(
          group,
          name_for("first", replicas, type, aggregation::only_first_replica),
          scalar(type, 42.0),
          options_of(synchronization::on_write,
                     aggregation::only_first_replica));
      run_on_replicas(group, [&](replica& r) {
        auto done = r.assign(var, scalar(type, static_cast<double>(r.index())));
        VARSYNC_CHECK_OK(done);
      });
      require_everywhere(f.rt, group, var, 0.0);
    }
  }
}

TEST_CASE("tf rule: on_read copies are local and a cross-replica read gives "
          "sum R(R-1)/2, mean (R-1)/2 and only_first_replica 0") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    auto n = static_cast<double>(replicas);
    for (auto how : {aggregation::sum, aggregation::mean,
                     aggregation::only_first_replica}) {
      CAPTURE(how);
      for (auto type : dtypes_for(how)) {
        CAPTURE(type);
        auto var = f.make(group, name_for("on_read", replicas, type, how),
                          scalar(type, 0.0),
                          options_of(synchronization::on_read, how));
        run_on_replicas(group, [&](replica& r) {
          auto done =
              r.assign(var, scalar(type, static_cast<double>(r.index())));
          VARSYNC_CHECK_OK(done);
        });
        // Each replica reads its own copy: its index.
        for (auto& r : replicas_of(group)) {
          CAPTURE(r.index());
          auto local = r.read(var);
          VARSYNC_REQUIRE_OK(local);
          CHECK_EQ(local->to_double(), static_cast<double>(r.index()));
        }
        auto cross = f.rt.read(var);
        VARSYNC_REQUIRE_OK(cross);
        CHECK_EQ(cross->type(), type);
        double expected = 0.0;
        if (how == aggregation::sum)
          expected = n * (n - 1) / 2;
        else if (how == aggregation::mean)
          expected = (n - 1) / 2;
        CHECK_EQ(cross->to_double(), expected);
        // Reading across replicas does not change any copy.
        for (auto& r : replicas_of(group)) {
          CAPTURE(r.index());
          auto local = r.read(var);
          VARSYNC_REQUIRE_OK(local);
          CHECK_EQ(local->to_double(), static_cast<double>(r.index()));
        }
      }
    }
  }
}

// min and max extend TF's aggregations the obvious way: a replica-context
// on_write update applies the elementwise extreme of the replicas'
// operands; a cross-replica read of an on_read variable is the extreme of
// the copies; every dtype, integers included.

TEST_CASE("tf rule: on_write min and max with each replica assigning its "
          "index give 0 and R-1 everywhere; adding index+1 adds 1 and R") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    auto n = static_cast<double>(replicas);
    for (auto how : {aggregation::min, aggregation::max}) {
      CAPTURE(how);
      for (auto type : dtypes_for(how)) {
        CAPTURE(type);
        auto var = f.make(group, name_for("extreme", replicas, type, how),
                          scalar(type, 42.0),
                          options_of(synchronization::on_write, how));
        run_on_replicas(group, [&](replica& r) {
          VARSYNC_CHECK_OK(
              r.assign(var, scalar(type, static_cast<double>(r.index()))));
        });
        auto assigned = how == aggregation::min ? 0.0 : n - 1;
        require_everywhere(f.rt, group, var, assigned);
        run_on_replicas(group, [&](replica& r) {
          VARSYNC_CHECK_OK(r.assign_add(
              var, scalar(type, static_cast<double>(r.index()) + 1)));
        });
        require_everywhere(f.rt, group, var,
                           assigned + (how == aggregation::min ? 1.0 : n));
      }
    }
  }
}

TEST_CASE("tf rule: on_read min and max: a cross-replica read gives the "
          "extreme of the copies; a cross-replica assign or add moves every "
          "copy") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    auto n = static_cast<double>(replicas);
    for (auto how : {aggregation::min, aggregation::max}) {
      CAPTURE(how);
      for (auto type : dtypes_for(how)) {
        CAPTURE(type);
        auto var = f.make(
            group, name_for("on_read_extreme", replicas, type, how),
            scalar(type, 0.0), options_of(synchronization::on_read, how));
        run_on_replicas(group, [&](replica& r) {
          VARSYNC_CHECK_OK(r.assign(
              var, scalar(type, 10.0 - static_cast<double>(r.index()))));
        });
        auto cross = f.rt.read(var);
        VARSYNC_REQUIRE_OK(cross);
        CHECK_EQ(cross->type(), type);
        CHECK_EQ(cross->to_double(), how == aggregation::min ? 11.0 - n : 10.0);
        // Every copy moves by the delta: so does their extreme.
        VARSYNC_REQUIRE_OK(f.rt.assign_add(var, scalar(type, 3.0)));
        cross = f.rt.read(var);
        VARSYNC_REQUIRE_OK(cross);
        CHECK_EQ(cross->to_double(), how == aggregation::min ? 14.0 - n : 13.0);
        VARSYNC_REQUIRE_OK(f.rt.assign(var, scalar(type, -7.0)));
        for (auto& r : replicas_of(group)) {
          CAPTURE(r.index());
          auto local = r.read(var);
          VARSYNC_REQUIRE_OK(local);
          CHECK_EQ(local->to_double(), -7.0);
        }
      }
    }
  }
}

TEST_CASE("tf rule: min and max are refused at creation for bounded_staleness "
          "and periodic, naming the policy and the aggregation") {
  fixture f;
  auto group = f.group_of(2);
  for (auto sync :
       {synchronization::bounded_staleness, synchronization::periodic}) {
    for (auto how : {aggregation::min, aggregation::max}) {
      CAPTURE(sync);
      CAPTURE(how);
      auto options = options_of(sync, how);
      if (sync == synchronization::periodic)
        options.period = 2;
      auto name =
          std::string{"refused_"} + to_string(sync) + "_" + to_string(how);
      auto var =
          f.rt.create_variable(group, name, scalar(dtype::i64, 0.0), options);
      REQUIRE_FALSE(var.has_value());
      CHECK_EQ(code_of(var), errc::invalid_policy);
      auto message = message_of(var);
      CAPTURE(message);
      CHECK(contains(message, to_string(sync)));
      CHECK(contains(message, to_string(how)));
      CHECK(contains(message, name));
      CHECK_EQ(code_of(f.rt.find_variable(name)), errc::unknown_variable);
    }
  }
}

TEST_CASE("tf rule: a checkpoint of an on_read variable saves the aggregated "
          "value and restoring into on_read sum divides it by R") {
  // DESIGN states it for two copies holding 3 and 4: sum saves 7, mean 3.5.
  // Generalized: copy i holds 3 + i, so sum saves 3R + R(R-1)/2 and mean
  // saves 3 + (R-1)/2.
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    auto n = static_cast<double>(replicas);
    for (auto how : {aggregation::sum, aggregation::mean}) {
      CAPTURE(how);
      for (auto type : dtypes_for(how)) {
        CAPTURE(type);
        auto name = name_for("ckpt", replicas, type, how);
        auto source = f.make(group, name, scalar(type, 0.0),
                             options_of(synchronization::on_read, how));
        run_on_replicas(group, [&](replica& r) {
          auto done = r.assign(
              source, scalar(type, 3.0 + static_cast<double>(r.index())));
          VARSYNC_CHECK_OK(done);
        });
        auto saved_value = how == aggregation::sum ? 3.0 * n + n * (n - 1) / 2
                                                   : 3.0 + (n - 1) / 2;
        if (replicas == 2)
          CHECK_EQ(saved_value, how == aggregation::sum ? 7.0 : 3.5);
        temp_file file{name};
        auto saved = f.rt.save(source, file.path);
        VARSYNC_REQUIRE_OK(saved);
        // Saving does not change the copies.
        for (auto& r : replicas_of(group)) {
          CAPTURE(r.index());
          auto local = r.read(source);
          VARSYNC_REQUIRE_OK(local);
          CHECK_EQ(local->to_double(), 3.0 + static_cast<double>(r.index()));
        }
        // A checkpoint is restored into a variable of the same name, as in
        // a new program: here a fresh runtime with a group of the same size.
        // What the file holds, seen through an on_write variable: restore
        // assigns it once in cross-replica context.
        {
          fixture fresh;
          auto fresh_group = fresh.group_of(replicas);
          auto probe = fresh.make(
              fresh_group, name, scalar(type, 0.0),
              options_of(synchronization::on_write, aggregation::sum));
          auto restored = fresh.rt.restore(probe, file.path);
          VARSYNC_REQUIRE_OK(restored);
          require_everywhere(fresh.rt, fresh_group, probe, saved_value);
        }
        // Restoring into a fresh on_read variable of the same aggregation:
        // sum writes value / R into every copy (so a sum-read returns the
        // value), mean writes the value into every copy. For i64 value / R
        // is not exact (7 / 2), so the restore half runs for f32 and f64.
        if (is_integer(type))
          continue;
        fixture fresh;
        auto fresh_group = fresh.group_of(replicas);
        auto target = fresh.make(fresh_group, name, scalar(type, 0.0),
                                 options_of(synchronization::on_read, how));
        auto restored = fresh.rt.restore(target, file.path);
        VARSYNC_REQUIRE_OK(restored);
        auto per_copy = how == aggregation::sum ? saved_value / n : saved_value;
        for (auto& r : replicas_of(fresh_group)) {
          CAPTURE(r.index());
          auto local = r.read(target);
          VARSYNC_REQUIRE_OK(local);
          CHECK_EQ(local->to_double(), per_copy);
        }
        auto cross = fresh.rt.read(target);
        VARSYNC_REQUIRE_OK(cross);
        CHECK_EQ(cross->to_double(), saved_value);
      }
    }
  }
}

TEST_CASE("tf rule: on_write cross-replica assign, assign_add and assign_sub "
          "apply once and are visible at every replica") {
  fixture f;
  for (auto replicas : replica_counts) {
    CAPTURE(replicas);
    auto group = f.group_of(replicas);
    for (auto how : {aggregation::none, aggregation::sum, aggregation::mean,
                     aggregation::only_first_replica}) {
      CAPTURE(how);
      for (auto type : dtypes_for(how)) {
        CAPTURE(type);
        auto var = f.make(group, name_for("cross", replicas, type, how),
                          scalar(type, 1.0),
                          options_of(synchronization::on_write, how));
        auto assigned = f.rt.assign(var, scalar(type, 10.0));
        VARSYNC_REQUIRE_OK(assigned);
        require_everywhere(f.rt, group, var, 10.0);
        auto added = f.rt.assign_add(var, scalar(type, 3.0));
        VARSYNC_REQUIRE_OK(added);
        require_everywhere(f.rt, group, var, 13.0);
        auto subtracted = f.rt.assign_sub(var, scalar(type, 5.0));
        VARSYNC_REQUIRE_OK(subtracted);
        require_everywhere(f.rt, group, var, 8.0);
      }
    }
  }
}
