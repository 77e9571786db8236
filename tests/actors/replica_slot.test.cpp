// A replica's copy of one variable: readers never see a torn or older value,
// whether they read the inline seqlock record or the shared snapshot.

#include "actors/replica_slot.hpp"

#include <atomic>
#include <cstdint>
#include <doctest/doctest.h>
#include <string>
#include <thread>
#include <vector>

using namespace varsync;

namespace {

/// The value installed as version `v`: two words that only agree when
/// neither was torn (the second is a bit pattern derived from the first).
tensor pair_of(std::int64_t v) {
  return tensor{v, v ^ std::int64_t{0x5a5a5a5a5a5a5a5a}};
}

/// What reader threads found wrong; checked on the main thread (doctest's
/// assertions are not meant for other threads).
struct read_failures {
  std::atomic<std::uint64_t> torn{0};
  std::atomic<std::uint64_t> backwards{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> inline_reads{0};
};

/// Reads `slot` until `stop`, checking that every value is some `pair_of(v)`
/// and that `v` never decreases. Odd readers mix in `load()` reads, so the
/// check also covers switching between the inline record and the snapshot.
void read_until(const replica_slot& slot, const std::atomic<bool>& stop,
                bool mix_in_snapshots, read_failures& failures) {
  std::int64_t last = 0;
  std::uint64_t count = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    tensor value;
    if (mix_in_snapshots && count % 3 == 0) {
      value = slot.load()->value;
    } else if (auto small = slot.load_inline()) {
      value = std::move(*small);
      failures.inline_reads.fetch_add(1, std::memory_order_relaxed);
    } else {
      value = slot.load_value();
    }
    ++count;
    auto elements = value.values<std::int64_t>();
    if (elements.size() != 2 || value != pair_of(elements[0])) {
      failures.torn.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (elements[0] < last)
      failures.backwards.fetch_add(1, std::memory_order_relaxed);
    last = elements[0];
  }
  failures.reads.fetch_add(count, std::memory_order_relaxed);
}

} // namespace

TEST_CASE("a small slot answers reads from its inline record") {
  replica_slot slot{pair_of(0)};
  auto value = slot.load_inline();
  REQUIRE(value);
  CHECK_EQ(*value, pair_of(0));
  slot.install(3, pair_of(3));
  CHECK_EQ(*slot.load_inline(), pair_of(3));
  CHECK_EQ(slot.load_value(), pair_of(3));
  // An older version is ignored by both paths.
  slot.install(2, pair_of(2));
  CHECK_EQ(*slot.load_inline(), pair_of(3));
  CHECK_EQ(slot.load()->value, pair_of(3));
  slot.update(update_op::add, tensor{std::int64_t{1}, std::int64_t{2}});
  auto added = tensor{std::int64_t{4}, std::int64_t{0x5a5a5a5a5a5a5a59} + 2};
  CHECK_EQ(*slot.load_inline(), added);
  CHECK_EQ(slot.load()->value, added);
  CHECK_EQ(slot.load()->version, 4u);
}

TEST_CASE("a scalar slot of each dtype reads back what was installed") {
  replica_slot f32{tensor(1.5f)};
  f32.install(1, tensor(-2.25f));
  CHECK_EQ(*f32.load_inline(), tensor(-2.25f));
  replica_slot f64{tensor(0.0)};
  f64.update(update_op::add, tensor(0.5));
  CHECK_EQ(*f64.load_inline(), tensor(0.5));
  replica_slot i64{tensor(7)};
  i64.update(update_op::subtract, tensor(9));
  CHECK_EQ(*i64.load_inline(), tensor(-2));
}

TEST_CASE("large values are read from the snapshot; values of another "
          "layout are refused") {
  replica_slot large{tensor{1.0, 2.0, 3.0}};
  CHECK_FALSE(large.load_inline());
  CHECK(large.install(1, tensor{4.0, 5.0, 6.0}));
  CHECK_EQ(large.load_value(), (tensor{4.0, 5.0, 6.0}));
  // Defense in depth (a forged or corrupt install): another shape or dtype
  // never replaces the variable's value, whatever its version.
  replica_slot scalar{tensor(1.0)};
  CHECK_FALSE(scalar.install(1, tensor{2.0, 3.0}));
  CHECK_FALSE(scalar.install(~std::uint64_t{0}, tensor(1.0f)));
  CHECK_EQ(*scalar.load_inline(), tensor(1.0));
  CHECK_EQ(scalar.load()->version, 0);
  // An update after a refused install reads a buffer of the right size.
  scalar.update(update_op::add, tensor(2.0));
  CHECK_EQ(*scalar.load_inline(), tensor(3.0));
  CHECK(scalar.install(2, tensor(4.0)));
  CHECK_EQ(*scalar.load_inline(), tensor(4.0));
  CHECK_FALSE(scalar.install(2, tensor(5.0))); // not newer
}

TEST_CASE("readers racing installs and updates never see a torn or older "
          "value") {
  replica_slot slot{pair_of(0)};
  std::atomic<bool> stop{false};
  read_failures failures;
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i)
    readers.emplace_back(
        [&, i] { read_until(slot, stop, i % 2 == 1, failures); });
  // Installs of increasing versions, each value derived from its version;
  // in between, updates that assign the next value (update counts its own
  // versions, so they keep the value sequence increasing too).
  constexpr std::int64_t last_version = 200'000;
  for (std::int64_t v = 1; v <= last_version; ++v) {
    if (v % 4 == 0)
      slot.update(update_op::assign, pair_of(v));
    else
      slot.install(static_cast<std::uint64_t>(v), pair_of(v));
  }
  stop = true;
  for (auto& reader : readers)
    reader.join();
  CHECK_EQ(failures.torn.load(), 0u);
  CHECK_EQ(failures.backwards.load(), 0u);
  CHECK_GT(failures.reads.load(), 0u);
  CHECK_GT(failures.inline_reads.load(), 0u);
  CHECK_EQ(slot.load_value(), pair_of(last_version));
}

TEST_CASE("add_rows changes a large slot in place unless a reader holds its "
          "value, and readers never see a row update half applied") {
  constexpr std::int64_t rows = 4096;
  constexpr std::int64_t columns = 16; // 512 KiB of i64: not inline
  replica_slot slot{*tensor::filled(dtype::i64, {rows, columns}, 0)};
  std::vector<std::int64_t> every_row(rows);
  for (std::int64_t i = 0; i < rows; ++i)
    every_row[static_cast<std::size_t>(i)] = i;
  auto ones = *tensor::filled(dtype::i64, {rows, columns}, 1);
  const auto* buffer = slot.load()->value.bytes().data();
  slot.add_rows(every_row, ones);
  CHECK_EQ(slot.load()->version, 1u);
  CHECK_EQ(slot.load()->value.bytes().data(), buffer); // in place
  auto held = slot.load_value();
  slot.add_rows(every_row, ones);
  CHECK_EQ(held.values<std::int64_t>()[0], 1); // the reader's value stays
  CHECK_EQ(slot.load_value().values<std::int64_t>()[0], 2);
  // Every update adds 1 to every element: a reader must see all elements
  // equal, whether it reads the whole value or gathers rows.
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> mixed{0};
  std::atomic<std::uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i)
    readers.emplace_back([&, i] {
      std::vector<std::int64_t> some_rows{0, rows / 2, rows - 1, 7};
      while (!stop) {
        auto value = i == 0 ? slot.load_value() : slot.gather(some_rows);
        auto elements = value.values<std::int64_t>();
        for (auto x : elements)
          if (x != elements.front()) {
            ++mixed;
            break;
          }
        ++reads;
      }
    });
  constexpr int updates = 300;
  for (int k = 0; k < updates; ++k)
    slot.add_rows(every_row, ones);
  stop = true;
  for (auto& reader : readers)
    reader.join();
  CHECK_EQ(mixed.load(), 0u);
  CHECK_GT(reads.load(), 0u);
  CHECK_EQ(slot.load()->version, updates + 2u);
  CHECK_EQ(slot.load_value().values<std::int64_t>()[rows * columns - 1],
           updates + 2);
}
