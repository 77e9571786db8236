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
//
// Row updates of large values (add_rows) change the snapshot in place
// instead of copying the whole value: readers of a large slot load the
// snapshot under `readers_` (shared), and add_rows holds it exclusively,
// so no reader is inside while the rows change. A reader that kept the
// snapshot (or its value's buffer) past its load keeps it unchanged:
// add_rows then works on a copy (use counts, checked while exclusive).

#include "runtime/core/row_delta.hpp"
#include "runtime/core/row_math.hpp"
#include "runtime/core/tensor_math.hpp"
#include "varsync/tensor.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>

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
    publish(std::make_shared<installed_value>(
        installed_value{0, std::move(initial), 0}));
  }

  /// The latest installed snapshot. Thread-safe, wait-free for readers in
  /// effect (libstdc++ guards the pointer with a tiny internal lock).
  std::shared_ptr<const installed_value> load() const {
    if (small_)
      return current_.load(std::memory_order_acquire);
    std::shared_lock reading{readers_};
    return current_.load(std::memory_order_acquire);
  }

  /// The rows `rows` of the latest installed value (gather_rows), copied
  /// out while no row update changes it; holds no reference to the value
  /// afterwards, so the next add_rows stays in place. Thread-safe;
  /// waits while an add_rows runs. Precondition: check_rows passed.
  tensor gather(std::span<const std::int64_t> rows) const {
    if (small_)
      return gather_rows(load()->value, rows);
    std::shared_lock reading{readers_};
    return gather_rows(current_.load(std::memory_order_acquire)->value, rows);
  }

  /// A copy of the latest installed value. Thread-safe, never blocks: small
  /// values come from the inline record without touching a shared
  /// reference count; others (or a read racing a writer) from `load()`.
  tensor load_value() const {
    std::uint64_t words[word_count];
    if (small_ && read_inline(words)) {
      // Scalars are rebuilt by tensor's inline constructors: no call, no
      // copy of layout_'s shape.
      if (layout_.shape().empty())
        switch (layout_.type()) {
        case dtype::f32:
          return tensor(scalar_of<float>(words[0]));
        case dtype::f64:
          return tensor(scalar_of<double>(words[0]));
        case dtype::i64:
          return tensor(scalar_of<std::int64_t>(words[0]));
        }
      tensor result = layout_;
      auto bytes = result.bytes();
      // `result` is a local inline tensor: its bytes may be written.
      std::memcpy(const_cast<std::byte*>(bytes.data()), words, // NOLINT
                  bytes.size());
      return result;
    }
    return load()->value;
  }

  /// The latest installed value when the inline record holds it and no
  /// writer interfered, else nullopt (then use `load()`). Thread-safe.
  std::optional<tensor> load_inline() const {
    std::uint64_t words[word_count];
    if (!small_ || !read_inline(words))
      return std::nullopt;
    tensor result = layout_;
    auto bytes = result.bytes();
    std::memcpy(const_cast<std::byte*>(bytes.data()), words, // NOLINT
                bytes.size());
    return result;
  }

  /// Installs `value` as `version` unless a newer or equal version is
  /// installed or `value` has another dtype or shape than the slot's.
  /// Returns whether it was installed. Thread-safe.
  bool install(std::uint64_t version, tensor value,
               std::uint64_t min_clock = 0) {
    std::lock_guard guard{update_mutex_};
    auto current = current_.load(std::memory_order_relaxed);
    if (current->version >= version)
      return false;
    // Defense in depth: a value of another dtype or shape (a forged or
    // corrupt install) never replaces the variable's.
    if (value.type() != current->value.type() ||
        value.shape() != current->value.shape())
      return false;
    publish(std::make_shared<installed_value>(
        installed_value{version, std::move(value), min_clock}));
    return true;
  }

  /// Replaces the value by `op(value, operand)` atomically with respect to
  /// other updates of this slot. Thread-safe.
  void update(update_op op, const tensor& operand) {
    std::lock_guard guard{update_mutex_};
    auto previous = current_.load(std::memory_order_relaxed);
    publish(std::make_shared<installed_value>(installed_value{
        previous->version + 1, apply(op, previous->value, operand), 0}));
  }

  /// Adds `values` to rows `rows` as one new version (the local copy's
  /// count + 1; add_rows_into: repeated rows summed, other rows untouched),
  /// atomically with respect to other updates of this slot. A large value
  /// changes in place unless a reader still holds it, at a cost in
  /// proportion to the rows; readers wait meanwhile. Thread-safe.
  /// Precondition: check_rows passed.
  void add_rows(std::span<const std::int64_t> rows, const tensor& values) {
    change_rows(std::nullopt,
                [&](tensor& value) { add_rows_into(value, rows, values); });
  }

  /// Applies the packed row delta `packed` (runtime/core/row_delta.hpp) as
  /// one new version (the local copy's count + 1), in place like add_rows.
  /// Thread-safe. Precondition: check_packed_rows passed.
  void add_packed_rows(const tensor& packed) {
    change_rows(std::nullopt,
                [&](tensor& value) { add_packed_rows_into(value, packed); });
  }

  /// Installs version `version` given as the packed row delta `packed`
  /// (runtime/core/row_delta.hpp) from the version before: adds it when the
  /// slot holds exactly version - 1, in place like add_rows; returns false
  /// and changes nothing otherwise. Thread-safe. Precondition:
  /// check_packed_rows passed.
  bool install_rows(std::uint64_t version, const tensor& packed) {
    return change_rows(
        version, [&](tensor& value) { add_packed_rows_into(value, packed); });
  }

private:
  /// Publishes `change` applied to the current value as version `version`
  /// (nullopt: the current one + 1) unless `version` does not follow the
  /// current one (then false, nothing changed). See add_rows.
  template <class Change>
  bool change_rows(std::optional<std::uint64_t> version, Change change) {
    std::lock_guard guard{update_mutex_};
    auto follows = [&](const installed_value& previous) {
      return !version || *version == previous.version + 1;
    };
    if (small_) {
      auto previous = current_.load(std::memory_order_relaxed);
      if (!follows(*previous))
        return false;
      auto next = previous->value;
      change(next);
      publish(std::make_shared<installed_value>(
          installed_value{previous->version + 1, std::move(next), 0}));
      return true;
    }
    std::unique_lock writing{readers_};
    auto previous = current_.load(std::memory_order_relaxed);
    if (!follows(*previous))
      return false;
    tensor next;
    // Held by `current_` and `previous` only: no reader has it (they load
    // under `readers_`, which this holds), so its value moves out and, when
    // its buffer is not shared either, changes in place. Snapshots are
    // created non-const (make_shared<installed_value>), so writing through
    // the cast is defined.
    if (previous.use_count() == 2)
      next = std::move(const_cast<installed_value&>(*previous).value);
    else
      next = previous->value;
    change(next);
    current_.store(std::make_shared<installed_value>(installed_value{
                       previous->version + 1, std::move(next), 0}),
                   std::memory_order_release);
    return true;
  }

  static constexpr std::size_t word_count =
      tensor::inline_bytes / sizeof(std::uint64_t);

  /// Copies the inline record into `words`; false when a writer
  /// interfered or the record does not hold the snapshot (then `words` are
  /// garbage).
  bool read_inline(std::uint64_t (&words)[word_count]) const {
    auto before = sequence_.load(std::memory_order_acquire);
    if ((before & 1) != 0)
      return false;
    for (std::size_t i = 0; i < word_count; ++i)
      words[i] = inline_words_[i].load(std::memory_order_relaxed);
    auto valid = inline_valid_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    return sequence_.load(std::memory_order_relaxed) == before && valid;
  }

  /// The scalar whose bytes `publish` copied to the start of `word`.
  template <class T> static T scalar_of(std::uint64_t word) noexcept {
    T value;
    std::memcpy(&value, &word, sizeof(value));
    return value;
  }

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
  /// Large slots: shared by readers while they load, exclusive while
  /// add_rows changes the snapshot in place.
  mutable std::shared_mutex readers_;
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
