#include "varsync/runtime.hpp"

#include "runtime/call_checks.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/core/copy_count.hpp"
#include "runtime/job_checkpoint.hpp"
#include "runtime/runtime_core.hpp"
#include "runtime/sharding/sharded_calls.hpp"
#include "runtime/task_actor.hpp"
#include "runtime/transport/log.hpp"

#include <caf/io/all.hpp>

namespace varsync {

using detail::blocking_limit;
using detail::wait_for_result;

// -- replica_group
// -------------------------------------------------------------

const std::string& replica_group::name() const {
  return record_->name;
}

std::size_t replica_group::size() const {
  return record_ ? record_->size : 0;
}

expected<replica> replica_group::at(std::size_t index) const {
  if (!record_)
    return error{errc::unknown_group, "the replica group handle is empty"};
  if (index >= record_->size)
    return error{errc::unknown_group,
                 "replica group '" + record_->name + "' has " +
                     std::to_string(record_->size) + " replicas, index " +
                     std::to_string(index) + " is out of range"};
  if (!record_->stores[index])
    return error{errc::wrong_context, "replica " + std::to_string(index) +
                                          " of group '" + record_->name +
                                          "' lives on another node"};
  return replica{std::make_shared<detail::replica_core>(record_, index)};
}

bool replica_group::is_local(std::size_t index) const {
  return record_ && index < record_->size && record_->stores[index];
}

std::vector<std::size_t> replica_group::local_indices() const {
  std::vector<std::size_t> result;
  for (std::size_t i = 0; i < size(); ++i)
    if (is_local(i))
      result.push_back(i);
  return result;
}

// -- runtime
// -------------------------------------------------------------------

runtime::runtime() : runtime(runtime_options{}) {
  // nop
}

runtime::runtime(runtime_options options)
    : core_(std::make_unique<detail::runtime_core>(options)) {
  // nop
}

runtime::runtime(std::unique_ptr<detail::runtime_core> core)
    : core_(std::move(core)) {
  // nop
}

expected<std::unique_ptr<runtime>> runtime::start(const node_config& config) {
  auto core = detail::runtime_core::start(config);
  if (!core)
    return core.error();
  std::unique_ptr<runtime> result{new runtime(std::move(*core))};
  result->core_->set_owner(result.get());
  if (!config.checkpoint_dir.empty())
    result->core_->start_checkpoints(
        config.checkpoint_dir, config.checkpoint_every,
        config.checkpoint_every_steps, config.checkpoint_keep);
  if (config.http_port)
    if (auto served = result->core_->start_http(config); !served)
      return served.error();
  return result;
}

runtime::~runtime() = default;

const runtime_options& runtime::options() const noexcept {
  return core_->options();
}

expected<replica_group> runtime::create_group(const std::string& name,
                                              std::size_t replicas) {
  std::vector<std::size_t> all(replicas);
  for (std::size_t i = 0; i < replicas; ++i)
    all[i] = i;
  return join_group(name, replicas, all);
}

expected<replica_group>
runtime::join_group(const std::string& name, std::size_t size,
                    const std::vector<std::size_t>& local_indices,
                    timeout_type timeout) {
  if (auto refused = core_->refuse_if_stopping("join_group"))
    return *refused;
  auto record =
      core_->join_group(name, size, local_indices, core_->deadline_of(timeout));
  if (!record)
    return record.error();
  return replica_group{*record};
}

expected<variable> runtime::create_variable(const replica_group& group,
                                            const std::string& name,
                                            const tensor& initial,
                                            variable_options options) {
  if (auto refused = core_->refuse_if_stopping("create_variable"))
    return *refused;
  if (!group.record() || group.record()->runtime != core_.get())
    return error{errc::unknown_group,
                 "create_variable '" + name +
                     "': the replica group handle is empty or belongs to "
                     "another runtime"};
  if (options.shards != 1)
    return detail::create_sharded(*this, *core_, group, name, initial, options);
  if (auto refused = detail::refuse_if_sharded(*core_, name); !refused)
    return refused.error();
  return detail::create_plain(*core_, group, name, initial, options);
}

expected<variable> runtime::find_variable(const std::string& name) const {
  if (auto refused = core_->refuse_if_stopping("find_variable"))
    return *refused;
  auto timeout = core_->options().default_timeout;
  auto info = wait_for_result<variable_info>(
      blocking_limit(timeout),
      [&](auto done) {
        core_->ask<variable_info>(core_->directory(), timeout,
                                  caf::make_message(lookup_atom::value, name),
                                  done, "find_variable '" + name + "'");
      },
      "find_variable '" + name + "'");
  if (!info && info.error().code() == errc::unknown_variable)
    if (auto sharded = detail::find_sharded(*core_, name); sharded)
      return sharded;
  if (!info)
    return info.error();
  return variable{core_->make_record(*info)};
}

// -- cross-replica context
// -------------------------------------------------------

void runtime::read_async(const variable& var, read_callback done,
                         timeout_type timeout) {
  if (auto valid = detail::check_handle(var, core_.get(), "read"); !valid)
    return done(valid.error());
  if (auto refused = core_->refuse_if_stopping("read"))
    return done(*refused);
  if (var.record()->sharded())
    return detail::sharded_cross_read_async(*core_, var, std::move(done),
                                            timeout);
  auto deadline = core_->deadline_of(timeout);
  core_->ask_variable<tensor>(
      var.record(), deadline + reply_grace,
      caf::make_message(read_atom::value, std::int64_t{deadline.count()}),
      std::move(done), detail::describe_call("read", var));
}

namespace {

void cross_update_async(detail::runtime_core& core, const variable& var,
                        update_op op, const tensor& operand,
                        update_callback done, timeout_type timeout) {
  if (var.valid() && var.record()->sharded())
    return detail::sharded_cross_update_async(core, var, op, operand,
                                              std::move(done), timeout);
  if (auto valid = detail::check_update(var, &core, operand, to_string(op));
      !valid)
    return done(valid.error());
  if (auto refused = core.refuse_if_stopping(to_string(op)))
    return done(*refused);
  auto deadline = core.deadline_of(timeout);
  core.ask_variable_ok(
      var.record(), deadline + reply_grace,
      caf::make_message(cross_update_atom::value, to_wire(op), operand,
                        std::int64_t{deadline.count()}),
      std::move(done), detail::describe_call(to_string(op), var));
}

expected<void> cross_update(detail::runtime_core& core, const variable& var,
                            update_op op, const tensor& operand,
                            timeout_type timeout) {
  return wait_for_result<void>(
      blocking_limit(core.deadline_of(timeout)),
      [&](auto done) {
        cross_update_async(core, var, op, operand, done, timeout);
      },
      detail::describe_call(to_string(op), var));
}

} // namespace

expected<tensor> runtime::read(const variable& var, timeout_type timeout) {
  return wait_for_result<tensor>(
      blocking_limit(core_->deadline_of(timeout)),
      [&](auto done) { read_async(var, done, timeout); },
      var.valid() ? detail::describe_call("read", var) : "read");
}

void runtime::assign_async(const variable& var, const tensor& value,
                           update_callback done, timeout_type timeout) {
  cross_update_async(*core_, var, update_op::assign, value, std::move(done),
                     timeout);
}

expected<void> runtime::assign(const variable& var, const tensor& value,
                               timeout_type timeout) {
  return cross_update(*core_, var, update_op::assign, value, timeout);
}

expected<void> runtime::assign_add(const variable& var, const tensor& delta,
                                   timeout_type timeout) {
  return cross_update(*core_, var, update_op::add, delta, timeout);
}

expected<void> runtime::assign_sub(const variable& var, const tensor& delta,
                                   timeout_type timeout) {
  return cross_update(*core_, var, update_op::subtract, delta, timeout);
}

expected<std::uint64_t> runtime::min_clock(const variable& var,
                                           timeout_type timeout) {
  if (auto valid = detail::check_handle(var, core_.get(), "min_clock"); !valid)
    return valid.error();
  if (var.options().sync != synchronization::bounded_staleness)
    return error{errc::wrong_context,
                 "variable '" + var.name() + "' has synchronization " +
                     to_string(var.options().sync) +
                     "; only bounded_staleness variables have clocks"};
  if (var.record()->sharded())
    return detail::sharded_min_clock(*this, var, timeout);
  auto deadline = core_->deadline_of(timeout);
  return wait_for_result<std::uint64_t>(
      blocking_limit(deadline),
      [&](auto done) {
        core_->ask_variable<std::uint64_t>(
            var.record(), deadline, caf::make_message(min_clock_atom::value),
            done, detail::describe_call("min_clock", var));
      },
      detail::describe_call("min_clock", var));
}

// -- checkpoints
// -----------------------------------------------------------------

expected<void> runtime::save(const variable& var,
                             const std::filesystem::path& path,
                             timeout_type timeout) {
  auto value = read(var, timeout);
  if (!value)
    return value.error();
  return write_checkpoint(path, var.name(), *value);
}

expected<void> runtime::restore(const variable& var,
                                const std::filesystem::path& path,
                                timeout_type timeout) {
  if (auto valid = detail::check_handle(var, core_.get(), "restore"); !valid)
    return valid;
  auto value = read_checkpoint(path, var.name(), var.type(), var.shape());
  if (!value)
    return value.error();
  return assign(var, *value, timeout);
}

expected<std::filesystem::path> runtime::save(const std::filesystem::path& root,
                                              timeout_type timeout) {
  auto status = this->status(timeout);
  if (!status)
    return status.error();
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  auto numbers = checkpoint_numbers(root);
  auto directory =
      checkpoint_directory(root, numbers.empty() ? 1 : numbers.back() + 1);
  if (!std::filesystem::create_directory(directory, ec) || ec)
    return error{errc::checkpoint_io, "checkpoint '" + directory.string() +
                                          "': cannot create the directory (" +
                                          ec.message() + ")"};
  checkpoint_manifest manifest;
  for (const auto& row : status->variables) {
    auto var = find_variable(row.name);
    if (!var)
      return var.error();
    if (var->options().sync == synchronization::none)
      continue; // per-replica state: no cross-replica value to save
    checkpoint_entry entry{var->name(),
                           var->group_name(),
                           var->type(),
                           var->shape(),
                           var->requested_options(),
                           "v" + std::to_string(manifest.entries.size()) +
                               ".vsk"};
    if (auto saved = save(*var, directory / entry.file, timeout); !saved)
      return saved.error();
    manifest.entries.push_back(std::move(entry));
  }
  if (auto written = write_manifest(directory, manifest); !written)
    return written.error();
  return directory;
}

namespace {

/// The saved values of `group`'s variables in the checkpoint in
/// `directory`, every file read and checked; the first problem otherwise.
expected<std::vector<std::pair<checkpoint_entry, tensor>>>
read_group(const std::filesystem::path& directory, const std::string& group) {
  auto manifest = read_manifest(directory);
  if (!manifest)
    return manifest.error();
  std::vector<std::pair<checkpoint_entry, tensor>> result;
  for (auto& entry : manifest->entries) {
    if (entry.group != group)
      continue;
    auto value = read_checkpoint(directory / entry.file, entry.variable,
                                 entry.type, entry.shape);
    if (!value)
      return value.error();
    result.emplace_back(std::move(entry), std::move(*value));
  }
  return result;
}

} // namespace

expected<std::filesystem::path>
runtime::restore(const std::filesystem::path& root, const replica_group& group,
                 timeout_type timeout) {
  auto numbers = checkpoint_numbers(root);
  for (auto number = numbers.rbegin(); number != numbers.rend(); ++number) {
    auto directory = checkpoint_directory(root, *number);
    auto saved = read_group(directory, group.name());
    if (!saved) {
      varsync::log().warn("skipping checkpoint '{}': {}", directory.string(),
                          saved.error().message());
      continue;
    }
    for (auto& [entry, value] : *saved) {
      auto var = find_variable(entry.variable);
      if (!var) {
        auto zeros = tensor::filled(entry.type, entry.shape, 0.0);
        if (!zeros)
          return zeros.error();
        var = create_variable(group, entry.variable, *zeros, entry.options);
      }
      if (!var)
        return var.error();
      if (auto assigned = assign(*var, value, timeout); !assigned)
        return assigned.error();
    }
    return directory;
  }
  return error{errc::checkpoint_io,
               "no complete checkpoint under '" + root.string() + "'"};
}

runtime_stats runtime::stats() const noexcept {
  runtime_stats result{core_->counters()->messages.load(),
                       tensor_bytes_serialized.load()};
  result.bytes_copied = tensor_bytes_copied.load(std::memory_order_relaxed);
  if (const auto& bulk = core_->bulk()) {
    result.bulk_frames_sent = bulk->counters().frames_sent.load();
    result.bulk_frames_received = bulk->counters().frames_received.load();
  }
  return result;
}

// -- cluster
// -------------------------------------------------------------------

const std::string& runtime::node_name() const noexcept {
  return core_->node_name();
}

std::uint16_t runtime::port() const noexcept {
  return core_->port();
}

const std::string& runtime::secret_file() const noexcept {
  return core_->secret_file();
}

std::uint16_t runtime::http_port() const noexcept {
  return core_->http_port();
}

bool runtime::is_seed() const noexcept {
  return core_->is_seed();
}

expected<cluster_status> runtime::status(timeout_type timeout) {
  if (auto refused = core_->refuse_if_stopping("status"))
    return *refused;
  auto deadline = core_->deadline_of(timeout);
  return wait_for_result<cluster_status>(
      blocking_limit(deadline),
      [&](auto done) {
        core_->ask<cluster_status>(
            core_->directory(), deadline + reply_grace,
            caf::make_message(status_atom::value,
                              std::int64_t{deadline.count()}),
            done, "status");
      },
      "status");
}

expected<group_status> runtime::membership(const replica_group& group,
                                           timeout_type timeout) {
  if (!group.record())
    return error{errc::unknown_group, "the replica group handle is empty"};
  auto all = status(timeout);
  if (!all)
    return all.error();
  for (auto& entry : all->groups)
    if (entry.name == group.name())
      return std::move(entry);
  return error{errc::unknown_group,
               "the directory knows no group '" + group.name() + "'"};
}

} // namespace varsync

namespace varsync {

// -- remote tasks
// ------------------------------------------------------------------

expected<task_handle> runtime::spawn_task(const std::string& node,
                                          const std::string& task,
                                          const std::string& argument,
                                          timeout_type timeout) {
  auto what = "spawn_task '" + task + "' on node '" + node + "'";
  if (auto refused = core_->refuse_if_stopping(what))
    return *refused;
  auto deadline = core_->deadline_of(timeout);
  auto cluster = status(timeout);
  if (!cluster)
    return cluster.error();
  const node_status* target = nullptr;
  for (const auto& entry : cluster->nodes)
    if (entry.name == node && entry.alive)
      target = &entry;
  if (target == nullptr || target->address.empty())
    return error{errc::invalid_argument,
                 what + ": no live node of that name is in the cluster"};
  auto colon = target->address.rfind(':');
  auto peer = core_->connect(
      target->address.substr(0, colon),
      static_cast<std::uint16_t>(std::stoi(target->address.substr(colon + 1))),
      deadline);
  if (!peer)
    return peer.error();
  auto spawned = core_->system().middleman().remote_spawn<caf::actor>(
      peer->first, detail::task_type_name(task), caf::make_message(argument),
      deadline);
  if (!spawned)
    return error{errc::invalid_argument,
                 what + ": " + core_->system().render(spawned.error()) +
                     " (is the task registered in that node's "
                     "node_config::tasks?)"};
  return task_handle{std::make_shared<detail::task_record>(
      detail::task_record{node, task, *spawned, core_.get()})};
}

expected<std::string> task_handle::wait(timeout_type timeout) const {
  if (!record_)
    return error{errc::invalid_argument, "wait on an empty task handle"};
  auto& core = *record_->core;
  auto deadline = core.deadline_of(timeout);
  auto what = "task '" + record_->name + "' on node '" + record_->node + "'";
  auto result = detail::wait_for_result<std::string>(
      detail::blocking_limit(deadline),
      [&](auto done) {
        core.ask<std::string>(record_->actor, deadline,
                              caf::make_message(detail::wait_atom::value), done,
                              what);
      },
      what);
  if (!result && result.error().code() == errc::variable_unavailable)
    return error{errc::replica_lost, what + ": its node was lost (" +
                                         result.error().message() + ")"};
  return result;
}

const std::string& task_handle::node() const {
  return record_->node;
}

const std::string& task_handle::name() const {
  return record_->name;
}

} // namespace varsync
