#pragma once

// Fan-out/fan-in for CAF 0.17 (which has no fan_out_request): send one
// request to every actor of a list and continue once all replied, or once
// the first of them failed.

#include <caf/all.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace varsync {

/// Requests `message` from every actor of `targets` with `timeout`. Calls
/// `done(replies)` with the replies in `targets` order once all arrived, or
/// `failed(error)` once, at the first error. `Reply` is the single value
/// each target answers with. Must be called from `self`'s thread; both
/// callbacks run in `self`'s context.
template <class Reply, class Self, class Done, class Failed>
void request_all(Self* self, const std::vector<caf::actor>& targets,
                 std::chrono::milliseconds timeout, const caf::message& message,
                 Done done, Failed failed) {
  struct gathering {
    std::vector<Reply> replies;
    std::size_t remaining;
    bool finished = false;
  };
  auto state = std::make_shared<gathering>(
      gathering{std::vector<Reply>(targets.size()), targets.size()});
  if (targets.empty()) {
    done(std::move(state->replies));
    return;
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    self->request(targets[i], timeout, message)
        .then(
            [state, i, done](Reply& reply) mutable {
              if (state->finished)
                return;
              state->replies[i] = std::move(reply);
              if (--state->remaining == 0) {
                state->finished = true;
                done(std::move(state->replies));
              }
            },
            [state, failed](caf::error& err) mutable {
              if (state->finished)
                return;
              state->finished = true;
              failed(err);
            });
  }
}

/// Like `request_all`, for targets that answer with an empty message.
template <class Self, class Done, class Failed>
void request_all_acks(Self* self, const std::vector<caf::actor>& targets,
                      std::chrono::milliseconds timeout,
                      const caf::message& message, Done done, Failed failed) {
  auto remaining = std::make_shared<std::size_t>(targets.size());
  auto finished = std::make_shared<bool>(false);
  if (targets.empty()) {
    done();
    return;
  }
  for (const auto& target : targets) {
    self->request(target, timeout, message)
        .then(
            [remaining, finished, done]() mutable {
              if (*finished)
                return;
              if (--*remaining == 0) {
                *finished = true;
                done();
              }
            },
            [finished, failed](caf::error& err) mutable {
              if (*finished)
                return;
              *finished = true;
              failed(err);
            });
  }
}

} // namespace varsync
