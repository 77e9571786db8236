#include "runtime/etcd_coordinator.hpp"

#include "runtime/transport/log.hpp"

#include <sstream>

namespace varsync::detail {

namespace {

/// How often the thread looks at the holder key.
constexpr std::chrono::milliseconds watch_interval{250};

/// Deadline of one etcd request (per member tried).
constexpr std::chrono::milliseconds request_timeout{1000};

std::optional<etcd_holder> parse_holder(const std::string& text) {
  std::istringstream in{text};
  etcd_holder holder;
  if (!(in >> holder.epoch >> holder.node >> holder.address.host >>
        holder.address.port))
    return std::nullopt;
  return holder;
}

} // namespace

etcd_coordinator::etcd_coordinator(std::vector<endpoint> members,
                                   std::string prefix, std::string node,
                                   endpoint address, std::int64_t ttl)
    : client_(std::move(members), request_timeout), prefix_(std::move(prefix)),
      node_(std::move(node)), address_(std::move(address)), ttl_(ttl) {
  // nop
}

expected<std::unique_ptr<etcd_coordinator>>
etcd_coordinator::connect(const std::string& url, std::string node,
                          endpoint address, std::int64_t ttl_seconds) {
  auto parsed = parse_etcd_url(url);
  if (!parsed)
    return parsed.error();
  std::unique_ptr<etcd_coordinator> result{new etcd_coordinator(
      std::move(parsed->first), std::move(parsed->second), std::move(node),
      std::move(address), std::max<std::int64_t>(ttl_seconds, 2))};
  auto lease = result->client_.grant_lease(result->ttl_);
  if (!lease)
    return lease.error();
  result->lease_ = *lease;
  if (auto put =
          result->client_.put(result->prefix_ + "/nodes/" + result->node_,
                              to_string(result->address_), *lease);
      !put)
    return put.error();
  return result;
}

etcd_coordinator::~etcd_coordinator() {
  {
    std::lock_guard guard{mutex_};
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable())
    thread_.join();
  // Leaving on purpose: the keys go now, not at the lease's end.
  (void)client_.revoke(lease_);
}

expected<std::optional<std::uint64_t>> etcd_coordinator::campaign() {
  auto last = client_.get(prefix_ + "/epoch");
  if (!last)
    return last.error();
  std::uint64_t epoch = 0;
  if (*last)
    epoch = std::stoull((*last)->value);
  auto next = epoch + 1;
  std::vector<etcd_compare> unchanged{{prefix_ + "/holder", "", true}};
  if (*last)
    unchanged.push_back({prefix_ + "/epoch", (*last)->value, false});
  else
    unchanged.push_back({prefix_ + "/epoch", "", true});
  auto value = std::to_string(next) + " " + node_ + " " + address_.host + " " +
               std::to_string(address_.port);
  auto won = client_.transaction(
      unchanged, {{prefix_ + "/holder", value, lease_},
                  {prefix_ + "/epoch", std::to_string(next), 0}});
  if (!won)
    return won.error();
  if (!*won)
    return std::optional<std::uint64_t>{};
  {
    std::lock_guard guard{mutex_};
    holder_value_ = value;
  }
  log().warn("node '{}' won epoch {} of the directory in etcd", node_, next);
  return std::optional<std::uint64_t>{next};
}

expected<std::optional<etcd_holder>> etcd_coordinator::holder() {
  auto entry = client_.get(prefix_ + "/holder");
  if (!entry)
    return entry.error();
  if (!*entry)
    return std::optional<etcd_holder>{};
  auto parsed = parse_holder((*entry)->value);
  if (!parsed)
    return error{errc::variable_unavailable,
                 "etcd: the holder key holds '" + (*entry)->value +
                     "', not 'epoch node host port'"};
  return std::optional<etcd_holder>{std::move(*parsed)};
}

void etcd_coordinator::store_directory(std::string bytes) {
  std::lock_guard guard{mutex_};
  pending_ = std::move(bytes);
  wake_.notify_all();
}

expected<std::optional<std::string>> etcd_coordinator::load_directory() {
  auto entry = client_.get(prefix_ + "/directory");
  if (!entry)
    return entry.error();
  if (!*entry)
    return std::optional<std::string>{};
  return std::optional<std::string>{std::move((*entry)->value)};
}

expected<std::vector<endpoint>> etcd_coordinator::other_nodes() {
  auto entries = client_.get_prefix(prefix_ + "/nodes/");
  if (!entries)
    return entries.error();
  std::vector<endpoint> result;
  for (const auto& entry : *entries) {
    if (entry.key == prefix_ + "/nodes/" + node_)
      continue;
    if (auto address = parse_endpoint(entry.value, "etcd node"); address)
      result.push_back(std::move(*address));
  }
  return result;
}

void etcd_coordinator::start(std::function<void()> vacant,
                             std::function<void()> expired,
                             std::function<void(const etcd_holder&)> held) {
  vacant_ = std::move(vacant);
  expired_ = std::move(expired);
  held_ = std::move(held);
  thread_ = std::thread{[this] { run(); }};
}

void etcd_coordinator::run() {
  using clock = std::chrono::steady_clock;
  auto renew_every = std::chrono::milliseconds{ttl_ * 1000 / 3};
  auto next_renewal = clock::now() + renew_every;
  for (;;) {
    std::optional<std::string> store;
    std::string guard_value;
    {
      std::unique_lock lock{mutex_};
      wake_.wait_for(lock, watch_interval,
                     [this] { return stopping_ || pending_.has_value(); });
      if (stopping_)
        return;
      store.swap(pending_);
      guard_value = holder_value_;
    }
    if (store && !guard_value.empty()) {
      // Written only while the holder key still names this node.
      auto stored = client_.transaction({{prefix_ + "/holder", guard_value}},
                                        {{prefix_ + "/directory", *store, 0}});
      if (!stored)
        log().warn("node '{}': storing the directory in etcd failed: {}", node_,
                   stored.error().message());
      else if (!*stored)
        log().warn("node '{}' no longer holds the directory in etcd; its "
                   "copy was not stored",
                   node_);
    }
    if (clock::now() >= next_renewal) {
      next_renewal = clock::now() + renew_every;
      auto left = client_.keep_alive(lease_);
      if (left && *left == 0) {
        // The lease ended (this node was cut off longer than its TTL):
        // take a new one and record the node again.
        log().warn("node '{}': its etcd lease expired; taking a new one",
                   node_);
        if (auto lease = client_.grant_lease(ttl_); lease) {
          lease_ = *lease;
          (void)client_.put(prefix_ + "/nodes/" + node_, to_string(address_),
                            lease_);
        }
        if (expired_)
          expired_();
      } else if (!left) {
        log().warn("node '{}': renewing its etcd lease failed: {}", node_,
                   left.error().message());
      }
    }
    auto current = holder();
    if (current && !*current && vacant_)
      vacant_();
    else if (current && *current && held_)
      held_(**current);
  }
}

} // namespace varsync::detail
