#pragma once

// Joins the callbacks of one call's K shard calls into one outcome: the
// sharded variable's calls (runtime/sharding/) send every shard its part at
// once and report when the last part reported.

#include "runtime/sharding/shard_layout.hpp"
#include "varsync/error.hpp"
#include "varsync/tensor.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace varsync::detail {

/// Collects one result per shard; `finish` runs once, on the thread of the
/// last part to report, with every result in shard order. Thread-safe:
/// parts may report from any thread, each exactly once.
template <class T>
class shard_gather : public std::enable_shared_from_this<shard_gather<T>> {
public:
  using finish_fn = std::function<void(std::vector<expected<T>>)>;

  shard_gather(std::size_t count, finish_fn finish)
      : results_(count), left_(count), finish_(std::move(finish)) {
    // nop
  }

  /// The callback of shard `index`'s call.
  std::function<void(expected<T>)> part(std::size_t index) {
    return [self = this->shared_from_this(), index](expected<T> result) {
      self->report(index, std::move(result));
    };
  }

private:
  void report(std::size_t index, expected<T> result) {
    {
      std::lock_guard guard{mutex_};
      results_[index].emplace(std::move(result));
      if (--left_ > 0)
        return;
    }
    std::vector<expected<T>> all;
    all.reserve(results_.size());
    for (auto& result : results_)
      all.push_back(std::move(*result));
    finish_(std::move(all));
  }

  std::mutex mutex_;
  std::vector<std::optional<expected<T>>> results_;
  std::size_t left_;
  finish_fn finish_;
};

/// A gather of `count` parts that finishes with `finish`.
template <class T>
std::shared_ptr<shard_gather<T>>
make_shard_gather(std::size_t count,
                  typename shard_gather<T>::finish_fn finish) {
  return std::make_shared<shard_gather<T>>(count, std::move(finish));
}

/// The first failure among `results` (shard order), or success.
inline expected<void> first_failure(std::vector<expected<void>>& results) {
  for (auto& result : results)
    if (!result)
      return std::move(result);
  return {};
}

/// The finish of a gather of tensor parts (one per shard, in row order):
/// `done` gets the first failure, or the parts stacked into one tensor of
/// `shape` (concat_rows).
inline shard_gather<tensor>::finish_fn
stack_parts(shape_type shape, std::function<void(expected<tensor>)> done) {
  return [shape = std::move(shape),
          done = std::move(done)](std::vector<expected<tensor>> results) {
    std::vector<tensor> parts;
    for (auto& result : results) {
      if (!result)
        return done(result.error());
      parts.push_back(std::move(*result));
    }
    done(concat_rows(parts, shape));
  };
}

} // namespace varsync::detail
