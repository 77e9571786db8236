// Invalid options, wrong contexts and bad operands: every one is an error
// value with the documented code and a message naming what went wrong, and
// none of them changes any replica's value. Only the public API is used.

#include "tests/support/checks.hpp"
#include "tests/support/replica_threads.hpp"

#include <array>
#include <cstddef>
#include <doctest/doctest.h>
#include <filesystem>
#include <string>
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

replica_group make_group(runtime& rt, const std::string& name,
                         std::size_t replicas) {
  auto group = rt.create_group(name, replicas);
  VARSYNC_REQUIRE_OK(group);
  return *group;
}

variable make_variable(runtime& rt, const replica_group& group,
                       const std::string& name, const tensor& initial,
                       variable_options options) {
  auto var = rt.create_variable(group, name, initial, options);
  VARSYNC_REQUIRE_OK(var);
  return *var;
}

tensor vector_of(std::vector<double> values) {
  return tensor(values);
}

/// Every replica's copy of `var` equals `expected` (bit for bit).
void require_copies(const replica_group& group, const variable& var,
                    const std::vector<tensor>& expected) {
  auto handles = replicas_of(group);
  REQUIRE_EQ(handles.size(), expected.size());
  for (auto& r : handles) {
    CAPTURE(r.index());
    auto local = r.read(var);
    VARSYNC_REQUIRE_OK(local);
    CHECK_EQ(*local, expected[r.index()]);
  }
}

/// Every replica's copy of `var` equals `expected`.
void require_copies(const replica_group& group, const variable& var,
                    const tensor& expected) {
  require_copies(group, var, std::vector<tensor>(group.size(), expected));
}

} // namespace

TEST_CASE("on_read with trainable true is an invalid policy naming on_read "
          "and trainable") {
  runtime rt;
  auto group = make_group(rt, "workers", 2);
  variable_options options;
  options.sync = synchronization::on_read;
  options.aggregation = aggregation::sum;
  options.trainable = true;
  auto var =
      rt.create_variable(group, "metric", scalar(dtype::f32, 0.0), options);
  REQUIRE_FALSE(var.has_value());
  CHECK_EQ(code_of(var), errc::invalid_policy);
  auto message = message_of(var);
  CAPTURE(message);
  CHECK(contains(message, "on_read"));
  CHECK(contains(message, "trainable"));
  CHECK(contains(message, "metric"));
  CHECK_EQ(code_of(rt.find_variable("metric")), errc::unknown_variable);
  // The same check without a runtime.
  auto resolved = resolve(options, dtype::f32, "metric");
  CHECK_EQ(code_of(resolved), errc::invalid_policy);
  SUBCASE("trainable unset resolves to false for on_read") {
    options.trainable.reset();
    auto ok =
        rt.create_variable(group, "metric", scalar(dtype::f32, 0.0), options);
    VARSYNC_REQUIRE_OK(ok);
    CHECK_EQ(ok->options().trainable, std::optional<bool>{false});
  }
  SUBCASE("trainable false is allowed for on_read") {
    options.trainable = false;
    auto ok =
        rt.create_variable(group, "metric", scalar(dtype::f32, 0.0), options);
    VARSYNC_CHECK_OK(ok);
  }
}

TEST_CASE("mean aggregation on i64 is an invalid policy naming mean and i64") {
  runtime rt;
  auto group = make_group(rt, "workers", 2);
  for (auto sync : {synchronization::automatic, synchronization::on_write,
                    synchronization::on_read}) {
    CAPTURE(sync);
    variable_options options;
    options.sync = sync;
    options.aggregation = aggregation::mean;
    auto name = std::string{"count_"} + to_string(sync);
    auto var =
        rt.create_variable(group, name, scalar(dtype::i64, 0.0), options);
    REQUIRE_FALSE(var.has_value());
    CHECK_EQ(code_of(var), errc::invalid_policy);
    auto message = message_of(var);
    CAPTURE(message);
    CHECK(contains(message, "mean"));
    CHECK(contains(message, "i64"));
    CHECK(contains(message, name));
    auto resolved = resolve(options, dtype::i64, name);
    CHECK_EQ(code_of(resolved), errc::invalid_policy);
  }
}

TEST_CASE("a none variable used from cross-replica context is wrong_context "
          "naming the variable") {
  runtime rt;
  auto group = make_group(rt, "workers", 2);
  auto var = make_variable(rt, group, "scratch", scalar(dtype::f64, 1.0),
                           options_of(synchronization::none));
  // Each replica's copy is independent.
  auto handles = replicas_of(group);
  VARSYNC_REQUIRE_OK(handles[1].assign(var, scalar(dtype::f64, 7.0)));
  require_copies(
      group, var,
      std::vector<tensor>{scalar(dtype::f64, 1.0), scalar(dtype::f64, 7.0)});
  auto check_wrong_context = [&](const auto& result, const std::string& call) {
    CAPTURE(call);
    CHECK_EQ(code_of(result), errc::wrong_context);
    auto message = message_of(result);
    CAPTURE(message);
    CHECK(contains(message, "scratch"));
  };
  check_wrong_context(rt.read(var), "read");
  check_wrong_context(rt.assign(var, scalar(dtype::f64, 2.0)), "assign");
  check_wrong_context(rt.assign_add(var, scalar(dtype::f64, 2.0)),
                      "assign_add");
  check_wrong_context(rt.assign_sub(var, scalar(dtype::f64, 2.0)),
                      "assign_sub");
  require_copies(
      group, var,
      std::vector<tensor>{scalar(dtype::f64, 1.0), scalar(dtype::f64, 7.0)});
}

TEST_CASE("cross-replica assign_add and assign_sub of an on_read sum variable "
          "are wrong_context") {
  runtime rt;
  auto group = make_group(rt, "workers", 2);
  auto var =
      make_variable(rt, group, "loss_total", scalar(dtype::f64, 0.0),
                    options_of(synchronization::on_read, aggregation::sum));
  run_on_replicas(group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign(
        var, scalar(dtype::f64, 1.0 + static_cast<double>(r.index()))));
  });
  auto added = rt.assign_add(var, scalar(dtype::f64, 1.0));
  CHECK_EQ(code_of(added), errc::wrong_context);
  CHECK(contains(message_of(added), "loss_total"));
  auto subtracted = rt.assign_sub(var, scalar(dtype::f64, 1.0));
  CHECK_EQ(code_of(subtracted), errc::wrong_context);
  CHECK(contains(message_of(subtracted), "loss_total"));
  require_copies(
      group, var,
      std::vector<tensor>{scalar(dtype::f64, 1.0), scalar(dtype::f64, 2.0)});
  SUBCASE("with mean the delta is applied to every copy") {
    auto averaged =
        make_variable(rt, group, "loss_mean", scalar(dtype::f64, 0.0),
                      options_of(synchronization::on_read, aggregation::mean));
    run_on_replicas(group, [&](replica& r) {
      VARSYNC_CHECK_OK(r.assign(
          averaged, scalar(dtype::f64, 1.0 + static_cast<double>(r.index()))));
    });
    VARSYNC_REQUIRE_OK(rt.assign_add(averaged, scalar(dtype::f64, 10.0)));
    require_copies(group, averaged,
                   std::vector<tensor>{scalar(dtype::f64, 11.0),
                                       scalar(dtype::f64, 12.0)});
    VARSYNC_REQUIRE_OK(rt.assign_sub(averaged, scalar(dtype::f64, 1.0)));
    require_copies(group, averaged,
                   std::vector<tensor>{scalar(dtype::f64, 10.0),
                                       scalar(dtype::f64, 11.0)});
  }
}

TEST_CASE("an on_write replica-context update with aggregation none is "
          "aggregation_required when R > 1 and allowed when R = 1") {
  runtime rt;
  for (std::size_t replicas : {2u, 4u}) {
    CAPTURE(replicas);
    auto group = make_group(rt, "group" + std::to_string(replicas), replicas);
    auto name = "weights" + std::to_string(replicas);
    auto var = make_variable(rt, group, name, scalar(dtype::f32, 1.0),
                             options_of(synchronization::on_write));
    CHECK_EQ(var.options().aggregation, aggregation::none);
    // Every replica makes the call, as a collective would need.
    run_on_replicas(group, [&](replica& r) {
      CAPTURE(r.index());
      auto assigned = r.assign(var, scalar(dtype::f32, 2.0));
      CHECK_EQ(code_of(assigned), errc::aggregation_required);
      CHECK(contains(message_of(assigned), name));
      auto added = r.assign_add(var, scalar(dtype::f32, 2.0));
      CHECK_EQ(code_of(added), errc::aggregation_required);
      auto subtracted = r.assign_sub(var, scalar(dtype::f32, 2.0));
      CHECK_EQ(code_of(subtracted), errc::aggregation_required);
    });
    require_copies(group, var, scalar(dtype::f32, 1.0));
    // Cross-replica updates need no aggregation.
    VARSYNC_REQUIRE_OK(rt.assign(var, scalar(dtype::f32, 5.0)));
    require_copies(group, var, scalar(dtype::f32, 5.0));
  }
  auto single = make_group(rt, "single", 1);
  auto var = make_variable(rt, single, "solo", scalar(dtype::f32, 1.0), {});
  auto handles = replicas_of(single);
  VARSYNC_REQUIRE_OK(handles[0].assign(var, scalar(dtype::f32, 3.0)));
  VARSYNC_REQUIRE_OK(handles[0].assign_add(var, scalar(dtype::f32, 2.0)));
  VARSYNC_REQUIRE_OK(handles[0].assign_sub(var, scalar(dtype::f32, 1.0)));
  require_copies(single, var, scalar(dtype::f32, 4.0));
}

TEST_CASE("creating a variable whose name exists with other options is "
          "already_exists and leaves the first variable unchanged") {
  runtime rt;
  auto group = make_group(rt, "workers", 2);
  auto other_group = make_group(rt, "others", 2);
  auto options = options_of(synchronization::on_write, aggregation::sum);
  auto first = make_variable(rt, group, "w", vector_of({1.0, 2.0}), options);
  run_on_replicas(group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign_add(first, vector_of({1.0, 1.0})));
  });
  auto value_before = vector_of({3.0, 4.0});
  require_copies(group, first, value_before);
  auto check_refused = [&](const expected<variable>& result,
                           const std::string& difference) {
    CAPTURE(difference);
    CHECK_EQ(code_of(result), errc::already_exists);
    auto message = message_of(result);
    CAPTURE(message);
    CHECK(contains(message, "w"));
  };
  SUBCASE("other synchronization") {
    auto changed = options;
    changed.sync = synchronization::on_read;
    check_refused(
        rt.create_variable(group, "w", vector_of({0.0, 0.0}), changed),
        "synchronization");
  }
  SUBCASE("other aggregation") {
    auto changed = options;
    changed.aggregation = aggregation::mean;
    check_refused(
        rt.create_variable(group, "w", vector_of({1.0, 2.0}), changed),
        "aggregation");
  }
  SUBCASE("other trainable flag") {
    auto changed = options;
    changed.trainable = false;
    check_refused(
        rt.create_variable(group, "w", vector_of({1.0, 2.0}), changed),
        "trainable");
  }
  SUBCASE("other dtype") {
    check_refused(rt.create_variable(group, "w", tensor{1.0f, 2.0f}, options),
                  "dtype");
  }
  SUBCASE("other shape") {
    check_refused(
        rt.create_variable(group, "w", vector_of({1.0, 2.0, 3.0}), options),
        "shape");
  }
  SUBCASE("other group") {
    check_refused(
        rt.create_variable(other_group, "w", vector_of({1.0, 2.0}), options),
        "group");
  }
  auto found = rt.find_variable("w");
  VARSYNC_REQUIRE_OK(found);
  CHECK(*found == first);
  CHECK_EQ(found->options().sync, synchronization::on_write);
  CHECK_EQ(found->options().aggregation, aggregation::sum);
  CHECK_EQ(found->type(), dtype::f64);
  CHECK_EQ(found->shape(), shape_type{2});
  CHECK_EQ(found->group_name(), "workers");
  require_copies(group, first, value_before);
  // The first variable still works as a collective.
  run_on_replicas(group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign_add(first, vector_of({1.0, 1.0})));
  });
  require_copies(group, first, vector_of({5.0, 6.0}));
}

TEST_CASE("creating a variable whose name exists with the same options "
          "returns the existing variable") {
  runtime rt;
  auto group = make_group(rt, "workers", 2);
  auto options = options_of(synchronization::on_write, aggregation::mean);
  auto first =
      make_variable(rt, group, "bias", scalar(dtype::f64, 1.0), options);
  run_on_replicas(group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign(first, scalar(dtype::f64, 4.0)));
  });
  // Same dtype, shape, group and options: create-or-get. The initial value
  // of the second call does not reset the existing variable.
  auto second =
      rt.create_variable(group, "bias", scalar(dtype::f64, 1.0), options);
  VARSYNC_REQUIRE_OK(second);
  CHECK(*second == first);
  CHECK_EQ(second->name(), "bias");
  require_copies(group, *second, scalar(dtype::f64, 4.0));
  // An update through one handle is seen through the other.
  run_on_replicas(group, [&](replica& r) {
    VARSYNC_CHECK_OK(r.assign_add(*second, scalar(dtype::f64, 1.0)));
  });
  require_copies(group, first, scalar(dtype::f64, 5.0));
}

TEST_CASE("an update with the wrong dtype or shape is rejected and leaves "
          "every replica's value unchanged") {
  runtime rt;
  for (std::size_t replicas : {1u, 2u, 4u}) {
    CAPTURE(replicas);
    auto group = make_group(rt, "group" + std::to_string(replicas), replicas);
    for (auto sync : {synchronization::on_write, synchronization::on_read,
                      synchronization::none}) {
      CAPTURE(sync);
      variable_options options;
      options.sync = sync;
      options.aggregation =
          sync == synchronization::none ? aggregation::none : aggregation::sum;
      auto name =
          std::string{"v_"} + to_string(sync) + "_r" + std::to_string(replicas);
      auto initial = vector_of({1.0, 2.0, 3.0});
      auto var = make_variable(rt, group, name, initial, options);
      struct bad_operand {
        std::string what;
        tensor value;
        errc code;
      };
      std::vector<bad_operand> bad_operands{
          {"i64[3]", tensor{std::int64_t{1}, std::int64_t{2}, std::int64_t{3}},
           errc::dtype_mismatch},
          {"f32[3]", tensor{1.0f, 2.0f, 3.0f}, errc::dtype_mismatch},
          {"f64[4]", vector_of({1.0, 2.0, 3.0, 4.0}), errc::shape_mismatch},
          {"f64[] scalar", scalar(dtype::f64, 1.0), errc::shape_mismatch},
      };
      auto reshaped = tensor::from_values<double>(
          std::vector<double>{1.0, 2.0, 3.0}, shape_type{3, 1});
      VARSYNC_REQUIRE_OK(reshaped);
      bad_operands.push_back({"f64[3, 1]", *reshaped, errc::shape_mismatch});
      for (const auto& bad : bad_operands) {
        CAPTURE(bad.what);
        // Replica context: every replica makes the bad call concurrently.
        run_on_replicas(group, [&](replica& r) {
          CAPTURE(r.index());
          auto assigned = r.assign(var, bad.value);
          CHECK_EQ(code_of(assigned), bad.code);
          CHECK(contains(message_of(assigned), name));
          auto added = r.assign_add(var, bad.value);
          CHECK_EQ(code_of(added), bad.code);
          auto subtracted = r.assign_sub(var, bad.value);
          CHECK_EQ(code_of(subtracted), bad.code);
        });
        require_copies(group, var, initial);
        // Cross-replica context (a none variable refuses cross-replica calls
        // whatever the operand, see the wrong_context test).
        if (sync != synchronization::none) {
          auto assigned = rt.assign(var, bad.value);
          CHECK_EQ(code_of(assigned), bad.code);
          CHECK(contains(message_of(assigned), name));
          require_copies(group, var, initial);
        }
      }
      // A rejected update does not use up a collective step: a good update
      // by every replica still completes.
      run_on_replicas(group, [&](replica& r) {
        VARSYNC_CHECK_OK(r.assign_add(var, vector_of({1.0, 1.0, 1.0})));
      });
      auto per_replica = sync == synchronization::on_write
                             ? static_cast<double>(replicas)
                             : 1.0;
      require_copies(
          group, var,
          vector_of({1.0 + per_replica, 2.0 + per_replica, 3.0 + per_replica}));
    }
  }
}

TEST_CASE("an empty variable handle or one of another runtime is "
          "unknown_variable") {
  runtime rt;
  auto group = make_group(rt, "workers", 2);
  auto var =
      make_variable(rt, group, "w", scalar(dtype::f64, 1.0),
                    options_of(synchronization::on_write, aggregation::sum));
  runtime other;
  auto other_group = make_group(other, "workers", 2);
  auto foreign =
      make_variable(other, other_group, "w", scalar(dtype::f64, 1.0),
                    options_of(synchronization::on_write, aggregation::sum));
  auto r = replicas_of(group)[0];
  auto one = scalar(dtype::f64, 1.0);
  auto path = std::filesystem::temp_directory_path() /
              "varsync_invalid_options_unknown.ckpt";
  for (const auto& [what, handle] :
       std::vector<std::pair<std::string, variable>>{{"empty", variable{}},
                                                     {"foreign", foreign}}) {
    CAPTURE(what);
    CHECK_FALSE((handle.valid() && handle == var));
    CHECK_EQ(code_of(r.read(handle)), errc::unknown_variable);
    CHECK_EQ(code_of(r.assign(handle, one)), errc::unknown_variable);
    CHECK_EQ(code_of(r.assign_add(handle, one)), errc::unknown_variable);
    CHECK_EQ(code_of(r.assign_sub(handle, one)), errc::unknown_variable);
    CHECK_EQ(code_of(rt.read(handle)), errc::unknown_variable);
    CHECK_EQ(code_of(rt.assign(handle, one)), errc::unknown_variable);
    CHECK_EQ(code_of(rt.assign_add(handle, one)), errc::unknown_variable);
    CHECK_EQ(code_of(rt.assign_sub(handle, one)), errc::unknown_variable);
    CHECK_EQ(code_of(rt.save(handle, path)), errc::unknown_variable);
    CHECK_EQ(code_of(rt.restore(handle, path)), errc::unknown_variable);
  }
  CHECK_FALSE(variable{}.valid());
  auto missing = rt.find_variable("no_such_variable");
  CHECK_EQ(code_of(missing), errc::unknown_variable);
  CHECK(contains(message_of(missing), "no_such_variable"));
  // Neither this runtime's variable nor the other runtime's changed.
  require_copies(group, var, one);
  require_copies(other_group, foreign, one);
}

TEST_CASE("a replica index out of range or an empty group handle is "
          "unknown_group") {
  runtime rt;
  auto group = make_group(rt, "workers", 3);
  CHECK_EQ(group.name(), "workers");
  CHECK_EQ(group.size(), 3u);
  for (std::size_t index = 0; index < 3; ++index) {
    auto r = group.at(index);
    VARSYNC_REQUIRE_OK(r);
    CHECK_EQ(r->index(), index);
    CHECK_EQ(r->group_size(), 3u);
  }
  for (std::size_t index : {3u, 4u, 1000u}) {
    CAPTURE(index);
    auto r = group.at(index);
    CHECK_EQ(code_of(r), errc::unknown_group);
    CHECK(contains(message_of(r), "workers"));
  }
  CHECK_EQ(code_of(replica_group{}.at(0)), errc::unknown_group);
  auto no_group =
      rt.create_variable(replica_group{}, "w", scalar(dtype::f64, 0.0), {});
  CHECK_EQ(code_of(no_group), errc::unknown_group);
  // Group names are create-or-get, like variables.
  auto again = rt.create_group("workers", 3);
  VARSYNC_REQUIRE_OK(again);
  CHECK_EQ(again->size(), 3u);
  CHECK_EQ(code_of(rt.create_group("workers", 2)), errc::already_exists);
  CHECK_FALSE(rt.create_group("empty", 0).has_value());
}

TEST_CASE("synchronization, aggregation and dtype names round trip and a bad "
          "name is invalid_argument naming the text") {
  for (auto sync : {synchronization::automatic, synchronization::none,
                    synchronization::on_write, synchronization::on_read,
                    synchronization::bounded_staleness}) {
    CAPTURE(sync);
    auto parsed = synchronization_from_string(to_string(sync));
    VARSYNC_REQUIRE_OK(parsed);
    CHECK_EQ(*parsed, sync);
  }
  CHECK_EQ(std::string{to_string(synchronization::on_write)}, "on_write");
  CHECK_EQ(std::string{to_string(synchronization::on_read)}, "on_read");
  for (auto how :
       {aggregation::none, aggregation::sum, aggregation::mean,
        aggregation::only_first_replica, aggregation::min, aggregation::max}) {
    CAPTURE(how);
    auto parsed = aggregation_from_string(to_string(how));
    VARSYNC_REQUIRE_OK(parsed);
    CHECK_EQ(*parsed, how);
  }
  CHECK_EQ(std::string{to_string(aggregation::only_first_replica)},
           "only_first_replica");
  CHECK_EQ(std::string{to_string(aggregation::min)}, "min");
  CHECK_EQ(std::string{to_string(aggregation::max)}, "max");
  for (auto type : {dtype::f32, dtype::f64, dtype::i64}) {
    CAPTURE(type);
    auto parsed = dtype_from_string(to_string(type));
    VARSYNC_REQUIRE_OK(parsed);
    CHECK_EQ(*parsed, type);
  }
  CHECK_EQ(std::string{to_string(dtype::i64)}, "i64");
  for (const std::string bad : {"on_writ", "ON_WRITE", "mirrored", ""}) {
    CAPTURE(bad);
    auto parsed = synchronization_from_string(bad);
    CHECK_EQ(code_of(parsed), errc::invalid_argument);
    if (!bad.empty())
      CHECK(contains(message_of(parsed), bad));
  }
  for (const std::string bad : {"average", "Sum", "first"}) {
    CAPTURE(bad);
    auto parsed = aggregation_from_string(bad);
    CHECK_EQ(code_of(parsed), errc::invalid_argument);
    CHECK(contains(message_of(parsed), bad));
  }
  for (const std::string bad : {"f16", "float", "I64"}) {
    CAPTURE(bad);
    auto parsed = dtype_from_string(bad);
    CHECK_EQ(code_of(parsed), errc::invalid_argument);
    CHECK(contains(message_of(parsed), bad));
  }
  // Every error code has its own name.
  std::vector<std::string> names;
  for (int code = static_cast<int>(errc::invalid_policy);
       code <= static_cast<int>(errc::address_in_use); ++code) {
    std::string name = to_string(static_cast<errc>(code));
    CAPTURE(name);
    CHECK_FALSE(name.empty());
    for (const auto& earlier : names)
      CHECK_NE(name, earlier);
    names.push_back(name);
  }
  CHECK_EQ(std::string{to_string(errc::timeout)}, "timeout");
  error err{errc::timeout, "variable 'w': too slow"};
  CHECK_EQ(err.to_string(), "timeout: variable 'w': too slow");
}
