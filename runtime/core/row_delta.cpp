#include "runtime/core/row_delta.hpp"

#include "runtime/core/row_math.hpp"
#include "runtime/core/visit_dtype.hpp"

#include <array>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace varsync {

namespace {

/// Elements of `type` that hold one int64 row index.
std::size_t index_width(dtype type) {
  return sizeof(std::int64_t) / size_of(type);
}

/// Elements per packed row of `packed` (rank 2).
std::size_t packed_width(const tensor& packed) {
  return static_cast<std::size_t>(packed.shape()[1]);
}

/// The index of packed row `i`.
std::int64_t index_at(const tensor& packed, std::size_t i) {
  std::int64_t index = 0;
  auto row_bytes = packed_width(packed) * size_of(packed.type());
  std::memcpy(&index, packed.bytes().data() + i * row_bytes, sizeof index);
  return index;
}

/// One replica's delta with repeated rows summed from zero: `partial`
/// holds the distinct rows' sums (l elements each), `at` where each row's
/// sum is.
template <class T> struct summed_rows {
  std::unordered_map<std::int64_t, std::size_t> at;
  std::vector<T> partial;
};

template <class T>
summed_rows<T> sum_repeats(const tensor& packed, std::size_t length) {
  summed_rows<T> result;
  auto count = packed_row_count(packed);
  auto width = packed_width(packed);
  auto skip = width - length;
  const T* values = packed.values<T>().data();
  result.at.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto [where, fresh] =
        result.at.try_emplace(index_at(packed, i), result.partial.size());
    if (fresh)
      result.partial.resize(result.partial.size() + length, T{0});
    T* sum = result.partial.data() + where->second;
    const T* row = values + i * width + skip;
    for (std::size_t j = 0; j < length; ++j)
      sum[j] = static_cast<T>(sum[j] + row[j]);
  }
  return result;
}

} // namespace

tensor pack_rows(std::span<const std::int64_t> rows, const tensor& values) {
  auto type = values.type();
  auto width = index_width(type);
  auto length = row_length(values.shape());
  auto element = size_of(type);
  auto packed =
      *tensor::uninitialized(type, {static_cast<std::int64_t>(rows.size()),
                                    static_cast<std::int64_t>(width + length)});
  auto into = packed.mutable_bytes();
  auto from = values.bytes();
  auto row_bytes = (width + length) * element;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(into.data() + i * row_bytes, &rows[i], sizeof rows[i]);
    std::memcpy(into.data() + i * row_bytes + width * element,
                from.data() + i * length * element, length * element);
  }
  return packed;
}

expected<void> check_packed_rows(const tensor& packed, dtype type,
                                 const shape_type& shape,
                                 const std::string& name,
                                 packed_rows accepted) {
  if (shape.empty())
    return error{errc::invalid_argument,
                 "variable '" + name +
                     "' is a scalar: it has no rows to update"};
  if (packed.type() != type)
    return error{errc::dtype_mismatch,
                 "variable '" + name + "' has dtype " + to_string(type) +
                     ", got a row delta of dtype " + to_string(packed.type())};
  auto width = index_width(type) + row_length(shape);
  if (packed.shape().size() != 2 ||
      packed.shape()[1] != static_cast<std::int64_t>(width))
    return error{errc::shape_mismatch, "variable '" + name +
                                           "': a row delta has shape [n, " +
                                           std::to_string(width) + "], got " +
                                           to_string(packed.shape())};
  auto count = packed_row_count(packed);
  for (std::size_t i = 0; i < count; ++i) {
    auto index = index_at(packed, i);
    auto row = index < 0 && accepted == packed_rows::may_set ? ~index : index;
    if (row < 0 || row >= shape.front())
      return error{errc::invalid_argument,
                   "variable '" + name + "': row index " +
                       std::to_string(index) + " (position " +
                       std::to_string(i) +
                       " of the indices) is out of range for its " +
                       std::to_string(shape.front()) + " rows"};
  }
  return {};
}

std::size_t packed_row_count(const tensor& packed) {
  if (packed.shape().size() != 2)
    return 0;
  return static_cast<std::size_t>(packed.shape()[0]);
}

tensor aggregate_packed_rows(std::span<const tensor> deltas, aggregation how) {
  if (deltas.empty())
    return tensor{};
  const auto& first = deltas.front();
  auto type = first.type();
  auto width = packed_width(first);
  auto skip = index_width(type);
  auto length = width - skip;
  bool first_only =
      how == aggregation::only_first_replica || deltas.size() == 1;
  tensor result;
  visit_dtype(type, [&](auto tag) {
    using T = decltype(tag);
    std::vector<summed_rows<T>> replicas;
    for (std::size_t r = 0; r < (first_only ? 1 : deltas.size()); ++r)
      replicas.push_back(sum_repeats<T>(deltas[r], length));
    // Distinct rows in first-seen order (replica index order).
    std::vector<std::int64_t> rows;
    std::unordered_map<std::int64_t, bool> seen;
    for (std::size_t r = 0; r < replicas.size(); ++r)
      for (std::size_t i = 0; i < packed_row_count(deltas[r]); ++i)
        if (auto index = index_at(deltas[r], i);
            seen.emplace(index, true).second)
          rows.push_back(index);
    result =
        *tensor::uninitialized(type, {static_cast<std::int64_t>(rows.size()),
                                      static_cast<std::int64_t>(width)});
    auto out = result.mutable_values<T>();
    const auto divisor = static_cast<T>(deltas.size());
    const std::vector<T> zeros(length, T{0});
    for (std::size_t k = 0; k < rows.size(); ++k) {
      T* row = out.data() + k * width;
      std::memcpy(row, &rows[k], sizeof(std::int64_t));
      T* combined = row + skip;
      // The dense fold: v0 (zero when untouched), then + each other.
      auto part = [&](std::size_t r) {
        auto where = replicas[r].at.find(rows[k]);
        return where == replicas[r].at.end()
                   ? zeros.data()
                   : replicas[r].partial.data() + where->second;
      };
      const T* v0 = part(0);
      for (std::size_t j = 0; j < length; ++j)
        combined[j] = v0[j];
      for (std::size_t r = 1; r < replicas.size(); ++r) {
        const T* v = part(r);
        for (std::size_t j = 0; j < length; ++j)
          combined[j] = static_cast<T>(combined[j] + v[j]);
      }
      if (how == aggregation::mean && !first_only)
        for (std::size_t j = 0; j < length; ++j)
          combined[j] = static_cast<T>(combined[j] / divisor);
    }
  });
  return result;
}

expected<tensor> combine_repeated_rows(const tensor& packed, dtype type,
                                       const shape_type& shape,
                                       const std::string& name) {
  if (auto checked = check_packed_rows(packed, type, shape, name); !checked)
    return checked.error();
  return aggregate_packed_rows({&packed, 1}, aggregation::sum);
}

void add_packed_rows_into(tensor& value, const tensor& packed) {
  auto count = packed_row_count(packed);
  if (count == 0)
    return;
  auto width = packed_width(packed);
  auto skip = index_width(value.type());
  auto length = width - skip;
  visit_dtype(value.type(), [&](auto tag) {
    using T = decltype(tag);
    auto into = value.mutable_values<T>();
    const T* from = packed.values<T>().data();
    for (std::size_t i = 0; i < count; ++i) {
      auto index = index_at(packed, i);
      const T* change = from + i * width + skip;
      if (index < 0) { // sets row ~index
        std::memcpy(into.data() + static_cast<std::size_t>(~index) * length,
                    change, length * sizeof(T));
        continue;
      }
      T* row = into.data() + static_cast<std::size_t>(index) * length;
      for (std::size_t j = 0; j < length; ++j)
        row[j] = static_cast<T>(row[j] + change[j]);
    }
  });
}

tensor setting_rows(const tensor& packed) {
  tensor result = packed;
  auto count = packed_row_count(packed);
  if (count == 0)
    return result;
  auto bytes = result.mutable_bytes();
  auto row_bytes = packed_width(packed) * size_of(packed.type());
  for (std::size_t i = 0; i < count; ++i) {
    auto index = ~index_at(packed, i);
    std::memcpy(bytes.data() + i * row_bytes, &index, sizeof index);
  }
  return result;
}

tensor divide_packed_rows(const tensor& packed, std::int64_t divisor) {
  tensor result = packed;
  auto count = packed_row_count(packed);
  if (count == 0)
    return result;
  auto width = packed_width(packed);
  auto skip = index_width(packed.type());
  visit_dtype(packed.type(), [&](auto tag) {
    using T = decltype(tag);
    auto values = result.mutable_values<T>();
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t j = skip; j < width; ++j) {
        auto& element = values[i * width + j];
        element = static_cast<T>(element / static_cast<T>(divisor));
      }
  });
  return result;
}

tensor dense_from_packed_rows(const tensor& packed, dtype type,
                              const shape_type& shape) {
  auto dense = *tensor::filled(type, shape, 0);
  std::array<tensor, 1> one{packed};
  add_packed_rows_into(dense, aggregate_packed_rows(one, aggregation::sum));
  return dense;
}

tensor concat_packed_rows(const tensor& a, const tensor& b) {
  auto rows =
      static_cast<std::int64_t>(packed_row_count(a) + packed_row_count(b));
  auto result = *tensor::uninitialized(
      a.type(), {rows, a.shape().empty() ? 0 : a.shape()[1]});
  auto out = result.mutable_bytes();
  auto first = a.bytes();
  std::memcpy(out.data(), first.data(), first.size());
  auto second = b.bytes();
  std::memcpy(out.data() + first.size(), second.data(), second.size());
  return result;
}

} // namespace varsync
