#pragma once

/// Boost.Asio completion-token forms of `replica`'s asynchronous calls:
/// `co_await r.async_read(v, asio::use_awaitable)`, `asio::use_future`, or
/// any handler. The handler runs through its associated executor (for
/// use_awaitable: the coroutine's executor), and a work guard keeps that
/// executor's context busy until then.

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include "varsync/replica.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <type_traits>
#include <utility>

namespace varsync::detail {

/// Wraps an Asio completion handler into a copyable callback that, when
/// called from any thread, posts the handler with the result to the
/// handler's associated executor.
template <class Result, class Handler>
std::function<void(Result)> post_to_associated_executor(Handler&& handler) {
  using handler_type = std::decay_t<Handler>;
  auto executor = boost::asio::get_associated_executor(handler);
  using guard_type = boost::asio::executor_work_guard<decltype(executor)>;
  struct pending {
    handler_type handler;
    guard_type guard;
  };
  auto state = std::make_shared<pending>(
      pending{std::forward<Handler>(handler), guard_type{executor}});
  return [state](Result result) {
    auto target = state->guard.get_executor();
    boost::asio::post(target, [state, result = std::move(result)]() mutable {
      auto work = std::move(state->guard);
      std::move(state->handler)(std::move(result));
    });
  };
}

} // namespace varsync::detail

namespace varsync {

template <class CompletionToken>
auto replica::async_read(const variable& var, CompletionToken&& token,
                         timeout_type timeout) const {
  return boost::asio::async_initiate<CompletionToken, void(expected<tensor>)>(
      [self = *this, var, timeout](auto&& handler) {
        self.read_async(var,
                        detail::post_to_associated_executor<expected<tensor>>(
                            std::forward<decltype(handler)>(handler)),
                        timeout);
      },
      token);
}

template <class CompletionToken>
auto replica::async_assign(const variable& var, const tensor& value,
                           CompletionToken&& token, timeout_type timeout) {
  return boost::asio::async_initiate<CompletionToken, void(expected<void>)>(
      [self = *this, var, value, timeout](auto&& handler) mutable {
        self.assign_async(var, value,
                          detail::post_to_associated_executor<expected<void>>(
                              std::forward<decltype(handler)>(handler)),
                          timeout);
      },
      token);
}

template <class CompletionToken>
auto replica::async_assign_add(const variable& var, const tensor& delta,
                               CompletionToken&& token, timeout_type timeout) {
  return boost::asio::async_initiate<CompletionToken, void(expected<void>)>(
      [self = *this, var, delta, timeout](auto&& handler) mutable {
        self.assign_add_async(
            var, delta,
            detail::post_to_associated_executor<expected<void>>(
                std::forward<decltype(handler)>(handler)),
            timeout);
      },
      token);
}

template <class CompletionToken>
auto replica::async_assign_sub(const variable& var, const tensor& delta,
                               CompletionToken&& token, timeout_type timeout) {
  return boost::asio::async_initiate<CompletionToken, void(expected<void>)>(
      [self = *this, var, delta, timeout](auto&& handler) mutable {
        self.assign_sub_async(
            var, delta,
            detail::post_to_associated_executor<expected<void>>(
                std::forward<decltype(handler)>(handler)),
            timeout);
      },
      token);
}

} // namespace varsync
