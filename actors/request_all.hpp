#pragma once

// Fan-out/fan-in for CAF 0.17 (which has no fan_out_request): send one
// request to every actor of a list and continue once all replied, or once
// the first of them failed.
//
// Lost targets. CAF 0.17 leaves a request to an actor on a dead node
// pending until its own timeout. An actor that monitors its targets passes
// a `lost_targets` registry; when it learns (from a DOWN message) that a
// target is gone it calls `registry.lost(address)`, and every gathering
// still waiting for that target stops waiting for it: the gathering
// finishes with the replies of the survivors.

#include <caf/all.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace varsync {

/// A gathering that can stop waiting for a target.
class lost_target_listener {
public:
  virtual ~lost_target_listener() = default;

  /// `target` is gone: do not wait for its reply.
  virtual void target_lost(const caf::actor_addr& target) = 0;
};

/// The gatherings of one actor that wait for replies; not thread-safe (used
/// from the owning actor only).
class lost_targets {
public:
  /// Registers a gathering until it expires.
  void add(std::weak_ptr<lost_target_listener> listener) {
    listeners_.push_back(std::move(listener));
  }

  /// Tells every live gathering that `target` is gone.
  void lost(const caf::actor_addr& target) {
    std::vector<std::shared_ptr<lost_target_listener>> live;
    for (auto& weak : listeners_)
      if (auto listener = weak.lock())
        live.push_back(std::move(listener));
    listeners_.clear();
    for (auto& listener : live)
      listeners_.push_back(listener);
    for (auto& listener : live)
      listener->target_lost(target);
  }

private:
  std::vector<std::weak_ptr<lost_target_listener>> listeners_;
};

namespace detail {

/// The state of one fan-in: replies by target, and who is still awaited.
template <class Reply> class gathering : public lost_target_listener {
public:
  using done_type = std::function<void(std::vector<Reply>)>;
  using failed_type = std::function<void(const caf::error&)>;
  using each_type = std::function<void(std::size_t, const Reply&)>;

  gathering(std::vector<caf::actor_addr> targets, done_type done,
            failed_type failed, each_type each)
      : targets_(std::move(targets)), replies_(targets_.size()),
        awaited_(targets_.size(), true), remaining_(targets_.size()),
        done_(std::move(done)), failed_(std::move(failed)),
        each_(std::move(each)) {
    // nop
  }

  void arrive(std::size_t index, Reply reply) {
    if (finished_ || !awaited_[index])
      return;
    if (each_)
      each_(index, reply);
    replies_[index] = std::move(reply);
    settle(index);
  }

  void fail(std::size_t index, const caf::error& err) {
    if (finished_ || !awaited_[index])
      return;
    finished_ = true;
    failed_(err);
  }

  void target_lost(const caf::actor_addr& target) override {
    for (std::size_t i = 0; i < targets_.size(); ++i)
      if (!finished_ && awaited_[i] && targets_[i] == target)
        settle(i);
  }

  /// Finishes at once when there is nothing to wait for.
  void finish_if_empty() {
    if (remaining_ == 0 && !finished_)
      finish();
  }

private:
  void settle(std::size_t index) {
    awaited_[index] = false;
    if (--remaining_ == 0)
      finish();
  }

  void finish() {
    finished_ = true;
    std::vector<Reply> replies;
    for (auto& reply : replies_)
      if (reply)
        replies.push_back(std::move(*reply));
    done_(std::move(replies));
  }

  std::vector<caf::actor_addr> targets_;
  std::vector<std::optional<Reply>> replies_;
  std::vector<bool> awaited_;
  std::size_t remaining_;
  bool finished_ = false;
  done_type done_;
  failed_type failed_;
  each_type each_;
};

/// An empty reply, for targets that answer with an empty message.
struct no_reply {};

} // namespace detail

/// Requests `message` from every actor of `targets` with `timeout`. Calls
/// `done(replies)` once all replied, with the replies in `targets` order
/// (without those of targets reported lost through `registry`), or
/// `failed(error)` once, at the first error. `Reply` is the single value
/// each target answers with. `each(index, reply)`, when given, sees every
/// reply as it arrives (in mailbox order: before anything its sender sent
/// after replying). Must be called from `self`'s thread; all callbacks run
/// in `self`'s context.
template <class Reply, class Self, class Done, class Failed>
void request_all(Self* self, const std::vector<caf::actor>& targets,
                 std::chrono::milliseconds timeout, const caf::message& message,
                 Done done, Failed failed, lost_targets* registry = nullptr,
                 typename detail::gathering<Reply>::each_type each = nullptr) {
  std::vector<caf::actor_addr> addresses;
  for (const auto& target : targets)
    addresses.push_back(target.address());
  auto state = std::make_shared<detail::gathering<Reply>>(
      std::move(addresses), std::move(done), std::move(failed),
      std::move(each));
  if (registry != nullptr)
    registry->add(state);
  state->finish_if_empty();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto on_error = [state, i](caf::error& err) { state->fail(i, err); };
    if constexpr (std::is_same_v<Reply, detail::no_reply>)
      self->request(targets[i], timeout, message)
          .then([state, i]() { state->arrive(i, detail::no_reply{}); },
                on_error);
    else
      self->request(targets[i], timeout, message)
          .then(
              [state, i](Reply& reply) { state->arrive(i, std::move(reply)); },
              on_error);
  }
}

/// Like `request_all`, for targets that answer with an empty message.
template <class Self, class Done, class Failed>
void request_all_acks(Self* self, const std::vector<caf::actor>& targets,
                      std::chrono::milliseconds timeout,
                      const caf::message& message, Done done, Failed failed,
                      lost_targets* registry = nullptr) {
  request_all<detail::no_reply>(
      self, targets, timeout, message,
      [done](std::vector<detail::no_reply>) mutable { done(); },
      std::move(failed), registry);
}

} // namespace varsync
