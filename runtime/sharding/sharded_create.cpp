// Creating and finding a sharded variable.
//
// A sharded variable `w` of K shards is K ordinary variables,
// "w/shard-i-of-K", each holding a contiguous range of rows
// (shard_layout.hpp), plus its layout "w/shards": an on_write i64 variable
// [requested shards, K]. Every process that creates `w` creates-or-gets
// the layout first and then reads it back, so all of them use the K of
// the first creator even when they counted serving nodes at different
// moments; they then create-or-get the shards, shard i on the i-th serving
// node. A checkpoint saves the shards and the layout like any variable,
// and a restore re-creates them, so a restored `w` has its old layout.
// K == 1 (automatic sharding of a small value, or a single serving node)
// makes `w` an ordinary variable; the layout still records the decision.

#include "actors/cluster_protocol.hpp"
#include "actors/protocol.hpp"
#include "runtime/runtime_core.hpp"
#include "runtime/sharding/shard_layout.hpp"
#include "runtime/sharding/sharded_calls.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace varsync::detail {

namespace {

variable_options layout_options() {
  variable_options result;
  result.sync = synchronization::on_write;
  result.aggregation = aggregation::only_first_replica;
  result.trainable = false;
  return result;
}

/// The directory's answer for `name`, without the sharded fallback of
/// `runtime::find_variable`.
expected<variable_info> lookup(runtime_core& core, const std::string& name) {
  auto timeout = core.options().default_timeout;
  return wait_for_result<variable_info>(
      blocking_limit(timeout),
      [&](auto done) {
        core.ask<variable_info>(core.directory(), timeout,
                                caf::make_message(lookup_atom::value, name),
                                done, "find_variable '" + name + "'");
      },
      "find_variable '" + name + "'");
}

/// Asks the directory to create (or get) variable `name`; shard
/// `placement` goes to the serving node at that position.
expected<variable_record_ptr>
create_record(runtime_core& core, const replica_group& group,
              const std::string& name, const tensor& initial,
              const variable_options& options,
              std::optional<std::uint64_t> placement) {
  auto timeout = core.options().default_timeout;
  auto info = wait_for_result<variable_info>(
      blocking_limit(timeout),
      [&](auto done) {
        auto message =
            placement ? caf::make_message(variable_atom::value, group.name(),
                                          name, initial, options, *placement)
                      : caf::make_message(variable_atom::value, group.name(),
                                          name, initial, options);
        core.ask<variable_info>(core.directory(), timeout, std::move(message),
                                done, "create_variable '" + name + "'");
      },
      "create_variable '" + name + "'");
  if (!info)
    return info.error();
  return core.make_record(*info);
}

/// Serving nodes the directory knows alive (at least 1).
std::size_t serving_nodes(runtime& rt) {
  auto status = rt.status();
  if (!status)
    return 1;
  auto count = std::count_if(status->nodes.begin(), status->nodes.end(),
                             [](const node_status& node) {
                               return node.alive && node.serves_variables;
                             });
  return std::max<std::size_t>(1, static_cast<std::size_t>(count));
}

/// The shard count this process proposes for `initial`.
std::size_t proposed_shards(runtime& rt, const tensor& initial,
                            std::uint32_t requested) {
  if (initial.shape().empty())
    return 1;
  auto rows = static_cast<std::size_t>(initial.shape().front());
  std::size_t count = requested;
  if (requested == 0)
    count = initial.bytes().size() >= rt.options().auto_shard_bytes
                ? serving_nodes(rt)
                : 1;
  return std::max<std::size_t>(1, std::min(count, rows));
}

/// The sharded variable's record from its shards' records.
variable record_of(runtime_core& core, const std::string& name,
                   const variable_options& requested,
                   std::vector<variable_record_ptr> shards) {
  auto record = std::make_shared<variable_record>();
  const auto& first = *shards.front();
  record->id = 0;
  record->name = name;
  record->type = first.type;
  record->shape = first.shape;
  std::int64_t rows = 0;
  for (const auto& shard : shards)
    rows += shard->shape.front();
  record->shape.front() = rows;
  record->requested = requested;
  record->resolved = first.resolved;
  record->resolved.shards = static_cast<std::uint32_t>(shards.size());
  record->group = first.group;
  record->shard_bounds = shard_bounds(rows, shards.size());
  record->shards.assign(shards.begin(), shards.end());
  return variable{core.keep_sharded(std::move(record))};
}

/// The layout's value: (requested shards, shard count).
expected<std::pair<std::uint32_t, std::size_t>>
read_layout(runtime_core& core, const variable& layout) {
  auto timeout = core.options().default_timeout;
  auto value = wait_for_result<tensor>(
      blocking_limit(timeout),
      [&](auto done) {
        core.ask_variable<tensor>(
            layout.record(), timeout + reply_grace,
            caf::make_message(read_atom::value, std::int64_t{timeout.count()}),
            done, "read of variable '" + layout.name() + "'");
      },
      "read of variable '" + layout.name() + "'");
  if (!value)
    return value.error();
  auto fields = value->values<std::int64_t>();
  if (value->type() != dtype::i64 || fields.size() != 2 || fields[1] < 1)
    return error{errc::invalid_argument,
                 "variable '" + layout.name() +
                     "' is not the layout of a sharded variable"};
  return std::pair{static_cast<std::uint32_t>(fields[0]),
                   static_cast<std::size_t>(fields[1])};
}

} // namespace

expected<variable> create_sharded(runtime& rt, runtime_core& core,
                                  const replica_group& group,
                                  const std::string& name,
                                  const tensor& initial,
                                  const variable_options& options) {
  if (auto resolved = resolve(options, initial.type(), name); !resolved)
    return resolved.error();
  auto proposed = proposed_shards(rt, initial, options.shards);
  auto layout =
      create_record(core, group, layout_name(name),
                    tensor{std::vector<std::int64_t>{
                        options.shards, static_cast<std::int64_t>(proposed)}},
                    layout_options(), std::nullopt);
  if (!layout)
    return layout.error();
  auto decided = read_layout(core, variable{*layout});
  if (!decided)
    return decided.error();
  auto [requested, count] = *decided;
  if (requested != options.shards)
    return error{errc::already_exists,
                 "variable '" + name +
                     "' exists with shards = " + std::to_string(requested) +
                     ", not " + std::to_string(options.shards)};
  auto rows =
      initial.shape().empty() ? std::int64_t{1} : initial.shape().front();
  if (count == 1 || static_cast<std::int64_t>(count) > rows) {
    auto plain = options;
    plain.shards = 1;
    return create_plain(core, group, name, initial, plain);
  }
  if (auto plain = lookup(core, name); plain)
    return error{errc::already_exists,
                 "variable '" + name +
                     "' exists unsharded; it was created with shards = 1, "
                     "not " +
                     std::to_string(options.shards)};
  auto shard_options = options;
  shard_options.shards = 1;
  auto bounds = shard_bounds(rows, count);
  std::vector<variable_record_ptr> shards;
  for (std::size_t i = 0; i < count; ++i) {
    auto shard = create_record(core, group, shard_name(name, i, count),
                               slice_rows(initial, bounds[i], bounds[i + 1]),
                               shard_options, std::uint64_t{i});
    if (!shard)
      return shard.error();
    shards.push_back(std::move(*shard));
  }
  return record_of(core, name, options, std::move(shards));
}

expected<variable> create_plain(runtime_core& core, const replica_group& group,
                                const std::string& name, const tensor& initial,
                                const variable_options& options) {
  auto record =
      create_record(core, group, name, initial, options, std::nullopt);
  if (!record)
    return record.error();
  return variable{*record};
}

expected<void> refuse_if_sharded(runtime_core& core, const std::string& name) {
  auto info = lookup(core, layout_name(name));
  if (!info)
    return {};
  auto decided = read_layout(core, variable{core.make_record(*info)});
  if (!decided || decided->second == 1)
    return {}; // sharding decided on one shard: an ordinary variable
  return error{errc::already_exists,
               "variable '" + name + "' exists with shards = " +
                   std::to_string(decided->first) + ", not 1"};
}

expected<variable> find_sharded(runtime_core& core, const std::string& name) {
  auto info = lookup(core, layout_name(name));
  if (!info)
    return error{errc::unknown_variable, "no variable named '" + name + "'"};
  auto decided = read_layout(core, variable{core.make_record(*info)});
  if (!decided)
    return decided.error();
  auto [requested, count] = *decided;
  if (count == 1) // an ordinary variable, not created yet
    return error{errc::unknown_variable, "no variable named '" + name + "'"};
  std::vector<variable_record_ptr> shards;
  for (std::size_t i = 0; i < count; ++i) {
    auto shard = lookup(core, shard_name(name, i, count));
    if (!shard)
      return shard.error();
    shards.push_back(core.make_record(*shard));
  }
  auto options = shards.front()->requested;
  options.shards = requested;
  return record_of(core, name, options, std::move(shards));
}

} // namespace varsync::detail
