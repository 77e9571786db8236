#pragma once

// Phrases shared by error messages, so that every message counts and
// agrees the way a user reads it: "replica 0 has", "replicas 1, 2 have",
// "the 6th update (step 5)", "an f64 tensor".

#include "varsync/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace varsync::wording {

/// "1st", "2nd", "3rd", "4th", ..., "11th", "12th", "13th", "21st", ...
inline std::string ordinal(std::uint64_t n) {
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    switch (n % 10) {
    case 1:
      suffix = "st";
      break;
    case 2:
      suffix = "nd";
      break;
    case 3:
      suffix = "rd";
      break;
    default:
      break;
    }
  }
  return std::to_string(n) + suffix;
}

/// Step k (counted from 0) in the words of a user who counts calls: "the
/// 6th update (step 5)".
inline std::string nth_update(std::uint64_t step) {
  return "the " + ordinal(step + 1) + " update (step " + std::to_string(step) +
         ")";
}

/// "replica 3" or "replicas 1, 2" ("no replica" for none).
inline std::string replicas(const std::vector<std::size_t>& indices) {
  if (indices.empty())
    return "no replica";
  std::string result = indices.size() == 1 ? "replica " : "replicas ";
  for (std::size_t i = 0; i < indices.size(); ++i)
    result += (i == 0 ? "" : ", ") + std::to_string(indices[i]);
  return result;
}

/// `singular` for one index, `plural` otherwise (verb agreement with
/// `replicas(indices)`).
inline const char* agree(const std::vector<std::size_t>& indices,
                         const char* singular, const char* plural) {
  return indices.size() == 1 ? singular : plural;
}

/// The dtype's name with its indefinite article: "an f32", "an f64", "an
/// i64". Dtype names are read letter by letter ("ef sixty-four"), so the
/// article follows the first letter's spoken name (a, e, f, h, i, l, m, n,
/// o, r, s, x start with a vowel sound; "a bf16", "a u8").
inline std::string with_article(dtype type) {
  std::string name = to_string(type);
  auto vowel_sound = !name.empty() && std::string_view{"aefhilmnorsx"}.find(
                                          name[0]) != std::string_view::npos;
  return (vowel_sound ? "an " : "a ") + name;
}

/// `text` as an error message may quote input it did not write: at most
/// `limit` bytes, each byte outside printable ASCII as \xNN, and "..."
/// (with the full length) when cut. For values from files, flags or the
/// network: a 100 MB line or binary garbage never reaches a terminal whole.
inline std::string excerpt(std::string_view text, std::size_t limit = 80) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string result;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      result += static_cast<char>(byte);
    } else {
      result += "\\x";
      result += hex[byte >> 4];
      result += hex[byte & 0xf];
    }
  }
  if (text.size() > limit)
    result += "... (" + std::to_string(text.size()) + " bytes)";
  return result;
}

} // namespace varsync::wording
