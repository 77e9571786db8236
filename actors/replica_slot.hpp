#pragma once

// A replica's copy of one variable: an immutable snapshot behind an atomic
// shared pointer. A reader loads the pointer and never sees a
// half-installed value; writers replace the pointer. Read-modify-write of a
// local copy holds the slot's mutex so that no update is lost between the
// worker thread and the replica actor.
//
// Small values (at most tensor::inline_bytes, the dtype and shape of the
// initial value) are also published in a seqlock-protected inline record,
// so the common read is a few plain loads instead of the atomic shared
// pointer's lock and reference counts. The seqlock works as follows (Boehm,
// "Can seqlocks get along with programming language memory models?"): a
// writer, holding `update_mutex_`, makes `sequence_` odd, stores the
// snapshot, stores `inline_words_` and makes `sequence_` even again; a
// reader loads `sequence_`, copies the words, and keeps the copy only when
// `sequence_` was even and has not changed meanwhile. Every field is an
// atomic (relaxed where the fences order it), so there is no data race.
// A reader that meets a writer does not spin: it falls back to `load()`.
// Because the writer makes `sequence_` odd before storing the snapshot, a
// thread that saw a snapshot through `load()` never gets an older value
// from the inline record afterwards.

#include "runtime/tensor_math.hpp"
#include "varsync/tensor.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

namespace varsync {

/// One installed value: immutable once published.
struct installed_value {
  /// on_write: the variable actor's version; local copies count their own
  /// updates.
  std::uint64_t version = 0;
  tensor value;
  /// bounded_staleness: the minimum clock the value's snapshot reflects.
  std::uint64_t min_clock = 0;
};

/// A replica's copy of one variable.
class replica_slot {
public:
  explicit replica_slot(tensor initial)
      : small_(initial.bytes().size() <= tensor::inline_bytes),
        // Only a small initial value is kept: a large one would pin its
        // buffer for the slot's lifetime.
        layout_(small_ ? initial : tensor{}) {
    publish(std::make_shared<const installed_value>(
        installed_value{0, std::move(initial), 0}));
  }

  /// The latest installed snapshot. Thread-safe, wait-free for readers in
  /// effect (libstdc++ guards the pointer with a tiny internal lock).
  std::shared_ptr<const installed_value> load() const {
    return current_.load(std::memory_order_acquire);
  }

  /// A copy of the latest installed value. Thread-safe, never blocks: small
  /// values come from the inline record without touching a shared
  /// reference count; others (or a read racing a writer) from `load()`.
  tensor load_value() const {
    if (auto value = load_inline())
      return std::move(*value);
    return load()->value;
  }

  /// The latest installed value when the inline record holds it and no
  /// writer interfered, else nullopt (then use `load()`). Thread-safe.
  std::optional<tensor> load_inline() const {
    if (!small_)
      return std::nullopt;
    auto before = sequence_.load(std::memory_order_acquire);
    if ((before & 1) != 0)
      return std::nullopt;
    std::uint64_t words[word_count];
    for (std::size_t i = 0; i < word_count; ++i)
      words[i] = inline_words_[i].load(std::memory_order_relaxed);
    auto valid = inline_valid_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (sequence_.load(std::memory_order_relaxed) != before || !valid)
      return std::nullopt;
    std::optional<tensor> result{std::in_place, layout_};
    auto bytes = result->bytes();
    // The layout's bytes are inline, so writing them does not copy.
    std::memcpy(const_cast<std::byte*>(bytes.data()), // NOLINT
                words, bytes.size());
    return result;
  }

  /// Installs `value` as `version` unless a newer version is installed.
  /// Called by the replica actor only.
  void install(std::uint64_t version, tensor value,
               std::uint64_t min_clock = 0) {
    std::lock_guard guard{update_mutex_};
    if (current_.load(std::memory_order_relaxed)->version >= version)
      return;
    publish(std::make_shared<const installed_value>(
        installed_value{version, std::move(value), min_clock}));
  }

  /// Replaces the value by `op(value, operand)` atomically with respect to
  /// other updates of this slot. Thread-safe.
  void update(update_op op, const tensor& operand) {
    std::lock_guard guard{update_mutex_};
    auto previous = current_.load(std::memory_order_relaxed);
    publish(std::make_shared<const installed_value>(installed_value{
        previous->version + 1, apply(op, previous->value, operand), 0}));
  }

private:
  static constexpr std::size_t word_count =
      tensor::inline_bytes / sizeof(std::uint64_t);

  /// Stores `next` as the snapshot and, for small slots, in the inline
  /// record (see the seqlock above). Caller holds `update_mutex_` (or is
  /// the constructor).
  void publish(std::shared_ptr<const installed_value> next) {
    if (!small_) {
      current_.store(std::move(next), std::memory_order_release);
      return;
    }
    const auto& value = next->value;
    // Values of another dtype or shape are left to load().
    bool fits =
        value.type() == layout_.type() && value.shape() == layout_.shape();
    std::uint64_t words[word_count] = {};
    if (fits)
      std::memcpy(words, value.bytes().data(), value.bytes().size());
    auto sequence = sequence_.load(std::memory_order_relaxed);
    sequence_.store(sequence + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    current_.store(std::move(next), std::memory_order_release);
    for (std::size_t i = 0; i < word_count; ++i)
      inline_words_[i].store(words[i], std::memory_order_relaxed);
    inline_valid_.store(fits, std::memory_order_relaxed);
    sequence_.store(sequence + 2, std::memory_order_release);
  }

  std::atomic<std::shared_ptr<const installed_value>> current_;
  std::mutex update_mutex_;
  /// True when the initial value fits inline, i.e. the inline record is
  /// used.
  const bool small_;
  /// The initial value when `small_`: the dtype and shape of the inline
  /// record.
  const tensor layout_;
  /// The seqlock: odd while a writer changes the record.
  std::atomic<std::uint64_t> sequence_{0};
  std::atomic<std::uint64_t> inline_words_[word_count] = {};
  /// False while the snapshot does not match `layout_`.
  std::atomic<bool> inline_valid_{false};
};

} // namespace varsync
