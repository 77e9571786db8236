#pragma once

/// `replica`: the replica context of replica `i` of a replica group.

#include "varsync/error.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>

namespace varsync {

namespace detail {
class replica_core;
} // namespace detail

/// A per-call deadline: how long a call may wait. Unset means the
/// runtime's default (`runtime_options::default_timeout`).
using timeout_type = std::optional<std::chrono::milliseconds>;

/// Callback of the asynchronous forms that produce a value.
using read_callback = std::function<void(expected<tensor>)>;

/// Callback of the asynchronous forms that produce no value.
using update_callback = std::function<void(expected<void>)>;

/// The replica context of replica `index()` of a group: what a worker loop
/// calls. Copyable handle; all copies refer to the same replica.
///
/// Thread-safety: a replica is used by one thread at a time (the worker
/// loop that owns it), except `read`, which any thread may call.
///
/// What a call costs depends on the variable's policy:
/// - `read` of on_write, on_read and none copies is an atomic load of the
///   installed value: it never blocks and sends no message.
/// - on_write updates are collective: step k of a variable completes when
///   every replica made its k-th update; the call returns when this replica
///   installed the aggregated result.
/// - on_read and none updates touch only the local copy: no message.
class replica {
public:
  replica() = default;

  /// Used by the runtime; applications get handles from
  /// `replica_group::at` or `runtime::replica_of`.
  explicit replica(std::shared_ptr<detail::replica_core> core)
      : core_(std::move(core)) {
    // nop
  }

  /// False for a default-constructed handle.
  bool valid() const noexcept { return core_ != nullptr; }

  /// This replica's index in its group, 0 ... group_size() - 1.
  std::size_t index() const;

  /// The number of replicas in the group.
  std::size_t group_size() const;

  // -- blocking forms ---------------------------------------------------------

  /// Reads this replica's copy. Never blocks for on_write, on_read and none
  /// (no message; the result is the latest installed value).
  expected<tensor> read(const variable& var, timeout_type timeout = {}) const;

  /// Replica-context assign. Blocks until the result is installed here
  /// (on_write: until every replica contributed to this step) or until the
  /// deadline, which yields `timeout` naming the replicas that had not
  /// contributed; on error nothing was applied.
  expected<void> assign(const variable& var, const tensor& value,
                        timeout_type timeout = {});

  /// Replica-context `var += delta`; blocking like `assign`.
  expected<void> assign_add(const variable& var, const tensor& delta,
                            timeout_type timeout = {});

  /// Replica-context `var -= delta`; blocking like `assign`.
  expected<void> assign_sub(const variable& var, const tensor& delta,
                            timeout_type timeout = {});

  // -- asynchronous forms with callbacks --------------------------------------

  /// Like `read`, but never blocks the caller: `done` runs once with the
  /// result, on the caller's thread when the value is local, otherwise on a
  /// varsync worker thread. `done` must not block.
  void read_async(const variable& var, read_callback done,
                  timeout_type timeout = {}) const;

  /// Like `assign`, but returns at once; `done` runs once on a varsync
  /// worker thread (or on the caller's thread for local-only policies or
  /// input errors) when the value is installed here or the call failed.
  /// `done` must not block. Successive async updates of one variable from
  /// one replica are applied in call order.
  void assign_async(const variable& var, const tensor& value,
                    update_callback done, timeout_type timeout = {});

  /// Asynchronous `assign_add`; see `assign_async`.
  void assign_add_async(const variable& var, const tensor& delta,
                        update_callback done, timeout_type timeout = {});

  /// Asynchronous `assign_sub`; see `assign_async`.
  void assign_sub_async(const variable& var, const tensor& delta,
                        update_callback done, timeout_type timeout = {});

  // -- asynchronous forms with Boost.Asio completion tokens -------------------
  // Defined in <varsync/asio.hpp>; include it to use them. The completion
  // signature is void(expected<tensor>) for reads, void(expected<void>) for
  // updates: `co_await r.async_read(v, asio::use_awaitable)` yields an
  // expected<tensor>, resumed on the coroutine's own executor; with
  // `asio::use_future` the result is a std::future<expected<...>>. The
  // handler is invoked through its associated executor when the result is
  // ready (as for the callback forms).

  /// Asio form of `read_async`.
  template <class CompletionToken>
  auto async_read(const variable& var, CompletionToken&& token,
                  timeout_type timeout = {}) const;

  /// Asio form of `assign_async`.
  template <class CompletionToken>
  auto async_assign(const variable& var, const tensor& value,
                    CompletionToken&& token, timeout_type timeout = {});

  /// Asio form of `assign_add_async`.
  template <class CompletionToken>
  auto async_assign_add(const variable& var, const tensor& delta,
                        CompletionToken&& token, timeout_type timeout = {});

  /// Asio form of `assign_sub_async`.
  template <class CompletionToken>
  auto async_assign_sub(const variable& var, const tensor& delta,
                        CompletionToken&& token, timeout_type timeout = {});

  /// Internal core; used by the runtime.
  const std::shared_ptr<detail::replica_core>& core() const { return core_; }

private:
  std::shared_ptr<detail::replica_core> core_;
};

} // namespace varsync
