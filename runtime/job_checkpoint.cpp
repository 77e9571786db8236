#include "runtime/job_checkpoint.hpp"

#include "runtime/checkpoint.hpp"
#include "varsync/policy.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace varsync {

namespace {

constexpr const char* manifest_name = "MANIFEST";
constexpr const char* manifest_header = "varsync checkpoint 1";
constexpr const char* directory_prefix = "checkpoint-";
/// A manifest larger than this is not ours (a million variables fit).
constexpr std::uintmax_t max_manifest_bytes = 256u << 20;

error corrupt_manifest(const std::filesystem::path& path,
                       const std::string& what) {
  return error{errc::checkpoint_corrupt, "checkpoint manifest '" +
                                             path.string() +
                                             "' is corrupt: " + what};
}

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in{line};
  while (std::getline(in, field, separator))
    fields.push_back(field);
  if (!line.empty() && line.back() == separator)
    fields.emplace_back();
  return fields;
}

template <class T> bool parse_number(const std::string& text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

std::string shape_text(const shape_type& shape) {
  std::string text;
  for (auto dimension : shape)
    text += (text.empty() ? "" : ",") + std::to_string(dimension);
  return text.empty() ? "-" : text;
}

std::string trainable_text(const std::optional<bool>& trainable) {
  return trainable ? (*trainable ? "true" : "false") : "-";
}

std::string hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx",
                static_cast<unsigned long long>(value));
  return text;
}

/// Parses one "variable" line (without its keyword).
expected<checkpoint_entry> parse_entry(const std::filesystem::path& path,
                                       const std::vector<std::string>& f) {
  auto bad = [&path](const std::string& what) {
    return corrupt_manifest(path, what);
  };
  if (f.size() != 11)
    return bad("a variable line has " + std::to_string(f.size()) +
               " fields, expected 11");
  checkpoint_entry entry;
  entry.variable = f[1];
  entry.group = f[2];
  auto type = dtype_from_string(f[3]);
  if (!type)
    return bad("variable '" + f[1] + "': " + type.error().message());
  entry.type = *type;
  if (f[4] != "-")
    for (const auto& dimension : split(f[4], ',')) {
      std::int64_t value = 0;
      if (!parse_number(dimension, value) || value < 0)
        return bad("variable '" + f[1] + "': bad shape '" + f[4] + "'");
      entry.shape.push_back(value);
    }
  auto sync = synchronization_from_string(f[5]);
  auto how = aggregation_from_string(f[6]);
  if (!sync || !how)
    return bad("variable '" + f[1] + "': bad policy '" + f[5] + "' or '" +
               f[6] + "'");
  entry.options.sync = *sync;
  entry.options.aggregation = *how;
  if (!parse_number(f[7], entry.options.staleness_bound) ||
      !parse_number(f[8], entry.options.period))
    return bad("variable '" + f[1] + "': bad staleness bound or period");
  if (f[9] == "true" || f[9] == "false")
    entry.options.trainable = f[9] == "true";
  else if (f[9] != "-")
    return bad("variable '" + f[1] + "': bad trainable '" + f[9] + "'");
  entry.file = f[10];
  if (entry.file.empty() || entry.file.find('/') != std::string::npos ||
      entry.file == "." || entry.file == "..")
    return bad("variable '" + f[1] + "': bad file name '" + entry.file + "'");
  return entry;
}

} // namespace

std::filesystem::path checkpoint_directory(const std::filesystem::path& root,
                                           std::uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%06llu", directory_prefix,
                static_cast<unsigned long long>(number));
  return root / name;
}

std::vector<std::uint64_t>
checkpoint_numbers(const std::filesystem::path& root) {
  std::vector<std::uint64_t> numbers;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator{root, ec}) {
    auto name = item.path().filename().string();
    std::uint64_t number = 0;
    if (item.is_directory(ec) && name.starts_with(directory_prefix) &&
        parse_number(name.substr(std::string{directory_prefix}.size()), number))
      numbers.push_back(number);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

std::size_t prune_checkpoints(const std::filesystem::path& root,
                              std::size_t keep) {
  auto numbers = checkpoint_numbers(root);
  std::size_t complete = 0;
  std::size_t removed = 0;
  // Newest first: the first `keep` complete ones stay, and anything newer
  // than the newest complete one may be a save in progress.
  for (auto number = numbers.rbegin(); number != numbers.rend(); ++number) {
    auto directory = checkpoint_directory(root, *number);
    auto is_complete = read_manifest(directory).has_value();
    if (is_complete && ++complete <= keep)
      continue;
    if (complete == 0)
      continue;
    std::error_code ec;
    if (std::filesystem::remove_all(directory, ec) > 0 && !ec)
      ++removed;
  }
  return removed;
}

expected<void> write_manifest(const std::filesystem::path& directory,
                              const checkpoint_manifest& manifest) {
  std::string text = std::string{manifest_header} + "\n";
  for (const auto& entry : manifest.entries) {
    for (const auto* field : {&entry.variable, &entry.group, &entry.file})
      if (field->find_first_of("\t\n") != std::string::npos)
        return error{errc::invalid_argument,
                     "checkpoint: '" + *field +
                         "' holds a tab or newline, which a manifest cannot "
                         "store"};
    const auto& o = entry.options;
    text += "variable\t" + entry.variable + "\t" + entry.group + "\t" +
            to_string(entry.type) + "\t" + shape_text(entry.shape) + "\t" +
            to_string(o.sync) + "\t" + to_string(o.aggregation) + "\t" +
            std::to_string(o.staleness_bound) + "\t" +
            std::to_string(o.period) + "\t" + trainable_text(o.trainable) +
            "\t" + entry.file + "\n";
  }
  text +=
      "checksum\t" + hex(checksum_of(std::as_bytes(std::span{text}))) + "\n";
  return write_file_atomically(directory / manifest_name,
                               std::as_bytes(std::span{text}));
}

expected<checkpoint_manifest>
read_manifest(const std::filesystem::path& directory) {
  auto path = directory / manifest_name;
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || !std::filesystem::is_regular_file(path, ec))
    return error{errc::checkpoint_io,
                 "checkpoint '" + directory.string() +
                     "' has no manifest (it is incomplete)"};
  if (size > max_manifest_bytes)
    return corrupt_manifest(path, "it holds " + std::to_string(size) +
                                      " bytes, more than any manifest");
  std::ifstream in{path, std::ios::binary};
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size)))
    return error{errc::checkpoint_io,
                 "checkpoint manifest '" + path.string() + "': cannot read"};
  // The last line is the checksum of everything before it.
  auto last =
      text.size() >= 2 ? text.rfind('\n', text.size() - 2) : std::string::npos;
  if (text.empty() || text.back() != '\n' || last == std::string::npos)
    return corrupt_manifest(path, "it is truncated");
  auto body = text.substr(0, last + 1);
  auto trailer = split(text.substr(last + 1, text.size() - last - 2), '\t');
  if (trailer.size() != 2 || trailer[0] != "checksum" ||
      trailer[1] != hex(checksum_of(std::as_bytes(std::span{body}))))
    return corrupt_manifest(path, "the checksum does not match the contents");
  std::istringstream lines{body};
  std::string line;
  if (!std::getline(lines, line) || line != manifest_header)
    return corrupt_manifest(path, "it does not start with '" +
                                      std::string{manifest_header} + "'");
  checkpoint_manifest manifest;
  while (std::getline(lines, line)) {
    auto fields = split(line, '\t');
    if (fields.empty() || fields[0] != "variable")
      return corrupt_manifest(path, "unexpected line '" + line + "'");
    auto entry = parse_entry(path, fields);
    if (!entry)
      return entry.error();
    manifest.entries.push_back(std::move(*entry));
  }
  return manifest;
}

} // namespace varsync
