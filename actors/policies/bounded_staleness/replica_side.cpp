#include "actors/policies/bounded_staleness/replica_side.hpp"

#include "actors/caf_error.hpp"
#include "actors/policies/bounded_staleness/interface.hpp"

#include <algorithm>
#include <chrono>
#include <string>

namespace varsync {

namespace {

using std::chrono::milliseconds;

/// The first bounded_staleness variable (only `read` when set) whose cache
/// is too stale for a replica at `clock`, or nullptr when all are fresh.
attached_variable* lagging_variable(replica_actor_type* self,
                                    std::uint64_t clock,
                                    std::optional<variable_id> read,
                                    bool exact = false) {
  for (auto& [id, entry] : self->state.variables) {
    if (entry.cache == nullptr || entry.unavailable || (read && *read != id))
      continue;
    auto fresh = exact ? entry.cache->min_clock() >= clock
                       : entry.cache->fresh_for(clock);
    if (!fresh)
      return &entry;
  }
  return nullptr;
}

/// Parks a clock() (read empty) or a read until the caches are fresh for
/// `clock`, or until `timeout_ms` passed.
caf::response_promise wait_for_fresh(replica_actor_type* self,
                                     std::uint64_t clock,
                                     std::optional<variable_id> read,
                                     std::int64_t timeout_ms,
                                     bool exact = false) {
  auto token = self->state.next_token++;
  auto promise = self->make_response_promise();
  self->state.waiters.push_back(
      staleness_waiter{token, clock, read, exact, promise});
  self->delayed_send(self, milliseconds{std::max<std::int64_t>(timeout_ms, 1)},
                     wait_expired_atom::value, token);
  return promise;
}

/// Why `waiter` of replica `index` timed out; `lagging` is the variable
/// still too stale (nullptr: the caches caught up just now).
std::string staleness_timeout_message(std::size_t index,
                                      const staleness_waiter& waiter,
                                      const attached_variable* lagging) {
  auto who = "replica " + std::to_string(index) + " at clock " +
             std::to_string(waiter.clock);
  if (lagging == nullptr)
    return who + " waited until its deadline; the snapshots caught up just "
                 "after it";
  const auto& cache = *lagging->cache;
  auto needed = waiter.exact || waiter.clock <= cache.bound()
                    ? waiter.clock
                    : waiter.clock - cache.bound();
  auto state = "variable '" + lagging->name + "' still reflects min clock " +
               std::to_string(cache.min_clock()) + ", needs at least " +
               std::to_string(needed) + " (staleness bound " +
               std::to_string(cache.bound()) + ")";
  if (cache.replicas() == 1)
    return who +
           " waited until its deadline for the variable's actor to "
           "confirm its own clocks (it is the group's only replica): " +
           state;
  return who + " waited for slower replicas until its deadline: " + state;
}

/// Answers every waiter whose caches became fresh.
void release_waiters(replica_actor_type* self) {
  auto& waiters = self->state.waiters;
  for (auto i = waiters.begin(); i != waiters.end();) {
    if (lagging_variable(self, i->clock, i->read, i->exact) != nullptr) {
      ++i;
      continue;
    }
    if (i->read)
      i->promise.deliver(self->state.store->find(*i->read)->load()->value);
    else
      i->promise.deliver(ok_atom::value);
    i = waiters.erase(i);
  }
}

/// Asks the variable of `cache` for its whole current refresh (the cache
/// missed one of the row refreshes) and installs it when it comes.
void ask_whole_refresh(replica_actor_type* self, const caf::actor& variable,
                       std::shared_ptr<staleness_cache> cache) {
  self->request(caf::actor_cast<bounded_staleness_variable>(variable),
                caf::infinite, refresh_atom::value)
      .then(
          [self, cache](std::uint64_t min_clock, std::uint64_t version,
                        tensor& snapshot) {
            cache->refresh({min_clock, version, std::move(snapshot)});
            release_waiters(self);
          },
          // The variable's actor was lost: its re-hosted successor sends
          // every replica a whole refresh first.
          [cache](const caf::error&) { cache->whole_refresh_failed(); });
}

} // namespace

void fail_waiting_reads(replica_actor_type* self, variable_id id,
                        const caf::error& failure) {
  auto& waiters = self->state.waiters;
  for (auto i = waiters.begin(); i != waiters.end();) {
    if (i->read && *i->read == id) {
      i->promise.deliver(failure);
      i = waiters.erase(i);
    } else {
      ++i;
    }
  }
  // clock() and catch-up no longer wait for this variable.
  release_waiters(self);
}

caf::message_handler bounded_staleness_replica_side(replica_actor_type* self) {
  // Typed: the compiler checks these handlers against the interface.
  bounded_staleness_replica::behavior_type behavior{
      [self](refresh_atom, variable_id id, std::uint64_t min_clock,
             std::uint64_t version, tensor& snapshot) {
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.cache == nullptr)
          return;
        i->second.cache->refresh({min_clock, version, std::move(snapshot)});
        release_waiters(self);
      },
      [self](refresh_rows_atom, variable_id id, std::uint64_t min_clock,
             std::uint64_t version, const tensor& rows) {
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.cache == nullptr)
          return;
        auto& cache = i->second.cache;
        if (cache->refresh_rows(min_clock, version, rows) ==
            staleness_cache::rows_outcome::ask_whole)
          ask_whole_refresh(self, i->second.variable_actor, cache);
        release_waiters(self);
      },
      [self](rejoin_refresh_atom, variable_id id, std::uint64_t min_clock,
             std::uint64_t version, tensor& snapshot) -> caf::result<ok_atom> {
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.cache == nullptr)
          return to_caf_error(not_attached(self->state.index, id));
        // The variable holds this replica at its minimum clock: the
        // replica's clock is at least that (never goes back).
        auto& clock = self->state.store->clock;
        if (clock.load() < min_clock)
          clock.store(min_clock);
        i->second.cache->refresh({min_clock, version, std::move(snapshot)});
        release_waiters(self);
        return ok_atom::value;
      },
      [self](clock_atom, std::int64_t timeout_ms) -> caf::result<ok_atom> {
        auto& store = *self->state.store;
        auto clock = store.clock.load();
        for (auto& [id, entry] : self->state.variables) {
          if (entry.cache == nullptr)
            continue;
          auto delta = entry.cache->take_pending(clock);
          self->send(
              caf::actor_cast<bounded_staleness_variable>(entry.variable_actor),
              push_atom::value, static_cast<std::uint64_t>(self->state.index),
              clock, delta.has_value(), delta ? std::move(*delta) : tensor{});
        }
        store.clock.store(clock + 1);
        if (lagging_variable(self, clock + 1, std::nullopt) == nullptr)
          return ok_atom::value;
        return wait_for_fresh(self, clock + 1, std::nullopt, timeout_ms);
      },
      [self](wait_read_atom, variable_id id, std::uint64_t clock,
             std::int64_t timeout_ms) -> caf::result<tensor> {
        auto i = self->state.variables.find(id);
        if (i == self->state.variables.end() || i->second.cache == nullptr)
          return to_caf_error(not_attached(self->state.index, id));
        if (i->second.unavailable)
          return to_caf_error(*i->second.unavailable);
        if (i->second.cache->fresh_for(clock))
          return self->state.store->find(id)->load()->value;
        return wait_for_fresh(self, clock, id, timeout_ms);
      },
      [self](catch_up_atom, std::int64_t timeout_ms) -> caf::result<ok_atom> {
        auto clock = self->state.store->clock.load();
        if (lagging_variable(self, clock, std::nullopt, true) == nullptr)
          return ok_atom::value;
        return wait_for_fresh(self, clock, std::nullopt, timeout_ms, true);
      },
      [self](wait_expired_atom, std::uint64_t token) {
        auto& waiters = self->state.waiters;
        auto i =
            std::find_if(waiters.begin(), waiters.end(),
                         [token](const auto& w) { return w.token == token; });
        if (i == waiters.end())
          return;
        auto* lagging = lagging_variable(self, i->clock, i->read, i->exact);
        if (lagging != nullptr && lagging->rehosting)
          i->promise.deliver(to_caf_error(
              error{errc::variable_unavailable,
                    "variable '" + lagging->name +
                        "': its node was lost and it is being re-hosted; the "
                        "deadline passed first"}));
        else
          i->promise.deliver(to_caf_error(
              error{errc::timeout, staleness_timeout_message(self->state.index,
                                                             *i, lagging)}));
        waiters.erase(i);
      },
  };
  return caf::message_handler{behavior.unbox().as_behavior_impl()};
}

} // namespace varsync
