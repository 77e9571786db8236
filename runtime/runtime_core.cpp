#include "runtime/runtime_core.hpp"

#include "actors/bulk_delivery.hpp"
#include "actors/directory_actor.hpp"
#include "actors/host_gateway.hpp"
#include "actors/node_agent.hpp"
#include "actors/replica_actor.hpp"
#include "runtime/basp_link.hpp"
#include "runtime/caf_setup.hpp"
#include "runtime/connect_node.hpp"
#include "runtime/core/buffer_pool.hpp"
#include "runtime/cpu_pinning.hpp"
#include "runtime/node_secret.hpp"
#include "runtime/task_actor.hpp"
#include "runtime/transport/log.hpp"
#include "runtime/transport/tls_certificates.hpp"

#include <caf/io/all.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <filesystem>
#include <set>
#include <thread>

namespace varsync::detail {

namespace {

/// The lifetime actor: does nothing; the host gateway links to it so that
/// killing it at shutdown ends every pending request at once.
caf::behavior lifetime_actor() {
  return {[](ok_atom) {}};
}

/// Tensors of a step are allocated and freed every step: keep freed
/// buffers for reuse, so the next step writes warm pages instead of
/// faulting in zeroed ones (runtime/core/buffer_pool.hpp). (Before the
/// pool, retuning glibc's malloc to the same end measured P=4 64 MiB
/// on_write steps 545-760 -> 197-252 ms; it changed the whole process's
/// allocator and kept an unbounded amount.)
void keep_freed_buffers() {
  buffer_pool::keep_freed(buffer_pool::default_cap);
}

runtime_options options_of(const node_config& config) {
  runtime_options options;
  options.default_timeout = config.default_timeout;
  options.worker_threads = config.worker_threads;
  options.spin = config.spin;
  return options;
}

} // namespace

runtime_core::runtime_core(runtime_options options)
    : runtime_core(options, nullptr) {
  // nop
}

runtime_core::runtime_core(runtime_options options, const node_config* config)
    : options_(options), config_(std::make_unique<caf::actor_system_config>()),
      counters_(std::make_shared<actor_counters>()) {
  configure_caf(*config_, options_);
  if (config != nullptr && config->reuse_buffers)
    keep_freed_buffers();
  if (config != nullptr) {
    configure_network(*config_, *config);
    register_tasks(
        *config_, config->tasks,
        [this] { return wait_for_owner(std::chrono::seconds{30}); },
        [this](std::function<void()> body) {
          std::lock_guard guard{mutex_};
          task_threads_.emplace_back(std::move(body));
        },
        [this](const caf::actor& task) {
          std::lock_guard guard{mutex_};
          replicas_.push_back(task);
        });
  }
  system_ = std::make_unique<caf::actor_system>(*config_);
  lifetime_ = system_->spawn(lifetime_actor);
  gateway_ = spawn_host_gateway(*system_, lifetime_);
  if (config == nullptr) {
    // Embedded: this runtime is the seed of a cluster of one.
    directory_->set(spawn_directory_actor(*system_, false, counters_));
    agent_ =
        spawn_node_agent(*system_, directory(), counters_, nullptr, directory_);
    caf::scoped_actor self{*system_};
    self->request(directory(), std::chrono::seconds{10}, node_atom::value,
                  node_info{node_name_, "", 0, true, agent_})
        .receive([](std::vector<node_info>&) {}, [](caf::error&) {});
  }
}

expected<std::unique_ptr<runtime_core>>
runtime_core::start(const node_config& config) {
  if (auto valid = config.validate(); !valid)
    return valid.error();
  if (auto exposed = config.check_exposure(); !exposed)
    return exposed.error();
  // Before the actor system exists: CAF's openssl module raises on files
  // it cannot load.
  if (config.uses_tls())
    if (auto usable = tls::check_tls_files(config.tls_cert, config.tls_key,
                                           config.tls_ca);
        !usable)
      return usable.error();
  // Before any thread of the runtime exists: they inherit the mask.
  if (auto pinned = detail::pin_calling_thread(config.cpus); !pinned)
    return pinned.error();
  std::unique_ptr<runtime_core> core{
      new runtime_core(options_of(config), &config)};
  // On failure `core` is destroyed here, which removes a secret it
  // generated.
  if (auto started = core->start_node(config); !started)
    return started.error();
  if (core->secret_generated_)
    log().warn("no cluster secret given: generated one in {} (mode 0600); "
               "start members with --secret-file {} (or "
               "VARSYNC_SECRET_FILE={})",
               core->secret_path_, core->secret_path_, core->secret_path_);
  return core;
}

expected<void> runtime_core::start_node(const node_config& config) {
  // With etcd, a node without `join` finds out below whether it is first.
  seed_ = config.join.empty() && config.coordinator.empty();
  set_log_level(config.log_level);
  set_log_format(config.log_format);
  auto secret = detail::resolve_secret(config.secret_file, seed_);
  if (!secret)
    return secret.error();
  secret_path_ = secret->path;
  secret_generated_ = secret->generated;
  link_.secret = secret->secret;
  link_.max_message = config.max_message;
  link_.tls = config.uses_tls();
  link_.on_refused = [log = caf_refusals_](const std::string& address,
                                           const std::string& reason) {
    (*log)(address, reason);
  };
  // With TLS the bulk plane runs it too (the same files as BASP).
  if (config.bulk_threshold) {
    bulk_limits limits;
    limits.handshake = config.handshake_deadline;
    limits.max_payload = config.max_message;
    limits.spin = config.spin;
    limits.part_bytes = config.bulk_part;
    bulk_identity identity;
    identity.node_name = caf::to_string(system_->node());
    if (config.uses_tls()) {
      identity.tls_cert = config.tls_cert;
      identity.tls_key = config.tls_key;
      identity.tls_ca = config.tls_ca;
    }
    auto plane = bulk_plane::listen(config.host, link_.secret, limits,
                                    std::move(identity));
    if (!plane)
      return plane.error();
    bulk_ = std::move(*plane);
    bulk_threshold_ = config.bulk_threshold;
  }
  agent_ = spawn_node_agent(*system_, nullptr, counters_, bulk_, directory_);
  // Every node publishes its agent: peers connect to this port (after the
  // cluster handshake), and `varsync status` asks any agent (which
  // forwards to the directory).
  auth::acceptor_limits limits;
  limits.handshake_deadline = config.handshake_deadline;
  auto opened =
      detail::basp_port::open(*system_, config.host, config.port, agent_, link_,
                              limits, config.max_connections);
  if (!opened)
    return opened.error();
  basp_port_ = std::move(*opened);
  port_ = basp_port_->port();
  node_name_ = config.name.empty() ? config.host + ":" + std::to_string(port_)
                                   : config.name;
  std::vector<endpoint> connected;
  std::vector<node_info> others;
  directory_->set_own(directory_holder{node_name_, config.host, port_,
                                       config.serve_variables,
                                       config.forget_nodes_after});
  auto joining = config;
  directory_election_rule rule;
  if (!config.coordinator.empty()) {
    auto found = join_through_etcd(config);
    if (!found)
      return found.error();
    if (auto* epoch = std::get_if<std::uint64_t>(&*found)) {
      seed_ = true;
      directory_->set_won_epoch(*epoch);
      rule = directory_election_rule{true, *epoch, directory_->get_persister()};
    } else {
      joining.join = {std::get<endpoint>(*found)};
    }
  }
  if (seed_) {
    directory_->set(spawn_directory_actor(*system_, config.spread_variables,
                                          counters_, directory_->own(), rule));
    auto registered = register_here(config);
    if (!registered)
      return registered.error();
    others = std::move(*registered);
  } else {
    // A member may name a holder that was just lost (an election is under
    // way): ask again, with backoff, until the join deadline.
    using clock = std::chrono::steady_clock;
    auto give_up = clock::now() + config.join_deadline;
    auto backoff = std::chrono::milliseconds{50};
    for (;;) {
      auto found = find_directory(joining);
      if (found)
        directory_->set(found->directory, found->epoch);
      auto registered = found ? register_here(config)
                              : expected<std::vector<node_info>>{found.error()};
      if (registered) {
        connected = std::move(found->connected);
        others = std::move(*registered);
        break;
      }
      auto code = registered.error().code();
      if (code == errc::unauthenticated || code == errc::already_exists ||
          code == errc::invalid_argument || code == errc::not_varsync ||
          clock::now() + backoff >= give_up)
        return registered.error();
      log().info("joining: {}; asking again", registered.error().message());
      // A retry delay after a failed attempt, not synchronization.
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds{1000});
    }
  }
  // Connect directly to every other node: CAF 0.17 does not route reliably
  // through a third node (see shared/CAF-0.17.md).
  if (auto reached = connect_to_others(others, connected, config.join_deadline);
      !reached)
    return reached.error();
  node_config_ = config;
  // The callbacks run on the coordinator's thread, which ends before the
  // coordinator does: they use it through this pointer.
  if (auto* coordinator = coordinator_.get())
    coordinator->start(
        [this, coordinator] {
          if (stopping_)
            return;
          auto won = coordinator->campaign();
          if (won && *won) {
            // The state the last holder stored, if this node can read it.
            if (auto stored = coordinator->load_directory(); stored && *stored)
              if (auto copy = from_bytes(**stored); copy)
                directory_->set_won_copy(std::move(*copy));
            directory_->set_won_epoch(**won);
            caf::anon_send(agent_, follow_atom::value, ok_atom::value);
          }
        },
        [this, coordinator] {
          // This node's lease expired: if it held the directory, etcd gave
          // the holder key to another node; find it and follow.
          auto directory = directory_->get();
          if (stopping_ || !directory || directory.node() != system_->node())
            return;
          auto others = coordinator->other_nodes();
          if (others && !others->empty())
            directory_->isolated(std::move(*others), directory_->won_epoch());
        },
        [this,
         behind_since = std::optional<std::chrono::steady_clock::time_point>{}](
            const detail::etcd_holder& holder) mutable {
          // A holder that won a newer epoch in etcd asks every node of its
          // copy to follow it. A node its copy lacks (the last holder
          // registered it and froze before its copy went out) is never
          // asked: after a connection timeout behind, it finds the holder
          // through etcd and joins it again.
          auto followed = directory_->followed_epoch();
          if (stopping_ || holder.node == node_name_ ||
              holder.epoch <= followed) {
            behind_since.reset();
            return;
          }
          auto now = std::chrono::steady_clock::now();
          if (!behind_since)
            behind_since = now;
          if (now - *behind_since < node_config_.connection_timeout)
            return;
          behind_since = now; // the next attempt, if any, one timeout later
          log().warn("node '{}' follows epoch {} but etcd names node '{}' "
                     "holder of epoch {}; it joins that holder",
                     node_name_, followed, holder.node, holder.epoch);
          directory_->isolated({holder.address}, followed);
        });
  directory_->on_isolated(
      [this](std::vector<endpoint> members, std::uint64_t epoch) {
        std::lock_guard guard{mutex_};
        if (rejoining_ || stopping_)
          return;
        rejoining_ = true;
        if (rejoin_thread_.joinable())
          rejoin_thread_.join(); // the previous one ended
        rejoin_thread_ = std::thread{[this, members, epoch] {
          rejoin_newer_holder(members, epoch);
          std::lock_guard guard{mutex_};
          rejoining_ = false;
        }};
      });
  return {};
}

expected<void>
runtime_core::connect_to_others(const std::vector<node_info>& others,
                                const std::vector<endpoint>& connected,
                                std::chrono::milliseconds timeout) {
  for (const auto& other : others) {
    if (other.port == 0 ||
        std::find(connected.begin(), connected.end(),
                  endpoint{other.host, other.port}) != connected.end())
      continue;
    if (auto peer = connect(other.host, other.port, timeout); !peer)
      return error{errc::unreachable, "node '" + node_name_ +
                                          "' cannot reach node '" + other.name +
                                          "' at " + other.host + ":" +
                                          std::to_string(other.port) + ": " +
                                          peer.error().message()};
  }
  return {};
}

void runtime_core::rejoin_newer_holder(std::vector<endpoint> members,
                                       std::uint64_t epoch) {
  using clock = std::chrono::steady_clock;
  auto config = node_config_;
  config.join = std::move(members);
  auto give_up = clock::now() + std::max(config.join_deadline,
                                         std::chrono::milliseconds{30000});
  auto backoff = std::chrono::milliseconds{100};
  while (!stopping_ && clock::now() < give_up) {
    config.join_deadline = std::chrono::milliseconds{2000};
    auto found = find_directory(config);
    if (found && found->epoch > epoch) {
      auto old = directory();
      auto old_epoch = directory_->epoch_of_actor();
      directory_->set(found->directory, found->epoch);
      auto others = register_here(config);
      // already_exists: the holder lists this node alive (it asked this node
      // to follow while this thread looked); following it is all there is.
      if (others || others.error().code() == errc::already_exists) {
        if (old && old.node() == system_->node() && old != found->directory)
          caf::anon_send_exit(old, caf::exit_reason::user_shutdown);
        if (others)
          (void)connect_to_others(*others, found->connected,
                                  std::chrono::milliseconds{2000});
        log().warn("node '{}' follows the directory of epoch {} again",
                   node_name_, found->epoch);
        return;
      }
      directory_->set(old, old_epoch);
      log().info("joining the cluster again: {}", others.error().message());
    }
    // A retry delay after a failed attempt, not synchronization.
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds{1000});
  }
  log().error("node '{}' found no newer directory holder; it stays apart",
              node_name_);
}

std::string runtime_core::to_bytes(const directory_snapshot& copy) {
  std::vector<char> buffer;
  caf::binary_serializer sink{*system_, buffer};
  auto copy_of = copy;
  if (auto failed = sink(copy_of))
    return {};
  return std::string{buffer.begin(), buffer.end()};
}

std::optional<directory_snapshot>
runtime_core::from_bytes(const std::string& bytes) {
  directory_snapshot copy;
  // The copy names actors of other nodes: reading their handles outside a
  // message from the network takes BASP's proxies, as CAF's own BASP
  // workers use them (thread-safe: the registry locks).
  caf::scoped_execution_unit context{system_.get()};
  context.proxy_registry_ptr(detail::basp_proxies(*system_));
  caf::binary_deserializer source{&context, bytes.data(), bytes.size()};
  if (auto failed = source(copy)) {
    log().warn("the directory's state in etcd does not read back: {}",
               system_->render(failed));
    return std::nullopt;
  }
  if (auto why = check_snapshot(copy); !why.empty()) {
    log().warn("the directory's state in etcd is malformed: {}", why);
    return std::nullopt;
  }
  return copy;
}

expected<std::variant<std::uint64_t, endpoint>>
runtime_core::join_through_etcd(const node_config& config) {
  directory_->set_coordinated(true);
  // The lease outlives a heartbeat gap as long as the connection timeout.
  auto ttl = std::max<std::int64_t>(
      2, (config.connection_timeout.count() + 999) / 1000);
  auto coordinator = etcd_coordinator::connect(
      config.coordinator, node_name_, endpoint{config.host, port_}, ttl);
  if (!coordinator)
    return coordinator.error();
  coordinator_ = std::move(*coordinator);
  // Every copy the directory makes here goes to etcd too (while this node
  // holds the key there).
  directory_->set_persister([this](const directory_snapshot& copy) {
    auto bytes = to_bytes(copy);
    std::lock_guard guard{coordinator_mutex_};
    if (!bytes.empty() && coordinator_)
      coordinator_->store_directory(std::move(bytes));
  });
  using found = std::variant<std::uint64_t, endpoint>;
  if (!config.join.empty())
    return found{config.join.front()};
  using clock = std::chrono::steady_clock;
  auto give_up = clock::now() + config.join_deadline;
  for (;;) {
    auto won = coordinator_->campaign();
    if (!won)
      return won.error();
    if (*won)
      return found{**won};
    auto holder = coordinator_->holder();
    if (!holder)
      return holder.error();
    if (*holder)
      return found{(*holder)->address};
    // The holder's key went between the two reads: campaign again.
    if (clock::now() >= give_up)
      return error{errc::timeout, "etcd named no directory holder within "
                                  "the join deadline"};
  }
}

expected<std::vector<node_info>>
runtime_core::register_here(const node_config& config) {
  // Before registering: the directory may place a variable here at once.
  caf::anon_send(agent_, node_atom::value, ok_atom::value);
  caf::scoped_actor self{*system_};
  std::optional<error> failure;
  std::vector<node_info> others;
  self->request(directory(), std::chrono::seconds{10}, node_atom::value,
                node_info{node_name_, config.host, port_,
                          config.serve_variables, agent_})
      .receive(
          [&](std::vector<node_info>& nodes) { others = std::move(nodes); },
          [&](caf::error& err) {
            failure =
                from_caf_error(err, "registering node '" + node_name_ + "'");
          });
  if (failure)
    return *failure;
  return others;
}

expected<std::pair<caf::node_id, caf::actor>>
runtime_core::connect(const std::string& host, std::uint16_t port,
                      std::chrono::milliseconds timeout) {
  auto peer = connect_node(*system_, host, port, timeout, link_);
  if (!peer)
    return peer.error();
  if (!peer->published)
    return error{errc::invalid_argument,
                 host + ":" + std::to_string(port) +
                     " publishes no actor (not a varsync node)"};
  return std::pair{std::move(peer->node), std::move(peer->published)};
}

expected<std::pair<endpoint, caf::actor>>
runtime_core::connect_with_retry(const std::vector<endpoint>& members,
                                 std::chrono::milliseconds deadline) {
  using clock = std::chrono::steady_clock;
  auto give_up = clock::now() + deadline;
  auto backoff = std::chrono::milliseconds{50};
  std::string names;
  for (const auto& member : members)
    names += (names.empty() ? "" : ", ") + to_string(member);
  for (int attempt = 1;; ++attempt) {
    std::optional<error> last;
    for (const auto& member : members) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          give_up - clock::now());
      auto result = connect(member.host, member.port,
                            std::max(left, std::chrono::milliseconds{100}));
      if (result)
        return std::pair{member, std::move(result->second)};
      // A wrong secret, or another program on the port, does not get
      // better by trying again.
      auto code = result.error().code();
      if (code == errc::unauthenticated || code == errc::not_varsync)
        return error{code, "cannot join the cluster at " + to_string(member) +
                               ": " + result.error().message()};
      last = result.error();
    }
    // Refused connections are retried (the seed may still be starting) and
    // stay `unreachable` when the deadline passes; silence is a `timeout`.
    if (clock::now() + backoff >= give_up)
      return error{last->code() == errc::unreachable ? errc::unreachable
                                                     : errc::timeout,
                   "cannot join the seed at " + names + " within " +
                       std::to_string(deadline.count()) + " ms (" +
                       std::to_string(attempt) +
                       " attempts), last error: " + last->message()};
    // Backoff between attempts of an operation that failed: the seed may
    // still be starting. This is a retry delay, not synchronization.
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds{1000});
  }
}

expected<runtime_core::found_directory>
runtime_core::find_directory(const node_config& config) {
  auto member = connect_with_retry(config.join, config.join_deadline);
  if (!member)
    return member.error();
  std::vector<endpoint> connected{member->first};
  caf::scoped_actor self{*system_};
  std::optional<error> failure;
  endpoint holder;
  caf::actor directory;
  std::uint64_t epoch = 0;
  auto ask = [&](const caf::actor& agent, const endpoint& at) {
    self->request(agent, std::chrono::seconds{10}, node_atom::value)
        .receive(
            [&](caf::actor& found, std::string& host, std::uint16_t port,
                std::uint64_t followed) {
              directory = std::move(found);
              epoch = followed;
              holder = host.empty() ? at : endpoint{host, port};
            },
            [&](caf::error& err) {
              failure =
                  from_caf_error(err, "asking the node at " + to_string(at) +
                                          " for the directory");
            });
  };
  ask(member->second, member->first);
  if (failure)
    return *failure;
  if (holder != member->first) {
    // CAF 0.17 does not route reliably through a third node: talk to the
    // holder over a direct connection, and ask it for its own handle.
    auto direct = connect(holder.host, holder.port, config.join_deadline);
    if (!direct)
      return error{errc::unreachable,
                   "the directory's holder at " + to_string(holder) +
                       " (named by " + to_string(member->first) +
                       ") is unreachable: " + direct.error().message()};
    connected.push_back(holder);
    ask(direct->second, holder);
    if (failure)
      return *failure;
  }
  return found_directory{std::move(connected), std::move(directory), epoch};
}

runtime_core::~runtime_core() {
  // The HTTP port first: its sampler calls into the runtime.
  http_.reset();
  say_leaving();
  stopping_ = true;
  // No new peer is handed to CAF from now on.
  if (basp_port_)
    basp_port_->stop();
  // Pending host requests fail with shutting_down (the gateway dies with
  // the lifetime actor); the agent stops the
  // variable actors it spawned; then replicas and the directory stop. The
  // actor system's destructor waits for all of them.
  caf::anon_send_exit(lifetime_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(agent_, caf::exit_reason::user_shutdown);
  std::vector<caf::actor> owned;
  {
    std::lock_guard guard{mutex_};
    owned = replicas_;
  }
  for (const auto& actor : owned)
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  if (auto directory = this->directory();
      directory && directory.node() == system_->node())
    caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  // Tasks and automatic checkpoints see shutting_down from every call now
  // and return; so does a search for a newer directory holder. Leaving
  // etcd ends this node's lease (its keys go).
  {
    // Directory actors may still store a copy meanwhile.
    std::unique_ptr<etcd_coordinator> leaving;
    {
      std::lock_guard guard{coordinator_mutex_};
      leaving.swap(coordinator_);
    }
  }
  checkpoints_.reset();
  directory_->on_isolated(nullptr);
  {
    std::thread rejoin;
    {
      std::lock_guard guard{mutex_};
      rejoin.swap(rejoin_thread_);
    }
    if (rejoin.joinable())
      rejoin.join();
  }
  for (;;) {
    std::vector<std::thread> tasks;
    {
      std::lock_guard guard{mutex_};
      tasks.swap(task_threads_);
    }
    if (tasks.empty())
      break;
    for (auto& task : tasks)
      task.join();
  }
  // No bulk frame reaches an actor once the actor system is gone.
  if (bulk_)
    bulk_->stop();
  directory_->set(nullptr);
  agent_ = nullptr;
  lifetime_ = nullptr;
  gateway_ = nullptr;
  replicas_.clear();
  groups_.clear();
  variables_.clear();
  system_.reset();
  // A secret this node generated belongs to the cluster it seeded, which
  // ends with it (a new seed generates a new one).
  if (secret_generated_) {
    std::error_code ignored;
    std::filesystem::remove_all(
        std::filesystem::path{secret_path_}.parent_path(), ignored);
  }
}

std::optional<error>
runtime_core::refuse_if_stopping(const std::string& what) const {
  if (stopping_)
    return error{errc::shutting_down, what + ": the runtime is shutting down"};
  return std::nullopt;
}

expected<group_record_ptr>
runtime_core::join_group(const std::string& name, std::size_t size,
                         const std::vector<std::size_t>& indices,
                         std::chrono::milliseconds timeout) {
  if (name.empty() || size == 0)
    return error{errc::invalid_argument,
                 "a replica group needs a non-empty name and at least one "
                 "replica, got '" +
                     name + "' with " + std::to_string(size) + " replicas"};
  std::set<std::size_t> unique;
  for (auto index : indices)
    if (index >= size || !unique.insert(index).second)
      return error{errc::invalid_argument,
                   "join of group '" + name + "': replica index " +
                       std::to_string(index) +
                       " is out of range or listed twice (size " +
                       std::to_string(size) + ")"};
  group_record_ptr record;
  std::vector<std::uint64_t> joined;
  std::vector<caf::actor> actors;
  {
    std::lock_guard guard{mutex_};
    auto& slot = groups_[name];
    if (!slot) {
      slot = std::make_shared<group_record>();
      slot->name = name;
      slot->size = size;
      slot->runtime = this;
      slot->replica_actors.resize(size);
      slot->stores.resize(size);
    } else if (slot->size != size) {
      return error{errc::already_exists,
                   "replica group '" + name + "' exists with " +
                       std::to_string(slot->size) +
                       " replicas, the request asked for " +
                       std::to_string(size)};
    }
    record = slot;
    for (auto index : indices) {
      if (!record->stores[index]) {
        auto store = std::make_shared<local_store>();
        auto actor = spawn_replica_actor(*system_, index, store, counters_,
                                         bulk_, bulk_threshold_);
        if (bulk_)
          add_bulk_target(*bulk_, actor);
        replicas_.push_back(actor);
        record->stores[index] = std::move(store);
        record->replica_actors[index] = std::move(actor);
      }
      joined.push_back(index);
      actors.push_back(record->replica_actors[index]);
    }
  }
  auto what = "join of replica group '" + name + "'";
  auto info = wait_for_result<group_info>(
      blocking_limit(timeout),
      [&](auto done) {
        ask<group_info>(directory(), timeout + reply_grace,
                        caf::make_message(group_atom::value, name,
                                          std::uint64_t{size}, joined, actors,
                                          node_name_,
                                          std::int64_t{timeout.count()}),
                        done, what);
      },
      what);
  if (!info)
    return info.error();
  return record;
}

variable_record_ptr runtime_core::make_record(const variable_info& info) {
  group_record_ptr group;
  {
    std::lock_guard guard{mutex_};
    // One record per variable: handles of one variable compare equal.
    if (auto known = variables_.find(info.id); known != variables_.end())
      return known->second;
    auto& slot = groups_[info.group];
    if (!slot) {
      // This node holds no replica of the group: a record without local
      // replicas serves cross-replica calls.
      slot = std::make_shared<group_record>();
      slot->name = info.group;
      slot->size = static_cast<std::size_t>(info.group_size);
      slot->runtime = this;
      slot->replica_actors.resize(slot->size);
      slot->stores.resize(slot->size);
    }
    group = slot;
  }
  auto record = std::make_shared<variable_record>();
  record->id = info.id;
  record->name = info.name;
  record->type = info.type;
  record->shape = info.shape;
  record->requested = info.requested;
  record->resolved = info.resolved;
  record->group = std::move(group);
  record->set_actor(info.actor);
  // The local replicas attached the variable before the directory answered.
  for (const auto& store : record->group->stores) {
    record->slots.push_back(store ? store->find(info.id) : nullptr);
    record->caches.push_back(store ? store->find_cache(info.id) : nullptr);
    record->parts.push_back(store ? store->find_part(info.id) : nullptr);
  }
  std::lock_guard guard{mutex_};
  return variables_.try_emplace(info.id, std::move(record)).first->second;
}

variable_record_ptr runtime_core::keep_sharded(variable_record_ptr record) {
  std::lock_guard guard{mutex_};
  return sharded_variables_.try_emplace(record->name, record).first->second;
}

void runtime_core::start_checkpoints(const std::filesystem::path& root,
                                     std::chrono::milliseconds every,
                                     std::optional<std::uint64_t> every_steps,
                                     std::size_t keep) {
  // Every node started with a checkpoint directory runs the thread; the
  // one holding the directory saves (the seed, then its successor).
  checkpoints_ = std::make_unique<periodic_checkpoints>(
      *owner_, root, every, every_steps, keep, [this] {
        auto directory = this->directory();
        return directory && directory.node() == system_->node();
      });
}

void runtime_core::say_leaving() {
  // Only a node of a cluster whose directory lives elsewhere: a holder's
  // own directory ends with it (its successor records the loss).
  auto directory = this->directory();
  if (port_ == 0 || !directory || directory.node() == system_->node())
    return;
  // Bounded: a node leaving a cluster that no longer answers still stops.
  caf::scoped_actor self{*system_};
  self->request(directory, std::chrono::seconds{1}, leave_atom::value,
                node_name_)
      .receive([](bool) {}, [](const caf::error&) {});
}

expected<void> runtime_core::start_http(const node_config& config) {
  http::node_sources sources;
  sources.node = node_name_;
  sources.status = [this](std::chrono::milliseconds timeout) {
    return owner_->status(timeout);
  };
  sources.stats = [this] { return owner_->stats(); };
  auto started = http::node_http::start(config, std::move(sources));
  if (!started)
    return started.error();
  http_ = std::move(*started);
  return {};
}

std::uint16_t runtime_core::http_port() const noexcept {
  return http_ ? http_->port() : 0;
}

void runtime_core::send_through_gateway(host_request request) {
  caf::anon_send(gateway_, host_ask_atom::value, std::move(request));
}

namespace {

/// Reports an ok reply as success to a caller that expects no value.
std::function<void(expected<ok_atom>)>
without_value(std::function<void(expected<void>)> done) {
  return [done = std::move(done)](expected<ok_atom> result) {
    if (result)
      done(expected<void>{});
    else
      done(result.error());
  };
}

} // namespace

void runtime_core::ask_ok(const caf::actor& target,
                          std::chrono::milliseconds timeout,
                          caf::message message,
                          std::function<void(expected<void>)> done,
                          std::string what) {
  ask<ok_atom>(target, timeout, std::move(message),
               without_value(std::move(done)), std::move(what));
}

void runtime_core::ask_variable_ok(const variable_record_ptr& record,
                                   std::chrono::milliseconds timeout,
                                   caf::message message,
                                   std::function<void(expected<void>)> done,
                                   std::string what) {
  ask_variable<ok_atom>(record, timeout, std::move(message),
                        without_value(std::move(done)), std::move(what));
}

} // namespace varsync::detail
